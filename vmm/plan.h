/* A plan: a profile resolved into a validated config plus the facts of a
 * launch on this host (accelerator, run directory, QEMU binary). Shared by
 * every verb that prints or starts a VM, so they agree on the command line. */
#ifndef VMM_PLAN_H
#define VMM_PLAN_H

#include <stdbool.h>

#include "builder.h"
#include "config.h"

struct plan {
	struct vm_config config;
	struct launch launch;
	char *profile_path;
	struct json_object *profile; /* the resolved profile the config came from */
	char *run_dir;
	bool kvm_missing; /* accel was auto and KVM is not usable: TCG */
};

/* Finds, reads and validates a profile and resolves the launch facts; name (may be NULL)
 * replaces the profile's name. */
int plan_load(const char *profile_arg, const char *name, struct plan *p, struct verr *err);

/* The same from an already resolved profile (consumed) that was read from path. */
int plan_from_json(const char *path, struct json_object *json, const char *name, struct plan *p,
		   struct verr *err);

void plan_free(struct plan *p);

#endif
