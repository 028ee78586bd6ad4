/* What the files of vmm lint share (lint.c runs them): the state of one run and how a check
 * adds a finding. Not for use outside lint. */
#ifndef VMM_LINT_INT_H
#define VMM_LINT_INT_H

#include "profiles/lint.h"

struct linter {
	const struct host_facts *host;
	struct json_object *findings;
	const char *file;
	struct json_object *origins;
};

/* Adds one finding at path (the file is the one that set it), why from fmt. */
void finding(struct linter *l, const char *severity, const char *path, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Pins on the host's topology (lint-pins.c): cpu.pin "auto" that does not fit, CPUs the host
 * lacks, vCPUs sharing a CPU, iothreads on vCPUs' CPUs, guest sibling threads split. */
void lint_pins(struct linter *l, const struct vm_config *c);

/* Checks of the whole VM (lint-vm.c): a cache in a benchmark's disks, a VM nothing can reach,
 * a big multi-socket VM without NUMA. */
void lint_vm(struct linter *l, const struct vm_config *c);

#endif
