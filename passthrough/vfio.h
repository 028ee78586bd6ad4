/* Giving host PCI devices to VMs and back: viability and host-safety checks, and a
 * journaled bind to vfio-pci (driver_override + unbind + drivers_probe, never new_id)
 * whose every device's original driver is written down before it is touched; restore
 * binds each device back to that driver. A failure part-way undoes what was done. */
#ifndef PASSTHROUGH_VFIO_H
#define PASSTHROUGH_VFIO_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "vmm/base/error.h"
#include "vmm/base/util.h"

/* Checks whether the devices can go to a VM together. Returns a report:
 * {"viable": bool, "groups": [{"group", "devices": [{"bdf", "driver", "class", "bridge",
 * "requested"}]}], "problems": [{"severity": "refuse"|"warning", "bdf", "why"}]}.
 * force turns refusals that may be overridden into warnings. NULL with err when a device
 * does not exist or the IOMMU is off. */
struct json_object *vfio_check(const char *const *bdfs, size_t n, bool force, struct verr *err);

/* Binds the devices, and every other endpoint of their IOMMU groups, to vfio-pci;
 * refuses what vfio_check refuses and devices the journal says another VM holds. The
 * journal (locked for the whole bind) records each device's original driver and owner
 * (a VM's name, or "" for a bind by hand; a VM adopts devices bound by hand). Returns 0,
 * or -1 with err and nothing changed. */
int vfio_bind(const char *const *bdfs, size_t n, bool force, const char *owner, struct verr *err);

/* Gives the devices (and the rest of their groups) back to the drivers the journal
 * recorded; n == 0 restores every device the journal holds. With an owner, only what the
 * journal says that VM holds goes back (NULL: anyone's, for restores by hand).
 * Returns how many devices went back, or -1 with err. */
int vfio_restore(const char *const *bdfs, size_t n, const char *owner, struct verr *err);

/* The endpoints (bridges excepted) of the IOMMU groups of the devices, as addresses. */
int vfio_group_endpoints(const char *const *bdfs, size_t n, struct strv *out, struct verr *err);

/* The journal's path: $VMM_RUN_DIR's parent run base, vfio-journal.json. */
char *vfio_journal_path(struct verr *err);

#endif
