/* Pinning after launch: asks QEMU over QMP for the thread ids of its vCPUs
 * (query-cpus-fast) and iothreads (query-iothreads), gives each the host CPUs the
 * profile names, and the remaining QEMU threads cpu.emulator_pin. It knows nothing of
 * the supervisor: it reports completion through the callback it is given. */
#ifndef VMM_SUP_PIN_H
#define VMM_SUP_PIN_H

#include <stdbool.h>
#include <sys/types.h>

#include "profiles/config.h"
#include "qmp/qmp.h"
#include "vmm/base/error.h"

/* Called once when pinning is over: err is NULL when every thread took its CPUs, else
 * it says why pinning could not be applied. */
typedef void (*pin_done_fn)(const struct verr *err, void *arg);

/* True when the profile pins vCPUs, iothreads or emulator threads. */
bool pin_wanted(const struct vm_config *c);

/* Pins the threads of QEMU pid (reached through qmp) as c says, then calls done(arg).
 * Each command waits at most timeout_ms; c must outlive the call of done. */
void pin_threads(struct qmp_client *qmp, const struct vm_config *c, pid_t pid, unsigned timeout_ms,
		 pin_done_fn done, void *arg);

#endif
