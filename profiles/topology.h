/* The host's CPU topology (which CPUs are hyperthread siblings of one core, packages, NUMA
 * nodes), read from sysfs (pci_sysfs_root(): $VMM_SYSFS_ROOT or /sys), and what vmm decides
 * from it: the pins of cpu.pin "auto" (whole host cores for guest cores, the host's first core
 * left to the host, emulator and iothreads on what remains) and the checks of explicit pins
 * (CPUs the host lacks, shared CPUs, guest sibling threads split across host cores). */
#ifndef VMM_TOPOLOGY_H
#define VMM_TOPOLOGY_H

#include <stdbool.h>
#include <stddef.h>

#include "profiles/config.h"
#include "vmm/base/error.h"

/* One host CPU. */
struct host_cpu {
	unsigned cpu;
	unsigned core;     /* the lowest CPU of its thread siblings: the same for every thread of a core */
	unsigned package;
	int node;          /* -1: in no NUMA node sysfs names */
};

/* The host's CPUs in ascending order. */
struct host_topology {
	struct host_cpu *cpus;
	size_t n;
};

/* Reads the topology from sysfs. Where sysfs describes no CPUs, or other than the
 * $VMM_HOST_CPUS stand-in count, the host is that many CPUs, each a core of its own. */
void topology_read(struct host_topology *t);

/* Frees the CPUs. */
void topology_free(struct host_topology *t);

/* The host CPU cpu, or NULL when the host lacks it. */
const struct host_cpu *topology_cpu(const struct host_topology *t, unsigned cpu);

/* What cpu.pin "auto" gives a VM: a host CPU per vCPU, and the CPUs for everything else. */
struct auto_pins {
	struct cpulist vcpus;
	struct cpulist others; /* emulator threads and iothreads */
};

/* Picks the pins of cpu.pin "auto" for c on host t (c's own pins are ignored): each guest core
 * (cpu.threads vCPUs) on one host core with as many thread siblings, the host's first core left
 * out, preferring one NUMA node; the rest of the host's CPUs (or its first core, when no other
 * is left) for the others. Returns 0, or -1 with err saying what the host lacks. */
int topology_auto_pin(const struct host_topology *t, const struct vm_config *c, struct auto_pins *out,
		      struct verr *err);

/* Frees the pins. */
void auto_pins_free(struct auto_pins *p);

/* Fills c's empty pins from cpu.pin "auto" (c->pin_auto): vCPUs, emulator threads, and the
 * iothreads of disks that have one. Returns 0, or -1 with err (c unchanged). */
int topology_apply_auto_pin(const struct host_topology *t, struct vm_config *c, struct verr *err);

/* What is wrong with a VM's pins on a host. */
enum pin_problem {
	PIN_MISSING,  /* a CPU the host lacks: QEMU's threads cannot be pinned there */
	PIN_SHARED,   /* two vCPUs on one host CPU */
	PIN_IOTHREAD, /* an iothread on a vCPU's CPU */
	PIN_SPLIT,    /* the threads of one guest core on different host cores */
};

/* Called for each problem found: at path (cpu.pin, cpu.emulator_pin, disks[N].iothread_pin),
 * why it matters and the fix. */
typedef void (*pin_problem_fn)(enum pin_problem kind, const char *path, const char *why, const char *fix,
			       void *arg);

/* Checks c's pins on host t, reporting the first problem of each kind (and each CPU the host
 * lacks, per list) through fn. */
void topology_check_pins(const struct host_topology *t, const struct vm_config *c, pin_problem_fn fn, void *arg);

/* True when c pins any thread (vCPUs, emulator threads or an iothread). */
bool config_pins(const struct vm_config *c);

#endif
