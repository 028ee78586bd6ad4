/* USB and input devices from libudev's enumeration of sysfs (and its database, when
 * udevd keeps one). */
#include "passthrough/hostdev.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libudev.h>

#include "vmm/base/util.h"

const char *const input_kind_names[] = { "other", "keyboard", "mouse", "tablet" };

/* Linux input event types and codes used to tell keyboards, mice and tablets apart
 * (linux/input-event-codes.h). */
#define EV_KEY 0x01
#define EV_REL 0x02
#define EV_ABS 0x03
#define KEYBOARD_KEYS 0xfffffffeULL
#define BTN_LEFT 0x110
#define BTN_TOUCH 0x14a
#define REL_X 0x00
#define REL_Y 0x01
#define ABS_X 0x00
#define ABS_Y 0x01
#define CAP_BITS 768

/* Copies a sysfs attribute of d into out ("" when it has none). */
static void attr(struct udev_device *d, const char *name, char *out, size_t size)
{
	const char *v = udev_device_get_sysattr_value(d, name);

	snprintf(out, size, "%s", v ? v : "");
}

/* A hexadecimal sysfs attribute of d, or 0. */
static unsigned attr_hex(struct udev_device *d, const char *name)
{
	const char *v = udev_device_get_sysattr_value(d, name);

	return v ? (unsigned)strtoul(v, NULL, 16) : 0;
}

/* Reads a capability bitmap ("120013" or "1000000000007 ff9f207ac14057ff ...": words of
 * the machine's long, most significant first) into bits[CAP_BITS / 64]. */
static void cap_bits(struct udev_device *d, const char *name, unsigned long long bits[CAP_BITS / 64])
{
	const char *v = udev_device_get_sysattr_value(d, name);
	unsigned long long words[CAP_BITS / 64];
	size_t n = 0;
	char *end;

	memset(bits, 0, CAP_BITS / 8);
	while (v && *v && n < CAP_BITS / 64) {
		errno = 0;
		words[n] = strtoull(v, &end, 16);
		if (end == v || errno)
			break;
		n++;
		v = end + strspn(end, " \n");
	}
	for (size_t i = 0; i < n; i++)
		bits[i] = words[n - 1 - i];
}

/* Whether bit b is set. */
static bool has(const unsigned long long bits[CAP_BITS / 64], unsigned b)
{
	return b < CAP_BITS && (bits[b / 64] >> (b % 64)) & 1;
}

/* Tells what an input device is from its capabilities (the event node's parent inputN). */
static enum input_kind kind_of(struct udev_device *input)
{
	unsigned long long ev[CAP_BITS / 64], key[CAP_BITS / 64], rel[CAP_BITS / 64], abs[CAP_BITS / 64];

	cap_bits(input, "capabilities/ev", ev);
	cap_bits(input, "capabilities/key", key);
	cap_bits(input, "capabilities/rel", rel);
	cap_bits(input, "capabilities/abs", abs);
	if (has(ev, EV_ABS) && has(abs, ABS_X) && has(abs, ABS_Y) && (has(key, BTN_TOUCH) || has(key, BTN_LEFT)))
		return INPUT_TABLET;
	if (has(ev, EV_REL) && has(rel, REL_X) && has(rel, REL_Y) && has(key, BTN_LEFT))
		return INPUT_MOUSE;
	/* As udev's input_id: Esc, the digits and the letters Q to D (codes 1 to 31) make a keyboard. */
	return has(ev, EV_KEY) && (key[0] & KEYBOARD_KEYS) == KEYBOARD_KEYS ? INPUT_KEYBOARD : INPUT_OTHER;
}

/* Enumerates SUBSYSTEM's devices and calls each with its udev_device. */
static int enumerate(const char *subsystem, int (*each)(struct udev_device *, void *), void *arg,
		     struct verr *err)
{
	struct udev *udev = udev_new();
	struct udev_enumerate *en;
	struct udev_list_entry *e;
	int ret = 0;

	if (!udev)
		return verr_set(err, errno, "libudev: cannot start");
	en = udev_enumerate_new(udev);
	if (!en || udev_enumerate_add_match_subsystem(en, subsystem) < 0 || udev_enumerate_scan_devices(en) < 0) {
		ret = verr_set(err, errno, "libudev: cannot enumerate %s devices", subsystem);
		goto out;
	}
	udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en)) {
		struct udev_device *d = udev_device_new_from_syspath(udev, udev_list_entry_get_name(e));

		if (!d)
			continue;
		ret = each(d, arg);
		udev_device_unref(d);
		if (ret < 0)
			break;
	}
out:
	udev_enumerate_unref(en);
	udev_unref(udev);
	return ret;
}

/* A growing array of T. */
struct found {
	void *v;
	size_t n, cap, size;
};

/* Room for one more element; NULL when memory runs out. */
static void *found_next(struct found *f)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		void *v = realloc(f->v, cap * f->size);

		if (!v)
			return NULL;
		f->v = v;
		f->cap = cap;
	}
	return memset((char *)f->v + f->n++ * f->size, 0, f->size);
}

/* Adds one USB device (interfaces are skipped). */
static int add_usb(struct udev_device *d, void *arg)
{
	const char *type = udev_device_get_devtype(d), *sysname = udev_device_get_sysname(d), *dash;
	struct usb_dev *u;

	if (!type || strcmp(type, "usb_device"))
		return 0;
	if (!(u = found_next(arg)))
		return -1;
	u->bus = (unsigned)strtoul(udev_device_get_sysattr_value(d, "busnum") ?: "0", NULL, 10);
	u->devnum = (unsigned)strtoul(udev_device_get_sysattr_value(d, "devnum") ?: "0", NULL, 10);
	/* "1-2.3": bus 1, port path 2.3; a root hub is "usb1". */
	dash = strchr(sysname, '-');
	snprintf(u->port, sizeof(u->port), "%s", dash ? dash + 1 : "");
	u->vendor = attr_hex(d, "idVendor");
	u->product = attr_hex(d, "idProduct");
	attr(d, "manufacturer", u->manufacturer, sizeof(u->manufacturer));
	attr(d, "product", u->name, sizeof(u->name));
	attr(d, "serial", u->serial, sizeof(u->serial));
	u->speed = (unsigned)strtoul(udev_device_get_sysattr_value(d, "speed") ?: "0", NULL, 10);
	u->hub = attr_hex(d, "bDeviceClass") == 9;
	return 0;
}

/* Orders USB devices by bus, then port path. */
static int usb_cmp(const void *a, const void *b)
{
	const struct usb_dev *x = a, *y = b;

	return x->bus != y->bus ? (x->bus > y->bus) - (x->bus < y->bus) : strverscmp(x->port, y->port);
}

int usb_list(struct usb_dev **out, size_t *n, struct verr *err)
{
	struct found f = { .size = sizeof(struct usb_dev) };

	if (enumerate("usb", add_usb, &f, err) < 0) {
		if (!err->n)
			verr_set(err, ENOMEM, "listing USB devices");
		free(f.v);
		return -1;
	}
	if (f.n)
		qsort(f.v, f.n, f.size, usb_cmp);
	*out = f.v;
	*n = f.n;
	return 0;
}

/* Adds one evdev node, named by its parent input device. */
static int add_input(struct udev_device *d, void *arg)
{
	const char *node = udev_device_get_devnode(d), *sysname = udev_device_get_sysname(d);
	struct udev_device *input = udev_device_get_parent_with_subsystem_devtype(d, "input", NULL);
	struct input_dev *in;

	if (!node || !sysname || strncmp(sysname, "event", 5) || !input)
		return 0;
	if (!(in = found_next(arg)))
		return -1;
	snprintf(in->node, sizeof(in->node), "%s", node);
	attr(input, "name", in->name, sizeof(in->name));
	attr(input, "phys", in->phys, sizeof(in->phys));
	in->kind = kind_of(input);
	return 0;
}

/* Gives each node the first (by name) link in DIR pointing at it: udevd's links are
 * "../eventN". Read from /dev rather than udev's database, which a container lacks even
 * when its /dev has the links. */
static void find_links(struct input_dev *devs, size_t n, const char *dir, size_t field)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[sizeof(devs->by_id)], target[PATH_MAX];
		const char *base;
		ssize_t len;

		/* A link too long to keep is not one to offer. */
		if (e->d_name[0] == '.' || (size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path))
			continue;
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
		for (size_t i = 0; i < n; i++) {
			char *link = (char *)&devs[i] + field;

			if (!strcmp(strrchr(devs[i].node, '/') + 1, base) && (!link[0] || strcmp(path, link) < 0))
				memcpy(link, path, sizeof(path));
		}
	}
	closedir(d);
}

/* Orders evdev nodes by number (event2 before event10). */
static int input_cmp(const void *a, const void *b)
{
	return strverscmp(((const struct input_dev *)a)->node, ((const struct input_dev *)b)->node);
}

int input_list(struct input_dev **out, size_t *n, struct verr *err)
{
	struct found f = { .size = sizeof(struct input_dev) };

	if (enumerate("input", add_input, &f, err) < 0) {
		if (!err->n)
			verr_set(err, ENOMEM, "listing input devices");
		free(f.v);
		return -1;
	}
	if (f.n)
		qsort(f.v, f.n, f.size, input_cmp);
	find_links(f.v, f.n, "/dev/input/by-id", offsetof(struct input_dev, by_id));
	find_links(f.v, f.n, "/dev/input/by-path", offsetof(struct input_dev, by_path));
	*out = f.v;
	*n = f.n;
	return 0;
}

int hostdev_wait_node(const char *subsystem, const char *path, int timeout_ms, struct verr *err)
{
	/* udevd's control socket: its events come after its rules ran (permissions, links). */
	const char *source = access("/run/udev/control", F_OK) == 0 ? "udev" : "kernel";
	struct udev *udev = udev_new();
	struct udev_monitor *mon = udev ? udev_monitor_new_from_netlink(udev, source) : NULL;
	int64_t deadline = now_ms() + timeout_ms;
	int ret = -1;

	if (!mon || udev_monitor_filter_add_match_subsystem_devtype(mon, subsystem, NULL) < 0 ||
	    udev_monitor_enable_receiving(mon) < 0) {
		verr_set(err, errno, "cannot watch %s's uevents (libudev, %s source)", subsystem, source);
		goto out;
	}
	/* Watching first, then looking: a node made in between is seen either way. */
	while (access(path, F_OK) < 0) {
		struct pollfd p = { .fd = udev_monitor_get_fd(mon), .events = POLLIN };
		int64_t now = now_ms();
		struct udev_device *d;

		if (now >= deadline) {
			verr_set(err, 0, "'%s' did not appear within %d ms", path, timeout_ms);
			goto out;
		}
		if (poll(&p, 1, (int)(deadline - now)) < 0 && errno != EINTR) {
			verr_set(err, errno, "waiting for '%s'", path);
			goto out;
		}
		if (p.revents & POLLIN && (d = udev_monitor_receive_device(mon)))
			udev_device_unref(d);
	}
	ret = 0;
out:
	udev_monitor_unref(mon);
	udev_unref(udev);
	return ret;
}
