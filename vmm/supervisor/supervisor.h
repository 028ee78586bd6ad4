/* The per-VM supervisor: starts QEMU from a plan (or reconnects to one already
 * running), owns its QMP connection, serves the QMP proxy (qmp.sock) and the control
 * socket (ctl.sock), tracks the VM's state from QMP events and the process's exit,
 * restarts it as the profile asks, and tells how it ended. */
#ifndef VMM_SUPERVISOR_H
#define VMM_SUPERVISOR_H

#include "vmm/launch/plan.h"
#include "vmm/supervisor/migrate.h"
#include "vmm/supervisor/protocol.h"

/* Whether to reconnect to a QEMU of the VM that runs without a supervisor. */
enum sup_attach {
	ATTACH_NEVER,   /* such a QEMU is an error (vmm run) */
	ATTACH_ORPHAN,  /* reconnect when there is one, else start QEMU (vmm start) */
	ATTACH_ONLY,    /* reconnect; an error when there is none (vmm attach) */
};

/* The byte a detached supervisor writes to stderr once the guest runs, before it
 * points stderr at the VM's vmm.log (the starting CLI waits for it). */
#define SUP_READY '\006'

struct sup_options {
	bool detached; /* no terminal: the console is not copied to stdout, SIGHUP is ignored */
	enum sup_attach attach;
	/* An incoming migration (vmm start --incoming): QEMU runs with -incoming defer and the
	 * supervisor applies settings, then migrate-incoming to this URI; NULL: none. */
	const char *incoming;
	struct migrate_settings incoming_settings;
	bool incoming_storage; /* serve the writable disks over NBD for the source to mirror (--copy-storage) */
	bool restore;   /* the first QEMU loads the guest from restore_fd (vmm restore) */
	int restore_fd; /* a save file at the start of QEMU's stream (savefile.h), owned */
};

/* Runs the VM until it ends for good. Returns the vm_end, or -1 with err when
 * nothing was started. */
int supervise(const struct plan *p, const struct sup_options *o, struct verr *err);

struct sup;

/* A QEMU started to take over the VM's guest (vmm upgrade, upgrade.h) and what it came with. */
struct sup_handover {
	pid_t pid;          /* a child of the supervisor */
	int output_fd;      /* its stdout and stderr */
	int qmp_fd, console_fd, agent_fd; /* connections to its monitor, serial and agent sockets (agent: -1 when none) */
	struct plan *plan;  /* the plan it was started from (owned) */
};

/* Makes the QEMU of h the VM's current one in place of the one that handed the guest over:
 * the supervisor's QMP connection, serial console, agent and QMP proxy move to it (proxy
 * clients are disconnected), the guest's start time stays. The old QEMU is the caller's. */
void sup_take_qemu(struct sup *s, struct sup_handover *h);

#endif
