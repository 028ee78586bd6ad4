/* A cloud-init NoCloud seed for a VM whose profile has "cloud_init": an ISO 9660 image with
 * volume label "cidata" holding meta-data, user-data and network-config, made by vmm in
 * VMM_DATA_DIR/NAME/cidata.iso and attached read-only as disk "cidata". Its instance id comes
 * from the VM's identity (its UUID), so a clone, which has a new identity, is a new instance to
 * cloud-init. It is rebuilt when what it holds changes (the hash of its files is kept beside it,
 * in cidata.sha256). */
#ifndef VMM_SEED_H
#define VMM_SEED_H

#include "profiles/config.h"
#include "vmm/base/error.h"

/* The id of the seed's disk. */
#define SEED_DISK_ID CLOUD_INIT_DISK_ID

/* Adds the seed's read-only disk to a config that has cloud_init (data: VMM_DATA_DIR). */
void seed_add_disk(struct vm_config *c, const char *data);

/* Makes or refreshes the seed of a config that has cloud_init (no-op without), for the VM whose
 * SMBIOS UUID is uuid. Returns 0, or -1 with err (a user_data file that cannot be read, xorriso
 * missing or failing); the seed in place is then the one before. */
int seed_prepare(const struct vm_config *c, const char *uuid, struct verr *err);

#endif
