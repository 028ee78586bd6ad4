#include "vmm/launch/vmdata.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "vmm/base/host.h"
#include "vmm/base/util.h"
#include "vmm/launch/qemuimg.h"

char *vm_data_path(const char *name)
{
	_cleanup_free_ char *data = data_dir();

	return xasprintf("%s/%s", data, name);
}

bool vm_is_template(const char *name)
{
	_cleanup_free_ char *dir = vm_data_path(name), *file = xasprintf("%s/%s", dir, TEMPLATE_FILE);

	return access(file, F_OK) == 0;
}

int vm_refuse_layers(const char *name, struct verr *err)
{
	_cleanup_free_ char *dir = vm_data_path(name), *file = xasprintf("%s/%s", dir, SNAPSHOT_LAYERS_FILE);
	struct json_object *chain = json_object_from_file(file), *disks;
	bool layers = false;

	if (chain && json_object_object_get_ex(chain, "disks", &disks) && json_object_is_type(disks, json_type_object)) {
		json_object_object_foreach(disks, id, d) {
			struct json_object *l;
			(void)id;
			layers |= json_object_object_get_ex(d, "layers", &l) && json_object_is_type(l, json_type_array) &&
				  json_object_array_length(l) > 0;
		}
	}
	json_object_put(chain);
	if (!layers)
		return 0;
	return verr_set(err, 0, "VM '%s' has snapshot layers on its disks ('%s'): delete its snapshots first (vmm "
			"snapshot %s delete TAG), which merges them into its disks", name, file, name);
}

int template_refuse_start(const char *name, struct verr *err)
{
	if (!vm_is_template(name))
		return 0;
	return verr_set(err, 0, "VM '%s' is a template: its disks are the read-only bases of its clones, so it never "
			"starts (make a VM of it: vmm clone %s NEW)", name, name);
}

int disks_create(const struct vm_config *c, struct verr *err)
{
	for (size_t i = 0; i < c->n_disks; i++) {
		const struct disk_config *d = &c->disks[i];
		_cleanup_free_ char *dir = NULL;
		struct stat st;

		if (!d->create || lstat(d->file, &st) == 0)
			continue;
		dir = xstrdup(d->file);
		*strrchr(dir, '/') = '\0';
		if (*dir && mkdir_parents(dir, 0700) < 0)
			return verr_set(err, errno, "disk '%s': cannot create the directory '%s'", d->id, dir);
		if (qemuimg_create(d->file, format_names[d->format].qemu, d->create, NULL, NULL, err) < 0)
			return verr_wrap(err, "disk '%s'", d->id), -1;
	}
	return 0;
}
