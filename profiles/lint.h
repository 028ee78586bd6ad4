/* vmm lint: the classic mistakes a virtualization expert looks for in a resolved
 * profile, checked against the host's facts. Each finding has a severity, the JSON path
 * (and the file that set it), a one-line why, and the fix. */
#ifndef VMM_LINT_H
#define VMM_LINT_H

#include <stdint.h>

#include <json-c/json.h>

#include "profiles/config.h"

/* What lint needs to know about the host, read from sysfs (pci_sysfs_root(): $VMM_SYSFS_ROOT or /sys). */
struct host_facts {
	long cpus;
	unsigned numa_nodes;
	uint64_t memory;          /* bytes, all nodes */
	uint64_t free_hugepages[HUGEPAGES_COUNT]; /* free huge pages of each size */
	char sysfs[256];          /* where the host's sysfs is */
};

/* Why a balloon is useless with huge pages or passthrough: lint's words, and vmm balloon's
 * when it refuses to move one. */
#define LINT_BALLOON_HUGEPAGES "a balloon cannot give huge pages back to the host; it only fragments the guest's memory"
#define LINT_BALLOON_PASSTHROUGH "passthrough pins all guest memory for DMA: the balloon cannot give any back"

/* Reads the host's facts. */
void host_facts_read(struct host_facts *h);

/* Checks config c (resolved from profile file, origins as in resolve.h) and returns the
 * findings as a JSON list of {"severity", "file", "path", "why", "fix"}. */
struct json_object *lint(const struct vm_config *c, const char *file, struct json_object *origins,
			 const struct host_facts *h);

#endif
