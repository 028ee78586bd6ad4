/* What vmm keeps of a VM in its data directory (VMM_DATA_DIR/NAME) besides its identity and UEFI
 * vars: the profile of a clone (profile.json, found by name like any profile), the record that
 * it is a template (template.json: its disks are read-only bases of clones, and it never starts
 * again), and the images a start makes for disks with "create". */
#ifndef VMM_VMDATA_H
#define VMM_VMDATA_H

#include <stdbool.h>

#include "profiles/config.h"
#include "vmm/base/error.h"

/* The file that makes a VM a template. */
#define TEMPLATE_FILE "template.json"
/* The profile vmm writes for a VM it made (a clone). */
#define VM_PROFILE_FILE "profile.json"

/* Where `vmm snapshot` keeps the qcow2 layers it put on a VM's disks ({"disks": {ID: {"layers":
 * [FILE, ...]}}, ...}): with layers, a disk's data is not all in its profile's file. */
#define SNAPSHOT_LAYERS_FILE "snapshots.json"

/* VMM_DATA_DIR/NAME, malloc'd. */
char *vm_data_path(const char *name);

/* True when VM name is a template. */
bool vm_is_template(const char *name);

/* Refuses (-1 with err) to take VM name's disk files as its disks (to make it a template or
 * copy them) while snapshot layers are on them: what it wrote since is in the layers. */
int vm_refuse_layers(const char *name, struct verr *err);

/* Refuses to start a template: -1 with err saying how to use it, else 0. */
int template_refuse_start(const char *name, struct verr *err);

/* Makes the image of every disk with "create" whose file is missing (qemu-img, the disk's
 * format and size); an image that exists is left as it is. Returns 0, or -1 with err. */
int disks_create(const struct vm_config *c, struct verr *err);

#endif
