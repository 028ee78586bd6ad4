/* What makes an outgoing migration (vmm migrate, sup-migrate.h) survive its supervisor's
 * kill -9: once the RAM starts to move, the migration is recorded in the run directory
 * (MOVE_RECORD_FILE: QEMU's pid, the destination, whether the guest ran); QEMU migrates on by
 * itself meanwhile. The next supervisor of the same QEMU (vmm attach, vmm start) asks QEMU
 * (query-migrate) and finishes the job as the first would have: completed (QEMU postmigrate):
 * the VM ends as "migrated to DEST", its QEMU quits and what it held is released; under way:
 * it follows it to the end (vmm migrate NAME --cancel cancels it; one paused before its
 * switch-over, whose disk mirrors were the killed supervisor's, is cancelled); failed or
 * cancelled: the guest runs on here (cont if QEMU left it paused). The record goes when the
 * migration failed; after a completed one it stays until the supervisor ends. */
#ifndef VMM_MOVE_RECORD_H
#define VMM_MOVE_RECORD_H

#include "vmm/base/error.h"
#include "vmm/base/rundir.h"

struct sup;

/* The record's name in the run directory. */
#define MOVE_RECORD_FILE "migrate.json"

/* Records s's outgoing migration to dest. */
int move_record_write(struct sup *s, const char *dest, struct verr *err);

/* Removes the record (the migration failed). */
void move_record_remove(struct rundir *rd);

/* A supervisor now connected to its QEMU (ready): finishes the migration a killed supervisor
 * recorded, if any (nothing without a record). */
void move_record_resume(struct sup *s);

#endif
