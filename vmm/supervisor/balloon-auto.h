/* The automatic balloon (memory.balloon {"auto": true, "min": SIZE}): while the host is short
 * of memory (PSI, HOST_PROC/pressure/memory: "some avg10" at or above BALLOON_AUTO_HIGH percent)
 * the supervisor lowers the balloon's target a step at a time, never below min, so the guest
 * gives memory back; once the pressure is gone (below BALLOON_AUTO_LOW) it raises the target a
 * step at a time back to memory.size. Between the two it holds. Part of balloon.c's balloon:
 * it sets the target the same way (QMP balloon) and keeps it where `vmm balloon` shows it. */
#ifndef VMM_BALLOON_AUTO_H
#define VMM_BALLOON_AUTO_H

#include <stdint.h>

#include <event2/event.h>

#include "qmp/qmp.h"
#include "vmm/launch/plan.h"
#include "vmm/supervisor/state.h"

/* Percent of the last 10 s in which some task waited for memory: above, the guest gives back;
 * below the low mark, it gets memory again. */
#define BALLOON_AUTO_HIGH 10.0
#define BALLOON_AUTO_LOW 1.0
/* Milliseconds between two readings of the pressure. */
#define BALLOON_AUTO_PERIOD_MS 1000

struct balloon_auto;

/* The automatic balloon of plan p's VM (vm names it in messages), driving QEMU through *qmp
 * (NULL while there is none) and keeping the target it sets in *target. */
struct balloon_auto *balloon_auto_new(struct event_base *base, const struct plan *p, const struct vm_state *vm,
				      struct qmp_client *const *qmp, uint64_t *target);

/* QEMU answers: starts following the host's memory pressure, from a full guest. */
void balloon_auto_start(struct balloon_auto *a);

/* QEMU is gone: stops following it. */
void balloon_auto_stop(struct balloon_auto *a);

/* Frees it. Safe with NULL. */
void balloon_auto_free(struct balloon_auto *a);

#endif
