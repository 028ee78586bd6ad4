/* Host-safety: what must never (or only with --force) go to a VM because the host is
 * using it: a device under a mounted filesystem or active swap (never), the boot display
 * or the framebuffer console, a GPU whose DRM device a process holds open (a desktop
 * session), the NIC carrying the default route. Reads sysfs
 * ($VMM_SYSFS_ROOT) and /proc ($VMM_PROC_ROOT), so tests can stand in for both. */
#ifndef PASSTHROUGH_SAFETY_H
#define PASSTHROUGH_SAFETY_H

#include <stdbool.h>
#include <stddef.h>

#include "passthrough/pci.h"

enum hazard { HAZARD_NONE, HAZARD_FORCEABLE, HAZARD_NEVER };

/* Says (in why) whether and how the host uses device d. */
enum hazard host_hazard(const struct pci_dev *d, char *why, size_t size);

/* Warnings that do not stop a bind: a GPU with a known reset bug, no reset method. */
bool device_warning(const struct pci_dev *d, char *why, size_t size);

#endif
