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
	char *run_dir;
	bool kvm_missing; /* accel was auto and KVM is not usable: TCG */
};

/* Finds, reads and validates a profile and resolves the launch facts. */
int plan_load(const char *profile_arg, struct plan *p, struct verr *err);

void plan_free(struct plan *p);

#endif
