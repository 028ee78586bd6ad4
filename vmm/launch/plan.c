#include "vmm/launch/plan.h"

#include <limits.h>
#include <stdlib.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "passthrough/vfio.h"
#include "vmm/launch/live-layer.h"
#include "profiles/profile.h"
#include "profiles/resolve.h"
#include "vmm/base/host.h"
#include "vmm/base/rundir.h"
#include "vmm/base/util.h"
#include "vmm/launch/builder-platform.h"
#include "vmm/launch/chain.h"
#include "vmm/launch/firmware.h"
#include "vmm/launch/looking-glass.h"
#include "vmm/launch/plan-host.h"
#include "vmm/launch/nvram.h"
#include "vmm/launch/probe.h"
#include "vmm/launch/seed.h"
#include "vmm/launch/vmdata.h"

/* Adds the other endpoints of each with_group device's IOMMU group to the VM's devices. */
static int add_groups(struct vm_config *c, struct verr *err)
{
	size_t n = c->n_passthrough;

	for (size_t i = 0; i < n; i++) {
		struct strv members = { 0 };
		if (!c->passthrough[i].with_group)
			continue;
		if (vfio_group_endpoints((const char *const[]){ c->passthrough[i].host }, 1, &members, err) < 0)
			return -1;
		for (size_t m = 0; m < members.n; m++) {
			bool known = false;
			for (size_t k = 0; k < c->n_passthrough && !known; k++)
				known = !strcmp(c->passthrough[k].host, members.v[m]);
			if (known)
				continue;
			c->passthrough = xrealloc(c->passthrough, (c->n_passthrough + 1) * sizeof(*c->passthrough));
			c->passthrough[c->n_passthrough++] = (struct passthrough_config){
				.host = xstrdup(members.v[m]), .multifunction = c->passthrough[i].multifunction };
		}
		strv_free(&members);
	}
	return 0;
}

/* The facts of this host that decide the argv: the QEMU binary and what it can do (from
 * its probe, or the stand-in $VMM_PROBE_FILE: seccomp, pvpanic, virtio-mem, machine versions), the VM's
 * identity in the data directory data, which disks are block devices, and the devices of
 * passthrough groups. */
static int host_facts(struct plan *p, const char *data, struct verr *err)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", data, p->config.name);
	_cleanup_free_ char *file = xasprintf("%s/identity.json", dir);
	const char *fixture = getenv("VMM_PROBE_FILE");
	struct qemu_caps caps;
	int r;

	p->launch.binary = p->config.qemu_binary ? p->config.qemu_binary : default_qemu();
	p->qemu_path = fixture ? xstrdup(p->launch.binary) : find_program(p->launch.binary, err);
	if (!p->qemu_path || (fixture ? probe_load(fixture, &caps, err) : probe_qemu(p->qemu_path, &caps, err)) < 0)
		return -1;
	qemu_prefix_find(p->qemu_path, &p->prefix);
	p->launch.data_dirs = &p->prefix.data_dirs;
	r = caps_check(&caps, &p->config, err);
	if (r == 0)
		r = identity_load(file, dir, &p->identity, err);
	if (r == 0)
		r = identity_machine(&p->identity, &caps, p->config.machine, err);
	if (r == 0 && caps_machine_deprecated(&caps, identity_machine_type(&p->identity)))
		strv_pushf(&p->warnings, "machine type '%s' is deprecated in this QEMU (a later one drops it): when the "
			   "guest can take newer hardware, set \"machine\" in '%s' to a newer one (vmm probe --json)",
			   identity_machine_type(&p->identity), p->identity.file);
	p->launch.no_sandbox = !caps_has_sandbox(&caps);
	p->launch.pvpanic = caps_has_type(&caps, "pvpanic");
	/* A disk's queues on several iothreads need iothread-vq-mapping (QEMU 9.0): without it, one. */
	for (size_t i = 0; i < p->config.n_disks; i++)
		if (p->config.disks[i].iothreads > 1 && !caps_has_property(&caps, "virtio-blk-pci", "iothread-vq-mapping")) {
			strv_pushf(&p->warnings, "this QEMU cannot spread a disk's queues over several iothreads "
				   "(disks[%zu].iothreads: no iothread-vq-mapping): disk '%s' gets one iothread", i,
				   p->config.disks[i].id);
			p->config.disks[i].iothreads = 1;
		}
	platform_facts(&caps, machine_names[p->config.machine], &p->launch, &p->hyperv);
	/* virtio-mem preallocates what it plugs (prealloc) since QEMU 7.1. */
	p->launch.virtio_mem = caps_has_type(&caps, "virtio-mem-pci") &&
			       (!(p->config.hugepages || p->config.prealloc) || caps_version_at_least(&caps, 7, 1));
	qemu_caps_free(&caps);
	if (r < 0)
		return -1;
	p->block_device = xzalloc((p->config.n_disks + 1) * sizeof(bool));
	for (size_t i = 0; i < p->config.n_disks; i++) {
		struct stat st;
		p->block_device[i] = stat(p->config.disks[i].file, &st) == 0 && S_ISBLK(st.st_mode);
	}
	p->launch.block_device = p->block_device;
	return add_groups(&p->config, err);
}

int plan_from_json(const char *path, struct json_object *json, struct json_object *origins, const char *name,
		   bool start, struct plan *p, struct verr *err)
{
	_cleanup_free_ char *data = data_dir();
	char *real = realpath(path, NULL);

	*p = (struct plan){ .profile_path = real ? real : xstrdup(path), .profile = json,
			    .origins = json_object_get(origins) };
	if (name) {
		if (vm_name_check(name, err) < 0)
			goto fail;
		json_object_object_add(json, "name", json_object_new_string(name));
	}
	if (config_from_json(json, path, origins, &p->config, err) < 0)
		goto fail;
	if (start && template_refuse_start(p->config.name, err) < 0)
		goto fail;
	seed_add_disk(&p->config, data);
	p->run_dir = rundir_path(p->config.name, err);
	if (!p->run_dir)
		goto fail;
	p->launch.accel = p->config.accel;
	if (p->launch.accel == ACCEL_AUTO) {
		p->kvm_missing = !kvm_usable();
		p->launch.accel = p->kvm_missing ? ACCEL_TCG : ACCEL_KVM;
	}
	p->launch.run_dir = p->run_dir;
	if (p->config.firmware != FIRMWARE_BIOS) {
		if (firmware_find(p->config.firmware, p->config.machine, &p->firmware, err) < 0)
			goto fail;
		p->launch.fw_code = p->firmware.code;
		p->launch.fw_code_format = p->firmware.code_format;
		p->launch.fw_vars_format = p->firmware.vars_format;
		p->launch.fw_vars = p->fw_vars = xasprintf("%s/%s/efivars.fd", data, p->config.name);
	}
	if (chain_apply(&p->config, err) < 0) /* the disks' active snapshot layers */
		goto fail;
	if (plan_host_checks(&p->config, path, origins, start, &p->warnings, err) < 0 || host_facts(p, data, err) < 0 ||
	    qemu_user_resolve(&p->config, path, start, &p->qemu_user, &p->warnings, err) < 0) {
		verr_wrap(err, start ? "%s: failed to start" : "%s", p->config.name);
		plan_free(p);
		return PLAN_ERR_HOST;
	}
	build_argv(&p->config, &p->launch, &p->identity, &p->argv);
	return 0;
fail:
	plan_free(p);
	return PLAN_ERR_PROFILE;
}

int plan_load(const char *profile_arg, const struct plan_options *o, struct plan *p, struct verr *err)
{
	struct resolved r;
	int ret;

	*p = (struct plan){ 0 };
	if (profile_resolve(profile_arg, &o->layers, &o->sets, &r, err) < 0)
		return PLAN_ERR_PROFILE;
	if (live_layer_apply(&r, o->name, err) < 0) {
		resolved_free(&r);
		return PLAN_ERR_PROFILE;
	}
	ret = plan_from_json(r.path, json_object_get(r.json), r.origins, o->name, o->start, p, err);
	resolved_free(&r);
	return ret;
}

void plan_options_free(struct plan_options *o)
{
	strv_free(&o->layers);
	strv_free(&o->sets);
}

int plan_prepare(const struct plan *p, struct verr *err)
{
	struct json_object *uuid;

	if (identity_save(&p->identity, err) < 0 || disks_create(&p->config, err) < 0 ||
	    platform_check_host(&p->config, err) < 0)
		return -1;
	json_object_object_get_ex(p->identity.json, "uuid", &uuid);
	if (seed_prepare(&p->config, json_object_get_string(uuid), err) < 0 ||
	    looking_glass_prepare(&p->config, err) < 0)
		return -1;
	return p->fw_vars ? nvram_prepare(p->fw_vars, &p->firmware, p->reset_nvram, err) : 0;
}

void plan_free(struct plan *p)
{
	strv_free(&p->argv);
	strv_free(&p->warnings);
	strv_free(&p->hyperv);
	free(p->qemu_path);
	qemu_prefix_free(&p->prefix);
	qemu_user_free(&p->qemu_user);
	free(p->block_device);
	identity_free(&p->identity);
	firmware_files_free(&p->firmware);
	free(p->fw_vars);
	config_free(&p->config);
	json_object_put(p->profile);
	json_object_put(p->origins);
	free(p->profile_path);
	free(p->run_dir);
	*p = (struct plan){ 0 };
}
