/* A plan: a profile resolved into a validated config plus every fact of a launch on
 * this host that decides QEMU's argv (accelerator, QEMU binary and its probe, firmware,
 * run and data paths, the devices of passthrough groups, the VM's identity), and the argv itself. Made in
 * one step shared by cmdline, lint, run and start, and read-only afterwards, so the
 * command line vmm prints is the one it execs. */
#ifndef VMM_PLAN_H
#define VMM_PLAN_H

#include <stdbool.h>

#include "vmm/launch/builder.h"
#include "profiles/config.h"
#include "vmm/launch/firmware.h"
#include "vmm/launch/identity.h"
#include "vmm/launch/qemu-prefix.h"
#include "vmm/launch/qemu-user.h"

struct plan {
	struct vm_config config;
	struct launch launch;
	char *profile_path;
	struct json_object *profile; /* the resolved profile the config came from */
	struct json_object *origins; /* which file set which value (resolve.h), or NULL */
	char *run_dir;
	bool kvm_missing; /* accel was auto and KVM is not usable: TCG */
	struct strv warnings; /* what the user should know before it starts (a deprecated machine type) */
	struct firmware_files firmware; /* UEFI images (firmware ovmf*) */
	char *fw_vars;    /* the VM's own UEFI vars: VMM_DATA_DIR/NAME/efivars.fd */
	char *qemu_path;  /* the QEMU binary to exec */
	struct qemu_prefix prefix; /* its -L directories and environment, when unpacked into a directory */
	struct qemu_user qemu_user; /* whom QEMU runs as (qemu.user) */
	bool *block_device; /* per disk: its file is a block device */
	struct identity identity; /* VMM_DATA_DIR/NAME/identity.json, with what it lacked created */
	struct strv argv; /* QEMU's argv: what vmm cmdline prints and vmm run/start exec */
	struct strv hyperv; /* the Hyper-V enlightenments the QEMU has (launch.hyperv) */
	bool reset_nvram;   /* --reset-nvram: UEFI vars made for another firmware start anew (nvram.h) */
};

/* How plan_load() fails: a profile that is wrong, or a host that cannot run it (QEMU
 * missing or lacking what the profile needs, passthrough groups unreadable). */
#define PLAN_ERR_PROFILE -1
#define PLAN_ERR_HOST -2

/* Creates what a launch needs on disk: the VM's UEFI vars, copied once from the template and
 * tied to it (nvram.h), and its identity, written when the plan created or extended it; checks
 * the host devices the platform names (builder-platform.h). */
int plan_prepare(const struct plan *p, struct verr *err);

/* What the CLI adds to a profile: -p layers, --set overrides, --name. */
struct plan_options {
	struct strv layers, sets;
	const char *name; /* NULL: the profile's */
	bool start;       /* loaded to start the VM: host failures read "NAME: failed to start: ..." */
};

/* Frees the lists of plan options. */
void plan_options_free(struct plan_options *o);

/* Finds, composes (resolve.h) and validates a profile, resolves the launch facts and
 * builds the argv. Returns 0, or PLAN_ERR_PROFILE / PLAN_ERR_HOST with err (host
 * failures name the VM first). */
int plan_load(const char *profile_arg, const struct plan_options *o, struct plan *p, struct verr *err);

/* The same from an already resolved profile (consumed) that was read from path; origins
 * (may be NULL) tell which file set which value; name (may be NULL) replaces the profile's;
 * start as in plan_options. */
int plan_from_json(const char *path, struct json_object *json, struct json_object *origins, const char *name,
		   bool start, struct plan *p, struct verr *err);

void plan_free(struct plan *p);

#endif
