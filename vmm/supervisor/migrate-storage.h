/* The disks of a migration without shared storage (vmm migrate --copy-storage), source side:
 * each writable disk of the profile is mirrored (blockdev-mirror, sync full) to the NBD export
 * of the same name that the destination serves (vmm start --incoming --copy-storage, at
 * migrate_nbd_address()), through an NBD client node added for it. Once every mirror is ready
 * (BLOCK_JOB_READY) the RAM migration starts, paused before its switch-over; there, with the
 * guest stopped, each mirror is completed without pivoting (block-job-cancel of a ready job:
 * the destination has every write) and its node removed, and the migration goes on. A failure
 * or cancel cancels the jobs and removes the nodes: the VM runs on, on its own disks. */
#ifndef VMM_MIGRATE_STORAGE_H
#define VMM_MIGRATE_STORAGE_H

#include <stdbool.h>

#include <json-c/json.h>

#include "profiles/config.h"
#include "qmp/qmp.h"

struct storage_mirror;

/* The mirrors are ready (error NULL) or could not be (error says why: the mirrors are undone);
 * or, after storage_mirror_finish(), complete (error NULL) or not. */
typedef void (*storage_fn)(const char *error, void *arg);

/* Starts mirroring each writable disk of c to the destination listening for the migration on
 * uri; calls fn once all are in sync. *qmp: the caller's QMP client (NULL once gone). */
struct storage_mirror *storage_mirror_start(struct qmp_client *const *qmp, const struct vm_config *c, const char *uri,
					    storage_fn fn, void *arg);

/* An event of the source QEMU (BLOCK_JOB_READY, BLOCK_JOB_COMPLETED, BLOCK_JOB_CANCELLED, BLOCK_JOB_ERROR). */
void storage_mirror_event(struct storage_mirror *sm, const char *name, struct json_object *msg);

/* With the guest paused before the switch-over: completes every mirror, removes the nodes, calls fn. */
void storage_mirror_finish(struct storage_mirror *sm, storage_fn fn, void *arg);

/* Gives up: cancels the jobs and removes the nodes (the VM keeps its own disks); fn is not called. */
void storage_mirror_abort(struct storage_mirror *sm);

/* True while commands or jobs of the mirror are still under way (it may not be freed yet). */
bool storage_mirror_busy(const struct storage_mirror *sm);

/* Frees it (not busy, or with the QMP client gone). Safe with NULL. */
void storage_mirror_free(struct storage_mirror *sm);

#endif
