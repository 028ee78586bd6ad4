#include "profiles/config.h"

#include <ctype.h>
#include <libgen.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passthrough/pci.h"
#include "profiles/jsonread.h"
#include "vmm/base/host.h"
#include "vmm/base/util.h"

const char *const machine_names[] = { "q35", "pc", NULL };
const char *const accel_names[] = { "auto", "kvm", "tcg", NULL };
const char *const restart_names[] = { "no", "on-crash", "always", NULL };
const char *const firmware_names[] = { "bios", "ovmf", "ovmf-secboot", NULL };
const char *const bus_names[] = { "virtio-blk", "scsi", "nvme", "sata", "ide", NULL };
static const char *const console_names[] = { "serial", "none", NULL };
static const char *const cache_names[] = { "none", "writeback", "writethrough", "directsync", "unsafe", NULL };

const struct enum_name nic_model_names[] = {
	[NIC_VIRTIO] = { "virtio", "virtio-net-pci" },
	[NIC_E1000] = { "e1000", "e1000" },
	[NIC_E1000E] = { "e1000e", "e1000e" },
	[NIC_RTL8139] = { "rtl8139", "rtl8139" },
	{ NULL, NULL },
};
const struct enum_name nic_type_names[] = {
	[NIC_USER] = { "user", "user" },
	[NIC_TAP] = { "tap", "tap" },
	[NIC_BRIDGE] = { "bridge", "bridge" },
	{ NULL, NULL },
};
const struct enum_name format_names[] = {
	[FORMAT_RAW] = { "raw", "raw" },
	[FORMAT_QCOW2] = { "qcow2", "qcow2" },
	{ NULL, NULL },
};
const struct enum_name aio_names[] = {
	[AIO_THREADS] = { "threads", "threads" },
	[AIO_NATIVE] = { "native", "native" },
	[AIO_IO_URING] = { "io_uring", "io_uring" },
	{ NULL, NULL },
};
const struct enum_name display_names[] = {
	[DISPLAY_NONE] = { "none", "none" },
	[DISPLAY_GTK] = { "gtk", "gtk" },
	[DISPLAY_SDL] = { "sdl", "sdl" },
	[DISPLAY_VNC] = { "vnc", "vnc" },
	{ NULL, NULL },
};

const struct hugepage_size hugepage_sizes[HUGEPAGES_COUNT] = {
	[HUGEPAGES_2M] = { "2M", HUGEPAGE_2M_BYTES, "hugepages-2048kB" },
	[HUGEPAGES_1G] = { "1G", HUGEPAGE_1G_BYTES, "hugepages-1048576kB" },
};

/* Memory sizes are whole numbers of this. */
#define MIB (1ull << 20)
/* The smallest memory size, of the VM or of a NUMA node. */
#define MEMORY_MIN (16 * MIB)
/* The most vCPUs a VM may have, booted or hot-plugged. */
#define VCPUS_MAX 1024

static const char *const top_keys[] = { "name", "machine", "cpu", "memory", "boot", "disks", "nics", "passthrough",
					"display", "console", "agent", "hotplug", "lifecycle", "qemu", NULL };
static const char *const machine_keys[] = { "type", "accel", "firmware", NULL };
static const char *const cpu_keys[] = { "model", "sockets", "cores", "threads", "pin", "emulator_pin", "hyperv",
					NULL };
static const char *const memory_keys[] = { "size", "hugepages", "prealloc", "balloon", "numa", NULL };
static const char *const numa_keys[] = { "cpus", "size", "host_node", NULL };
static const char *const nic_keys[] = { "id", "type", "model", "bridge", "ifname", "mac", NULL };
static const char *const passthrough_keys[] = { "host", "with_group", "rom", "x_vga", "multifunction", NULL };
static const char *const hotplug_keys[] = { "root_ports", "max_cpus", "max_memory", "mem_slots", NULL };
static const char *const boot_keys[] = { "kernel", "initrd", "append", NULL };
static const char *const disk_keys[] = { "id", "file", "format", "bus", "cache", "aio", "readonly", "iothread",
					 "iothread_pin", "discard", "ssd", NULL };
static const char *const lifecycle_keys[] = { "shutdown_timeout", "restart", "protected", NULL };
static const char *const qemu_keys[] = { "binary", "extra_args", NULL };

/* The state of one validation pass. */
struct walk {
	struct jreader jr; /* where problems go */
	long host_cpus;    /* CPUs the host has, for pinning */
};

/* Reads an optional enum member (a string from names, NULL-terminated) into the enum lvalue field. */
#define get_enum(w, obj, path, key, names, field)               \
	do {                                                    \
		int v_ = (int)(field);                          \
		jr_oneof(&(w)->jr, obj, path, key, names, &v_); \
		(field) = v_;                                   \
	} while (0)

/* Reads an optional enum member (one of table's profile names) into the enum lvalue field. */
#define get_table_enum(w, obj, path, key, table, field)                  \
	do {                                                             \
		_cleanup_free_ const char **names_ = profile_names(table); \
		get_enum(w, obj, path, key, names_, field);              \
	} while (0)

/* The profile names of an enum table, NULL-terminated, in a new array (of the table's strings). */
static const char **profile_names(const struct enum_name *table)
{
	size_t n = 0;
	const char **names;

	while (table[n].profile)
		n++;
	names = xzalloc((n + 1) * sizeof(*names));
	for (size_t i = 0; i < n; i++)
		names[i] = table[i].profile;
	return names;
}

/* Reads an optional path member (the resolver has expanded it). */
static void get_path(struct walk *w, struct json_object *obj, const char *path, const char *key, char **out)
{
	_cleanup_free_ char *value = NULL;

	jr_string(&w->jr, obj, path, key, &value);
	if (value && !*value)
		jr_problem(&w->jr, path, key, "expected a file name, not an empty string");
	else if (value) {
		free(*out);
		*out = steal_ptr(value);
	}
}

/* True when s is a valid QEMU id / VM name: a letter, then letters, digits, '-', '_' or '.'. */
static bool valid_id(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || !isalpha((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

bool vm_name_valid(const char *name)
{
	return valid_id(name, VM_NAME_MAX);
}

/* Validates the "name" of the VM, defaulting to the profile file's base name. */
static void walk_name(struct walk *w, struct json_object *json, struct vm_config *c)
{
	jr_string(&w->jr, json, "", "name", &c->name);
	if (!c->name) {
		_cleanup_free_ char *copy = xstrdup(w->jr.file);
		char *base = basename(copy), *dot = strrchr(base, '.');
		if (dot && dot != base)
			*dot = '\0';
		c->name = xstrdup(base);
		if (!valid_id(c->name, VM_NAME_MAX))
			jr_problem(&w->jr, "name", NULL, "missing, and the file name '%s' is not a valid VM name "
				   "(a letter, then letters, digits, '-', '_' or '.')", c->name);
	} else if (!valid_id(c->name, VM_NAME_MAX))
		jr_problem(&w->jr, "name", NULL, "'%s' is not a valid VM name (a letter, then up to %d letters, "
			   "digits, '-', '_' or '.')", c->name, VM_NAME_MAX - 1);
}

/* Reports the first member of a list at or above limit ("CPU 9 does not exist (the host has 8: 0-7)"). */
static void check_cpus(struct walk *w, const char *path, const struct cpulist *l, long limit, const char *what,
		       const char *owner)
{
	for (size_t i = 0; i < l->n; i++)
		if ((long)l->cpus[i] >= limit) {
			jr_problem(&w->jr, path, NULL, "%s %u does not exist (%s has %ld: 0-%ld)", what, l->cpus[i], owner,
				   limit, limit - 1);
			return;
		}
}

/* Reads an optional cpulist string member of host CPUs. */
static void get_host_cpus(struct walk *w, struct json_object *obj, const char *path, const char *key,
			  struct cpulist *out)
{
	struct json_object *v = jr_member(&w->jr, obj, path, key, json_type_string,
					  "a list of host CPUs such as \"2-3\"");
	_cleanup_free_ char *kpath = json_path_key(path, key);

	if (!v)
		return;
	if (cpulist_parse(json_object_get_string(v), out) < 0)
		jr_problem(&w->jr, kpath, NULL, "'%s' is not a CPU list (expected numbers and ranges such as \"0-3,8\")",
			   json_object_get_string(v));
	else
		check_cpus(w, kpath, out, w->host_cpus, "CPU", "the host");
}

unsigned config_vcpus(const struct vm_config *c)
{
	return c->sockets * c->cores * c->threads;
}

/* Validates "cpu.pin": a host CPU per vCPU, as a list of numbers or one cpulist string. */
static void walk_pin(struct walk *w, struct json_object *cpu, struct vm_config *c)
{
	struct json_object *pin;

	if (!cpu || !json_object_object_get_ex(cpu, "pin", &pin))
		return;
	if (json_object_is_type(pin, json_type_string))
		get_host_cpus(w, cpu, "cpu", "pin", &c->pin);
	else if (json_object_is_type(pin, json_type_array)) {
		size_t n = json_object_array_length(pin);
		c->pin.cpus = xzalloc((n ? n : 1) * sizeof(*c->pin.cpus));
		for (size_t i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(pin, i);
			if (!json_object_is_type(e, json_type_int) || json_object_get_int64(e) < 0) {
				_cleanup_free_ char *p = json_path_index("cpu.pin", i);
				jr_problem(&w->jr, p, NULL, "expected a host CPU number");
				continue;
			}
			c->pin.cpus[c->pin.n++] = (unsigned)json_object_get_int64(e);
		}
		check_cpus(w, "cpu.pin", &c->pin, w->host_cpus, "CPU", "the host");
	} else
		jr_problem(&w->jr, "cpu.pin", NULL,
			   "expected a list of host CPUs, one per vCPU, or a CPU list string such as \"2-9\"");
	if (c->pin.n && c->pin.n != config_vcpus(c))
		jr_problem(&w->jr, "cpu.pin", NULL, "pins %zu vCPUs, but the VM has %u (sockets x cores x threads)",
			   c->pin.n, config_vcpus(c));
}

/* Reads an optional size member ("8G") into *out; min is the smallest accepted. */
static void get_size(struct walk *w, struct json_object *obj, const char *path, const char *key, uint64_t min,
		     uint64_t *out)
{
	struct json_object *v = jr_member(&w->jr, obj, path, key, json_type_string,
					  "a size with a unit, such as \"512M\" or \"8G\"");
	uint64_t bytes;

	if (!v)
		return;
	if (parse_size(json_object_get_string(v), &bytes) < 0)
		jr_problem(&w->jr, path, key, "'%s' is not a size (expected a number with a unit, such as \"512M\" or "
			   "\"8G\")", json_object_get_string(v));
	else if (bytes < min || bytes % MIB)
		jr_problem(&w->jr, path, key, "'%s' must be a whole number of MiB, at least %lluM",
			   json_object_get_string(v), (unsigned long long)(min / MIB));
	else
		*out = bytes;
}

/* Validates "memory.hugepages": "2M", "1G" or false. */
static void walk_hugepages(struct walk *w, struct json_object *mem, struct vm_config *c)
{
	struct json_object *v;

	if (!mem || !json_object_object_get_ex(mem, "hugepages", &v))
		return;
	if (json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v)) {
		c->hugepages = HUGEPAGES_NONE;
		return;
	}
	for (int h = HUGEPAGES_NONE + 1; h < HUGEPAGES_COUNT; h++)
		if (json_object_is_type(v, json_type_string) &&
		    !strcmp(json_object_get_string(v), hugepage_sizes[h].profile)) {
			c->hugepages = h;
			return;
		}
	jr_problem(&w->jr, "memory.hugepages", NULL, "expected \"%s\", \"%s\" or false",
		   hugepage_sizes[HUGEPAGES_2M].profile, hugepage_sizes[HUGEPAGES_1G].profile);
}

/* Validates one guest NUMA node. */
static void walk_numa_node(struct walk *w, struct json_object *n, const char *path, struct numa_config *node,
			   unsigned vcpus)
{
	struct json_object *cpus;
	unsigned host = 0;
	_cleanup_free_ char *cpath = json_path_key(path, "cpus");

	node->host_node = -1;
	if (!jr_element(&w->jr, n, path, numa_keys))
		return;
	cpus = jr_member(&w->jr, n, path, "cpus", json_type_string, "a list of guest vCPUs such as \"0-3\"");
	if (!cpus)
		jr_problem(&w->jr, cpath, NULL, "missing (the guest vCPUs of this node, such as \"0-3\")");
	else if (cpulist_parse(json_object_get_string(cpus), &node->cpus) < 0)
		jr_problem(&w->jr, cpath, NULL, "'%s' is not a CPU list (expected numbers and ranges such as \"0-3\")",
			   json_object_get_string(cpus));
	else
		check_cpus(w, cpath, &node->cpus, vcpus, "vCPU", "the VM");
	get_size(w, n, path, "size", MEMORY_MIN, &node->size);
	if (!json_object_object_get_ex(n, "size", NULL))
		jr_problem(&w->jr, path, "size", "missing (the memory of this node, such as \"4G\")");
	if (json_object_object_get_ex(n, "host_node", NULL)) {
		jr_uint(&w->jr, n, path, "host_node", 0, 1023, &host);
		node->host_node = (int)host;
	}
}

/* Validates "memory.numa": nodes whose sizes add up to memory.size and whose vCPUs cover each vCPU once. */
static void walk_numa(struct walk *w, struct json_object *mem, struct vm_config *c)
{
	struct json_object *numa = jr_member(&w->jr, mem, "memory", "numa", json_type_array, "a list of NUMA nodes");
	unsigned vcpus = config_vcpus(c);
	_cleanup_free_ int *owner = NULL;
	uint64_t total = 0;

	if (!numa)
		return;
	c->n_numa = json_object_array_length(numa);
	c->numa = xzalloc((c->n_numa ? c->n_numa : 1) * sizeof(*c->numa));
	owner = xzalloc(vcpus * sizeof(*owner));
	for (size_t i = 0; i < c->n_numa; i++) {
		_cleanup_free_ char *path = json_path_index("memory.numa", i);
		walk_numa_node(w, json_object_array_get_idx(numa, i), path, &c->numa[i], vcpus);
		total += c->numa[i].size;
		for (size_t j = 0; j < c->numa[i].cpus.n; j++) {
			unsigned v = c->numa[i].cpus.cpus[j];
			if (v >= vcpus)
				break;
			if (owner[v]) {
				jr_problem(&w->jr, path, "cpus", "vCPU %u is already in memory.numa[%d]", v, owner[v] - 1);
				break;
			}
			owner[v] = (int)i + 1;
		}
	}
	if (c->n_numa && total != c->memory)
		jr_problem(&w->jr, "memory.numa", NULL, "the nodes add up to %lluM, but memory.size is %lluM",
			   (unsigned long long)(total  / MIB), (unsigned long long)(c->memory  / MIB));
	for (unsigned v = 0; c->n_numa && v < vcpus; v++)
		if (!owner[v]) {
			jr_problem(&w->jr, "memory.numa", NULL, "vCPU %u is in no node (every vCPU needs one)", v);
			break;
		}
}

/* Checks that memory (and each NUMA node) is a whole number of huge pages. */
static void check_hugepage_sizes(struct walk *w, const struct vm_config *c)
{
	const struct hugepage_size *page = &hugepage_sizes[c->hugepages];

	if (c->hugepages == HUGEPAGES_NONE)
		return;
	if (c->memory % page->bytes)
		jr_problem(&w->jr, "memory.size", NULL, "%lluM is not a whole number of %s huge pages",
			   (unsigned long long)(c->memory / MIB), page->profile);
	for (size_t i = 0; i < c->n_numa; i++)
		if (c->numa[i].size % page->bytes) {
			_cleanup_free_ char *p = json_path_index("memory.numa", i);
			jr_problem(&w->jr, p, "size", "%lluM is not a whole number of %s huge pages",
				   (unsigned long long)(c->numa[i].size / MIB), page->profile);
		}
}

/* Checks the id of a disk or NIC (at path): present, and fit for QEMU. */
static void check_id(struct walk *w, const char *path, const char *id, const char *what)
{
	if (!id)
		jr_problem(&w->jr, path, "id", "missing (every %s needs an id)", what);
	else if (!valid_id(id, DEVICE_ID_MAX))
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
	get_table_enum(w, n, path, "type", nic_type_names, nic->type);
	nic->model = NIC_VIRTIO;
	get_table_enum(w, n, path, "model", nic_model_names, nic->model);
	jr_string(&w->jr, n, path, "bridge", &nic->bridge);
	jr_string(&w->jr, n, path, "ifname", &nic->ifname);
	jr_string(&w->jr, n, path, "mac", &nic->mac);
	check_id(w, path, nic->id, "NIC");
	if (nic->type == NIC_BRIDGE && (!nic->bridge || !valid_id(nic->bridge, IFNAMSIZ - 1)))
		jr_problem(&w->jr, path, "bridge", "expected the name of a host bridge (such as \"br0\") for type bridge");
	if (nic->type == NIC_TAP && (!nic->ifname || !valid_id(nic->ifname, IFNAMSIZ - 1)))
		jr_problem(&w->jr, path, "ifname",
			   "expected the name of an existing tap device (such as \"tap0\") for type tap");
	if (nic->mac) {
		unsigned b[6];
		char end;
		if (sscanf(nic->mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6 ||
		    strlen(nic->mac) != 17 || (b[0] & 1))
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
	get_path(w, d, path, "rom", &p->rom);
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
	get_size(w, hp, "hotplug", "max_memory", MEMORY_MIN, &c->max_memory);
	if (c->max_cpus && c->max_cpus < config_vcpus(c))
		jr_problem(&w->jr, "hotplug.max_cpus", NULL, "%u is fewer than the %u vCPUs the VM boots with",
			   c->max_cpus, config_vcpus(c));
	else if (c->max_cpus > config_vcpus(c) && c->max_cpus % (c->cores * c->threads))
		jr_problem(&w->jr, "hotplug.max_cpus", NULL, "%u is not a whole number of sockets (cores x threads = %u)",
			   c->max_cpus, c->cores * c->threads);
	if (c->max_memory && c->max_memory <= c->memory)
		jr_problem(&w->jr, "hotplug.max_memory", NULL, "must be more than memory.size (%lluM)",
			   (unsigned long long)(c->memory  / MIB));
	if (c->max_memory && !c->mem_slots)
		jr_problem(&w->jr, "hotplug.mem_slots", NULL, "missing (hotplug.max_memory needs at least one memory slot)");
	if (c->mem_slots && !c->max_memory)
		jr_problem(&w->jr, "hotplug.max_memory", NULL, "missing (hotplug.mem_slots needs a maximum memory size)");
	if (c->root_ports && c->machine != MACHINE_Q35)
		jr_problem(&w->jr, "hotplug.root_ports", NULL, "PCIe root ports need machine.type q35");
}

/* Validates the top-level "display", "console" and "agent". */
static void walk_devices(struct walk *w, struct json_object *json, struct vm_config *c)
{
	int console = 0;

	c->display = DISPLAY_NONE;
	get_table_enum(w, json, "", "display", display_names, c->display);
	jr_oneof(&w->jr, json, "", "console", console_names, &console);
	c->serial_console = console == 0;
	jr_bool(&w->jr, json, "", "agent", &c->agent);
}

/* Validates "memory" (the NUMA nodes come later, once the vCPUs are known). */
static void walk_memory(struct walk *w, struct json_object *mem, struct vm_config *c)
{
	get_size(w, mem, "memory", "size", MEMORY_MIN, &c->memory);
	walk_hugepages(w, mem, c);
	jr_bool(&w->jr, mem, "memory", "prealloc", &c->prealloc);
	jr_bool(&w->jr, mem, "memory", "balloon", &c->balloon);
}

/* Validates one element of "disks". */
static void walk_disk(struct walk *w, struct json_object *d, const char *path, struct disk_config *disk)
{
	if (!jr_element(&w->jr, d, path, disk_keys))
		return;
	jr_string(&w->jr, d, path, "id", &disk->id);
	get_path(w, d, path, "file", &disk->file);
	disk->format = FORMAT_RAW;
	get_table_enum(w, d, path, "format", format_names, disk->format);
	disk->bus = BUS_VIRTIO_BLK;
	get_enum(w, d, path, "bus", bus_names, disk->bus);
	disk->cache = CACHE_NONE;
	get_enum(w, d, path, "cache", cache_names, disk->cache);
	disk->aio = AIO_THREADS;
	get_table_enum(w, d, path, "aio", aio_names, disk->aio);
	jr_bool(&w->jr, d, path, "readonly", &disk->readonly);
	jr_bool(&w->jr, d, path, "iothread", &disk->iothread);
	get_host_cpus(w, d, path, "iothread_pin", &disk->iothread_pin);
	jr_bool(&w->jr, d, path, "discard", &disk->discard);
	jr_bool(&w->jr, d, path, "ssd", &disk->ssd);
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
		jr_problem(&w->jr, path, "format", "missing (expected raw or qcow2; vmm never guesses an image format)");
}

/* Validates "disks": a list of disks with unique ids. */
static void walk_disks(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *disks = jr_member(&w->jr, json, "", "disks", json_type_array, "a list of disks");
	struct json_object *seen;

	if (!disks)
		return;
	seen = json_object_new_object();
	c->n_disks = json_object_array_length(disks);
	c->disks = xzalloc((c->n_disks ? c->n_disks : 1) * sizeof(*c->disks));
	for (size_t i = 0; i < c->n_disks; i++) {
		_cleanup_free_ char *path = json_path_index("disks", i);
		walk_disk(w, json_object_array_get_idx(disks, i), path, &c->disks[i]);
		check_unique_id(w, seen, "disks", path, c->disks[i].id, i);
	}
	json_object_put(seen);
}

/* Validates "qemu": the binary and extra arguments. */
static void walk_qemu(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *q = jr_object(&w->jr, json, "", "qemu", qemu_keys);
	struct json_object *extra = jr_member(&w->jr, q, "qemu", "extra_args", json_type_array, "a list of strings");
	size_t n;

	jr_string(&w->jr, q, "qemu", "binary", &c->qemu_binary);
	if (c->qemu_binary && !*c->qemu_binary)
		jr_problem(&w->jr, "qemu.binary", NULL, "expected a program name or path, not an empty string");
	if (!extra)
		return;
	n = json_object_array_length(extra);
	c->extra_args = xzalloc((n + 1) * sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(extra, i);
		if (!json_object_is_type(a, json_type_string)) {
			_cleanup_free_ char *p = json_path_index("qemu.extra_args", i);
			jr_problem(&w->jr, p, NULL, "expected a string");
			c->extra_args[i] = xstrdup("");
		} else
			c->extra_args[i] = xstrdup(json_object_get_string(a));
	}
}

/* Validates "machine": type, accelerator, firmware. */
static void walk_machine(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *machine = jr_object(&w->jr, json, "", "machine", machine_keys);

	get_enum(w, machine, "machine", "type", machine_names, c->machine);
	get_enum(w, machine, "machine", "accel", accel_names, c->accel);
	get_enum(w, machine, "machine", "firmware", firmware_names, c->firmware);
}

/* Validates "cpu": model, topology, pinning, Hyper-V. */
static void walk_cpu(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *cpu = jr_object(&w->jr, json, "", "cpu", cpu_keys);

	jr_string(&w->jr, cpu, "cpu", "model", &c->cpu_model);
	jr_uint(&w->jr, cpu, "cpu", "sockets", 1, 64, &c->sockets);
	jr_uint(&w->jr, cpu, "cpu", "cores", 1, 256, &c->cores);
	jr_uint(&w->jr, cpu, "cpu", "threads", 1, 8, &c->threads);
	if (config_vcpus(c) > VCPUS_MAX)
		jr_problem(&w->jr, "cpu", NULL, "%u sockets x %u cores x %u threads is more than %u vCPUs", c->sockets,
			   c->cores, c->threads, VCPUS_MAX);
	walk_pin(w, cpu, c);
	get_host_cpus(w, cpu, "cpu", "emulator_pin", &c->emulator_pin);
	jr_bool(&w->jr, cpu, "cpu", "hyperv", &c->hyperv);
}

/* Validates "boot": a kernel, its initrd and command line. */
static void walk_boot(struct walk *w, struct json_object *boot, struct vm_config *c)
{
	get_path(w, boot, "boot", "kernel", &c->kernel);
	get_path(w, boot, "boot", "initrd", &c->initrd);
	jr_string(&w->jr, boot, "boot", "append", &c->append);
	if ((c->initrd || c->append) && !c->kernel)
		jr_problem(&w->jr, "boot.kernel", NULL, "missing (boot.initrd and boot.append need a kernel)");
}

/* Validates "lifecycle": how the VM stops and restarts. */
static void walk_lifecycle(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *life = jr_object(&w->jr, json, "", "lifecycle", lifecycle_keys);

	jr_uint(&w->jr, life, "lifecycle", "shutdown_timeout", 1, 3600, &c->shutdown_timeout);
	get_enum(w, life, "lifecycle", "restart", restart_names, c->restart);
	jr_bool(&w->jr, life, "lifecycle", "protected", &c->protected);
}

int config_from_json(struct json_object *json, const char *file, const struct config_dirs *dirs,
		     struct json_object *origins, struct vm_config *c, struct verr *err)
{
	struct walk w = { .jr = { .err = err, .file = file, .origins = origins }, .host_cpus = host_cpu_count() };
	struct json_object *mem, *boot;
	size_t before = err->n;

	*c = (struct vm_config){
		.machine = MACHINE_Q35, .accel = ACCEL_AUTO, .firmware = FIRMWARE_BIOS,
		.sockets = 1, .cores = 1, .threads = 1, .memory = 512 * MIB, .shutdown_timeout = 60,
		.serial_console = true,
	};

	jr_check_keys(&w.jr, json, "", top_keys);
	walk_name(&w, json, c);
	walk_machine(&w, json, c);
	walk_cpu(&w, json, c);

	mem = jr_object(&w.jr, json, "", "memory", memory_keys);
	walk_memory(&w, mem, c);
	if (config_vcpus(c) <= VCPUS_MAX)
		walk_numa(&w, mem, c);
	check_hugepage_sizes(&w, c);

	boot = jr_object(&w.jr, json, "", "boot", boot_keys);
	walk_boot(&w, boot, c);

	walk_disks(&w, json, c);
	for (size_t i = 0; i < c->n_disks; i++)
		if (c->disks[i].bus == BUS_IDE && c->machine != MACHINE_PC) {
			_cleanup_free_ char *p = json_path_index("disks", i);
			jr_problem(&w.jr, p, "bus", "'ide' needs machine.type pc (q35 has no IDE controller: use sata)");
		}
	walk_nics(&w, json, c);
	walk_passthrough(&w, json, c);
	walk_hotplug(&w, json, c);
	walk_devices(&w, json, c);
	if (c->firmware == FIRMWARE_OVMF_SECBOOT && c->machine != MACHINE_Q35)
		jr_problem(&w.jr, "machine.firmware", NULL, "'ovmf-secboot' needs machine.type q35 (secure boot needs SMM)");
	walk_lifecycle(&w, json, c);
	walk_qemu(&w, json, c);

	if (!c->kernel && c->n_disks == 0 && !json_object_object_get_ex(boot, "kernel", NULL) &&
	    !json_object_object_get_ex(json, "disks", NULL))
		jr_problem(&w.jr, "boot", NULL, "nothing to boot (expected boot.kernel or at least one disk)");

	if (err->n > before) {
		config_free(c);
		return -1;
	}
	return 0;
}

void config_free(struct vm_config *c)
{
	free(c->name);
	free(c->cpu_model);
	free(c->kernel);
	free(c->initrd);
	free(c->append);
	for (size_t i = 0; i < c->n_disks; i++) {
		free(c->disks[i].id);
		free(c->disks[i].file);
		cpulist_free(&c->disks[i].iothread_pin);
	}
	free(c->disks);
	for (size_t i = 0; i < c->n_nics; i++) {
		free(c->nics[i].id);
		free(c->nics[i].bridge);
		free(c->nics[i].ifname);
		free(c->nics[i].mac);
	}
	free(c->nics);
	for (size_t i = 0; i < c->n_passthrough; i++) {
		free(c->passthrough[i].host);
		free(c->passthrough[i].rom);
	}
	free(c->passthrough);
	for (size_t i = 0; i < c->n_numa; i++)
		cpulist_free(&c->numa[i].cpus);
	free(c->numa);
	cpulist_free(&c->pin);
	cpulist_free(&c->emulator_pin);
	free(c->qemu_binary);
	for (size_t i = 0; c->extra_args && c->extra_args[i]; i++)
		free(c->extra_args[i]);
	free(c->extra_args);
	*c = (struct vm_config){ 0 };
}
