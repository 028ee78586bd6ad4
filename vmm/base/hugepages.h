/* The host's huge page pools (/sys/kernel/mm/hugepages/POOL, or one NUMA node's under
 * /sys/devices/system/node/nodeN/hugepages/POOL; POOL is "hugepages-2048kB" and the like):
 * raised by exactly what a VM needs before it starts and lowered by as much when it ends,
 * so pages others reserved are never taken. Changes of all VMs are serialised by a lock
 * file in the run base directory. */
#ifndef VMM_HUGEPAGES_H
#define VMM_HUGEPAGES_H

#include "vmm/base/error.h"

/* Adds PAGES pages to the pool POOL (node < 0: the host's, else that node's), compacting
 * memory first. All or nothing: when the kernel gives fewer, those are given back and the
 * error says how many it gave. Returns 0, or -1 with err. */
int hugepages_raise(const char *pool, int node, unsigned long pages, struct verr *err);

/* Takes PAGES pages out of the pool again (pages still in use leave it as the process
 * using them frees them). Returns 0, or -1 with err. */
int hugepages_lower(const char *pool, int node, unsigned long pages, struct verr *err);

#endif
