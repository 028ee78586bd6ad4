#define _GNU_SOURCE
#include "plan.h"

#include <limits.h>
#include <stdlib.h>

#include "host.h"
#include "profile.h"
#include "rundir.h"
#include "util.h"

int plan_from_json(const char *path, struct json_object *json, const char *name, struct plan *p,
		   struct verr *err)
{
	_cleanup_free_ char *cache = cache_dir(), *data = data_dir();
	struct config_dirs dirs = { .cache = cache, .data = data };

	char *real = realpath(path, NULL);

	*p = (struct plan){ .profile_path = real ? real : xstrdup(path), .profile = json };
	if (name) {
		if (!vm_name_valid(name)) {
			verr_set(err, 0, "'%s' is not a valid VM name (a letter, then up to 63 letters, digits, "
				 "'-', '_' or '.')", name);
			goto fail;
		}
		json_object_object_add(json, "name", json_object_new_string(name));
	}
	if (config_from_json(json, path, &dirs, &p->config, err) < 0)
		goto fail;
	p->run_dir = rundir_path(p->config.name, err);
	if (!p->run_dir)
		goto fail;
	p->launch.accel = p->config.accel;
	if (p->launch.accel == ACCEL_AUTO) {
		p->kvm_missing = !kvm_usable();
		p->launch.accel = p->kvm_missing ? ACCEL_TCG : ACCEL_KVM;
	}
	p->launch.run_dir = p->run_dir;
	p->launch.binary = p->config.qemu_binary ? p->config.qemu_binary : "qemu-system-x86_64";
	return 0;
fail:
	plan_free(p);
	return -1;
}

int plan_load(const char *profile_arg, const char *name, struct plan *p, struct verr *err)
{
	_cleanup_free_ char *path = profile_find(profile_arg, err);
	struct json_object *json;

	*p = (struct plan){ 0 };
	if (!path)
		return -1;
	json = profile_read(path, err);
	if (!json)
		return -1;
	return plan_from_json(path, json, name, p, err);
}

void plan_free(struct plan *p)
{
	config_free(&p->config);
	json_object_put(p->profile);
	free(p->profile_path);
	free(p->run_dir);
	*p = (struct plan){ 0 };
}
