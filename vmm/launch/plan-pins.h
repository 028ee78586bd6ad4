/* The pins of a plan on this host (profiles/topology.h): cpu.pin "auto" resolved into CPUs,
 * and explicit pins checked against the host's CPUs. A host that cannot take them fails a
 * start; vmm cmdline and lint (another host may run the VM) get a warning that explains the
 * host-dependent value instead. */
#ifndef VMM_PLAN_PINS_H
#define VMM_PLAN_PINS_H

#include <stdbool.h>

#include <json-c/json.h>

#include "profiles/config.h"
#include "vmm/base/error.h"
#include "vmm/base/util.h"

/* Resolves and checks c's pins (file and origins name who set them). When start, a problem
 * is an error ("FILE: PATH: why"): returns -1 with err; else it goes to warnings with what
 * start would do, and 0 is returned. */
int plan_pins(struct vm_config *c, const char *file, struct json_object *origins, bool start,
	      struct strv *warnings, struct verr *err);

#endif
