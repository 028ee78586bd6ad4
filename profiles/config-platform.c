/* The VM schema's platform keys: the guest OS ("os"), the TPM ("tpm"), the disk that boots
 * first ("boot.from"), a disk's media ("disks[].media"), host USB devices ("usb") and host
 * input devices ("input"). */
#include "profiles/config-walk.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vmm/base/host.h"

static const char *const usb_keys[] = { "id", "vendor", "product", "bus", "port", NULL };
static const char *const input_keys[] = { "evdev", "grab_all", "grab_toggle", NULL };

/* The longest USB port path ("1.2.3.4.5.6.7": a root port and up to 6 hubs). */
#define USB_PORT_MAX 20

void cfg_get_media(struct walk *w, struct json_object *d, const char *path, struct disk_config *disk)
{
	size_t n = disk->file ? strlen(disk->file) : 0;
	int media = disk->readonly && n > 4 && !strcasecmp(disk->file + n - 4, ".iso") ? MEDIA_CDROM : MEDIA_DISK;

	jr_oneof(&w->jr, d, path, "media", media_names, &media);
	disk->media = media;
	if (disk->media == MEDIA_CDROM)
		disk->readonly = true;
	if (disk->media == MEDIA_CDROM && disk->bus != BUS_SCSI && disk->bus != BUS_SATA && disk->bus != BUS_IDE)
		jr_problem(&w->jr, path, "media", "a CD-ROM needs bus scsi, sata or ide (bus is %s)", bus_names[disk->bus]);
}

/* Reads a USB vendor or product id member: a string of 1 to 4 hex digits, "0x" before them or not. */
static void get_usb_id(struct walk *w, struct json_object *u, const char *path, const char *key, unsigned *out)
{
	_cleanup_free_ char *s = NULL;
	const char *hex;
	unsigned v;
	int used = 0;

	jr_string(&w->jr, u, path, key, &s);
	if (!s)
		return;
	hex = strncasecmp(s, "0x", 2) ? s : s + 2;
	if (!*hex || strlen(hex) > 4 || strspn(hex, "0123456789abcdefABCDEF") != strlen(hex) ||
	    sscanf(hex, "%x%n", &v, &used) != 1 || (size_t)used != strlen(hex) || !v)
		jr_problem(&w->jr, path, key, "'%s' is not a USB %s id (expected 4 hex digits such as \"046d\")", s, key);
	else
		*out = v;
}

/* True when s is a USB port path: numbers 1 to 15 separated by dots, at most USB_PORT_MAX long. */
static bool usb_port_valid(const char *s)
{
	unsigned n;
	int used;

	if (!*s || strlen(s) > USB_PORT_MAX)
		return false;
	for (;;) {
		if (sscanf(s, "%2u%n", &n, &used) != 1 || n < 1 || n > 15 || *s == '+' || *s == ' ')
			return false;
		s += used;
		if (!*s)
			return true;
		if (*s++ != '.')
			return false;
	}
}

/* Validates one USB device (at path): by vendor and product, or by bus and port, never both. */
static void walk_usb(struct walk *w, struct json_object *u, const char *path, struct usb_config *usb)
{
	bool by_id, by_port;

	if (!jr_element(&w->jr, u, path, usb_keys))
		return;
	jr_string(&w->jr, u, path, "id", &usb->id);
	get_usb_id(w, u, path, "vendor", &usb->vendor);
	get_usb_id(w, u, path, "product", &usb->product);
	jr_uint(&w->jr, u, path, "bus", 1, 255, &usb->bus);
	jr_string(&w->jr, u, path, "port", &usb->port);
	by_id = json_object_object_get_ex(u, "vendor", NULL) || json_object_object_get_ex(u, "product", NULL);
	by_port = json_object_object_get_ex(u, "bus", NULL) || json_object_object_get_ex(u, "port", NULL);
	if (by_id && by_port)
		jr_problem(&w->jr, path, NULL, "names a device both by vendor/product and by bus/port (expected one of them)");
	else if (by_id && (!json_object_object_get_ex(u, "vendor", NULL) || !json_object_object_get_ex(u, "product", NULL)))
		jr_problem(&w->jr, path, NULL, "expected both vendor and product (such as \"046d\" and \"c52b\")");
	else if (by_port && (!json_object_object_get_ex(u, "bus", NULL) || !json_object_object_get_ex(u, "port", NULL)))
		jr_problem(&w->jr, path, NULL, "expected both bus and port (such as 1 and \"2.1\", from lsusb -t)");
	else if (!by_id && !by_port)
		jr_problem(&w->jr, path, NULL, "expected vendor and product, or bus and port, of a host USB device");
	if (usb->port && !usb_port_valid(usb->port))
		jr_problem(&w->jr, path, "port", "'%s' is not a USB port path (expected port numbers joined by dots, such "
			   "as \"2.1\")", usb->port);
	if (usb->id && !id_valid(usb->id, DEVICE_ID_MAX))
		jr_problem(&w->jr, path, "id", "'%s' is not a valid id (a letter, then up to %d letters, digits, '-', "
			   "'_' or '.')", usb->id, DEVICE_ID_MAX - 1);
	if (!usb->id && usb->vendor && usb->product)
		usb->id = xasprintf("usb-%04x-%04x", usb->vendor, usb->product);
	else if (!usb->id && usb->bus && usb->port && usb_port_valid(usb->port))
		usb->id = xasprintf("usb-%u-%s", usb->bus, usb->port);
}

/* Validates "usb": host USB devices with unique ids, on q35's xHCI controller. */
static void walk_usbs(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *list = jr_member(&w->jr, json, "", "usb", json_type_array, "a list of host USB devices");

	if (!list)
		return;
	c->n_usb = json_object_array_length(list);
	c->usb = xzalloc((c->n_usb ? c->n_usb : 1) * sizeof(*c->usb));
	for (size_t i = 0; i < c->n_usb; i++) {
		_cleanup_free_ char *path = json_path_index("usb", i);
		walk_usb(w, json_object_array_get_idx(list, i), path, &c->usb[i]);
		for (size_t j = 0; j < i && c->usb[i].id; j++)
			if (c->usb[j].id && !strcmp(c->usb[j].id, c->usb[i].id)) {
				jr_problem(&w->jr, path, "id", "'%s' is already the id of usb[%zu]", c->usb[i].id, j);
				break;
			}
	}
	if (c->n_usb && c->machine != MACHINE_Q35)
		jr_problem(&w->jr, "usb", NULL, "host USB devices need machine.type q35 (its xHCI controller)");
}

/* Validates "input": host evdev devices (their paths are checked when the VM starts). */
static void walk_inputs(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *list = jr_member(&w->jr, json, "", "input", json_type_array, "a list of host input devices");

	if (!list)
		return;
	c->n_input = json_object_array_length(list);
	c->input = xzalloc((c->n_input ? c->n_input : 1) * sizeof(*c->input));
	for (size_t i = 0; i < c->n_input; i++) {
		_cleanup_free_ char *path = json_path_index("input", i);
		struct json_object *e = json_object_array_get_idx(list, i);
		struct input_config *in = &c->input[i];
		int toggle = -1;

		if (!jr_element(&w->jr, e, path, input_keys))
			continue;
		cfg_get_path(w, e, path, "evdev", &in->evdev);
		jr_bool(&w->jr, e, path, "grab_all", &in->grab_all);
		jr_oneof(&w->jr, e, path, "grab_toggle", grab_toggle_names, &toggle);
		if (toggle >= 0)
			in->grab_toggle = xstrdup(grab_toggle_names[toggle]);
		if (!in->evdev && !json_object_object_get_ex(e, "evdev", NULL))
			jr_problem(&w->jr, path, "evdev", "missing (the host's event device, such as "
				   "\"/dev/input/by-id/usb-Logitech_USB_Keyboard-event-kbd\")");
		else if (in->evdev && in->evdev[0] != '/')
			jr_problem(&w->jr, path, "evdev", "'%s' is not an absolute path", in->evdev);
	}
}

/* Validates "boot.from": the id of one of the disks. */
static void walk_boot_from(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *boot = json_object_object_get(json, "boot");

	if (!json_object_is_type(boot, json_type_object))
		return;
	jr_string(&w->jr, boot, "boot", "from", &c->boot_from);
	for (size_t i = 0; c->boot_from && i < c->n_disks; i++)
		if (c->disks[i].id && !strcmp(c->disks[i].id, c->boot_from))
			return;
	if (c->boot_from)
		jr_problem(&w->jr, "boot.from", NULL, "'%s' is not the id of a disk (expected one of disks[].id)",
			   c->boot_from);
}

void cfg_walk_platform(struct walk *w, struct json_object *json, struct vm_config *c)
{
	int os = OS_OTHER;

	jr_oneof(&w->jr, json, "", "os", os_names, &os);
	c->os = os;
	jr_bool(&w->jr, json, "", "tpm", &c->tpm);
	walk_boot_from(w, json, c);
	walk_usbs(w, json, c);
	walk_inputs(w, json, c);
}

void config_usb_free(struct usb_config *u)
{
	free(u->id);
	free(u->port);
	*u = (struct usb_config){ 0 };
}

int config_usb_from_json(struct json_object *json, const char *what, struct usb_config *u, struct verr *err)
{
	struct walk w = { .jr = { .err = err, .file = what } };
	size_t before = err->n;

	*u = (struct usb_config){ 0 };
	if (!json_object_is_type(json, json_type_object))
		return verr_set(err, 0, "%s: expected a JSON object", what);
	walk_usb(&w, json, "", u);
	if (err->n == before)
		return 0;
	config_usb_free(u);
	return -1;
}

void config_platform_free(struct vm_config *c)
{
	free(c->boot_from);
	for (size_t i = 0; i < c->n_usb; i++)
		config_usb_free(&c->usb[i]);
	free(c->usb);
	for (size_t i = 0; i < c->n_input; i++) {
		free(c->input[i].evdev);
		free(c->input[i].grab_toggle);
	}
	free(c->input);
}
