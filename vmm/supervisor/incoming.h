/* The destination of a migration (vmm start --incoming URI): QEMU starts with -incoming defer,
 * the supervisor applies the same capabilities and parameters as the source (migrate.h), then
 * migrate-incoming. The VM is ready (and `vmm start` returns, its status naming the URI as
 * "incoming") once QEMU listens; it runs once the migration completed, and is then this
 * supervisor's like any other. An incoming migration that fails ends the VM (QEMU exits on it,
 * the supervisor quits it if not) as a failed start, with no restart. */
#ifndef VMM_INCOMING_H
#define VMM_INCOMING_H

#include <json-c/json.h>

#include "vmm/base/util.h"

struct sup;

/* QEMU's argv: the plan's, with -incoming defer when the VM waits for an incoming migration. */
void incoming_argv(const struct sup *s, struct strv *argv);

/* QMP is up on a QEMU waiting for an incoming migration: applies the settings, then
 * migrate-incoming; calls then(s) once QEMU listens, or fails the start (QEMU killed). */
void incoming_start(struct sup *s, void (*then)(struct sup *s));

/* The destination's QEMU ended: removes the unix: socket (and PATH.nbd) it listened on, if it
 * left them (killed while it waited) and they are still the ones it made. */
void incoming_remove_sockets(struct sup *s);

/* An event of the destination QEMU (MIGRATION): the end of the incoming migration. */
void incoming_event(struct sup *s, const char *name, struct json_object *msg);

#endif
