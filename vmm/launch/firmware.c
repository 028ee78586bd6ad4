#include "vmm/launch/firmware.h"

#include <dirent.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "vmm/base/host.h"
#include "vmm/base/util.h"

/* True when the string list member key of o contains value. */
static bool list_has(struct json_object *o, const char *key, const char *value)
{
	struct json_object *a;

	if (!json_object_object_get_ex(o, key, &a) || !json_object_is_type(a, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(a); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(a, i)), value))
			return true;
	return false;
}

/* True when a descriptor supports x86_64 on the machine type (its globs are matched
 * against a versioned name, as the descriptors write "pc-q35-*"). */
static bool targets_machine(struct json_object *d, enum machine_type mt)
{
	const char *probe = mt == MACHINE_Q35 ? "pc-q35-99.0" : "pc-i440fx-99.0";
	struct json_object *targets;

	if (!json_object_object_get_ex(d, "targets", &targets) || !json_object_is_type(targets, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(targets); i++) {
		struct json_object *t = json_object_array_get_idx(targets, i), *arch, *machines;
		if (!json_object_object_get_ex(t, "architecture", &arch) ||
		    strcmp(json_object_get_string(arch), "x86_64") ||
		    !json_object_object_get_ex(t, "machines", &machines))
			continue;
		for (size_t j = 0; j < json_object_array_length(machines); j++)
			if (!fnmatch(json_object_get_string(json_object_array_get_idx(machines, j)), probe, 0))
				return true;
	}
	return false;
}

/* The block format of a flash file of a descriptor ("raw" when it says none, as the spec
 * defaults), or NULL for one vmm cannot open. */
static const char *flash_format(struct json_object *file)
{
	struct json_object *f;
	const char *name;

	if (!json_object_object_get_ex(file, "format", &f))
		return "raw";
	name = json_object_get_string(f);
	return !strcmp(name, "raw") || !strcmp(name, "qcow2") ? name : NULL;
}

/* Reads a flash descriptor's executable and nvram-template file names, when it fits. */
static bool pick(struct json_object *d, enum firmware fw, enum machine_type mt, struct firmware_files *out)
{
	struct json_object *mapping, *dev, *exe, *tmpl, *fn, *fn2;
	bool secure = list_has(d, "features", "secure-boot");

	if (!list_has(d, "interface-types", "uefi") || !targets_machine(d, mt) ||
	    !json_object_object_get_ex(d, "mapping", &mapping) || !json_object_object_get_ex(mapping, "device", &dev) ||
	    strcmp(json_object_get_string(dev), "flash") ||
	    !json_object_object_get_ex(mapping, "executable", &exe) || !json_object_object_get_ex(exe, "filename", &fn) ||
	    !json_object_object_get_ex(mapping, "nvram-template", &tmpl) ||
	    !json_object_object_get_ex(tmpl, "filename", &fn2))
		return false;
	if (fw == FIRMWARE_OVMF_SECBOOT ? !(secure && list_has(d, "features", "enrolled-keys"))
					: secure || list_has(d, "features", "requires-smm"))
		return false;
	if (list_has(d, "features", "amd-sev-es") || list_has(d, "features", "intel-tdx"))
		return false;
	if (!flash_format(exe) || !flash_format(tmpl))
		return false;
	out->code = xstrdup(json_object_get_string(fn));
	out->vars_template = xstrdup(json_object_get_string(fn2));
	out->code_format = xstrdup(flash_format(exe));
	out->vars_format = xstrdup(flash_format(tmpl));
	return true;
}

/* Collects descriptor file names; an earlier directory's file hides a later one's. */
static void collect(const char *dir, struct strv *names, struct strv *paths)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		size_t len = strlen(e->d_name);
		bool seen = false;
		if (len < 6 || strcmp(e->d_name + len - 5, ".json"))
			continue;
		for (size_t i = 0; i < names->n && !seen; i++)
			seen = !strcmp(names->v[i], e->d_name);
		if (seen)
			continue;
		strv_push(names, e->d_name);
		strv_pushf(paths, "%s/%s", dir, e->d_name);
	}
	if (d)
		closedir(d);
}

/* Sorts descriptor paths by their file name. */
static int by_base(const void *a, const void *b)
{
	const char *x = strrchr(*(char *const *)a, '/'), *y = strrchr(*(char *const *)b, '/');
	return strcmp(x, y);
}

int firmware_find(enum firmware fw, enum machine_type mt, struct firmware_files *out, struct verr *err)
{
	const char *env = getenv("VMM_FIRMWARE_PATH"), *home = getenv("HOME");
	struct strv dirs = { 0 }, names = { 0 }, paths = { 0 };
	int ret = -1;

	*out = (struct firmware_files){ 0 };
	if (env && *env) {
		for (const char *p = env; *p;) {
			size_t n = strcspn(p, ":");
			if (n)
				strv_pushf(&dirs, "%.*s", (int)n, p);
			p += n + (p[n] == ':');
		}
	} else {
		strv_push(&dirs, "/etc/qemu/firmware");
		if (home && *home)
			strv_pushf(&dirs, "%s/.config/qemu/firmware", home);
		strv_push(&dirs, "/usr/share/qemu/firmware");
	}
	for (size_t i = 0; i < dirs.n; i++)
		collect(dirs.v[i], &names, &paths);
	if (paths.n)
		qsort(paths.v, paths.n, sizeof(*paths.v), by_base);
	for (size_t i = 0; i < paths.n && ret < 0; i++) {
		struct json_object *d = json_object_from_file(paths.v[i]);
		if (d && pick(d, fw, mt, out)) {
			out->descriptor = xstrdup(paths.v[i]);
			ret = 0;
		}
		json_object_put(d);
	}
	if (ret < 0)
		verr_set(err, 0, "no %s firmware for machine type %s in QEMU's firmware descriptors (%s%s; Debian: apt "
			 "install ovmf)", firmware_names[fw], machine_names[mt], env && *env ? "$VMM_FIRMWARE_PATH=" : "",
			 env && *env ? env : "/etc/qemu/firmware, ~/.config/qemu/firmware, /usr/share/qemu/firmware");
	strv_free(&dirs);
	strv_free(&names);
	strv_free(&paths);
	return ret;
}

void firmware_files_free(struct firmware_files *f)
{
	free(f->code);
	free(f->vars_template);
	free(f->descriptor);
	free(f->code_format);
	free(f->vars_format);
	*f = (struct firmware_files){ 0 };
}
