#include "profiles/config-walk.h"

#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "passthrough/pci.h"
#include "vmm/base/strict.h"

static const char *const nic_keys[] = { "id", "type", "model", "bridge", "ifname", "mac", NULL };
static const char *const passthrough_keys[] = { "host", "with_group", "rom", "x_vga", "multifunction", NULL };
static const char *const hotplug_keys[] = { "root_ports", "max_cpus", "max_memory", "mem_slots", NULL };
static const char *const disk_keys[] = { "id", "file", "serial", "format", "bus", "cache", "aio", "readonly",
					 "iothread", "iothreads", "iothread_pin", "discard", "ssd", "media", "create", NULL };

/* Checks the id of a disk or NIC (at path): present, and fit for QEMU. */
static void check_id(struct walk *w, const char *path, const char *id, const char *what)
{
	if (!id)
		jr_problem(&w->jr, path, "id", "missing (every %s needs an id)", what);
	else if (!id_valid(id, DEVICE_ID_MAX))
		jr_problem(&w->jr, path, "id", "'%s' is not a valid id (a letter, then up to %d letters, digits, '-', "
			   "'_' or '.')", id, DEVICE_ID_MAX - 1);
}

/* Reports the id of element i of a list (at path) when an earlier element has it; seen maps
 * the ids so far to their index. */
static void check_unique_id(struct walk *w, struct json_object *seen, const char *list, const char *path,
			    const char *id, size_t i)
{
	struct json_object *first;

	if (!id)
		return;
	if (json_object_object_get_ex(seen, id, &first))
		jr_problem(&w->jr, path, "id", "'%s' is already the id of %s[%d]", id, list, json_object_get_int(first));
	else
		json_object_object_add(seen, id, json_object_new_int((int)i));
}

/* Validates one element of "nics". */
static void walk_nic(struct walk *w, struct json_object *n, const char *path, struct nic_config *nic)
{
	if (!jr_element(&w->jr, n, path, nic_keys))
		return;
	jr_string(&w->jr, n, path, "id", &nic->id);
	nic->type = NIC_USER;
	cfg_get_table_enum(w, n, path, "type", nic_type_names, nic->type);
	nic->model = NIC_VIRTIO;
	cfg_get_table_enum(w, n, path, "model", nic_model_names, nic->model);
	jr_string(&w->jr, n, path, "bridge", &nic->bridge);
	jr_string(&w->jr, n, path, "ifname", &nic->ifname);
	jr_string(&w->jr, n, path, "mac", &nic->mac);
	check_id(w, path, nic->id, "NIC");
	if (nic->type == NIC_BRIDGE && (!nic->bridge || !id_valid(nic->bridge, IFNAMSIZ - 1)))
		jr_problem(&w->jr, path, "bridge", "expected the name of a host bridge (such as \"br0\") for type bridge");
	if (nic->type == NIC_TAP && (!nic->ifname || !id_valid(nic->ifname, IFNAMSIZ - 1)))
		jr_problem(&w->jr, path, "ifname",
			   "expected the name of an existing tap device (such as \"tap0\") for type tap");
	if (nic->mac) {
		unsigned b[6];
		char end;
		if (!text_matches(nic->mac, "xx:xx:xx:xx:xx:xx") ||
		    sscanf(nic->mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6 ||
		    (b[0] & 1))
			jr_problem(&w->jr, path, "mac", "'%s' is not a unicast MAC address (expected six hex pairs such as "
				   "\"52:54:00:12:34:56\")", nic->mac);
	}
}

/* Validates "nics": a list of NICs with unique ids. */
static void walk_nics(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *nics = jr_member(&w->jr, json, "", "nics", json_type_array, "a list of NICs");
	struct json_object *seen;

	if (!nics)
		return;
	seen = json_object_new_object();
	c->n_nics = json_object_array_length(nics);
	c->nics = xzalloc((c->n_nics ? c->n_nics : 1) * sizeof(*c->nics));
	for (size_t i = 0; i < c->n_nics; i++) {
		_cleanup_free_ char *path = json_path_index("nics", i);
		walk_nic(w, json_object_array_get_idx(nics, i), path, &c->nics[i]);
		check_unique_id(w, seen, "nics", path, c->nics[i].id, i);
	}
	json_object_put(seen);
}

/* Validates one element of "passthrough"; seen are the elements before it. */
static void walk_passthrough_device(struct walk *w, struct json_object *d, const char *path,
				    struct passthrough_config *p, const struct passthrough_config *seen, size_t n_seen)
{
	_cleanup_free_ char *raw = NULL;
	char bdf[PCI_BDF_SIZE];

	if (!jr_element(&w->jr, d, path, passthrough_keys))
		return;
	jr_string(&w->jr, d, path, "host", &raw);
	jr_bool(&w->jr, d, path, "with_group", &p->with_group);
	cfg_get_path(w, d, path, "rom", &p->rom);
	jr_bool(&w->jr, d, path, "x_vga", &p->x_vga);
	jr_bool(&w->jr, d, path, "multifunction", &p->multifunction);
	if (!raw) {
		jr_problem(&w->jr, path, "host", "missing (the device's PCI address, such as \"0000:01:00.0\")");
		return;
	}
	if (!pci_address_parse(raw, bdf)) {
		jr_problem(&w->jr, path, "host", "'%s' is not a PCI address (expected DOMAIN:BUS:SLOT.FUNCTION such as "
			   "\"0000:01:00.0\")", raw);
		return;
	}
	p->host = xstrdup(bdf);
	for (size_t j = 0; j < n_seen; j++)
		if (seen[j].host && !strcmp(seen[j].host, bdf))
			jr_problem(&w->jr, path, "host", "%s is already passthrough[%zu]", bdf, j);
}

/* Validates "passthrough": host PCI devices, each at most once. */
static void walk_passthrough(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *list = jr_member(&w->jr, json, "", "passthrough", json_type_array,
					     "a list of host PCI devices");

	if (!list)
		return;
	c->n_passthrough = json_object_array_length(list);
	c->passthrough = xzalloc((c->n_passthrough ? c->n_passthrough : 1) * sizeof(*c->passthrough));
	for (size_t i = 0; i < c->n_passthrough; i++) {
		_cleanup_free_ char *path = json_path_index("passthrough", i);
		walk_passthrough_device(w, json_object_array_get_idx(list, i), path, &c->passthrough[i], c->passthrough, i);
	}
}

/* Validates "hotplug": spare root ports, CPUs and memory to add later. */
static void walk_hotplug(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *hp = jr_object(&w->jr, json, "", "hotplug", hotplug_keys);

	jr_uint(&w->jr, hp, "hotplug", "root_ports", 0, 32, &c->root_ports);
	jr_uint(&w->jr, hp, "hotplug", "max_cpus", 1, VCPUS_MAX, &c->max_cpus);
	jr_uint(&w->jr, hp, "hotplug", "mem_slots", 0, 256, &c->mem_slots);
	cfg_get_size(w, hp, "hotplug", "max_memory", MEMORY_MIN, &c->max_memory);
	if (c->max_cpus && c->max_cpus < config_vcpus(c))
		jr_problem(&w->jr, "hotplug.max_cpus", NULL, "%u is fewer than the %u vCPUs the VM boots with",
			   c->max_cpus, config_vcpus(c));
	else if (c->max_cpus > config_vcpus(c) && c->max_cpus % (c->cores * c->threads))
		jr_problem(&w->jr, "hotplug.max_cpus", NULL, "%u is not a whole number of sockets (cores x threads = %u)",
			   c->max_cpus, c->cores * c->threads);
	if (c->max_memory && c->max_memory <= c->memory)
		jr_problem(&w->jr, "hotplug.max_memory", NULL, "must be more than memory.size (%lluM)",
			   (unsigned long long)(c->memory / MIB));
	if (c->max_memory && !c->mem_slots)
		jr_problem(&w->jr, "hotplug.mem_slots", NULL, "missing (hotplug.max_memory needs at least one memory slot)");
	if (c->mem_slots && !c->max_memory)
		jr_problem(&w->jr, "hotplug.max_memory", NULL, "missing (hotplug.mem_slots needs a maximum memory size)");
	if (c->root_ports && c->machine != MACHINE_Q35)
		jr_problem(&w->jr, "hotplug.root_ports", NULL, "PCIe root ports need machine.type q35");
}

/* Validates the top-level "display", "console", "agent" and "panic". */
static void walk_display(struct walk *w, struct json_object *json, struct vm_config *c)
{
	int console = 0;

	c->display = DISPLAY_NONE;
	cfg_get_table_enum(w, json, "", "display", display_names, c->display);
	jr_oneof(&w->jr, json, "", "console", console_names, &console);
	c->serial_console = console == 0;
	jr_bool(&w->jr, json, "", "agent", &c->agent);
	jr_bool(&w->jr, json, "", "panic", &c->panic);
}

/* Validates one element of "disks". */
static void walk_disk(struct walk *w, struct json_object *d, const char *path, struct disk_config *disk)
{
	if (!jr_element(&w->jr, d, path, disk_keys))
		return;
	jr_string(&w->jr, d, path, "id", &disk->id);
	cfg_get_path(w, d, path, "file", &disk->file);
	jr_string(&w->jr, d, path, "serial", &disk->serial);
	disk->format = FORMAT_RAW;
	cfg_get_table_enum(w, d, path, "format", format_names, disk->format);
	disk->bus = BUS_VIRTIO_BLK;
	cfg_get_enum(w, d, path, "bus", bus_names, disk->bus);
	disk->cache = CACHE_NONE;
	cfg_get_enum(w, d, path, "cache", cache_names, disk->cache);
	disk->aio = AIO_THREADS;
	cfg_get_table_enum(w, d, path, "aio", aio_names, disk->aio);
	jr_bool(&w->jr, d, path, "readonly", &disk->readonly);
	jr_bool(&w->jr, d, path, "iothread", &disk->iothread);
	jr_uint(&w->jr, d, path, "iothreads", 1, DISK_IOTHREADS_MAX, &disk->iothreads);
	if (disk->iothreads > 1 && disk->bus != BUS_VIRTIO_BLK)
		jr_problem(&w->jr, path, "iothreads", "only a virtio-blk disk spreads its queues over several iothreads (bus is %s)",
			   bus_names[disk->bus]);
	disk->iothread |= disk->iothreads > 0;
	cfg_get_host_cpus(w, d, path, "iothread_pin", &disk->iothread_pin);
	jr_bool(&w->jr, d, path, "discard", &disk->discard);
	jr_bool(&w->jr, d, path, "ssd", &disk->ssd);
	cfg_get_media(w, d, path, disk);
	cfg_get_size(w, d, path, "create", MIB, &disk->create);
	if (disk->create && disk->readonly)
		jr_problem(&w->jr, path, "create", "makes an empty image, which a readonly disk could never fill");
	if (disk->iothread && disk->bus != BUS_SCSI && disk->bus != BUS_VIRTIO_BLK)
		jr_problem(&w->jr, path, "iothread", "only scsi and virtio-blk disks can have an iothread (bus is %s)",
			   bus_names[disk->bus]);
	if (disk->iothread_pin.n && !disk->iothread)
		jr_problem(&w->jr, path, "iothread_pin", "pins an iothread the disk does not have (add \"iothread\": true)");
	if (disk->aio == AIO_NATIVE && disk->cache != CACHE_NONE && disk->cache != CACHE_DIRECTSYNC)
		jr_problem(&w->jr, path, "aio",
			   "'native' needs O_DIRECT (expected cache none or directsync, or aio threads/io_uring)");
	check_id(w, path, disk->id, "disk");
	if (!disk->file && !json_object_object_get_ex(d, "file", NULL))
		jr_problem(&w->jr, path, "file", "missing (the image file of the disk)");
	if (!json_object_object_get_ex(d, "format", NULL))
		jr_problem(&w->jr, path, "format", "missing (expected %s or %s; vmm never guesses an image format)",
			   format_names[FORMAT_RAW].profile, format_names[FORMAT_QCOW2].profile);
}

/* Checks the serial of disk i (at path), defaulting it to the id cut to DISK_SERIAL_MAX
 * characters: printable, and unlike the serials before it (their /dev/disk/by-id names would
 * collide); seen maps the serials so far to their index, ids the ids before this disk's. */
static void check_serial(struct walk *w, struct json_object *seen, struct json_object *ids, const char *path,
			 struct disk_config *d, size_t i)
{
	struct json_object *first;

	if (!d->serial && d->id) {
		if (json_object_object_get_ex(ids, d->id, NULL))
			return; /* a duplicate id, reported as such */
		d->serial = xasprintf("%.*s", DISK_SERIAL_MAX, d->id);
	}
	if (!d->serial)
		return;
	for (const char *p = d->serial; *p; p++)
		if (*p < ' ' || *p > '~') {
			jr_problem(&w->jr, path, "serial", "'%s' is not a disk serial (expected printable ASCII)", d->serial);
			return;
		}
	if (!*d->serial || strlen(d->serial) > DISK_SERIAL_MAX)
		jr_problem(&w->jr, path, "serial", "'%s' is not a disk serial (expected 1 to %d characters)", d->serial,
			   DISK_SERIAL_MAX);
	else if (json_object_object_get_ex(seen, d->serial, &first))
		jr_problem(&w->jr, path, "serial", "'%s' is already the serial of disks[%d] (a serial defaults to the "
			   "id's first %d characters)", d->serial, json_object_get_int(first), DISK_SERIAL_MAX);
	else
		json_object_object_add(seen, d->serial, json_object_new_int((int)i));
}

/* Validates "disks": a list of disks with unique ids and serials. */
static void walk_disks(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *disks = jr_member(&w->jr, json, "", "disks", json_type_array, "a list of disks");
	struct json_object *seen, *serials;

	if (!disks)
		return;
	seen = json_object_new_object();
	serials = json_object_new_object();
	c->n_disks = json_object_array_length(disks);
	c->disks = xzalloc((c->n_disks ? c->n_disks : 1) * sizeof(*c->disks));
	for (size_t i = 0; i < c->n_disks; i++) {
		_cleanup_free_ char *path = json_path_index("disks", i);
		walk_disk(w, json_object_array_get_idx(disks, i), path, &c->disks[i]);
		check_serial(w, serials, seen, path, &c->disks[i], i);
		check_unique_id(w, seen, "disks", path, c->disks[i].id, i);
	}
	json_object_put(seen);
	json_object_put(serials);
}

/* The disks one SATA (AHCI) controller takes: q35's own or the one vmm adds to pc. */
#define SATA_PORTS 6
/* The disks pc's IDE takes: two channels, master and slave. */
#define IDE_PORTS 4

/* Reports the first disk on bus beyond the ports its controller has. */
static void check_bus_ports(struct walk *w, const struct vm_config *c, enum disk_bus bus, unsigned ports,
			    const char *has)
{
	unsigned n = 0;

	for (size_t i = 0; i < c->n_disks; i++)
		if (c->disks[i].bus == bus && ++n > ports) {
			_cleanup_free_ char *p = json_path_index("disks", i);
			jr_problem(&w->jr, p, "bus", "disk %u on %s, but %s %u ports (use virtio-blk or scsi for more disks)",
				   n, bus_names[bus], has, ports);
			return;
		}
}

/* Validates the VM's devices and what they need of the machine (IDE on q35, ports of SATA and IDE). */
void cfg_walk_devices(struct walk *w, struct json_object *json, struct vm_config *c)
{
	walk_disks(w, json, c);
	for (size_t i = 0; i < c->n_disks; i++)
		if (c->disks[i].bus == BUS_IDE && c->machine != MACHINE_PC) {
			_cleanup_free_ char *p = json_path_index("disks", i);
			jr_problem(&w->jr, p, "bus", "'ide' needs machine.type pc (q35 has no IDE controller: use sata)");
		}
	check_bus_ports(w, c, BUS_SATA, SATA_PORTS, "the AHCI controller has");
	check_bus_ports(w, c, BUS_IDE, IDE_PORTS, "the two IDE channels have");
	walk_nics(w, json, c);
	walk_passthrough(w, json, c);
	walk_hotplug(w, json, c);
	walk_display(w, json, c);
}

/* Validates one device given alone with walk (its own disk or NIC walk), as a profile's list
 * element is; what names it in the problems ("disk: cache: ..."). Returns 0, or -1 with err. */
static int walk_alone(struct json_object *json, const char *what, struct verr *err,
		      void (*walk)(struct walk *w, struct json_object *json, void *out), void *out)
{
	struct walk w = { .jr = { .err = err, .file = what } };
	size_t before = err->n;

	if (!json_object_is_type(json, json_type_object))
		return verr_set(err, 0, "%s: expected a JSON object", what);
	walk(&w, json, out);
	return err->n > before ? -1 : 0;
}

/* A disk alone: walk_disk, then its serial (the id's first characters when it has none). */
static void walk_one_disk(struct walk *w, struct json_object *json, void *out)
{
	struct json_object *none = json_object_new_object();

	walk_disk(w, json, "", out);
	check_serial(w, none, none, "", out, 0);
	json_object_put(none);
}

/* A NIC alone: walk_nic. */
static void walk_one_nic(struct walk *w, struct json_object *json, void *out)
{
	walk_nic(w, json, "", out);
}

int config_disk_from_json(struct json_object *json, const char *what, struct disk_config *d, struct verr *err)
{
	*d = (struct disk_config){ 0 };
	if (walk_alone(json, what, err, walk_one_disk, d) == 0)
		return 0;
	config_disk_free(d);
	return -1;
}

int config_nic_from_json(struct json_object *json, const char *what, struct nic_config *n, struct verr *err)
{
	*n = (struct nic_config){ 0 };
	if (walk_alone(json, what, err, walk_one_nic, n) == 0)
		return 0;
	config_nic_free(n);
	return -1;
}
