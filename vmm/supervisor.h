/* The per-VM supervisor: starts QEMU from a plan, owns its QMP connection,
 * console and output, stops it gracefully on SIGINT/SIGTERM, and tells how it ended. */
#ifndef VMM_SUPERVISOR_H
#define VMM_SUPERVISOR_H

#include "plan.h"

/* How a VM ended; also the exit status of `vmm run`. 1 is kept for vmm's own errors. */
enum vm_end {
	VM_POWERED_OFF = 0, /* the guest powered off (also after a graceful stop) */
	VM_START_FAILED = 2, /* QEMU could not start or never answered QMP */
	VM_FORCED_OFF = 3,   /* stopped by quit or SIGKILL, or by a signal sent to QEMU */
	VM_CRASHED = 4,      /* QEMU died on a signal or exited with an error or without a shutdown */
};

/* Runs the VM in the foreground, console on stdout, until it ends. Returns the
 * vm_end, or -1 with err when nothing was started. */
int supervise(const struct plan *p, struct verr *err);

#endif
