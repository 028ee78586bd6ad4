/* Hot-plugging (hotplug.h): the requests add, remove and devices, the checks a device passes
 * before QEMU sees it, the list of the VM's devices and its record in the run directory. The
 * QMP steps are hotplug-steps.c's, vCPUs hotplug-cpus.c's, memory hotplug-memory.c's. */
#include "vmm/supervisor/hotplug-dev.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "vmm/base/acl.h"
#include "vmm/base/strict.h"
#include "vmm/base/util.h"
#include "vmm/launch/builder.h"
#include "vmm/supervisor/sup-grants.h"

const char *const hp_kind_names[] = { [HP_DISK] = "disk", [HP_NIC] = "nic", [HP_CPU] = "cpu", [HP_USB] = "usb",
				      [HP_VFIO] = "vfio" };

const char *hp_kind_word(enum hp_kind kind)
{
	static const char *const words[] = { [HP_DISK] = "disk", [HP_NIC] = "NIC", [HP_CPU] = "vCPU",
					     [HP_USB] = "USB device", [HP_VFIO] = "VFIO device" };

	return words[kind];
}

struct hotplug *hotplug_new(struct event_base *base, const struct plan *plan, const struct vm_state *vm,
			    struct rundir *rd, struct qmp_client *const *qmp)
{
	struct hotplug *hp = xzalloc(sizeof(*hp));

	hp->base = base;
	hp->qmp = qmp;
	hp->plan = plan;
	hp->vm = vm;
	hp->rd = rd;
	return hp;
}

/* A device of the record (HOTPLUG_FILE's, or one to re-create) as it is listed there. */
static struct json_object *record_of(const struct hp_device *d)
{
	struct json_object *e = json_object_new_object();

	json_object_object_add(e, CTL_ARG_KIND, json_object_new_string(hp_kind_names[d->kind]));
	json_object_object_add(e, CTL_ARG_DEVICE, json_object_get(d->config));
	json_object_object_add(e, "port", json_object_new_int(d->port));
	if (d->state != HP_PRESENT && d->kind != HP_CPU)
		json_object_object_add(e, "state", json_object_new_string(d->state == HP_ADDING ? "adding" : "removing"));
	return e;
}

void hotplug_reset(struct hotplug *hp)
{
	hp_batch_abort(hp);
	hp_memory_abort(hp);
	/* What the next QEMU (a restart) gets again: the disks, NICs and VFIO devices present. */
	json_object_put(hp->again);
	hp->again = json_object_new_array();
	for (size_t i = 0; i < hp->n; i++)
		if (hp->devs[i]->state == HP_PRESENT &&
		    (hp->devs[i]->kind == HP_DISK || hp->devs[i]->kind == HP_NIC || hp->devs[i]->kind == HP_VFIO))
			json_object_array_add(hp->again, record_of(hp->devs[i]));
	while (hp->n) {
		struct hp_device *d = hp->devs[hp->n - 1];
		if (d->conn)
			control_fail(steal_ptr(d->conn), "QEMU ended before '%s' was %s", d->id,
				     d->state == HP_ADDING ? "added" : "removed");
		hp_forget(d);
	}
	if (hp->saved)
		rundir_unlink(hp->rd, HOTPLUG_FILE);
	hp->saved = false;
	hp->cpu_removed = false;
}

void hotplug_free(struct hotplug *hp)
{
	if (!hp)
		return;
	hotplug_reset(hp);
	json_object_put(hp->again);
	free(hp->devs);
	free(hp);
}

void hp_forget(struct hp_device *d)
{
	struct hotplug *hp = d->hp;

	for (size_t i = 0; i < hp->n; i++)
		if (hp->devs[i] == d) {
			memmove(&hp->devs[i], &hp->devs[i + 1], (hp->n - i - 1) * sizeof(*hp->devs));
			hp->n--;
			break;
		}
	if (d->timer)
		event_free(d->timer);
	if (d->retry)
		event_free(d->retry);
	if (d->hosts.n)
		hp_vfio_restore(d);
	strv_free(&d->hosts);
	json_object_put(d->parts);
	json_object_put(d->config);
	free(d->id);
	free(d->type);
	free(d->detail);
	free(d->failure);
	free(d);
}

struct hp_device *hp_find(const struct hotplug *hp, const char *id)
{
	for (size_t i = 0; i < hp->n; i++)
		if (!strcmp(hp->devs[i]->id, id))
			return hp->devs[i];
	return NULL;
}

/* What the profile's device id is ("disk", "NIC"), or NULL when the profile has no such device. */
static const char *profile_device(const struct vm_config *c, const char *id)
{
	for (size_t i = 0; i < c->n_disks; i++)
		if (!strcmp(c->disks[i].id, id))
			return "disk";
	for (size_t i = 0; i < c->n_nics; i++)
		if (!strcmp(c->nics[i].id, id))
			return "NIC";
	return NULL;
}

int hp_check_new_id(const struct hotplug *hp, const char *what, const char *id, struct verr *err)
{
	const char *boot = profile_device(&hp->plan->config, id);
	const struct hp_device *d = hp_find(hp, id);

	if (boot)
		return verr_set(err, 0, "%s: id: the VM already has a %s '%s' (in its profile)", what, boot, id);
	if (d)
		return verr_set(err, 0, "%s: id: the VM already has a %s '%s' (hot-added)", what, hp_kind_word(d->kind), id);
	return 0;
}

/* The serial a hot-added disk gave its device (the last of its parts), or NULL for another device. */
static const char *hot_serial(const struct hp_device *d)
{
	struct json_object *dev = json_object_array_get_idx(d->parts, json_object_array_length(d->parts) - 1);

	return d->kind != HP_DISK ? NULL : json_object_get_string(json_object_object_get(json_object_object_get(dev, "json"), "serial"));
}

/* Refuses a new disk's serial when another disk has it (their /dev/disk/by-id names would collide). */
static int check_serial(const struct hotplug *hp, const char *serial, struct verr *err)
{
	const struct vm_config *c = &hp->plan->config;

	for (size_t i = 0; i < c->n_disks; i++)
		if (!strcmp(c->disks[i].serial, serial))
			return verr_set(err, 0, "disk: serial: '%s' is already the serial of disk '%s' (a serial defaults to "
					"the id's first %d characters)", serial, c->disks[i].id, DISK_SERIAL_MAX);
	for (size_t i = 0; i < hp->n; i++)
		if (hot_serial(hp->devs[i]) && !strcmp(hot_serial(hp->devs[i]), serial))
			return verr_set(err, 0, "disk: serial: '%s' is already the serial of disk '%s'", serial, hp->devs[i]->id);
	return 0;
}

/* True when path (may be NULL) names the file of st. */
static bool same_file(const char *path, const struct stat *st)
{
	struct stat other;

	return path && stat(path, &other) == 0 && other.st_dev == st->st_dev && other.st_ino == st->st_ino;
}

/* Refuses a new disk's image when another disk of the VM has it and either may write to it:
 * QEMU's image locks would fail its device_add, which an NVMe disk does not undo (its block
 * nodes stay in use). */
static int check_image(const struct hotplug *hp, const char *file, bool readonly, struct verr *err)
{
	const struct vm_config *c = &hp->plan->config;
	struct stat st;

	if (stat(file, &st) < 0)
		return 0; /* check_file says why */
	for (size_t i = 0; i < c->n_disks; i++)
		if (same_file(c->disks[i].file, &st) && !(readonly && c->disks[i].readonly))
			return verr_set(err, 0, "disk: file: '%s' is the image of disk '%s' already", file, c->disks[i].id);
	for (size_t i = 0; i < hp->n; i++)
		if (hp->devs[i]->kind == HP_DISK && same_file(hp->devs[i]->detail, &st) &&
		    !(readonly && json_object_get_boolean(json_object_object_get(hp->devs[i]->config, "readonly"))))
			return verr_set(err, 0, "disk: file: '%s' is the image of disk '%s' already", file, hp->devs[i]->id);
	return 0;
}

/* Checks a new disk's image: an absolute path to a file or block device that exists. */
static int check_file(const char *file, bool *block_device, struct verr *err)
{
	struct stat st;

	if (file[0] != '/')
		return verr_set(err, 0, "disk: file: '%s' is not an absolute path", file);
	if (stat(file, &st) < 0)
		return verr_set(err, errno, "disk: file: cannot use '%s'", file);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return verr_set(err, 0, "disk: file: '%s' is neither a file nor a block device", file);
	*block_device = S_ISBLK(st.st_mode);
	return 0;
}

/* True when a hot-added device sits on root port port. */
static bool port_used(const struct hotplug *hp, int port)
{
	for (size_t i = 0; i < hp->n; i++)
		if (hp->devs[i]->port == port)
			return true;
	return false;
}

int hp_free_port(const struct hotplug *hp, int want, int *port, struct verr *err)
{
	int n = (int)hp->plan->config.root_ports;

	for (int p = 0; p < n; p++)
		if ((want < 0 || want == p) && !port_used(hp, p)) {
			*port = p;
			return 0;
		}
	if (want >= 0)
		return verr_set(err, 0, "root port %d of hotplug.root_ports is not free", want);
	if (!n)
		return verr_set(err, 0, "the VM has no root port to hot-add a device on (set hotplug.root_ports in its profile)");
	return verr_set(err, 0, "no free root port: all %d of hotplug.root_ports hold hot-added devices", n);
}

/* The identity's key of hotplug root port number port ("hotplug:0"), in a new string. */
static char *port_key(int port)
{
	_cleanup_free_ char *n = xasprintf("%d", port);

	return build_pci_key("hotplug", n);
}

struct hp_device *hp_new_device(struct hotplug *hp, struct json_object *config, const char *id, enum hp_kind kind,
				struct json_object *parts, int port)
{
	struct hp_device *d = xzalloc(sizeof(*d));

	d->hp = hp;
	d->config = json_object_get(config);
	d->id = xstrdup(id);
	d->kind = kind;
	d->parts = parts;
	d->port = port;
	return d;
}

char *hp_port_id(int port)
{
	_cleanup_free_ char *key = port_key(port);

	return build_port_id(key);
}

/* The checked disk of an add, on root port want (as free_port), with its objects; NULL with err.
 * Not fresh: a disk QEMU has (a reattach takes it back), whose image is not checked again (it
 * may be gone while QEMU keeps it open). */
static struct hp_device *prepare_disk(struct hotplug *hp, struct json_object *json, int want, bool fresh,
				      struct verr *err)
{
	struct disk_config dc;
	_cleanup_free_ char *rp = NULL;
	struct hp_device *d = NULL;
	bool block_device = false;
	int port;

	if (config_disk_from_json(json, "disk", &dc, err) < 0)
		return NULL;
	if (dc.iothread_pin.n)
		verr_set(err, 0, "disk: iothread_pin: the iothread of a hot-added disk is not pinned (leave iothread_pin out)");
	else if (dc.create)
		verr_set(err, 0, "disk: create: a hot-added disk's image must exist (make it with vmm disk create)");
	else if (dc.bus == BUS_SATA || dc.bus == BUS_IDE)
		verr_set(err, 0, "disk: bus: '%s' cannot be hot-added (virtio-blk, scsi and nvme can)", bus_names[dc.bus]);
	else if (hp_check_new_id(hp, "disk", dc.id, err) == 0 && check_serial(hp, dc.serial, err) == 0 &&
		 (!fresh || (check_file(dc.file, &block_device, err) == 0 && check_image(hp, dc.file, dc.readonly, err) == 0 &&
			     qemu_user_grant(hp->plan, hp->rd, dc.file, dc.readonly ? ACL_R : ACL_R | ACL_W, err) == 0)) &&
		 hp_free_port(hp, want, &port, err) == 0) {
		rp = hp_port_id(port);
		d = hp_new_device(hp, json, dc.id, HP_DISK, build_hot_disk(&dc, block_device, rp), port);
		d->type = xstrdup(bus_names[dc.bus]);
		d->detail = xstrdup(dc.file);
	}
	config_disk_free(&dc);
	return d;
}

/* The checked NIC of an add, on root port want (as free_port), with its objects; NULL with err. */
static struct hp_device *prepare_nic(struct hotplug *hp, struct json_object *json, int want, struct verr *err)
{
	struct nic_config nc;
	_cleanup_free_ char *rp = NULL, *mac = NULL;
	struct hp_device *d = NULL;
	int port;

	if (config_nic_from_json(json, "nic", &nc, err) < 0)
		return NULL;
	if (hp_check_new_id(hp, "nic", nc.id, err) == 0 && hp_free_port(hp, want, &port, err) == 0) {
		rp = hp_port_id(port);
		mac = nc.mac ? xstrdup(nc.mac) : identity_new_mac(&hp->plan->identity, nc.id);
		d = hp_new_device(hp, json, nc.id, HP_NIC, build_hot_nic(&nc, mac, rp), port);
		d->type = xstrdup(nic_model_names[nc.model].profile);
		d->detail = steal_ptr(mac);
	}
	config_nic_free(&nc);
	return d;
}

void hp_list_add(struct hotplug *hp, struct hp_device *d)
{
	hp->devs = xrealloc(hp->devs, (hp->n + 1) * sizeof(*hp->devs));
	hp->devs[hp->n++] = d;
}

/* Every line of err joined by "; ", for a control error (a new string). */
static char *joined(const struct verr *err)
{
	char *text = xstrdup(""), *longer;

	for (size_t i = 0; i < err->n; i++, text = longer) {
		longer = xasprintf("%s%s%s", text, i ? "; " : "", err->lines[i]);
		free(text);
	}
	return text;
}

void hotplug_add(struct hotplug *hp, struct qmp_client *qmp, struct control_conn *conn, struct json_object *args)
{
	_cleanup_verr_ struct verr err = { 0 };
	_cleanup_free_ char *text = NULL;
	struct json_object *kind = NULL, *json = NULL;
	struct hp_device *d = NULL;

	json_object_object_get_ex(args, CTL_ARG_KIND, &kind);
	json_object_object_get_ex(args, CTL_ARG_DEVICE, &json);
	if (!json_object_is_type(kind, json_type_string) || (strcmp(json_object_get_string(kind), "disk") &&
	    strcmp(json_object_get_string(kind), "nic") && strcmp(json_object_get_string(kind), "usb") &&
	    strcmp(json_object_get_string(kind), "vfio")))
		verr_set(&err, 0, CTL_ARG_KIND ": expected \"disk\", \"nic\", \"usb\" or \"vfio\"");
	else if (!strcmp(json_object_get_string(kind), "usb"))
		d = hp_prepare_usb(hp, json, &err);
	else if (!strcmp(json_object_get_string(kind), "disk"))
		d = prepare_disk(hp, json, -1, true, &err);
	else if (!strcmp(json_object_get_string(kind), "vfio"))
		d = hp_prepare_vfio(hp, json, -1, true, &err);
	else
		d = prepare_nic(hp, json, -1, &err);
	if (!d) {
		text = joined(&err);
		control_fail(conn, "%s", text);
		return;
	}
	hp_list_add(hp, d);
	hp_save(hp);
	control_hold(conn);
	d->conn = conn;
	hp_step_add(d, qmp);
}

void hotplug_remove(struct hotplug *hp, struct qmp_client *qmp, struct control_conn *conn, struct json_object *args)
{
	struct json_object *v = NULL;
	const char *id, *boot;
	struct hp_device *d;

	json_object_object_get_ex(args, CTL_ARG_ID, &v);
	if (!json_object_is_type(v, json_type_string)) {
		control_fail(conn, CTL_ARG_ID ": expected the id of a hot-added device");
		return;
	}
	id = json_object_get_string(v);
	d = hp_find(hp, id);
	boot = profile_device(&hp->plan->config, id);
	if (!d && boot)
		control_fail(conn, "'%s' is a %s of the VM's profile: only a hot-added device can be removed while the VM runs",
			     id, boot);
	else if (!d)
		control_fail(conn, "the VM has no hot-added device '%s' (vmm devices lists them)", id);
	else if (d->kind == HP_CPU)
		control_fail(conn, "'%s' is a vCPU: change the vCPUs with vmm set NAME cpus=N", id);
	else if (d->conn || d->undoing)
		control_fail(conn, "'%s' is being %s: wait for that to end", id, d->state == HP_ADDING ? "added" : "removed");
	else {
		control_hold(conn);
		d->conn = conn;
		d->state = HP_REMOVING;
		free(steal_ptr(d->failure));
		hp_save(hp);
		hp_step_remove(d, qmp);
	}
}

void hp_save(struct hotplug *hp)
{
	_cleanup_verr_ struct verr err = { 0 };
	struct json_object *o = json_object_new_object(), *list = json_object_new_array();

	json_object_object_add(o, "qemu_pid", json_object_new_int(hp->vm->pid));
	for (size_t i = 0; i < hp->n; i++)
		if (hp->devs[i]->state != HP_ADDING || hp->devs[i]->kind != HP_CPU)
			json_object_array_add(list, record_of(hp->devs[i]));
	json_object_object_add(o, "devices", list);
	if (hp->cpu_removed)
		json_object_object_add(o, "cpu_removed", json_object_new_boolean(true));
	if (rundir_write(hp->rd, HOTPLUG_FILE, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY), true, &err) < 0)
		say_err(hp->vm, &err);
	else
		hp->saved = true;
	json_object_put(o);
}

/* The device of a record on its root port (bind: for a new QEMU, as for an add: a VFIO device's
 * host devices are bound for it, a disk's image checked and granted; else QEMU has it); NULL
 * with err. */
static struct hp_device *from_record(struct hotplug *hp, struct json_object *e, bool bind, struct verr *err)
{
	struct json_object *kind = NULL, *json = NULL, *port = NULL;

	json_object_object_get_ex(e, CTL_ARG_KIND, &kind);
	json_object_object_get_ex(e, CTL_ARG_DEVICE, &json);
	json_object_object_get_ex(e, "port", &port);
	if (!strcmp(json_object_get_string(kind) ?: "", hp_kind_names[HP_CPU]))
		return hp_cpu_device(hp, json, err);
	if (!strcmp(json_object_get_string(kind) ?: "", hp_kind_names[HP_USB]))
		return hp_prepare_usb(hp, json, err);
	if (!strcmp(json_object_get_string(kind) ?: "", hp_kind_names[HP_NIC]))
		return prepare_nic(hp, json, json_object_get_int(port), err);
	if (!strcmp(json_object_get_string(kind) ?: "", hp_kind_names[HP_VFIO]))
		return hp_prepare_vfio(hp, json, json_object_get_int(port), bind, err);
	return prepare_disk(hp, json, json_object_get_int(port), bind, err);
}

void hotplug_ready(struct hotplug *hp, struct qmp_client *qmp)
{
	struct json_object *again = steal_ptr(hp->again);

	for (size_t i = 0; again && i < json_object_array_length(again); i++) {
		_cleanup_verr_ struct verr err = { 0 };
		struct hp_device *d = from_record(hp, json_object_array_get_idx(again, i), true, &err);
		if (!d) {
			verr_wrap(&err, "warning: a hot-added device is not added again to the restarted QEMU");
			say_err(hp->vm, &err);
			continue;
		}
		say(hp->vm, "adding %s '%s' again", hp_kind_word(d->kind), d->id);
		hp_list_add(hp, d);
		hp_save(hp);
		hp_step_add(d, qmp);
	}
	json_object_put(again);
	for (size_t i = 0; i < hp->n; i++)
		if (hp->devs[i]->unsure && !hp->devs[i]->undoing) {
			say(hp->vm, "removing %s '%s': its %s was under way when a supervisor ended", hp_kind_word(hp->devs[i]->kind),
			    hp->devs[i]->id, hp->devs[i]->failure ? "add" : "removal");
			hp->devs[i]->undoing = true;
			hp_step_remove(hp->devs[i], qmp);
		}
}

/* Takes back one device of the record as present on its root port; says why it cannot. */
static void take_back(struct hotplug *hp, struct json_object *e)
{
	_cleanup_verr_ struct verr err = { 0 };
	struct hp_device *d = from_record(hp, e, false, &err);
	const char *state = json_object_get_string(json_object_object_get(e, "state"));

	if (!d) {
		verr_wrap(&err, "warning: a hot-added device is forgotten");
		say_err(hp->vm, &err);
		return;
	}
	d->state = state ? HP_REMOVING : HP_PRESENT;
	d->unsure = state != NULL;
	if (state && !strcmp(state, "adding"))
		d->failure = xasprintf("the add of '%s' was cut short", d->id);
	d->done = json_object_array_length(d->parts);
	hp_list_add(hp, d);
}

void hotplug_reattach(struct hotplug *hp)
{
	_cleanup_close_ int fd = rundir_open_file(hp->rd, HOTPLUG_FILE, O_RDONLY | O_CLOEXEC, 0);
	struct json_object *o = fd < 0 ? NULL : json_object_from_fd(fd), *list;
	int64_t pid;
	bool same, removed;

	if (!o)
		return;
	rundir_adopt(hp->rd, HOTPLUG_FILE);
	same = json_int_member(o, "qemu_pid", 1, INT32_MAX, &pid) && pid == hp->vm->pid;
	if (same && json_object_object_get_ex(o, "devices", &list) && json_object_is_type(list, json_type_array))
		for (size_t i = 0; i < json_object_array_length(list); i++)
			take_back(hp, json_object_array_get_idx(list, i));
	hp->cpu_removed = same && json_bool_member(o, "cpu_removed", &removed) == 0 && removed;
	json_object_put(o);
	hp_save(hp);
}

void hotplug_event(struct hotplug *hp, struct qmp_client *qmp, const char *name, struct json_object *msg)
{
	struct json_object *data, *device = NULL, *path = NULL;

	if (!json_object_object_get_ex(msg, "data", &data))
		return;
	if (!strcmp(name, "MEMORY_DEVICE_SIZE_CHANGE"))
		hp_memory_event(hp, data);
	if (strcmp(name, "DEVICE_DELETED"))
		return;
	json_object_object_get_ex(data, "device", &device);
	json_object_object_get_ex(data, "path", &path);
	hp_released(hp, qmp, json_object_get_string(device), json_object_get_string(path));
}

/* Adds where PCI key sits on the root bus (DEV_KEY_ADDRESS) and its root port (DEV_KEY_PORT). */
static void put_place(struct json_object *o, const struct identity *id, const char *key)
{
	_cleanup_free_ char *port_id = build_port_id(key), *address = NULL;
	struct pci_slot at;
	bool port;

	if (!identity_find(id, key, &port, &at))
		return;
	address = xasprintf("00:%02x.%x", at.slot, at.fn);
	if (port)
		json_object_object_add(o, DEV_KEY_PORT, json_object_new_string(port_id));
	json_object_object_add(o, DEV_KEY_ADDRESS, json_object_new_string(address));
}

/* A device of the list: its id, kind, type, file or MAC (detail, may be NULL), origin and state;
 * its place by PCI key (NULL: none). */
static struct json_object *entry(const struct identity *ident, const char *id, enum hp_kind kind, const char *type,
				 const char *detail, bool hotplugged, const char *key, const char *state)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, DEV_KEY_ID, json_object_new_string(id));
	json_object_object_add(o, DEV_KEY_KIND, json_object_new_string(hp_kind_names[kind]));
	json_object_object_add(o, DEV_KEY_TYPE, json_object_new_string(type));
	if (detail)
		json_object_object_add(o, kind == HP_NIC ? DEV_KEY_MAC : kind == HP_VFIO ? DEV_KEY_HOST : DEV_KEY_FILE,
				       json_object_new_string(detail));
	json_object_object_add(o, DEV_KEY_HOTPLUGGED, json_object_new_boolean(hotplugged));
	if (key)
		put_place(o, ident, key);
	json_object_object_add(o, DEV_KEY_STATE, json_object_new_string(state));
	return o;
}

struct json_object *hp_describe(const struct hp_device *d)
{
	static const char *const states[] = { [HP_ADDING] = "adding", [HP_PRESENT] = "present", [HP_REMOVING] = "removing" };
	_cleanup_free_ char *key = d->port >= 0 ? port_key(d->port) : NULL;

	return entry(&d->hp->plan->identity, d->id, d->kind, d->type, d->detail, true, key, states[d->state]);
}

struct json_object *hotplug_devices(const struct hotplug *hp)
{
	const struct vm_config *c = &hp->plan->config;
	const struct identity *ident = &hp->plan->identity;
	struct json_object *list = json_object_new_array();

	for (size_t i = 0; i < c->n_disks; i++) {
		_cleanup_free_ char *key = build_pci_key("disk", c->disks[i].id);
		json_object_array_add(list, entry(ident, c->disks[i].id, HP_DISK, bus_names[c->disks[i].bus], c->disks[i].file,
						  false, key, "present"));
	}
	for (size_t i = 0; i < c->n_nics; i++) {
		const struct nic_config *n = &c->nics[i];
		_cleanup_free_ char *key = build_pci_key("nic", n->id), *mac = n->mac ? xstrdup(n->mac) : identity_new_mac(ident, n->id);
		json_object_array_add(list, entry(ident, n->id, HP_NIC, nic_model_names[n->model].profile, mac, false, key,
						  "present"));
	}
	for (size_t i = 0; i < hp->n; i++)
		json_object_array_add(list, hp_describe(hp->devs[i]));
	return list;
}
