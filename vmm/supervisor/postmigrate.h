/* QEMU paused (a STOP event): whether its guest migrated out of it, which no event says (QEMU
 * is then "postmigrate", not "paused"): asked with query-status, again while QEMU is still
 * "finish-migrate". Only "postmigrate" is taken from the answer: every other state stays as the
 * events tell it. So a migration the supervisor did not run (a raw migrate through vmm qmp, or
 * one whose record was lost) shows as what it is in vmm status and vmm list. */
#ifndef VMM_POSTMIGRATE_H
#define VMM_POSTMIGRATE_H

struct sup;

/* After a STOP event: asks QEMU whether the guest migrated out (the run state becomes postmigrate). */
void postmigrate_check(struct sup *s);

#endif
