/* The supervisor's side of a migration (migrate.h is the engine). Outgoing: the requests
 * migrate (refused for a VM with passthrough devices, which cannot move), migration (the
 * reading) and migrate-cancel; once it completed the VM has moved: the supervisor says so,
 * its QEMU quits and the VM ends as VM_MIGRATED ("migrated to DEST"), releasing what it held
 * as any end does. The incoming side is incoming.h's. */
#ifndef VMM_SUP_MIGRATE_H
#define VMM_SUP_MIGRATE_H

#include <json-c/json.h>

#include "vmm/supervisor/control.h"

struct sup;

/* Handles CTL_REQ_MIGRATE, CTL_REQ_MIGRATION and CTL_REQ_MIGRATE_CANCEL. */
void sup_migrate_request(struct sup *s, struct control_conn *conn, const char *request, struct json_object *args);

/* An event of QEMU (MIGRATION, MIGRATION_PASS), for the migration either way (incoming.h's too). */
void sup_migrate_event(struct sup *s, const char *name, struct json_object *msg);

/* Follows the outgoing migration to dest that QEMU runs already (move-record.h): it ends as one
 * the supervisor started. */
void sup_migrate_follow(struct sup *s, const char *dest);

/* The current QEMU is gone (its QMP client freed first): fails an outgoing migration. */
void sup_migrate_reset(struct sup *s);

#endif
