#include "vmm/cli/vmdisks.h"

#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>

#include "profiles/profile.h"
#include "profiles/resolve.h"
#include "vmm/base/host.h"
#include "vmm/base/rundir.h"
#include "vmm/launch/qemuimg.h"
#include "vmm/launch/vmdata.h"
#include "vmm/supervisor/qemuproc.h"

int vm_disks_load(const char *arg, struct vm_disks *vm, struct verr *err)
{
	struct strv none = { 0 };
	struct resolved r;
	int ret;

	*vm = (struct vm_disks){ 0 };
	if (profile_resolve(arg, &none, &none, &r, err) < 0)
		return -1;
	ret = config_from_json(r.json, r.path, r.origins, &vm->config, err);
	vm->profile = realpath(r.path, NULL);
	if (!vm->profile)
		vm->profile = xstrdup(r.path);
	resolved_free(&r);
	if (ret < 0) {
		vm_disks_free(vm);
		return -1;
	}
	vm->data = vm_data_path(vm->config.name);
	{
		char *real = realpath(vm->data, NULL);
		if (real) {
			free(vm->data);
			vm->data = real;
		}
	}
	return 0;
}

pid_t vm_disks_running(const char *name)
{
	_cleanup_verr_ struct verr err = { 0 };
	_cleanup_free_ char *dir = rundir_path(name, &err);

	return dir ? qemuproc_find(dir, name) : 0;
}

/* True when files holds path. */
static bool holds(const struct strv *files, const char *path)
{
	for (size_t i = 0; i < files->n; i++)
		if (!strcmp(files->v[i], path))
			return true;
	return false;
}

/* The file of an image of a chain as a real path (a relative one is relative to the image above). */
static char *chain_path(const char *file, const char *above)
{
	_cleanup_free_ char *joined = NULL, *dir = xstrdup(above);
	char *real;

	if (file[0] != '/')
		file = joined = xasprintf("%s/%s", dirname(dir), file);
	real = realpath(file, NULL);
	return real ? real : xstrdup(file);
}

/* Adds "VM (IMAGE)" to who when image's backing chain has one of files. */
static int check_image(const char *vm, const char *image, const struct strv *files, struct strv *who,
		       struct verr *err)
{
	_cleanup_free_ char *above = realpath(image, NULL);
	struct image_chain c;

	if (!above || qemuimg_info(image, &c, err) < 0)
		return above ? -1 : 0;
	for (size_t i = 1; i < c.n; i++) {
		char *p = chain_path(c.v[i].filename, above);
		free(above);
		above = p;
		if (holds(files, p)) {
			strv_pushf(who, "%s (%s)", vm, image);
			break;
		}
	}
	image_chain_free(&c);
	return 0;
}

/* Adds "VM (FILE)" to who when VM's profile.json (file) includes profile. */
static void check_profile(const char *vm, const char *file, const char *profile, struct strv *who)
{
	_cleanup_verr_ struct verr ignored = { 0 };
	struct json_object *json = profile_read(file, &ignored), *inc;

	if (json && json_object_object_get_ex(json, "include", &inc) && json_object_is_type(inc, json_type_array))
		for (size_t i = 0; i < json_object_array_length(inc); i++)
			if (!strcmp(json_object_get_string(json_object_array_get_idx(inc, i)), profile))
				strv_pushf(who, "%s (%s)", vm, file);
	json_object_put(json);
}

int vm_disks_dependents(const char *name, const struct strv *files, const char *profile, struct strv *who,
			struct verr *err)
{
	_cleanup_free_ char *data = data_dir();
	DIR *top = opendir(data);
	struct dirent *vm;
	int r = 0;

	if (!top)
		return 0;
	while (r == 0 && (vm = readdir(top))) {
		_cleanup_free_ char *dir = NULL, *prof = NULL;
		struct dirent *f;
		DIR *d;
		if (vm->d_name[0] == '.' || !strcmp(vm->d_name, name))
			continue;
		dir = xasprintf("%s/%s", data, vm->d_name);
		prof = xasprintf("%s/%s", dir, VM_PROFILE_FILE);
		if (access(prof, F_OK) == 0)
			check_profile(vm->d_name, prof, profile, who);
		if (!(d = opendir(dir)))
			continue;
		while (r == 0 && (f = readdir(d))) {
			size_t n = strlen(f->d_name);
			_cleanup_free_ char *image = NULL;
			if (n <= 6 || strcmp(f->d_name + n - 6, ".qcow2"))
				continue;
			image = xasprintf("%s/%s", dir, f->d_name);
			r = check_image(vm->d_name, image, files, who, err);
		}
		closedir(d);
	}
	closedir(top);
	return r;
}

void vm_disks_free(struct vm_disks *vm)
{
	config_free(&vm->config);
	free(vm->profile);
	free(vm->data);
	*vm = (struct vm_disks){ 0 };
}
