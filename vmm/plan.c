#define _GNU_SOURCE
#include "plan.h"

#include "host.h"
#include "profile.h"
#include "rundir.h"
#include "util.h"

int plan_load(const char *profile_arg, struct plan *p, struct verr *err)
{
	_cleanup_free_ char *cache = cache_dir(), *data = data_dir();
	struct config_dirs dirs = { .cache = cache, .data = data };
	struct json_object *json;
	int r;

	*p = (struct plan){ 0 };
	p->profile_path = profile_find(profile_arg, err);
	if (!p->profile_path)
		return -1;
	json = profile_read(p->profile_path, err);
	if (!json)
		goto fail;
	r = config_from_json(json, p->profile_path, &dirs, &p->config, err);
	json_object_put(json);
	if (r < 0)
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

void plan_free(struct plan *p)
{
	config_free(&p->config);
	free(p->profile_path);
	free(p->run_dir);
	*p = (struct plan){ 0 };
}
