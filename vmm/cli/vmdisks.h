/* The VM a disk verb (template, clone, destroy) names: its profile and validated config (found
 * like `vmm start` finds it, by name or path, without the launch facts a start needs), its data directory,
 * whether a QEMU of it runs, and which other VMs' images and profiles depend on it. */
#ifndef VMM_VMDISKS_H
#define VMM_VMDISKS_H

#include <stdbool.h>
#include <sys/types.h>

#include "profiles/config.h"
#include "vmm/base/error.h"
#include "vmm/base/util.h"

struct vm_disks {
	char *profile;           /* the profile file */
	struct vm_config config;
	char *data;              /* VMM_DATA_DIR/NAME */
};

/* Loads the profile arg names (by name or path, as `vmm start` finds it) and its config, whose
 * name is the VM's. Returns 0, or -1 with err. */
int vm_disks_load(const char *arg, struct vm_disks *vm, struct verr *err);

/* The pid of a QEMU of VM name that runs, or 0. */
pid_t vm_disks_running(const char *name);

/* Lists in *who ("VM (FILE)") the other VMs whose images have one of files (real paths) in
 * their backing chains, or whose profile.json includes profile; VMs are those with a data
 * directory in VMM_DATA_DIR, their images the *.qcow2 files in it. Returns 0, or -1 with err. */
int vm_disks_dependents(const char *name, const struct strv *files, const char *profile, struct strv *who,
			struct verr *err);

void vm_disks_free(struct vm_disks *vm);

#endif
