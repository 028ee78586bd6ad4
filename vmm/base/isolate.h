/* The kernel's knobs that keep a host's tasks and interrupts off some CPUs (cpu.isolate):
 * CPU sets as bitmaps, the cgroup v2 tree (its mount from /proc/self/mountinfo, a cgroup's
 * cpuset.cpus, moving a process), and IRQ affinities (/proc/irq/N/smp_affinity_list and
 * /proc/irq/default_smp_affinity). Each call changes one file; what to change and how to
 * undo it is the caller's (vmm/supervisor/sup-isolate.c). */
#ifndef VMM_ISOLATE_H
#define VMM_ISOLATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vmm/base/error.h"
#include "vmm/base/util.h"

/* One more than the highest CPU a set holds. */
#define CPUBITS_MAX 8192

/* A set of host CPUs. */
struct cpubits {
	uint64_t w[CPUBITS_MAX / 64];
};

/* Adds CPU to the set (ignored past CPUBITS_MAX). */
void cpubits_add(struct cpubits *s, unsigned cpu);

/* Parses a kernel CPU list ("0-3,8"; "" is the empty set) into *out; -1 when it is not one. */
int cpubits_parse(const char *list, struct cpubits *out);

/* The set as a kernel CPU list ("0-3,8"; "" when empty), malloc'd. */
char *cpubits_list(const struct cpubits *s);

/* The set as a kernel hex mask ("f" or "1,00000000" in 32-bit groups), malloc'd. */
char *cpubits_mask(const struct cpubits *s);

/* True when the set holds no CPU. */
bool cpubits_empty(const struct cpubits *s);

/* The host's online CPUs (/sys/devices/system/cpu/online). Returns 0, or -1 with err. */
int host_online_cpus(struct cpubits *out, struct verr *err);

/* The contents of a small kernel file without its final newline, malloc'd; NULL with err. */
char *kfile_read(const char *path, struct verr *err);

/* Writes value to a kernel file in one write. Returns 0, or -1 with err (errno kept). */
int kfile_write(const char *path, const char *value, struct verr *err);

/* Where a cgroup2 file system is mounted (the first in /proc/self/mountinfo), malloc'd;
 * NULL with err when none is. */
char *cgroup2_mount(struct verr *err);

/* Moves process pid with all its threads into the cgroup dir (made when missing). */
int cgroup_move(const char *dir, pid_t pid, struct verr *err);

/* The files /proc/irq/N/smp_affinity_list of the host's IRQs, in order, into *out. */
int irq_affinity_files(struct strv *out, struct verr *err);

#endif
