/* The Looking Glass shared memory file (looking_glass.path, /dev/shm/looking-glass by
 * default): made before QEMU starts, of the profile's size, owned by the desktop user
 * (looking_glass.user) so that the client reads the guest's frames without root. */
#ifndef VMM_LOOKING_GLASS_H
#define VMM_LOOKING_GLASS_H

#include "profiles/config.h"
#include "vmm/base/error.h"

/* Creates or sizes the file; the kvmfr device (a character device) is taken as it is. A file
 * owned by someone but root and the desktop user is refused (/dev/shm is everyone's).
 * Returns 0, or -1 with err. */
int looking_glass_prepare(const struct vm_config *c, struct verr *err);

#endif
