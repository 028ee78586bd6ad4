/* The VM as its supervisor knows it: QEMU's run state (tracked from QMP events), the
 * current QEMU's pid, start time and version, the restarts so far and how the VM last
 * ended. This module owns the state file, state.json in the run directory: it alone
 * writes it (atomically, at each start) and alone reads it, for a supervisor that
 * reconnects (the start time), for orphan detection (the pid of a QEMU whose supervisor
 * died, never trusted: checked in /proc) and for `vmm attach` (the resolved profile). It
 * also decides whether a new supervisor may take a run directory (state_claim): a QEMU of
 * the VM found in /proc that the state file does not name means the directory was lost.
 * When the VM has ended, it leaves a record of how (ended.json, state_save_end), which
 * stays until the VM starts again. Its keys are those of the status
 * object (protocol.h), which is built here from the same facts. The supervisor's own
 * messages ("vmm: NAME: ...") are printed here too, since they name the VM. */
#ifndef VMM_STATE_H
#define VMM_STATE_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include <json-c/json.h>

#include "vmm/base/error.h"
#include "vmm/base/rundir.h"
#include "vmm/launch/plan.h"

/* How many of QEMU's last lines of output, and of the console's, an ended VM's record keeps. */
#define STATE_OUTPUT_LINES 10

/* The last STATE_OUTPUT_LINES non-empty lines put in (a ring; n counts every line put in). */
struct last_lines {
	char *line[STATE_OUTPUT_LINES];
	unsigned n;
};

struct vm_state {
	const struct plan *plan;
	const char *name;
	struct rundir *rd;     /* where the state file is written */
	pid_t pid;             /* the current QEMU, 0 when none */
	time_t started;        /* when the current QEMU started, 0 when none */
	char runstate[32];     /* QEMU's run state ("running", "paused", ...) */
	char version[32];      /* QEMU's version, from its QMP greeting */
	bool pinned;           /* the current QEMU's threads are pinned */
	bool stopping;         /* a stop or kill was asked for: no restart */
	bool restarting;       /* waiting out the back-off before a restart */
	unsigned restarts;
	int end;               /* the last vm_end, -1 while none */
	char *end_text;        /* what the supervisor said about that end, lines joined by '\n' */
	int wstatus;           /* how the last QEMU ended (waitpid), -1 when not known */
	struct last_lines output; /* the current QEMU's last lines of output */
};

/* Starts the state of VM p (not running, never ended) whose run directory is rd. */
void state_init(struct vm_state *st, const struct plan *p, struct rundir *rd);

/* Frees what the state holds. */
void state_free(struct vm_state *st);

/* Prints one status line (to the terminal, or vmm.log when detached). */
void say(const struct vm_state *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints every line of err as a status line. */
void say_err(const struct vm_state *st, const struct verr *err);

/* Records that QEMU pid was started now (its output so far is forgotten). */
void state_new_qemu(struct vm_state *st, pid_t pid);

/* Keeps a line of QEMU's output for the record of how it ended. */
void state_output_line(struct vm_state *st, const char *line);

/* Adds the current QEMU's last lines of output (oldest first) to out, one line each. */
void state_output_lines(const struct vm_state *st, struct verr *out);

/* Sets QEMU's run state. */
void state_set_runstate(struct vm_state *st, const char *runstate);

/* Records how the VM ended (a vm_end) and why, keeping every line of why. */
void state_set_end(struct vm_state *st, int end, const struct verr *why);

/* The name of a vm_end as used in JSON ("powered-off", ...). */
const char *vm_end_name(int end);

/* Rewrites state.json: pids, start time, QEMU version, resolved profile, and removes the
 * record of an earlier end. When it cannot, removes it (it would name an old QEMU) and
 * returns -1 with err. */
int state_save(const struct vm_state *st, struct verr *err);

/* Writes the record of how the VM ended (ended.json, left in the run directory until the
 * VM starts again): when, how, QEMU's exit, the last console lines and QEMU's last lines of
 * output; says why it failed. */
void state_save_end(const struct vm_state *st);

/* The record of how VM name ended, read from run directory dir (a new reference), or NULL
 * when there is none or a QEMU of the VM runs. */
struct json_object *state_ended(const char *dir, const char *name);

/* The VM's status as a JSON object (what `vmm status --json` prints). */
struct json_object *state_status(const struct vm_state *st, unsigned qmp_clients);

/* A QEMU of VM name in run directory dir that runs (checked in /proc, qemuproc.h): none,
 * one the state file there names (its supervisor died: attach reconnects), or one it does
 * not (the run directory was removed or replaced: nothing can reach it). */
enum qemu_found { QEMU_NONE, QEMU_ORPHAN, QEMU_LOST };

/* Finds a running QEMU of VM name in run directory dir, and which kind it is; *pid: its pid. */
enum qemu_found state_find_qemu(const char *dir, const char *name, pid_t *pid);

/* Reports a QEMU_ORPHAN or QEMU_LOST QEMU (pid) of VM name; returns -1. */
int state_qemu_error(enum qemu_found found, const char *name, const char *dir, pid_t pid, struct verr *err);

/* Takes the run directory dir of VM name for a new supervisor: its lock, no other supervisor
 * listening there, no QEMU of the VM running that the state file does not name. Returns 0
 * with *orphan the pid of the VM's QEMU that runs without a supervisor (0: none), or -1
 * with err (rd closed, nothing but the lock touched). */
int state_claim(struct rundir *rd, const char *dir, const char *name, pid_t *orphan, struct verr *err);

/* Refuses (-1 with err) to start a QEMU of the VM while one runs (before each launch). */
int state_check_no_qemu(const struct vm_state *st, struct verr *err);

/* When the state file in dir says its QEMU started; now when it does not say. */
time_t state_started(const char *dir);

/* The profile path and resolved profile (a new reference) that the state file in dir records. */
int state_profile(const char *dir, char **path, struct json_object **profile, struct verr *err);

#endif
