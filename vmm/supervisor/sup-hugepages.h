/* Huge pages around a VM's life (memory.hugepages.reserve): before its first QEMU starts,
 * the host's pools are raised by exactly the pages its RAM needs (per bound host NUMA node,
 * else the host's pool), after writing what it takes to hugepages.json in the run
 * directory; when the VM has ended for good they are lowered by as much, from that record,
 * also by a supervisor that reattached after the first one died. */
#ifndef VMM_SUP_HUGEPAGES_H
#define VMM_SUP_HUGEPAGES_H

#include "profiles/config.h"
#include "vmm/base/error.h"
#include "vmm/base/rundir.h"

/* Reserves the VM's pages unless the record says they are reserved already (a restart, a
 * reattached supervisor). All or nothing. Returns 0, or -1 with err. */
int hugepages_take(const struct vm_config *c, struct rundir *rd, struct verr *err);

/* Gives back what the record says the VM took, and removes the record. Returns the pages
 * given back (0: none were taken), or -1 with err. */
long hugepages_give_back(struct rundir *rd, struct verr *err);

#endif
