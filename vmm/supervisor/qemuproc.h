/* The QEMUs vmm started, found from /proc and never from a file: a QEMU is VM NAME's when
 * its argv, as the builder writes it, has "-name" "guest=NAME,..." and it holds a unix
 * socket bound in the VM's run directory (BASE/NAME/: the monitor socket it inherited), so
 * that another run base (another VMM_RUN_DIR) or a QEMU that vmm did not start never counts.
 * What a state file says is only a candidate to check here. */
#ifndef VMM_QEMUPROC_H
#define VMM_QEMUPROC_H

#include <stdbool.h>
#include <sys/types.h>

#include "vmm/base/util.h"

/* True when process pid is a running QEMU of VM name started in run directory dir. */
bool qemuproc_is(pid_t pid, const char *dir, const char *name);

/* The pid of a running QEMU of VM name started in run directory dir; 0 when none runs. */
pid_t qemuproc_find(const char *dir, const char *name);

/* Adds to names the name of each VM whose QEMU runs under run base base (run directory
 * base/NAME), once each. */
void qemuproc_names(const char *base, struct strv *names);

#endif
