/* The values of a plan that depend on the host it runs on: cpu.pin "auto" resolved into CPUs
 * (profiles/topology.h), explicit pins on CPUs the host has, memory.size within the host's
 * memory (unless memory.overcommit), enough free huge pages. A host that cannot take them
 * fails a start, before QEMU runs; vmm cmdline and lint (another host may run the VM) get a
 * warning that explains the host-dependent value instead. */
#ifndef VMM_PLAN_HOST_H
#define VMM_PLAN_HOST_H

#include <stdbool.h>

#include <json-c/json.h>

#include "profiles/config.h"
#include "vmm/base/error.h"
#include "vmm/base/util.h"

/* Resolves and checks c's host-dependent values (file and origins name who set them). When
 * start, each problem is an error line ("FILE: PATH: why"): returns -1 with err; else each goes
 * to warnings with what start would do, and 0 is returned. */
int plan_host_checks(struct vm_config *c, const char *file, struct json_object *origins, bool start,
		     struct strv *warnings, struct verr *err);

#endif
