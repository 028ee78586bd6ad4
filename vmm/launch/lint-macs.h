/* vmm lint's check across VMs: a NIC whose MAC another VM known on this host has (its
 * identity in VMM_DATA_DIR/NAME/identity.json, see identity.h). Two VMs on one network with
 * one MAC take each other's traffic. */
#ifndef VMM_LINT_MACS_H
#define VMM_LINT_MACS_H

#include <json-c/json.h>

#include "vmm/launch/plan.h"

/* Adds to findings (lint.h's form) one error for each NIC of plan p whose MAC (the profile's,
 * else its identity's) another VM's identity records. */
void lint_mac_collisions(const struct plan *p, struct json_object *findings);

#endif
