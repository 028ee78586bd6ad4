/* Work that may block for seconds, run in a child process so the supervisor's loop answers on
 * meanwhile: resolving a new QEMU's plan probes the binary, and a binary not probed before (a
 * package upgrade changes its mtime) takes seconds of QMP questions, a hung one up to
 * PROBE_TIMEOUT_MS each. The child does the work once (the probe lands in the cache) and says
 * whether it failed and why; the supervisor then does it again, from the cache. */
#ifndef VMM_PLAN_CHILD_H
#define VMM_PLAN_CHILD_H

#include <event2/event.h>

#include "vmm/base/error.h"

struct plan_child;

/* The work: 0, or -1 with err (run in the child). */
typedef int (*plan_child_work_fn)(void *arg, struct verr *err);

/* Told how the child's work went: error is NULL when it succeeded, else its error lines
 * joined by "; ". Called once; the owner frees c (plan_child_free) in it or later. */
typedef void (*plan_child_done_fn)(struct plan_child *c, const char *error, void *arg);

/* Runs work(arg) in a child; done(c, error, arg) once it ended. NULL with err when no child started. */
struct plan_child *plan_child_start(struct event_base *base, plan_child_work_fn work, plan_child_done_fn done,
				    void *arg, struct verr *err);

/* Kills and reaps the child if it still runs, and frees c (NULL: nothing). */
void plan_child_free(struct plan_child *c);

#endif
