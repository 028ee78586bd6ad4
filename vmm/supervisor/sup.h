/* The supervisor's data, shared by the three files that act on one VM: supervisor.c
 * (the event loop: launch, reconnect, QMP, output), lifecycle.c (stop steps,
 * verdicts, restarts) and sup-control.c (the requests on ctl.sock). This header holds
 * data only: each of those files declares its functions in its own header, and calls
 * run one way: supervisor.c calls sup-control.c and lifecycle.c, sup-control.c calls
 * lifecycle.c, and lifecycle.c calls none of them (state.c holds the VM's state). */
#ifndef VMM_SUP_H
#define VMM_SUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <event2/event.h>

#include "qmp/qmp.h"
#include "vmm/base/rundir.h"
#include "vmm/supervisor/agent.h"
#include "vmm/supervisor/balloon.h"
#include "vmm/supervisor/console.h"
#include "vmm/supervisor/control.h"
#include "vmm/supervisor/hotplug.h"
#include "vmm/supervisor/migrate.h"
#include "vmm/supervisor/migrate-storage.h"
#include "vmm/supervisor/proxy.h"
#include "vmm/supervisor/qemu-output.h"
#include "vmm/supervisor/state.h"
#include "vmm/supervisor/supervisor.h"
#include "vmm/supervisor/swtpm.h"
#include "vmm/supervisor/upgrade.h"

/* Restarts allowed within RESTART_WINDOW seconds before giving up. */
#define RESTART_BURST 5
#define RESTART_WINDOW 60
/* Seconds QEMU has to answer QMP after exec (or after a reconnect). */
#define START_TIMEOUT 30

/* The steps of a stop; each signal or timeout moves one step on. */
enum stop_step { STOP_NONE, STOP_POWERDOWN, STOP_AGENT, STOP_QUIT, STOP_KILL };

struct sup {
	const struct plan *plan;
	struct sup_options opt;
	struct event_base *base;
	struct rundir rd;
	struct vm_state vm;    /* what status shows and state.json records */
	int qmp_listen, ctl_listen;
	struct control *ctl;
	struct console *console; /* the serial console, across QEMU restarts */
	struct agent *agent;     /* the guest agent, across QEMU restarts */
	struct balloon *balloon; /* the memory balloon, across QEMU restarts */
	struct proxy *proxy;          /* serves qmp.sock over proxy_qmp (sup-proxy.h) */
	struct qmp_client *proxy_qmp; /* the proxy's own monitor connection, NULL when none */
	struct event *proxy_timer;    /* connects proxy_qmp again */
	struct proxy_policy policy;
	struct hotplug *hotplug; /* the devices hot-added to the current QEMU */
	struct swtpm *swtpm;     /* the TPM of the current QEMU (profile key tpm) */
	int ram_fd;              /* the guest RAM's memfd (build_shared_ram), -1 when none */
	struct upgrade *upgrade; /* an upgrade under way (upgrade.h), or NULL */
	struct plan *own_plan;   /* the plan an upgrade moved the VM to (s->plan then), or NULL */
	char *saved_to;          /* the file vmm save saved the VM into (it ends, saved), or NULL */
	struct feed *feed;       /* feeds a save file to the first QEMU (vmm restore), or NULL */
	struct event *signals[3], *sigchld, *step_timer, *start_timer, *linger_timer, *restart_timer;

	/* The current QEMU; its pid is vm.pid. */
	bool child;          /* our child: waitpid tells how it ended; else only a pidfd tells that it did */
	int pidfd;
	struct event *pidfd_ev;
	bool reaped;
	int wstatus;
	struct qmp_client *qmp; /* NULL once the connection is gone, even while QEMU runs: check before use */
	bool qmp_closed, ready;
	enum stop_step stop;
	unsigned stop_timeout;  /* seconds the guest has to power off */
	bool stop_before_ready, start_timed_out, killed;
	bool terminated;        /* a stop sent SIGTERM, QMP being gone */
	char reason[32];        /* the SHUTDOWN event's reason, "" when none came */
	struct verr start_error; /* why vmm gave up on a start (pinning), empty when it did not */
	struct qemu_output out; /* QEMU's own stdout/stderr */

	/* Across restarts. */
	bool ever_ready;
	bool gave_up;           /* a reconnect was abandoned: that QEMU (not ours) runs on untouched */
	time_t recent[RESTART_BURST]; /* when the last restarts happened */
	struct control_conn **waiters; /* stop and kill requests, answered when the VM has ended */
	size_t n_waiters;

	/* Migration (sup-migrate.c, incoming.c). */
	struct migration *migration;    /* the outgoing migration under way, NULL when none */
	struct control_conn *migrate_conn; /* the migrate request, answered when it ends */
	struct json_object *migrate_last;  /* the last migration's final reading, NULL when none */
	struct storage_mirror *storage;    /* the disks mirrored for it (--copy-storage), NULL when none */
	struct json_object *migrate_args;  /* its request's arguments, while the disks are mirrored first */
	char *migrated_to;      /* the VM moved there: its QEMU here quits, the verdict says so */
	bool incoming;          /* waiting for an incoming migration: its failure ends the VM */
	void (*incoming_then)(struct sup *s); /* what follows once QEMU listens */
	int incoming_exports;   /* disks exported over NBD still to be confirmed, -1 once one failed */
	struct { dev_t dev; ino_t ino; } incoming_socks[2]; /* unix: PATH and PATH.nbd as QEMU made them */
};

/* Arms a one-shot timer for ms milliseconds. */
static inline void arm_ms(struct event *ev, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(ev, &tv);
}

#endif
