/* CPU isolation around a VM's life (cpu.isolate): while it runs, the host's other tasks
 * (cgroup v2 system.slice, user.slice, init.scope: through systemd's AllowedCPUs when
 * systemd is PID 1, directly in the cgroup tree otherwise) and its IRQs are kept on the
 * CPUs its pins do not name. Its QEMU is moved, right after spawn and before any pinning,
 * to a cgroup of its own, vmm.slice/NAME beside the slices: where the supervisor runs (a
 * user's session scope, or vmm@NAME.service in system.slice) is confined with the rest,
 * and a cgroup cannot have CPUs its parent lacks. The supervisor itself stays (systemd
 * tracks it as the service's main process); it needs no VM CPU. Undone when the VM ends
 * for good, also by a reattached supervisor.
 *
 * One host-wide journal, isolate.json in the run base directory, under isolate.lock: the
 * old value of every file changed (written by the first isolating VM BEFORE any change)
 * and the CPUs of each isolating VM. The host gets the CPUs of none of them; a VM that
 * ends is dropped from it and the rest applied again; the last one restores the old
 * values and removes the journal. */
#ifndef VMM_SUP_ISOLATE_H
#define VMM_SUP_ISOLATE_H

#include <sys/types.h>

#include "profiles/config.h"
#include "vmm/base/error.h"

/* Confines the host to the CPUs no isolating VM holds (c->isolate; nothing otherwise).
 * *said: what was done, malloc'd, for the log. Undone on failure. Returns 0, or -1 with err. */
int isolate_take(const struct vm_config *c, char **said, struct verr *err);

/* Moves QEMU pid of the VM into its own cgroup vmm.slice/NAME (c->isolate; nothing otherwise). */
int isolate_qemu(const struct vm_config *c, pid_t pid, struct verr *err);

/* Drops the VM named NAME from the journal: the host gets its CPUs back (all old values when
 * it was the last). Returns 1 when it was isolating, 0 when not, -1 with err. */
int isolate_give_back(const char *name, struct verr *err);

#endif
