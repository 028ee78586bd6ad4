/* The moves of a guest out of its QEMU, as upgrade.c (into a new QEMU, and the migration steps
 * on the old QEMU both moves share) and save.c (into a file) see them: one struct upgrade per
 * move under way (sup->upgrade), and the steps save.c uses. Not for any other file. */
#ifndef VMM_UPGRADE_INT_H
#define VMM_UPGRADE_INT_H

#include <stdint.h>
#include <time.h>

#include "qmp/qmp.h"
#include "vmm/supervisor/plan-child.h"
#include "vmm/supervisor/sup.h"

/* The new QEMU's sockets (upgrade.c). */
#define UPGRADE_SOCKS 4

struct upgrade {
	struct sup *s;
	struct control_conn *conn; /* NULL once answered */
	char *save_to, *partial;   /* vmm save: the file, and its name until complete (NULL: an upgrade) */
	struct plan *plan;         /* the new QEMU's, until the VM runs on it */
	char *binary;              /* vmm upgrade --qemu's binary, NULL: the VM's */
	struct plan_child *resolving; /* resolves plan (probes binary) in a child, NULL once done */
	pid_t pid;                 /* the new QEMU until the supervisor takes it, 0: none */
	int output_fd, qmp_fd, con_fd, agent_fd, mig_fd;
	int file_fd, pipe_fd;      /* vmm save: the file, and the pipe QEMU writes into (copied into it) */
	struct event *copy;        /* ... readable */
	bool made[UPGRADE_SOCKS];            /* which new-* socket was bound */
	struct qmp_client *dst;    /* the new QEMU's proxy monitor, which drives its side */
	struct event *poll, *deadline, *reap;
	bool src_ignore, dst_ignore; /* the QEMU has x-ignore-shared */
	struct json_object *src_caps; /* the old QEMU's capabilities (query-migrate-capabilities) */
	bool dst_set;                /* the new QEMU's capabilities were set */
	bool ignore_shared, was_running, migrating, handed_over, finished;
	bool cancelled;            /* vmm save: a cancel was asked for (migrate_cancel sent) */
	pid_t keeper;              /* vmm save: the process holding the pipe's read end too (save-record.h), 0: none */
	bool keeper_child;         /* ... and it is our child (waitpid) */
	int64_t pipe_ino;          /* vmm save resumed (save-record.h): the recorded pipe's inode */
	pid_t record_pid;          /* ... the QEMU the record names, until QEMU was asked (0: not resumed) */
	bool record_streaming;     /* ... whether the record says QEMU streamed */
	bool no_splice;            /* vmm save: the file's file system cannot splice (read and write) */
	int64_t bandwidth;         /* vmm save: bytes/s the stream may take, 0: no cap */
	unsigned pending;          /* commands to the old QEMU whose reply has not come */
	int64_t total_ms, downtime_ms, setup_ms, transferred;
	struct timespec t0;
	struct json_object *reply; /* the answer, once the new QEMU took over */
	pid_t new_pid;             /* ... which QEMU that was */
	pid_t old_pid;             /* the old QEMU once replaced, until it has exited */
	bool old_child;            /* ... and it is our child (waitpid) */
	char old_version[32];
};

/* A move of the guest out of s's QEMU, under way from now on (s->upgrade). */
struct upgrade *move_new(struct sup *s);

/* Why the VM cannot move out of its QEMU as it is, or NULL. */
char *move_refusal(struct sup *s);

/* Frees u once it has answered, no reply of the old QEMU is due and the old QEMU is gone. */
void move_free_when_done(struct upgrade *u);

/* Milliseconds since the move started (t0). */
int64_t move_elapsed_ms(const struct upgrade *u);

/* Sends a command to the old QEMU (the supervisor's connection), its reply to fn with u. */
void move_send(struct upgrade *u, const char *cmd, struct json_object *args, qmp_reply_fn fn);

/* A reply of the old QEMU to step what came: true when the move goes on; false when the move
 * had ended (u freed once nothing else is due) or the step failed (the move fails with why). */
bool move_step_ok(struct upgrade *u, const struct qmp_result *r, const char *what);

/* A reply of the old QEMU that only matters when it failed (cont, migrate_cancel, quit). */
void move_quiet_cb(struct qmp_client *c, const struct qmp_result *r, void *arg);

/* The old QEMU's capabilities: the first step on it, which the others follow up to migrate. */
void move_caps_cb(struct qmp_client *c, const struct qmp_result *r, void *arg);

/* Every line of err, joined by "; ". */
char *move_joined(const struct verr *err);

/* Gives up: the old QEMU keeps (or takes back) the guest, nothing of the move is left, and the
 * request fails with why. */
void move_fail(struct upgrade *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The old QEMU took migrate: query-migrate until the migration ends. */
void move_watch(struct upgrade *u);

/* Copies the save's pipe into its file as QEMU writes (pipe_fd, file_fd set). */
void save_copy_start(struct upgrade *u);

/* The old QEMU wrote all of a save (save.c): the file is complete, the VM ends. */
void save_done(struct upgrade *u);

/* The save file has its name: the VM ends, saved (QEMU quits). */
void save_end(struct upgrade *u);

/* A save's migration runs: the record says so. */
void save_keep_stream(struct upgrade *u);

/* A save failed: its pipe's keeper ends (QEMU's writes then fail), and the record goes. */
void save_release(struct upgrade *u);

#endif
