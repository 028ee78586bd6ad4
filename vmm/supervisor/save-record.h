/* What makes a vmm save (save.h) survive its supervisor's kill -9: the save under way is
 * recorded in the run directory (SAVE_RECORD_FILE: QEMU's pid, the file, the pipe QEMU writes
 * into and the process keeping it, whether the guest ran, and whether the stream is under way),
 * and a small process of its own (the keeper, forked from the supervisor: it only holds the
 * pipe's read end) keeps the pipe alive past the supervisor: QEMU then waits, its migration
 * active, rather than failing. A failed save ends the keeper with its own reader, so that
 * QEMU's writes fail at once (QEMU may be blocked writing, holding its big lock). The stream
 * is moved into the file with splice, so every byte is either in the pipe or in the file
 * whenever the supervisor dies. The next supervisor of the same QEMU (vmm attach, vmm start) finishes the
 * job as the first would have: it asks QEMU (query-migrate); completed: the rest of the pipe
 * (opened again through /proc) goes into the file, which takes its name, and the VM ends,
 * saved; under way: it goes on copying and watches it to the end; failed, cancelled or never
 * streamed: the partial file goes, the guest runs on (cont if QEMU left it paused). The
 * record goes once the save ended either way (it stays while a saved VM's QEMU quits). */
#ifndef VMM_SAVE_RECORD_H
#define VMM_SAVE_RECORD_H

#include <stdbool.h>
#include <sys/types.h>

#include "vmm/base/error.h"
#include "vmm/base/rundir.h"

struct sup;
struct upgrade;

/* The record's name in the run directory. */
#define SAVE_RECORD_FILE "save.json"

/* Forks the keeper of the pipe whose read end is fd; returns its pid, or -1 with errno. */
pid_t save_keeper_start(int fd);

/* Ends save u's keeper (SIGKILL), if any. */
void save_keeper_end(struct upgrade *u);

/* Records save u as it is now: streaming once QEMU migrates into the pipe. */
int save_record_write(struct upgrade *u, bool streaming, struct verr *err);

/* Removes the record (the save ended). */
void save_record_remove(struct rundir *rd);

/* A supervisor reconnecting to its QEMU, before QMP: the save a killed supervisor recorded
 * goes on copying the pipe at once (QEMU may be blocked writing into it, with its monitor
 * waiting meanwhile: it holds its big lock while it writes the end of the stream). */
void save_record_reattach(struct sup *s);

/* A supervisor now connected to its QEMU (ready): finishes the save a killed supervisor
 * recorded, if any (nothing without a record). */
void save_record_resume(struct sup *s);

#endif
