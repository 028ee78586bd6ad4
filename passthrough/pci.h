/* Host PCI devices as sysfs shows them ($VMM_SYSFS_ROOT, default /sys, so tests can use a
 * fake tree). The start of the VFIO work: what a device is and which driver has it. */
#ifndef PASSTHROUGH_PCI_H
#define PASSTHROUGH_PCI_H

#include <stddef.h>

#include "../vmm/error.h"

/* The sysfs root in use. */
const char *pci_sysfs_root(void);

/* Writes the name of the driver bound to device bdf into drv ("" when none).
 * Returns 0, or -1 with err when the device does not exist. */
int pci_driver(const char *bdf, char *drv, size_t size, struct verr *err);

/* Checks that every device is bound to vfio-pci, one error line per device that is not. */
int pci_check_vfio(const char *const *bdfs, size_t n, struct verr *err);

#endif
