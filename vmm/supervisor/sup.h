/* The supervisor's state, shared by its two files: supervisor.c (the QEMU
 * lifecycle) and sup-control.c (control requests, status, state file). */
#ifndef VMM_SUP_H
#define VMM_SUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <event2/event.h>

#include "qmp/qmp.h"
#include "vmm/supervisor/control.h"
#include "vmm/supervisor/proxy.h"
#include "vmm/base/rundir.h"
#include "vmm/supervisor/supervisor.h"

/* Restarts allowed within RESTART_WINDOW seconds before giving up. */
#define RESTART_BURST 5
#define RESTART_WINDOW 60
/* Milliseconds for each QMP command the supervisor sends. */
#define COMMAND_TIMEOUT_MS 5000

/* The steps of a stop; each signal or timeout moves one step on. */
enum stop_step { STOP_NONE, STOP_POWERDOWN, STOP_QUIT, STOP_KILL };

struct sup {
	const struct plan *plan;
	const char *name;
	struct sup_options opt;
	struct event_base *base;
	struct rundir rd;
	int qmp_listen, ctl_listen;
	struct control *ctl;
	struct proxy *proxy;
	struct proxy_policy policy;
	struct event *signals[3], *sigchld, *step_timer, *start_timer, *linger_timer, *restart_timer;

	/* The current QEMU. */
	pid_t pid;
	bool child;          /* our child: waitpid tells how it ended; else only a pidfd tells that it did */
	int pidfd;
	struct event *pidfd_ev;
	bool reaped;
	int wstatus;
	struct qmp_client *qmp;
	bool qmp_closed, ready;
	enum stop_step stop;
	unsigned stop_timeout;  /* seconds the guest has to power off */
	bool stop_before_ready, start_timed_out, killed;
	time_t started;
	char runstate[32];      /* QEMU's run state, tracked from events */
	char reason[32];        /* the SHUTDOWN event's reason, "" when none came */
	char version[32];
	char last_output[512];  /* QEMU's last line of output */
	struct verr start_error; /* why vmm gave up on a start (pinning), empty when it did not */
	struct json_object *vcpus; /* query-cpus-fast, for pinning */
	bool pinned;
	size_t partial;         /* bytes of an unfinished line in last_output */
	struct bufferevent *console, *output;

	/* Across restarts. */
	bool quitting;   /* a stop or kill was asked for: no restart */
	bool restarting; /* waiting out the back-off before a restart */
	bool ever_ready;
	unsigned restarts;
	time_t recent[RESTART_BURST]; /* when the last restarts happened */
	int end;                      /* the last vm_end, -1 while none */
	char *end_text;               /* what was said about that end, lines joined by '\n' */
	struct control_conn **waiters; /* stop and kill requests, answered when the VM has ended */
	size_t n_waiters;
};

/* Prints one status line (to the terminal, or vmm.log when detached). */
void say(struct sup *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Moves a stop one step on: power button, then quit, then SIGKILL. */
void stop_step(struct sup *s);

/* True when the profile pins vCPUs, iothreads or emulator threads. */
bool sup_wants_pinning(const struct sup *s);

/* Pins QEMU's threads as the profile says, then calls sup_pinned() (or kills QEMU). */
void sup_pin(struct sup *s);

/* Pinning is done: go on with the start (supervisor.c). */
void sup_pinned(struct sup *s);

/* Binds the profile's passthrough devices to vfio-pci (journaled under the VM's name). */
int sup_bind_passthrough(struct sup *s, struct verr *err);

/* Gives the VM's passthrough devices back to their host drivers; says what failed. */
void sup_restore_passthrough(struct sup *s);

/* Handles one control request (the control_request_fn of ctl.sock). */
void sup_request(struct control_conn *conn, const char *request, struct json_object *args, void *arg);

/* Answers every waiting stop and kill with how the VM ended. */
void sup_answer_waiters(struct sup *s);

/* Rewrites state.json: pids, start time, QEMU version, resolved profile. */
void sup_write_state(struct sup *s);

/* The VM's status as a JSON object (what `vmm status --json` prints). */
struct json_object *sup_status(struct sup *s);

/* The name of a vm_end as used in JSON ("powered-off", ...). */
const char *vm_end_name(int end);

#endif
