/* A plan: a profile resolved into a validated config plus the facts of a
 * launch on this host (accelerator, run directory, QEMU binary). Shared by
 * every verb that prints or starts a VM, so they agree on the command line. */
#ifndef VMM_PLAN_H
#define VMM_PLAN_H

#include <stdbool.h>

#include "vmm/launch/builder.h"
#include "profiles/config.h"
#include "vmm/launch/firmware.h"

struct plan {
	struct vm_config config;
	struct launch launch;
	char *profile_path;
	struct json_object *profile; /* the resolved profile the config came from */
	struct json_object *origins; /* which file set which value (resolve.h), or NULL */
	char *run_dir;
	bool kvm_missing; /* accel was auto and KVM is not usable: TCG */
	struct firmware_files firmware; /* UEFI images (firmware ovmf*) */
	char *fw_vars;    /* the VM's own UEFI vars: VMM_DATA_DIR/NAME/efivars.fd */
};

/* Creates what a launch needs on disk: the VM's UEFI vars, copied once from the template. */
int plan_prepare(const struct plan *p, struct verr *err);

/* What the CLI adds to a profile: -p layers, --set overrides, --name. */
struct plan_options {
	struct strv layers, sets;
	const char *name; /* NULL: the profile's */
};

/* Frees the lists of plan options. */
void plan_options_free(struct plan_options *o);

/* Finds, composes (resolve.h) and validates a profile and resolves the launch facts. */
int plan_load(const char *profile_arg, const struct plan_options *o, struct plan *p, struct verr *err);

/* The same from an already resolved profile (consumed) that was read from path; origins
 * (may be NULL) tell which file set which value; name (may be NULL) replaces the profile's. */
int plan_from_json(const char *path, struct json_object *json, struct json_object *origins, const char *name,
		   struct plan *p, struct verr *err);

void plan_free(struct plan *p);

#endif
