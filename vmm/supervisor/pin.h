/* CPU affinity of QEMU's threads: each vCPU thread, each iothread, and the rest
 * ("emulator" threads), set with sched_setaffinity and read back to verify. */
#ifndef VMM_PIN_H
#define VMM_PIN_H

#include <sys/types.h>

#include "profiles/config.h"
#include "vmm/base/error.h"

/* Restricts thread tid to the host CPUs in cpus, then checks that it took. */
int pin_thread(pid_t tid, const struct cpulist *cpus, const char *what, struct verr *err);

/* Restricts every thread of process pid except those in skip to cpus. */
int pin_other_threads(pid_t pid, const pid_t *skip, size_t n_skip, const struct cpulist *cpus, struct verr *err);

#endif
