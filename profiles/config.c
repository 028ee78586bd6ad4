#include "profiles/config.h"

#include <ctype.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passthrough/pci.h"
#include "vmm/base/host.h"
#include "vmm/base/rundir.h"
#include "profiles/resolve.h"
#include "vmm/base/util.h"

const char *const machine_names[] = { "q35", "pc", NULL };
const char *const accel_names[] = { "auto", "kvm", "tcg", NULL };
const char *const restart_names[] = { "no", "on-crash", "always", NULL };
const char *const firmware_names[] = { "bios", "ovmf", "ovmf-secboot", NULL };
const char *const bus_names[] = { "virtio-blk", "scsi", "nvme", "sata", "ide", NULL };
static const char *const nic_type_names[] = { "user", "tap", "bridge", NULL };
static const char *const nic_model_names[] = { "virtio", "e1000", "e1000e", "rtl8139", NULL };
static const char *const display_names[] = { "none", "gtk", "sdl", "vnc", NULL };
static const char *const console_names[] = { "serial", "none", NULL };
static const char *const format_names[] = { "raw", "qcow2", NULL };
static const char *const cache_names[] = { "none", "writeback", "writethrough", "directsync", "unsafe", NULL };
static const char *const aio_names[] = { "threads", "native", "io_uring", NULL };

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

/* The state of one validation pass: where errors go and how paths resolve. */
struct walk {
	struct verr *err;
	const char *file;
	char *profile_dir;
	const struct config_dirs *dirs;
	struct json_object *origins; /* which file set which value (may be NULL) */
	long host_cpus;              /* CPUs the host has, for pinning */
};

/* Records one problem at a JSON path. */
static void __attribute__((format(printf, 3, 4))) problem(struct walk *w, const char *path, const char *fmt, ...)
{
	va_list ap;
	_cleanup_free_ char *msg = NULL;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	verr_set(w->err, 0, "%s: %s: %s", origin_of(w->origins, path, w->file), path, msg);
}

/* Joins a parent path and a key: "" + "name" = "name", "cpu" + "cores" = "cpu.cores". */
static char *path_join(const char *parent, const char *key)
{
	return *parent ? xasprintf("%s.%s", parent, key) : xstrdup(key);
}

/* Edit distance, for "did you mean". */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[64];

	if (lb >= 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		d[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = d[0];
		d[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = d[j];
			size_t best = prev + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
			if (d[j] + 1 < best)
				best = d[j] + 1;
			if (d[j - 1] + 1 < best)
				best = d[j - 1] + 1;
			d[j] = best;
			prev = cur;
		}
	}
	return d[lb];
}

/* Writes "a, b, c" into a new string. */
static char *join_names(const char *const names[])
{
	size_t n = 1;
	char *s;

	for (size_t i = 0; names[i]; i++)
		n += strlen(names[i]) + 2;
	s = xzalloc(n);
	for (size_t i = 0; names[i]; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, names[i]);
	}
	return s;
}

/* Reports every key of obj that is not in allowed, suggesting the closest one. */
static void check_keys(struct walk *w, struct json_object *obj, const char *path, const char *const allowed[])
{
	json_object_object_foreach(obj, key, val) {
		const char *best = NULL;
		size_t best_d = SIZE_MAX;
		bool known = false;
		_cleanup_free_ char *kpath = path_join(path, key);

		(void)val;
		for (size_t i = 0; allowed[i]; i++) {
			size_t d;
			if (!strcmp(key, allowed[i])) {
				known = true;
				break;
			}
			d = distance(key, allowed[i]);
			if (d < best_d) {
				best_d = d;
				best = allowed[i];
			}
		}
		if (known)
			continue;
		if (best && best_d <= 2 && best_d < strlen(key))
			problem(w, kpath, "unknown key (did you mean '%s'?)", best);
		else {
			_cleanup_free_ char *all = join_names(allowed);
			problem(w, kpath, "unknown key (expected one of %s)", all);
		}
	}
}

/* Returns the member `key` of obj when it is of `type`; reports a wrong type. */
static struct json_object *member(struct walk *w, struct json_object *obj, const char *path, const char *key,
				  enum json_type type, const char *expected)
{
	struct json_object *v;
	_cleanup_free_ char *kpath = NULL;

	if (!obj || !json_object_object_get_ex(obj, key, &v))
		return NULL;
	if (json_object_is_type(v, type))
		return v;
	kpath = path_join(path, key);
	problem(w, kpath, "expected %s", expected);
	return NULL;
}

/* Returns the sub-object `key` of obj (NULL when absent), with its keys checked. */
static struct json_object *section(struct walk *w, struct json_object *obj, const char *key,
				   const char *const allowed[])
{
	struct json_object *v = member(w, obj, "", key, json_type_object, "an object");
	if (v)
		check_keys(w, v, key, allowed);
	return v;
}

/* Reads an optional string member into *out (left unchanged when absent). */
static void get_string(struct walk *w, struct json_object *obj, const char *path, const char *key, char **out)
{
	struct json_object *v = member(w, obj, path, key, json_type_string, "a string");
	if (v) {
		free(*out);
		*out = xstrdup(json_object_get_string(v));
	}
}

/* Reads an optional enum member (a string from names) into *out. */
static void get_enum(struct walk *w, struct json_object *obj, const char *path, const char *key,
		     const char *const names[], int *out)
{
	struct json_object *v;
	const char *s;
	_cleanup_free_ char *all = join_names(names), *kpath = path_join(path, key), *expected = NULL;

	expected = xasprintf("one of %s", all);
	v = member(w, obj, path, key, json_type_string, expected);
	if (!v)
		return;
	s = json_object_get_string(v);
	for (int i = 0; names[i]; i++) {
		if (!strcmp(s, names[i])) {
			*out = i;
			return;
		}
	}
	problem(w, kpath, "'%s' is not one of %s", s, all);
}

/* Reads an optional integer member in [min, max] into *out. */
static void get_uint(struct walk *w, struct json_object *obj, const char *path, const char *key, unsigned min,
		     unsigned max, unsigned *out)
{
	struct json_object *v;
	int64_t n;
	_cleanup_free_ char *kpath = path_join(path, key), *expected = NULL;

	expected = xasprintf("an integer from %u to %u", min, max);
	v = member(w, obj, path, key, json_type_int, expected);
	if (!v)
		return;
	n = json_object_get_int64(v);
	if (n < min || n > max) {
		problem(w, kpath, "%" PRId64 " is out of range (expected %s)", n, expected);
		return;
	}
	*out = (unsigned)n;
}

/* Reads an optional boolean member into *out. */
static void get_bool(struct walk *w, struct json_object *obj, const char *path, const char *key, bool *out)
{
	struct json_object *v = member(w, obj, path, key, json_type_boolean, "true or false");
	if (v)
		*out = json_object_get_boolean(v);
}

/* Expands ${VMM_CACHE_DIR}, ${VMM_DATA_DIR} and ${PROFILE_DIR}, then makes a
 * relative path relative to the profile's folder. Returns NULL on an unknown variable. */
static char *expand_path(struct walk *w, const char *path, const char *s)
{
	struct strv parts = { 0 };
	char *out, *expanded;
	size_t len = 0;

	for (const char *p = s; *p;) {
		const char *var = strstr(p, "${");
		const char *value = NULL;
		size_t n;

		if (!var) {
			strv_push(&parts, p);
			break;
		}
		strv_pushf(&parts, "%.*s", (int)(var - p), p);
		n = strcspn(var + 2, "}");
		if (var[2 + n] != '}') {
			problem(w, path, "unterminated '${' in '%s'", s);
			strv_free(&parts);
			return NULL;
		}
		if (n == 13 && !strncmp(var + 2, "VMM_CACHE_DIR", n))
			value = w->dirs->cache;
		else if (n == 12 && !strncmp(var + 2, "VMM_DATA_DIR", n))
			value = w->dirs->data;
		else if (n == 11 && !strncmp(var + 2, "PROFILE_DIR", n))
			value = w->profile_dir;
		if (!value) {
			problem(w, path, "unknown variable '${%.*s}' (expected VMM_CACHE_DIR, VMM_DATA_DIR or PROFILE_DIR)",
				(int)n, var + 2);
			strv_free(&parts);
			return NULL;
		}
		strv_push(&parts, value);
		p = var + 3 + n;
	}
	for (size_t i = 0; i < parts.n; i++)
		len += strlen(parts.v[i]);
	expanded = xzalloc(len + 1);
	for (size_t i = 0; i < parts.n; i++)
		strcat(expanded, parts.v[i]);
	strv_free(&parts);
	if (expanded[0] == '/' || !expanded[0])
		return expanded;
	out = xasprintf("%s/%s", w->profile_dir, expanded);
	free(expanded);
	return out;
}

/* Reads an optional path member, expanded and made absolute. */
static void get_path(struct walk *w, struct json_object *obj, const char *path, const char *key, char **out)
{
	char *raw = NULL;
	_cleanup_free_ char *kpath = path_join(path, key);

	get_string(w, obj, path, key, &raw);
	if (!raw)
		return;
	if (!*raw)
		problem(w, kpath, "expected a file name, not an empty string");
	else {
		free(*out);
		*out = expand_path(w, kpath, raw);
	}
	free(raw);
}

/* Validates the "name" of the VM, defaulting to the profile file's base name. */
static void walk_name(struct walk *w, struct json_object *json, struct vm_config *c)
{
	_cleanup_verr_ struct verr bad = { 0 };

	get_string(w, json, "", "name", &c->name);
	if (!c->name) {
		_cleanup_free_ char *copy = xstrdup(w->file);
		char *base = basename(copy), *dot = strrchr(base, '.');
		if (dot && dot != base)
			*dot = '\0';
		c->name = xstrdup(base);
		if (vm_name_check(c->name, &bad) < 0)
			problem(w, "name", "missing, and the file name cannot stand in: %s", bad.lines[0]);
	} else if (vm_name_check(c->name, &bad) < 0)
		problem(w, "name", "%s", bad.lines[0]);
}

/* Parses a cpulist ("0-3,8,10-11") into out; returns -1 on a syntax error. */
static int parse_cpulist(const char *s, struct cpulist *out)
{
	const char *p = s;

	*out = (struct cpulist){ 0 };
	while (*p) {
		char *end;
		unsigned long a, b;

		if (!isdigit((unsigned char)*p))
			goto bad;
		a = strtoul(p, &end, 10);
		b = a;
		if (*end == '-') {
			if (!isdigit((unsigned char)end[1]))
				goto bad;
			b = strtoul(end + 1, &end, 10);
		}
		if (b < a || b > 8191 || out->n + (b - a + 1) > 8192)
			goto bad;
		out->cpus = xrealloc(out->cpus, (out->n + (b - a + 1)) * sizeof(*out->cpus));
		for (unsigned long i = a; i <= b; i++)
			out->cpus[out->n++] = (unsigned)i;
		if (*end == ',' && end[1])
			end++;
		else if (*end)
			goto bad;
		p = end;
	}
	if (out->n)
		return 0;
bad:
	free(out->cpus);
	*out = (struct cpulist){ 0 };
	return -1;
}

/* Reports list members at or above limit ("CPU 9 does not exist (the host has 8: 0-7)"). */
static void check_cpus(struct walk *w, const char *path, const struct cpulist *l, long limit, const char *what,
		       const char *owner)
{
	for (size_t i = 0; i < l->n; i++)
		if ((long)l->cpus[i] >= limit) {
			problem(w, path, "%s %u does not exist (%s has %ld: 0-%ld)", what, l->cpus[i], owner, limit,
				limit - 1);
			return;
		}
}

/* Reads an optional cpulist string member of host CPUs. */
static void get_host_cpus(struct walk *w, struct json_object *obj, const char *path, const char *key,
			  struct cpulist *out)
{
	struct json_object *v = member(w, obj, path, key, json_type_string, "a list of host CPUs such as \"2-3\"");
	_cleanup_free_ char *kpath = path_join(path, key);

	if (!v)
		return;
	if (parse_cpulist(json_object_get_string(v), out) < 0)
		problem(w, kpath, "'%s' is not a CPU list (expected numbers and ranges such as \"0-3,8\")",
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
				_cleanup_free_ char *p = xasprintf("cpu.pin[%zu]", i);
				problem(w, p, "expected a host CPU number");
				continue;
			}
			c->pin.cpus[c->pin.n++] = (unsigned)json_object_get_int64(e);
		}
		check_cpus(w, "cpu.pin", &c->pin, w->host_cpus, "CPU", "the host");
	} else
		problem(w, "cpu.pin", "expected a list of host CPUs, one per vCPU, or a CPU list string such as \"2-9\"");
	if (c->pin.n && c->pin.n != config_vcpus(c))
		problem(w, "cpu.pin", "pins %zu vCPUs, but the VM has %u (sockets x cores x threads)", c->pin.n,
			config_vcpus(c));
}

/* Reads an optional size member ("8G") into *out; min is the smallest accepted. */
static void get_size(struct walk *w, struct json_object *obj, const char *path, const char *key, uint64_t min,
		     uint64_t *out)
{
	struct json_object *v = member(w, obj, path, key, json_type_string, "a size with a unit, such as \"512M\" or \"8G\"");
	_cleanup_free_ char *kpath = path_join(path, key);
	uint64_t bytes;

	if (!v)
		return;
	if (parse_size(json_object_get_string(v), &bytes) < 0)
		problem(w, kpath, "'%s' is not a size (expected a number with a unit, such as \"512M\" or \"8G\")",
			json_object_get_string(v));
	else if (bytes < min || bytes % (1 << 20))
		problem(w, kpath, "'%s' must be a whole number of MiB, at least %lluM", json_object_get_string(v),
			(unsigned long long)(min >> 20));
	else
		*out = bytes;
}

/* Validates "memory.hugepages": "2M", "1G" or false. */
static void walk_hugepages(struct walk *w, struct json_object *mem, struct vm_config *c)
{
	struct json_object *v;

	if (!mem || !json_object_object_get_ex(mem, "hugepages", &v))
		return;
	if (json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v))
		c->hugepages = HUGEPAGES_NONE;
	else if (json_object_is_type(v, json_type_string) && !strcmp(json_object_get_string(v), "2M"))
		c->hugepages = HUGEPAGES_2M;
	else if (json_object_is_type(v, json_type_string) && !strcmp(json_object_get_string(v), "1G"))
		c->hugepages = HUGEPAGES_1G;
	else
		problem(w, "memory.hugepages", "expected \"2M\", \"1G\" or false");
}

/* Validates one guest NUMA node. */
static void walk_numa_node(struct walk *w, struct json_object *n, const char *path, struct numa_config *node,
			   unsigned vcpus)
{
	struct json_object *cpus;
	unsigned host = 0;
	_cleanup_free_ char *cpath = path_join(path, "cpus");

	node->host_node = -1;
	if (!json_object_is_type(n, json_type_object)) {
		problem(w, path, "expected an object");
		return;
	}
	check_keys(w, n, path, numa_keys);
	cpus = member(w, n, path, "cpus", json_type_string, "a list of guest vCPUs such as \"0-3\"");
	if (!cpus)
		problem(w, cpath, "missing (the guest vCPUs of this node, such as \"0-3\")");
	else if (parse_cpulist(json_object_get_string(cpus), &node->cpus) < 0)
		problem(w, cpath, "'%s' is not a CPU list (expected numbers and ranges such as \"0-3\")",
			json_object_get_string(cpus));
	else
		check_cpus(w, cpath, &node->cpus, vcpus, "vCPU", "the VM");
	get_size(w, n, path, "size", 16ull << 20, &node->size);
	if (!json_object_object_get_ex(n, "size", NULL)) {
		_cleanup_free_ char *p = path_join(path, "size");
		problem(w, p, "missing (the memory of this node, such as \"4G\")");
	}
	if (json_object_object_get_ex(n, "host_node", NULL)) {
		get_uint(w, n, path, "host_node", 0, 1023, &host);
		node->host_node = (int)host;
	}
}

/* Validates "memory.numa": nodes whose sizes add up to memory.size and whose vCPUs cover each vCPU once. */
static void walk_numa(struct walk *w, struct json_object *mem, struct vm_config *c)
{
	struct json_object *numa = member(w, mem, "memory", "numa", json_type_array, "a list of NUMA nodes");
	unsigned vcpus = config_vcpus(c);
	_cleanup_free_ int *owner = NULL;
	uint64_t total = 0;

	if (!numa)
		return;
	c->n_numa = json_object_array_length(numa);
	c->numa = xzalloc((c->n_numa ? c->n_numa : 1) * sizeof(*c->numa));
	owner = xzalloc(vcpus * sizeof(*owner));
	for (size_t i = 0; i < c->n_numa; i++) {
		_cleanup_free_ char *path = xasprintf("memory.numa[%zu]", i), *cpath = xasprintf("%s.cpus", path);
		walk_numa_node(w, json_object_array_get_idx(numa, i), path, &c->numa[i], vcpus);
		total += c->numa[i].size;
		for (size_t j = 0; j < c->numa[i].cpus.n; j++) {
			unsigned v = c->numa[i].cpus.cpus[j];
			if (v >= vcpus)
				break;
			if (owner[v]) {
				problem(w, cpath, "vCPU %u is already in memory.numa[%d]", v, owner[v] - 1);
				break;
			}
			owner[v] = (int)i + 1;
		}
	}
	if (c->n_numa && total != c->memory)
		problem(w, "memory.numa", "the nodes add up to %lluM, but memory.size is %lluM",
			(unsigned long long)(total >> 20), (unsigned long long)(c->memory >> 20));
	for (unsigned v = 0; c->n_numa && v < vcpus; v++)
		if (!owner[v]) {
			problem(w, "memory.numa", "vCPU %u is in no node (every vCPU needs one)", v);
			break;
		}
}

/* Checks that memory (and each NUMA node) is a whole number of huge pages. */
static void check_hugepage_sizes(struct walk *w, const struct vm_config *c)
{
	uint64_t page = c->hugepages == HUGEPAGES_1G ? 1ull << 30 : 2ull << 20;

	if (c->hugepages == HUGEPAGES_NONE)
		return;
	if (c->memory % page)
		problem(w, "memory.size", "%lluM is not a whole number of %s huge pages",
			(unsigned long long)(c->memory >> 20), c->hugepages == HUGEPAGES_1G ? "1G" : "2M");
	for (size_t i = 0; i < c->n_numa; i++)
		if (c->numa[i].size % page) {
			_cleanup_free_ char *p = xasprintf("memory.numa[%zu].size", i);
			problem(w, p, "%lluM is not a whole number of %s huge pages",
				(unsigned long long)(c->numa[i].size >> 20), c->hugepages == HUGEPAGES_1G ? "1G" : "2M");
		}
}

/* Validates one element of "nics". */
static void walk_nic(struct walk *w, struct json_object *n, const char *path, struct nic_config *nic)
{
	int v;

	if (!json_object_is_type(n, json_type_object)) {
		problem(w, path, "expected an object");
		return;
	}
	check_keys(w, n, path, nic_keys);
	get_string(w, n, path, "id", &nic->id);
	v = NIC_USER;
	get_enum(w, n, path, "type", nic_type_names, &v);
	nic->type = v;
	v = NIC_VIRTIO;
	get_enum(w, n, path, "model", nic_model_names, &v);
	nic->model = v;
	get_string(w, n, path, "bridge", &nic->bridge);
	get_string(w, n, path, "ifname", &nic->ifname);
	get_string(w, n, path, "mac", &nic->mac);
	if (!nic->id || !id_valid(nic->id, 24)) {
		_cleanup_free_ char *p = path_join(path, "id");
		problem(w, p, nic->id ? "'%s' is not a valid id (a letter, then up to 23 letters, digits, '-', '_' or '.')"
				      : "missing%s (every NIC needs an id)", nic->id ? nic->id : "");
	}
	if (nic->type == NIC_BRIDGE && (!nic->bridge || !id_valid(nic->bridge, 15))) {
		_cleanup_free_ char *p = path_join(path, "bridge");
		problem(w, p, "expected the name of a host bridge (such as \"br0\") for type bridge");
	}
	if (nic->type == NIC_TAP && (!nic->ifname || !id_valid(nic->ifname, 15))) {
		_cleanup_free_ char *p = path_join(path, "ifname");
		problem(w, p, "expected the name of an existing tap device (such as \"tap0\") for type tap");
	}
	if (nic->mac) {
		unsigned b[6];
		char end;
		if (sscanf(nic->mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6 ||
		    strlen(nic->mac) != 17 || (b[0] & 1)) {
			_cleanup_free_ char *p = path_join(path, "mac");
			problem(w, p, "'%s' is not a unicast MAC address (expected six hex pairs such as "
				"\"52:54:00:12:34:56\")", nic->mac);
		}
	}
}

/* Validates "nics": a list of NICs with unique ids. */
static void walk_nics(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *nics = member(w, json, "", "nics", json_type_array, "a list of NICs");

	if (!nics)
		return;
	c->n_nics = json_object_array_length(nics);
	c->nics = xzalloc((c->n_nics ? c->n_nics : 1) * sizeof(*c->nics));
	for (size_t i = 0; i < c->n_nics; i++) {
		_cleanup_free_ char *path = xasprintf("nics[%zu]", i);
		walk_nic(w, json_object_array_get_idx(nics, i), path, &c->nics[i]);
		for (size_t j = 0; j < i && c->nics[i].id; j++)
			if (c->nics[j].id && !strcmp(c->nics[i].id, c->nics[j].id)) {
				_cleanup_free_ char *p = path_join(path, "id");
				problem(w, p, "'%s' is already the id of nics[%zu]", c->nics[i].id, j);
			}
	}
}

/* Validates "passthrough": host PCI devices, each at most once. */
static void walk_passthrough(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *list = member(w, json, "", "passthrough", json_type_array, "a list of host PCI devices");

	if (!list)
		return;
	c->n_passthrough = json_object_array_length(list);
	c->passthrough = xzalloc((c->n_passthrough ? c->n_passthrough : 1) * sizeof(*c->passthrough));
	for (size_t i = 0; i < c->n_passthrough; i++) {
		struct json_object *d = json_object_array_get_idx(list, i);
		struct passthrough_config *p = &c->passthrough[i];
		_cleanup_free_ char *path = xasprintf("passthrough[%zu]", i), *hpath = xasprintf("%s.host", path);
		char *raw = NULL, bdf[PCI_BDF_SIZE];

		if (!json_object_is_type(d, json_type_object)) {
			problem(w, path, "expected an object");
			continue;
		}
		check_keys(w, d, path, passthrough_keys);
		get_string(w, d, path, "host", &raw);
		get_bool(w, d, path, "with_group", &p->with_group);
		get_path(w, d, path, "rom", &p->rom);
		get_bool(w, d, path, "x_vga", &p->x_vga);
		get_bool(w, d, path, "multifunction", &p->multifunction);
		if (!raw)
			problem(w, hpath, "missing (the device's PCI address, such as \"0000:01:00.0\")");
		else if (!pci_address_parse(raw, bdf))
			problem(w, hpath, "'%s' is not a PCI address (expected DOMAIN:BUS:SLOT.FUNCTION such as "
				"\"0000:01:00.0\")", raw);
		else {
			p->host = xstrdup(bdf);
			for (size_t j = 0; j < i; j++)
				if (c->passthrough[j].host && !strcmp(c->passthrough[j].host, bdf))
					problem(w, hpath, "%s is already passthrough[%zu]", bdf, j);
		}
		free(raw);
	}
}

/* Validates "hotplug": spare root ports, CPUs and memory to add later. */
static void walk_hotplug(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *hp = section(w, json, "hotplug", hotplug_keys);

	get_uint(w, hp, "hotplug", "root_ports", 0, 32, &c->root_ports);
	get_uint(w, hp, "hotplug", "max_cpus", 1, 1024, &c->max_cpus);
	get_uint(w, hp, "hotplug", "mem_slots", 0, 256, &c->mem_slots);
	get_size(w, hp, "hotplug", "max_memory", 16ull << 20, &c->max_memory);
	if (c->max_cpus && c->max_cpus < config_vcpus(c))
		problem(w, "hotplug.max_cpus", "%u is fewer than the %u vCPUs the VM boots with", c->max_cpus,
			config_vcpus(c));
	else if (c->max_cpus > config_vcpus(c) && c->max_cpus % (c->cores * c->threads))
		problem(w, "hotplug.max_cpus", "%u is not a whole number of sockets (cores x threads = %u)", c->max_cpus,
			c->cores * c->threads);
	if (c->max_memory && c->max_memory <= c->memory)
		problem(w, "hotplug.max_memory", "must be more than memory.size (%lluM)",
			(unsigned long long)(c->memory >> 20));
	if (c->max_memory && !c->mem_slots)
		problem(w, "hotplug.mem_slots", "missing (hotplug.max_memory needs at least one memory slot)");
	if (c->mem_slots && !c->max_memory)
		problem(w, "hotplug.max_memory", "missing (hotplug.mem_slots needs a maximum memory size)");
	if (c->root_ports && c->machine != MACHINE_Q35)
		problem(w, "hotplug.root_ports", "PCIe root ports need machine.type q35");
}

/* Validates the top-level "display", "console" and "agent". */
static void walk_devices(struct walk *w, struct json_object *json, struct vm_config *c)
{
	int v = DISPLAY_NONE;

	get_enum(w, json, "", "display", display_names, &v);
	c->display = v;
	v = 0;
	get_enum(w, json, "", "console", console_names, &v);
	c->serial_console = v == 0;
	get_bool(w, json, "", "agent", &c->agent);
}

/* Validates "memory" (the NUMA nodes come later, once the vCPUs are known). */
static void walk_memory(struct walk *w, struct json_object *mem, struct vm_config *c)
{
	get_size(w, mem, "memory", "size", 16ull << 20, &c->memory);
	walk_hugepages(w, mem, c);
	get_bool(w, mem, "memory", "prealloc", &c->prealloc);
	get_bool(w, mem, "memory", "balloon", &c->balloon);
}

/* Validates one element of "disks". */
static void walk_disk(struct walk *w, struct json_object *d, const char *path, struct disk_config *disk)
{
	int v;

	if (!json_object_is_type(d, json_type_object)) {
		problem(w, path, "expected an object");
		return;
	}
	check_keys(w, d, path, disk_keys);
	get_string(w, d, path, "id", &disk->id);
	get_path(w, d, path, "file", &disk->file);
	v = FORMAT_RAW;
	get_enum(w, d, path, "format", format_names, &v);
	disk->format = v;
	v = BUS_VIRTIO_BLK;
	get_enum(w, d, path, "bus", bus_names, &v);
	disk->bus = v;
	v = CACHE_NONE;
	get_enum(w, d, path, "cache", cache_names, &v);
	disk->cache = v;
	v = AIO_THREADS;
	get_enum(w, d, path, "aio", aio_names, &v);
	disk->aio = v;
	get_bool(w, d, path, "readonly", &disk->readonly);
	get_bool(w, d, path, "iothread", &disk->iothread);
	get_host_cpus(w, d, path, "iothread_pin", &disk->iothread_pin);
	get_bool(w, d, path, "discard", &disk->discard);
	get_bool(w, d, path, "ssd", &disk->ssd);
	if (disk->iothread && disk->bus != BUS_SCSI && disk->bus != BUS_VIRTIO_BLK) {
		_cleanup_free_ char *p = path_join(path, "iothread");
		problem(w, p, "only scsi and virtio-blk disks can have an iothread (bus is %s)", bus_names[disk->bus]);
	}
	if (disk->iothread_pin.n && !disk->iothread) {
		_cleanup_free_ char *p = path_join(path, "iothread_pin");
		problem(w, p, "pins an iothread the disk does not have (add \"iothread\": true)");
	}
	if (disk->aio == AIO_NATIVE && disk->cache != CACHE_NONE && disk->cache != CACHE_DIRECTSYNC) {
		_cleanup_free_ char *p = path_join(path, "aio");
		problem(w, p, "'native' needs O_DIRECT (expected cache none or directsync, or aio threads/io_uring)");
	}
	if (!disk->id) {
		_cleanup_free_ char *p = path_join(path, "id");
		problem(w, p, "missing (every disk needs an id)");
	} else if (!id_valid(disk->id, 24)) {
		_cleanup_free_ char *p = path_join(path, "id");
		problem(w, p, "'%s' is not a valid id (a letter, then up to 23 letters, digits, '-', '_' or '.')",
			disk->id);
	}
	if (!disk->file && !json_object_object_get_ex(d, "file", NULL)) {
		_cleanup_free_ char *p = path_join(path, "file");
		problem(w, p, "missing (the image file of the disk)");
	}
	if (!json_object_object_get_ex(d, "format", NULL)) {
		_cleanup_free_ char *p = path_join(path, "format");
		problem(w, p, "missing (expected raw or qcow2; vmm never guesses an image format)");
	}
}

/* Validates "disks": a list of disks with unique ids. */
static void walk_disks(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *disks = member(w, json, "", "disks", json_type_array, "a list of disks");
	size_t n;

	if (!disks)
		return;
	n = json_object_array_length(disks);
	c->disks = xzalloc(n * sizeof(*c->disks));
	c->n_disks = n;
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *path = xasprintf("disks[%zu]", i);
		walk_disk(w, json_object_array_get_idx(disks, i), path, &c->disks[i]);
		for (size_t j = 0; j < i && c->disks[i].id; j++) {
			if (c->disks[j].id && !strcmp(c->disks[i].id, c->disks[j].id)) {
				_cleanup_free_ char *p = path_join(path, "id");
				problem(w, p, "'%s' is already the id of disks[%zu]", c->disks[i].id, j);
			}
		}
	}
}

/* Validates "qemu": the binary and extra arguments. */
static void walk_qemu(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *q = section(w, json, "qemu", qemu_keys);
	struct json_object *extra = member(w, q, "qemu", "extra_args", json_type_array, "a list of strings");

	get_string(w, q, "qemu", "binary", &c->qemu_binary);
	if (c->qemu_binary && !*c->qemu_binary)
		problem(w, "qemu.binary", "expected a program name or path, not an empty string");
	if (!extra)
		return;
	size_t n = json_object_array_length(extra);
	c->extra_args = xzalloc((n + 1) * sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(extra, i);
		if (!json_object_is_type(a, json_type_string)) {
			_cleanup_free_ char *p = xasprintf("qemu.extra_args[%zu]", i);
			problem(w, p, "expected a string");
			c->extra_args[i] = xstrdup("");
		} else
			c->extra_args[i] = xstrdup(json_object_get_string(a));
	}
}

int config_from_json(struct json_object *json, const char *file, const struct config_dirs *dirs,
		     struct json_object *origins, struct vm_config *c, struct verr *err)
{
	_cleanup_free_ char *copy = xstrdup(file), *real = NULL;
	struct walk w = { .err = err, .file = file, .dirs = dirs, .origins = origins, .host_cpus = host_cpu_count() };
	struct json_object *machine, *cpu, *mem, *boot, *life;
	size_t before = err->n;
	int v;

	real = realpath(copy, NULL);
	w.profile_dir = xstrdup(dirname(real ? real : copy));
	*c = (struct vm_config){
		.machine = MACHINE_Q35, .accel = ACCEL_AUTO, .firmware = FIRMWARE_BIOS,
		.sockets = 1, .cores = 1, .threads = 1, .memory = 512ull << 20, .shutdown_timeout = 60,
		.serial_console = true,
	};

	check_keys(&w, json, "", top_keys);
	walk_name(&w, json, c);

	machine = section(&w, json, "machine", machine_keys);
	v = c->machine;
	get_enum(&w, machine, "machine", "type", machine_names, &v);
	c->machine = v;
	v = c->accel;
	get_enum(&w, machine, "machine", "accel", accel_names, &v);
	c->accel = v;
	v = c->firmware;
	get_enum(&w, machine, "machine", "firmware", firmware_names, &v);
	c->firmware = v;

	cpu = section(&w, json, "cpu", cpu_keys);
	get_string(&w, cpu, "cpu", "model", &c->cpu_model);
	get_uint(&w, cpu, "cpu", "sockets", 1, 64, &c->sockets);
	get_uint(&w, cpu, "cpu", "cores", 1, 256, &c->cores);
	get_uint(&w, cpu, "cpu", "threads", 1, 8, &c->threads);
	if (config_vcpus(c) > 1024)
		problem(&w, "cpu", "%u sockets x %u cores x %u threads is more than 1024 vCPUs", c->sockets, c->cores,
			c->threads);
	walk_pin(&w, cpu, c);
	get_host_cpus(&w, cpu, "cpu", "emulator_pin", &c->emulator_pin);
	get_bool(&w, cpu, "cpu", "hyperv", &c->hyperv);

	mem = section(&w, json, "memory", memory_keys);
	walk_memory(&w, mem, c);
	if (config_vcpus(c) <= 1024)
		walk_numa(&w, mem, c);
	check_hugepage_sizes(&w, c);

	boot = section(&w, json, "boot", boot_keys);
	get_path(&w, boot, "boot", "kernel", &c->kernel);
	get_path(&w, boot, "boot", "initrd", &c->initrd);
	get_string(&w, boot, "boot", "append", &c->append);
	if ((c->initrd || c->append) && !c->kernel)
		problem(&w, "boot.kernel", "missing (boot.initrd and boot.append need a kernel)");

	walk_disks(&w, json, c);
	for (size_t i = 0; i < c->n_disks; i++)
		if (c->disks[i].bus == BUS_IDE && c->machine != MACHINE_PC) {
			_cleanup_free_ char *p = xasprintf("disks[%zu].bus", i);
			problem(&w, p, "'ide' needs machine.type pc (q35 has no IDE controller: use sata)");
		}
	walk_nics(&w, json, c);
	walk_passthrough(&w, json, c);
	walk_hotplug(&w, json, c);
	walk_devices(&w, json, c);
	if (c->firmware == FIRMWARE_OVMF_SECBOOT && c->machine != MACHINE_Q35)
		problem(&w, "machine.firmware", "'ovmf-secboot' needs machine.type q35 (secure boot needs SMM)");

	life = section(&w, json, "lifecycle", lifecycle_keys);
	get_uint(&w, life, "lifecycle", "shutdown_timeout", 1, 3600, &c->shutdown_timeout);
	v = c->restart;
	get_enum(&w, life, "lifecycle", "restart", restart_names, &v);
	c->restart = v;
	get_bool(&w, life, "lifecycle", "protected", &c->protected);

	walk_qemu(&w, json, c);

	if (!c->kernel && c->n_disks == 0 && !json_object_object_get_ex(boot, "kernel", NULL) &&
	    !json_object_object_get_ex(json, "disks", NULL))
		problem(&w, "boot", "nothing to boot (expected boot.kernel or at least one disk)");

	free(w.profile_dir);
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
		free(c->disks[i].iothread_pin.cpus);
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
		free(c->numa[i].cpus.cpus);
	free(c->numa);
	free(c->pin.cpus);
	free(c->emulator_pin.cpus);
	free(c->qemu_binary);
	for (size_t i = 0; c->extra_args && c->extra_args[i]; i++)
		free(c->extra_args[i]);
	free(c->extra_args);
	*c = (struct vm_config){ 0 };
}
