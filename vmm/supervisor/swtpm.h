/* The VM's TPM 2.0 emulator (profile key "tpm"): one swtpm per QEMU, started before it on a
 * control socket the supervisor binds (swtpm.sock in the run directory, which QEMU's
 * -chardev connects to), its state in VMM_DATA_DIR/NAME/tpm (manufactured on the first start
 * by swtpm_setup: an EK and its certificate; kept ever after). swtpm ends by itself when
 * QEMU's connection goes (--terminate), so it never outlives its QEMU, not even one that an
 * earlier supervisor (killed) left behind; a supervisor that reconnects to such a QEMU finds
 * its swtpm through swtpm.pid. An swtpm that dies while its QEMU runs is that VM failing. */
#ifndef VMM_SWTPM_H
#define VMM_SWTPM_H

#include <stdbool.h>

#include <event2/event.h>

#include "vmm/base/rundir.h"
#include "vmm/launch/plan.h"
#include "vmm/supervisor/state.h"

struct swtpm;

/* swtpm's control socket in the run directory: the supervisor connects QEMU to it. */
#define SWTPM_SOCK "swtpm.sock"

/* An swtpm for the VM of plan p (nothing runs yet; every call is a no-op when the VM has no
 * TPM); died(arg) runs when the swtpm dies while it should run. */
struct swtpm *swtpm_new(struct event_base *base, const struct plan *p, struct vm_state *vm, struct rundir *rd,
			void (*died)(void *arg), void *arg);

/* Starts the swtpm for a new QEMU: creates the state directory and manufactures the TPM on
 * the first start, binds swtpm.sock, spawns swtpm and records its pid. Returns 0, or -1 with
 * err and nothing left running. */
int swtpm_start(struct swtpm *t, struct verr *err);

/* Finds the swtpm of a QEMU that runs without a supervisor (swtpm.pid) and watches it; a
 * missing one is said (the VM has lost its TPM) and treated as dead. */
void swtpm_reattach(struct swtpm *t);

/* SIGCHLD: reaps the swtpm when it is our child and has ended. */
void swtpm_reap(struct swtpm *t);

/* Ends the swtpm (its QEMU has ended): SIGTERM, SIGKILL when it lingers, reaped; its socket and
 * pid file removed; with keep (a QEMU left running untouched), only forgets it. Forgets
 * whether it failed. */
void swtpm_stop(struct swtpm *t, bool keep);

/* Why the swtpm died while its QEMU ran ("swtpm pid N exited with status 1: LINE"), or NULL. */
const char *swtpm_failure(const struct swtpm *t);

/* Marks the death of the swtpm as the VM's failure (its QEMU outlived it). */
void swtpm_blame(struct swtpm *t);

/* Frees t, leaving a running swtpm alone (swtpm_stop first to end it). */
void swtpm_free(struct swtpm *t);

#endif
