#define _GNU_SOURCE
#include "config.h"

#include <ctype.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

const char *const machine_names[] = { "q35", "pc", NULL };
const char *const accel_names[] = { "auto", "kvm", "tcg", NULL };
const char *const restart_names[] = { "no", "on-crash", "always", NULL };
static const char *const firmware_names[] = { "bios", NULL };
static const char *const bus_names[] = { "virtio-blk", "scsi", NULL };
static const char *const format_names[] = { "raw", "qcow2", NULL };
static const char *const cache_names[] = { "none", "writeback", "writethrough", "directsync", "unsafe", NULL };
static const char *const aio_names[] = { "threads", "native", "io_uring", NULL };

static const char *const top_keys[] = { "name", "machine", "cpu", "memory", "boot", "disks",
					"lifecycle", "qemu", NULL };
static const char *const machine_keys[] = { "type", "accel", "firmware", NULL };
static const char *const cpu_keys[] = { "model", "sockets", "cores", "threads", NULL };
static const char *const memory_keys[] = { "size", NULL };
static const char *const boot_keys[] = { "kernel", "initrd", "append", NULL };
static const char *const disk_keys[] = { "id", "file", "format", "bus", "cache", "aio", "readonly", NULL };
static const char *const lifecycle_keys[] = { "shutdown_timeout", "restart", "protected", NULL };
static const char *const qemu_keys[] = { "binary", "extra_args", NULL };

/* The state of one validation pass: where errors go and how paths resolve. */
struct walk {
	struct verr *err;
	const char *file;
	char *profile_dir;
	const struct config_dirs *dirs;
};

/* Records one problem at a JSON path. */
static void __attribute__((format(printf, 3, 4))) problem(struct walk *w, const char *path, const char *fmt, ...)
{
	va_list ap;
	_cleanup_free_ char *msg = NULL;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	verr_set(w->err, 0, "%s: %s: %s", w->file, path, msg);
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
	return valid_id(name, 64);
}

/* Validates the "name" of the VM, defaulting to the profile file's base name. */
static void walk_name(struct walk *w, struct json_object *json, struct vm_config *c)
{
	get_string(w, json, "", "name", &c->name);
	if (!c->name) {
		_cleanup_free_ char *copy = xstrdup(w->file);
		char *base = basename(copy), *dot = strrchr(base, '.');
		if (dot && dot != base)
			*dot = '\0';
		c->name = xstrdup(base);
		if (!valid_id(c->name, 64))
			problem(w, "name", "missing, and the file name '%s' is not a valid VM name "
				"(a letter, then letters, digits, '-', '_' or '.')", c->name);
	} else if (!valid_id(c->name, 64))
		problem(w, "name", "'%s' is not a valid VM name (a letter, then up to 63 letters, digits, "
			"'-', '_' or '.')", c->name);
}

/* Validates "memory". */
static void walk_memory(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *mem = section(w, json, "memory", memory_keys);
	struct json_object *size = member(w, mem, "memory", "size", json_type_string,
					  "a size with a unit, such as \"512M\" or \"8G\"");
	uint64_t bytes;

	if (!size)
		return;
	if (parse_size(json_object_get_string(size), &bytes) < 0)
		problem(w, "memory.size", "'%s' is not a size (expected a number with a unit, such as \"512M\" or \"8G\")",
			json_object_get_string(size));
	else if (bytes < (16ull << 20) || bytes % (1 << 20))
		problem(w, "memory.size", "'%s' must be a whole number of MiB, at least 16M",
			json_object_get_string(size));
	else
		c->memory = bytes;
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
	if (disk->aio == AIO_NATIVE && disk->cache != CACHE_NONE && disk->cache != CACHE_DIRECTSYNC) {
		_cleanup_free_ char *p = path_join(path, "aio");
		problem(w, p, "'native' needs O_DIRECT (expected cache none or directsync, or aio threads/io_uring)");
	}
	if (!disk->id) {
		_cleanup_free_ char *p = path_join(path, "id");
		problem(w, p, "missing (every disk needs an id)");
	} else if (!valid_id(disk->id, 24)) {
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
		     struct vm_config *c, struct verr *err)
{
	_cleanup_free_ char *copy = xstrdup(file), *real = NULL;
	struct walk w = { .err = err, .file = file, .dirs = dirs };
	struct json_object *machine, *cpu, *boot, *life;
	size_t before = err->n;
	int v;

	real = realpath(copy, NULL);
	w.profile_dir = xstrdup(dirname(real ? real : copy));
	*c = (struct vm_config){
		.machine = MACHINE_Q35, .accel = ACCEL_AUTO, .firmware = FIRMWARE_BIOS,
		.sockets = 1, .cores = 1, .threads = 1, .memory = 512ull << 20, .shutdown_timeout = 60,
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
	if (c->sockets * c->cores * c->threads > 1024)
		problem(&w, "cpu", "%u sockets x %u cores x %u threads is more than 1024 vCPUs", c->sockets, c->cores,
			c->threads);

	walk_memory(&w, json, c);

	boot = section(&w, json, "boot", boot_keys);
	get_path(&w, boot, "boot", "kernel", &c->kernel);
	get_path(&w, boot, "boot", "initrd", &c->initrd);
	get_string(&w, boot, "boot", "append", &c->append);
	if ((c->initrd || c->append) && !c->kernel)
		problem(&w, "boot.kernel", "missing (boot.initrd and boot.append need a kernel)");

	walk_disks(&w, json, c);

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
	}
	free(c->disks);
	free(c->qemu_binary);
	for (size_t i = 0; c->extra_args && c->extra_args[i]; i++)
		free(c->extra_args[i]);
	free(c->extra_args);
	*c = (struct vm_config){ 0 };
}
