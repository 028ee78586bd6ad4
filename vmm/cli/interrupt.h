/* While vmm makes a new VM's files (vmm clone, vmm backup restore), Ctrl-C (SIGINT), SIGTERM and
 * SIGHUP are noted instead of ending vmm at once, so that the verb undoes what it made rather
 * than leaving a half-made data directory (which keeps the name in use and, without a profile,
 * vmm destroy cannot remove). The tool it waits for (qemu-img) gets a terminal's Ctrl-C too. */
#ifndef VMM_INTERRUPT_H
#define VMM_INTERRUPT_H

#include <signal.h>
#include <stdbool.h>

/* The handlers the guard replaced, put back by interrupt_guard_end. */
struct interrupt_guard {
	struct sigaction old[3];
};

/* From here on the signals are noted (system calls restart). */
void interrupt_guard_begin(struct interrupt_guard *g);

/* Whether one of the signals came since interrupt_guard_begin. */
bool interrupt_guard_hit(void);

/* The signals act as before again. */
void interrupt_guard_end(struct interrupt_guard *g);

#endif
