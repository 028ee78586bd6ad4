/* Passthrough around a VM's life: before QEMU starts, the profile's devices (with
 * with_group, the plan has added the rest of their IOMMU groups) are checked and bound
 * to vfio-pci under the VM's name in the journal; when the VM has ended for good, its
 * devices (also those bound by hand before) go back to the drivers the journal
 * recorded. A supervisor that died leaves the journal; the one that reattaches restores
 * at the end instead. Both steps are synchronous and report through their results. */
#ifndef VMM_SUP_VFIO_H
#define VMM_SUP_VFIO_H

#include "profiles/config.h"
#include "vmm/base/error.h"

/* Binds the passthrough devices of VM c to vfio-pci (journaled under its name). */
int passthrough_bind(const struct vm_config *c, struct verr *err);

/* Gives the passthrough devices of VM c back to their host drivers. Returns how many
 * went back, or -1; err says what failed (either way). */
int passthrough_restore(const struct vm_config *c, struct verr *err);

#endif
