/* What happens to a VM as a whole. A stop moves one step at each signal, request or
 * timeout: the ACPI power button, then (when the button's time ran out and the VM has an agent
 * channel) the guest agent's guest-shutdown, then `quit`, then SIGKILL; when QEMU's QMP connection
 * is gone, SIGTERM takes the place of the QMP steps. A kill ends QEMU at once. A QEMU the
 * supervisor reconnects to and that does not answer is never killed but for `vmm kill`:
 * a stop or the start timeout abandons the reconnect instead. The
 * verdict tells how a QEMU ended, from its exit status, the SHUTDOWN event's reason and
 * what vmm did to it; the restart policy then decides whether the VM starts again, and
 * after which back-off. supervisor.c (signals, timers, the end of each QEMU) and
 * sup-control.c (stop and kill requests) call it; it calls only state.c, QMP and the agent. */
#ifndef VMM_LIFECYCLE_H
#define VMM_LIFECYCLE_H

#include <stdbool.h>

#include "vmm/base/error.h"
#include "vmm/supervisor/sup.h"

/* Moves a stop one step on (a stop during the restart back-off ends the wait). */
void lifecycle_stop(struct sup *s);

/* The current stop step's time ran out: after the power button, a VM with an agent channel
 * asks its guest agent for guest-shutdown, and moves on to quit when the agent cannot. */
void lifecycle_step_expired(struct sup *s);

/* Abandons a reconnect that QEMU did not answer: the supervisor ends, QEMU (which it did
 * not start) runs on untouched, with its files and devices. */
void lifecycle_give_up(struct sup *s);

/* Kills QEMU at once and keeps the VM from restarting. */
void lifecycle_kill(struct sup *s);

/* Records that no QEMU could be started (or reconnected to), with every line of err. */
void lifecycle_start_failed(struct sup *s, struct verr *err);

/* Decides how the QEMU that just ended did, records it and says so. */
void lifecycle_verdict(struct sup *s);

/* Decides whether the VM that just ended starts again; if so *delay_ms is the back-off. */
bool lifecycle_restart_due(struct sup *s, unsigned *delay_ms);

#endif
