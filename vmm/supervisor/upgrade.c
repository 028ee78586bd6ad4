#include "vmm/supervisor/upgrade.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <linux/memfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmm/base/util.h"
#include "vmm/launch/spawn.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/sup-grants.h"
#include "vmm/supervisor/sup-proxy.h"
#include "vmm/supervisor/sup.h"
#include "vmm/supervisor/upgrade-int.h"

/* The usual names of QEMU's sockets and those the new QEMU has until it takes over. */
static const char *const socks[][2] = { { "monitor.sock", "new-monitor.sock" },
					{ SUP_PROXY_MONITOR, "new-" SUP_PROXY_MONITOR },
					{ CONSOLE_SERIAL_SOCK, "new-" CONSOLE_SERIAL_SOCK },
					{ AGENT_SOCK, "new-" AGENT_SOCK } };
enum { SOCK_MONITOR, SOCK_PROXY, SOCK_CONSOLE, SOCK_AGENT, N_SOCKS };
_Static_assert(N_SOCKS == UPGRADE_SOCKS, "struct upgrade has one flag for each");

/* The URI of the stream for the new QEMU (LAUNCH_MIGRATION_FD). */
#define MIGRATION_URI "fd:8"
_Static_assert(LAUNCH_MIGRATION_FD == 8, "MIGRATION_URI names it");
/* The name the old QEMU knows its end of the stream (or the save file) by (getfd). */
#define MIGRATION_FDNAME "vmm-migration"
/* The name of the guest RAM's memfd (/proc/PID/fd shows "/memfd:NAME (deleted)"). */
#define RAM_MEMFD_NAME "vmm-guest-ram"
/* Milliseconds between two looks at the migration's progress. */
#define POLL_MS 5
/* No bandwidth cap to speak of (bytes/s; QEMU's default, 128 MiB/s, is what makes copying
 * RAM slow), and the downtime vmm accepts. */
#define UPGRADE_MAX_BANDWIDTH (100ll << 30)
#define UPGRADE_DOWNTIME_LIMIT_MS 300

/* The new QEMU ended after it took over, before the supervisor was connected to it. */
static void answer_lost(struct upgrade *u)
{
	json_object_put(steal_ptr(u->reply));
	control_fail(steal_ptr(u->conn), "upgrade failed: the new QEMU pid %d ended right after it took over the guest "
		     "(see vmm status)", u->new_pid);
}

/* Frees u once it has answered, no reply of the old QEMU is due and the old QEMU is gone. */
void move_free_when_done(struct upgrade *u)
{
	if (!u->finished || u->conn || u->pending || u->old_pid)
		return;
	if (u->s->upgrade == u)
		u->s->upgrade = NULL;
	free(u->save_to);
	free(u->partial);
	free(u->binary);
	json_object_put(u->src_caps);
	event_free(u->poll);
	event_free(u->deadline);
	event_free(u->reap);
	free(u);
}

/* Milliseconds since the new QEMU started. */
int64_t move_elapsed_ms(const struct upgrade *u)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - u->t0.tv_sec) * 1000 + (now.tv_nsec - u->t0.tv_nsec) / 1000000;
}

/* The last non-empty line the new QEMU printed so far (it ended): a failure's reason. */
static void last_output(struct upgrade *u, char *buf, size_t size)
{
	char out[8192];
	ssize_t n;
	char *end, *start;

	buf[0] = '\0';
	if (u->output_fd < 0)
		return;
	fcntl(u->output_fd, F_SETFL, O_NONBLOCK);
	n = read(u->output_fd, out, sizeof(out) - 1);
	if (n <= 0)
		return;
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	end = out + n;
	start = memrchr(out, '\n', (size_t)(end - out));
	start = (char *)without_timestamp(start ? start + 1 : out);
	n = end - start < (ssize_t)size ? end - start : (ssize_t)size - 1;
	memcpy(buf, start, (size_t)n);
	buf[n] = '\0';
}

/* Kills the new QEMU and removes what was made for it. */
static void discard_new(struct upgrade *u)
{
	struct sup *s = u->s;
	int *fds[] = { &u->output_fd, &u->qmp_fd, &u->con_fd, &u->agent_fd, &u->mig_fd, &u->file_fd, &u->pipe_fd };

	plan_child_free(steal_ptr(u->resolving));
	qmp_client_free(steal_ptr(u->dst));
	if (u->copy)
		event_free(steal_ptr(u->copy));
	if (u->pid > 0) {
		kill(u->pid, SIGKILL);
		while (waitpid(u->pid, NULL, 0) < 0 && errno == EINTR)
			;
		u->pid = 0;
	}
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] >= 0) {
			close(*fds[i]);
			*fds[i] = -1;
		}
	for (size_t i = 0; i < N_SOCKS; i++)
		if (u->made[i])
			rundir_unlink(&s->rd, socks[i][1]);
	if (u->partial)
		unlink(u->partial);
	if (u->plan) {
		plan_free(u->plan);
		free(steal_ptr(u->plan));
	}
}

/* A reply of the old QEMU that only matters when it failed (cont, migrate_cancel, quit). */
void move_quiet_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct upgrade *u = arg;

	(void)c;
	u->pending--;
	if (r->failure != QMP_OK && r->failure != QMP_ERR_CLOSED)
		say(&u->s->vm, "the old QEMU refused a command (cont, migrate_cancel or quit): %s", r->desc);
	move_free_when_done(u);
}

/* Sends a command to the old QEMU (the supervisor's connection), reply to fn with u. */
void move_send(struct upgrade *u, const char *cmd, struct json_object *args, qmp_reply_fn fn)
{
	if (!u->s->qmp) {
		json_object_put(args);
		return;
	}
	u->pending++;
	qmp_send(u->s->qmp, cmd, args, CTL_QMP_TIMEOUT_MS, 0, fn, u);
}

/* Every line of err, joined by "; ". */
char *move_joined(const struct verr *err)
{
	char *out = xstrdup("");

	for (size_t i = 0; i < err->n; i++) {
		char *more = xasprintf("%s%s%s", out, i ? "; " : "", err->lines[i]);
		free(out);
		out = more;
	}
	return out;
}

/* Gives up: the old QEMU keeps (or takes back) the guest, nothing of the new one is left,
 * and the request fails with why. */
void move_fail(struct upgrade *u, const char *fmt, ...)
{
	struct sup *s = u->s;
	_cleanup_free_ char *why = NULL;
	char out[512];
	va_list ap;

	if (u->finished)
		return;
	u->finished = true;
	va_start(ap, fmt);
	why = xvasprintf(fmt, ap);
	va_end(ap);
	if (u->handed_over && u->was_running)
		move_send(u, "cont", NULL, move_quiet_cb);
	else if (u->migrating)
		move_send(u, "migrate_cancel", NULL, move_quiet_cb);
	if (u->pid > 0)
		kill(u->pid, SIGKILL);
	if (u->pid > 0)
		while (waitpid(u->pid, NULL, 0) < 0 && errno == EINTR)
			;
	u->pid = 0;
	last_output(u, out, sizeof(out));
	if (u->save_to)
		save_release(u);
	discard_new(u);
	say(&s->vm, "%s failed: %s%s%s", u->save_to ? "save" : "upgrade", why, out[0] ? "; the new QEMU said: " : "",
	    out);
	/* The old QEMU's QMP connection closed: it ended (its end is told as any QEMU's). */
	if (u->conn)
		control_fail(steal_ptr(u->conn), "%s failed: %s%s%s; QEMU pid %d %s", u->save_to ? "save" : "upgrade", why,
			     out[0] ? "; the new QEMU said: " : "", out, s->vm.pid,
			     !s->qmp || qmp_state(s->qmp) == QMP_CLOSED ? "is gone, and the guest with it"
									 : "runs the guest on");
	move_free_when_done(u);
}

/* Whether a reply of query-migrate-capabilities lists capability name. */
static bool has_capability(struct json_object *list, const char *name)
{
	struct json_object *n;

	for (size_t i = 0; json_object_is_type(list, json_type_array) && i < json_object_array_length(list); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(list, i), "capability", &n) &&
		    !strcmp(json_object_get_string(n), name))
			return true;
	return false;
}

/* Adds capability name in state on to migrate-set-capabilities' list. */
static void put_capability(struct json_object *list, const char *name, bool on)
{
	struct json_object *cap = json_object_new_object();

	json_object_object_add(cap, "capability", json_object_new_string(name));
	json_object_object_add(cap, "state", json_object_new_boolean(on));
	json_object_array_add(list, cap);
}

/* migrate-set-capabilities' argument for the new QEMU: x-ignore-shared as decided. */
static struct json_object *capabilities(const struct upgrade *u)
{
	struct json_object *args = json_object_new_object(), *list = json_object_new_array();

	put_capability(list, "x-ignore-shared", u->ignore_shared);
	json_object_object_add(args, "capabilities", list);
	return args;
}

/* ... and for the old QEMU, which may keep what a migration turned on (vmm migrate's multifd,
 * post-copy, a pause before the switch-over: a VM that came by migration, or one whose
 * migration failed): those off, which the new QEMU or the file would not follow. */
static struct json_object *src_capabilities(const struct upgrade *u)
{
	static const char *const off[] = { "multifd", "postcopy-ram", "pause-before-switchover", "auto-converge" };
	struct json_object *args = json_object_new_object(), *list = json_object_new_array();

	if (u->src_ignore)
		put_capability(list, "x-ignore-shared", u->ignore_shared);
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		if (has_capability(u->src_caps, off[i]))
			put_capability(list, off[i], false);
	json_object_object_add(args, "capabilities", list);
	return args;
}

static void poll_cb(evutil_socket_t fd, short what, void *arg);

/* Reads a number member of o (0 when absent). */
static int64_t member_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

/* The old QEMU's query-migrate: completed moves on to the new QEMU's run state. */
static void query_migrate_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct upgrade *u = arg;
	struct json_object *status, *desc, *ram;
	const char *st;

	(void)c;
	if (!move_step_ok(u, r, "query-migrate"))
		return;
	st = json_object_object_get_ex(r->ret, "status", &status) ? json_object_get_string(status) : "";
	if (u->cancelled && !strcmp(st, "cancelled")) {
		move_fail(u, "cancelled");
		return;
	}
	if (!strcmp(st, "failed") || !strcmp(st, "cancelled")) {
		move_fail(u, "the migration %s: %s", st,
		     json_object_object_get_ex(r->ret, "error-desc", &desc) ? json_object_get_string(desc) : "no reason given");
		return;
	}
	if (!strcmp(st, "completed")) {
		u->handed_over = true;
		u->downtime_ms = member_int(r->ret, "downtime");
		u->setup_ms = member_int(r->ret, "setup-time");
		if (json_object_object_get_ex(r->ret, "ram", &ram))
			u->transferred = member_int(ram, "transferred");
		if (u->save_to) {
			save_done(u);
			return;
		}
	}
	arm_ms(u->poll, POLL_MS);
}

static void switch_over(struct upgrade *u);
static void answer_when_ready(struct upgrade *u);
static void src_caps_set_cb(struct qmp_client *c, const struct qmp_result *r, void *arg);

/* The new QEMU's run state: once it left "inmigrate" it runs the guest (or holds it paused). */
static void query_status_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct upgrade *u = arg;
	struct json_object *status;

	(void)c;
	if (u->finished)
		return;
	if (r->failure != QMP_OK) {
		move_fail(u, "query-status on the new QEMU: %s", r->desc);
		return;
	}
	if (json_object_object_get_ex(r->ret, "status", &status) && strcmp(json_object_get_string(status), "inmigrate"))
		switch_over(u);
	else
		arm_ms(u->poll, POLL_MS);
}

/* Time to look again: at the old QEMU until it handed over, then at the new one. */
static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upgrade *u = arg;

	(void)fd;
	(void)what;
	if (u->finished) {
		if (u->conn)
			answer_when_ready(u);
		return;
	}
	if (!u->handed_over)
		move_send(u, "query-migrate", NULL, query_migrate_cb);
	else
		qmp_send(u->dst, "query-status", NULL, CTL_QMP_TIMEOUT_MS, 0, query_status_cb, u);
}

/* A reply of the old QEMU to step what: true when the move goes on (upgrade-int.h). */
bool move_step_ok(struct upgrade *u, const struct qmp_result *r, const char *what)
{
	u->pending--;
	if (u->finished) {
		move_free_when_done(u);
		return false;
	}
	if (r->failure != QMP_OK) {
		move_fail(u, "%s on the old QEMU: %s", what, r->desc);
		return false;
	}
	return true;
}

/* The old QEMU took migrate: watch it. */
static void migrate_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct upgrade *u = arg;

	(void)c;
	if (!move_step_ok(u, r, "migrate"))
		return;
	move_watch(u);
	if (u->save_to)
		save_keep_stream(u);
}

void move_watch(struct upgrade *u)
{
	u->migrating = true;
	arm_ms(u->poll, POLL_MS);
}

/* The old QEMU has its end of the stream: migrate into the new QEMU. */
static void getfd_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct upgrade *u = arg;
	struct json_object *args;

	(void)c;
	if (!move_step_ok(u, r, "getfd"))
		return;
	close(steal_fd(u->mig_fd));
	args = json_object_new_object();
	json_object_object_add(args, "uri", json_object_new_string("fd:" MIGRATION_FDNAME));
	move_send(u, "migrate", args, migrate_cb);
}

/* The old QEMU's parameters are set: hand it its end of the stream. */
static void params_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct upgrade *u = arg;
	struct json_object *cmd, *args;

	(void)c;
	if (!move_step_ok(u, r, "migrate-set-parameters"))
		return;
	if (!u->s->qmp) {
		move_fail(u, "the old QEMU's monitor is gone");
		return;
	}
	cmd = json_object_new_object();
	args = json_object_new_object();
	json_object_object_add(args, "fdname", json_object_new_string(MIGRATION_FDNAME));
	json_object_object_add(cmd, "execute", json_object_new_string("getfd"));
	json_object_object_add(cmd, "arguments", args);
	u->pending++;
	if (qmp_send_fds(u->s->qmp, cmd, &u->mig_fd, 1, CTL_QMP_TIMEOUT_MS, getfd_cb, u) < 0) {
		u->pending--;
		move_fail(u, "cannot pass the migration socket to the old QEMU (its monitor is busy)");
	}
}

/* The old QEMU's capabilities are set: no bandwidth cap, vmm's downtime limit. */
static void src_caps_set_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct upgrade *u = arg;
	struct json_object *args;

	(void)c;
	if (!move_step_ok(u, r, "migrate-set-capabilities"))
		return;
	args = json_object_new_object();
	json_object_object_add(args, "max-bandwidth",
			       json_object_new_int64(u->bandwidth ? u->bandwidth : UPGRADE_MAX_BANDWIDTH));
	json_object_object_add(args, "downtime-limit", json_object_new_int64(UPGRADE_DOWNTIME_LIMIT_MS));
	move_send(u, "migrate-set-parameters", args, params_cb);
}

/* The old QEMU's capabilities (src_capabilities), then its parameters. */
static void src_setup(struct upgrade *u)
{
	move_send(u, "migrate-set-capabilities", src_capabilities(u), src_caps_set_cb);
}

/* The new QEMU waits for the stream: set up the old one. */
static void incoming_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct upgrade *u = arg;

	(void)c;
	if (u->finished)
		return;
	if (r->failure != QMP_OK) {
		move_fail(u, "migrate-incoming on the new QEMU: %s", r->desc);
		return;
	}
	src_setup(u);
}

/* The new QEMU waits for its capabilities (when it has x-ignore-shared), then listens on its end
 * of the stream. */
static void start_incoming(struct upgrade *u);

/* The new QEMU's capabilities are set: it listens on its end of the stream. */
static void dst_caps_set_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct upgrade *u = arg;

	(void)c;
	if (u->finished)
		return;
	if (r->failure != QMP_OK) {
		move_fail(u, "migrate-set-capabilities on the new QEMU: %s", r->desc);
		return;
	}
	start_incoming(u);
}

static void start_incoming(struct upgrade *u)
{
	struct json_object *args;

	if (u->dst_ignore && !u->dst_set) {
		u->dst_set = true;
		qmp_send(u->dst, "migrate-set-capabilities", capabilities(u), CTL_QMP_TIMEOUT_MS, 0, dst_caps_set_cb, u);
		return;
	}
	args = json_object_new_object();
	json_object_object_add(args, "uri", json_object_new_string(MIGRATION_URI));
	qmp_send(u->dst, "migrate-incoming", args, CTL_QMP_TIMEOUT_MS, 0, incoming_cb, u);
}

/* The new QEMU's capabilities: RAM stays where it is when the guest RAM is shared and both
 * QEMUs can leave it (x-ignore-shared, decided from what each lists, never its version). */
static void dst_caps_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct upgrade *u = arg;

	(void)c;
	if (u->finished)
		return;
	if (r->failure != QMP_OK) {
		move_fail(u, "query-migrate-capabilities on the new QEMU: %s", r->desc);
		return;
	}
	u->dst_ignore = has_capability(r->ret, "x-ignore-shared");
	u->ignore_shared = u->s->ram_fd >= 0 && u->src_ignore && u->dst_ignore;
	if (u->s->ram_fd >= 0 && !u->ignore_shared)
		say(&u->s->vm, "upgrade: the %s QEMU lacks x-ignore-shared: the guest RAM is copied",
		    u->src_ignore ? "new" : "old");
	start_incoming(u);
}

/* The old QEMU's capabilities, then the new one's. */
void move_caps_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct upgrade *u = arg;

	(void)c;
	if (!move_step_ok(u, r, "query-migrate-capabilities"))
		return;
	u->src_ignore = has_capability(r->ret, "x-ignore-shared");
	u->src_caps = json_object_get(r->ret);
	if (u->save_to) /* the RAM goes into the file: x-ignore-shared off, an upgrade may have set it */
		src_setup(u);
	else
		qmp_send(u->dst, "query-migrate-capabilities", NULL, CTL_QMP_TIMEOUT_MS, 0, dst_caps_cb, u);
}

/* The new QEMU answers on its monitor: compare capabilities. */
static void dst_ready_cb(struct qmp_client *c, void *arg)
{
	struct upgrade *u = arg;

	(void)c;
	if (!u->finished)
		move_send(u, "query-migrate-capabilities", NULL, move_caps_cb);
}

/* The new QEMU's monitor closed before it took over: it died. */
static void dst_closed_cb(struct qmp_client *c, enum qmp_failure why, const char *desc, void *arg)
{
	struct upgrade *u = arg;
	int status = 0;

	(void)c;
	(void)why;
	(void)desc;
	if (u->pid > 0 && waitpid(u->pid, &status, 0) == u->pid) {
		u->pid = 0;
		if (WIFSIGNALED(status))
			move_fail(u, "the new QEMU was killed by signal %d", WTERMSIG(status));
		else
			move_fail(u, "the new QEMU exited with status %d", WEXITSTATUS(status));
		return;
	}
	move_fail(u, "the new QEMU closed its monitor");
}

/* The new QEMU did not run the guest in time. */
static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upgrade *u = arg;

	(void)fd;
	(void)what;
	move_fail(u, "%s within %d s", u->save_to ? "QEMU did not save the VM" : "the new QEMU did not run the guest",
	     UPGRADE_TIMEOUT_MS / 1000);
}

/* The old QEMU was killed: reap it (or, not our child, see it gone). */
static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct upgrade *u = arg;
	pid_t r = 0;

	(void)fd;
	(void)what;
	if (u->old_child)
		r = waitpid(u->old_pid, NULL, WNOHANG);
	else if (kill(u->old_pid, 0) < 0)
		r = u->old_pid;
	if (r == u->old_pid || (r < 0 && errno == ECHILD)) {
		u->old_pid = 0;
		move_free_when_done(u);
		return;
	}
	arm_ms(u->reap, POLL_MS);
}

/* The new QEMU runs the guest: its sockets take the usual names, the supervisor takes it over,
 * the old QEMU goes, and the request is answered. */
static void switch_over(struct upgrade *u)
{
	struct sup *s = u->s;
	struct json_object *o = json_object_new_object(), *warnings;
	struct sup_handover h;

	for (size_t i = 0; i < N_SOCKS; i++)
		if (u->made[i] && renameat(s->rd.dir_fd, socks[i][1], s->rd.dir_fd, socks[i][0]) == 0) {
			u->made[i] = false;
			rundir_adopt(&s->rd, socks[i][0]);
		}
	u->total_ms = move_elapsed_ms(u);
	u->finished = true;
	qmp_client_free(steal_ptr(u->dst));
	u->old_pid = s->vm.pid;
	u->old_child = s->child;
	snprintf(u->old_version, sizeof(u->old_version), "%s", s->vm.version);
	h = (struct sup_handover){ .pid = u->pid, .output_fd = steal_fd(u->output_fd), .qmp_fd = steal_fd(u->qmp_fd),
				   .console_fd = steal_fd(u->con_fd), .agent_fd = steal_fd(u->agent_fd),
				   .plan = steal_ptr(u->plan) };
	u->pid = 0;
	sup_take_qemu(s, &h);
	/* SIGKILL, not quit: a QEMU that exits unlinks the paths its listening sockets were bound
	 * to, which are now the new QEMU's; it has handed everything over (its disks flushed). */
	kill(u->old_pid, SIGKILL);
	arm_ms(u->reap, POLL_MS);
	json_object_object_add(o, UPGRADE_KEY_OLD_PID, json_object_new_int(u->old_pid));
	json_object_object_add(o, UPGRADE_KEY_NEW_PID, json_object_new_int(s->vm.pid));
	json_object_object_add(o, UPGRADE_KEY_OLD_VERSION, json_object_new_string(u->old_version));
	json_object_object_add(o, UPGRADE_KEY_QEMU, json_object_new_string(s->plan->qemu_path));
	json_object_object_add(o, UPGRADE_KEY_TOTAL_MS, json_object_new_int64(u->total_ms));
	json_object_object_add(o, UPGRADE_KEY_DOWNTIME_MS, json_object_new_int64(u->downtime_ms));
	json_object_object_add(o, UPGRADE_KEY_SETUP_MS, json_object_new_int64(u->setup_ms));
	json_object_object_add(o, UPGRADE_KEY_TRANSFERRED, json_object_new_int64(u->transferred));
	json_object_object_add(o, UPGRADE_KEY_SHARED_RAM, json_object_new_boolean(u->ignore_shared));
	warnings = json_object_new_array();
	for (size_t i = 0; i < s->plan->warnings.n; i++) {
		say(&s->vm, "warning: %s", s->plan->warnings.v[i]);
		json_object_array_add(warnings, json_object_new_string(s->plan->warnings.v[i]));
	}
	json_object_object_add(o, UPGRADE_KEY_WARNINGS, warnings);
	say(&s->vm, "upgraded: QEMU pid %d replaced pid %d in %lld ms (downtime %lld ms, %lld bytes sent%s)",
	    s->vm.pid, u->old_pid, (long long)u->total_ms, (long long)u->downtime_ms, (long long)u->transferred,
	    u->ignore_shared ? ", RAM shared" : "");
	u->reply = o;
	u->new_pid = s->vm.pid;
	arm_ms(u->poll, POLL_MS);
}

/* After the switch: answers once the supervisor is connected to the new QEMU (the status and
 * requests that follow see it) and the old QEMU is gone, or says that the new one ended first. */
static void answer_when_ready(struct upgrade *u)
{
	struct sup *s = u->s;

	if (s->ready && s->vm.pid == u->new_pid && !u->old_pid) {
		control_reply(steal_ptr(u->conn), steal_ptr(u->reply));
		move_free_when_done(u);
	} else if (s->vm.pid != u->new_pid || s->reaped)
		answer_lost(u);
	else
		arm_ms(u->poll, POLL_MS);
}

/* Why the VM cannot move to a new QEMU as it is, or NULL; self: the move asking (its own
 * upgrade is not a reason), NULL: a new one. */
static char *refusal(struct sup *s, const struct upgrade *self)
{
	struct json_object *devs;
	_cleanup_free_ char *ids = NULL;
	struct json_object *hot, *id;

	if (!s->ready || !s->qmp)
		return xasprintf("QEMU is not running (state %s)", s->vm.runstate);
	if (s->vm.stopping || s->stop != STOP_NONE)
		return xstrdup("the VM is stopping");
	if (s->upgrade && s->upgrade != self)
		return xstrdup(s->upgrade->save_to ? "a save is under way"
						   : "an upgrade is under way (or its old QEMU is still exiting)");
	if (s->incoming)
		return xstrdup("the VM waits for an incoming migration");
	if (s->migration || s->migrate_conn || s->migrated_to)
		return xstrdup("a migration to another host is under way (vmm migrate NAME --cancel cancels it)");
	if (s->plan->config.tpm)
		return xstrdup("the VM has a TPM: its swtpm serves one QEMU, and its state does not move with the guest");
	if (s->plan->config.n_passthrough)
		return xasprintf("the VM has passthrough devices (%s): a host device cannot be in two QEMUs at once",
				 s->plan->config.passthrough[0].host);
	devs = hotplug_devices(s->hotplug);
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		struct json_object *d = json_object_array_get_idx(devs, i);
		if (!json_object_object_get_ex(d, DEV_KEY_HOTPLUGGED, &hot) || !json_object_get_boolean(hot) ||
		    !json_object_object_get_ex(d, DEV_KEY_ID, &id))
			continue;
		char *more = xasprintf("%s%s%s", ids ? ids : "", ids ? ", " : "", json_object_get_string(id));
		free(ids);
		ids = more;
	}
	json_object_put(devs);
	if (ids)
		return xasprintf("the VM has hot-added devices (%s): they exist only in its current QEMU; remove them "
				 "(vmm remove) or restart the VM first", ids);
	return NULL;
}

char *move_refusal(struct sup *s)
{
	return refusal(s, NULL);
}

/* The plan of the new QEMU: the VM's resolved profile, with binary as its QEMU when given. */
static struct plan *new_plan(struct sup *s, const char *binary, struct verr *err)
{
	struct json_object *profile = NULL, *q;
	struct plan *p = xzalloc(sizeof(*p));

	if (json_object_deep_copy(s->plan->profile, &profile, NULL) < 0)
		abort();
	if (binary) {
		if (!json_object_object_get_ex(profile, "qemu", &q)) {
			q = json_object_new_object();
			json_object_object_add(profile, "qemu", q);
		}
		json_object_object_add(q, "binary", json_object_new_string(binary));
	}
	if (plan_from_json(s->plan->profile_path, profile, s->plan->origins, NULL, false, p, err) != 0) {
		free(p);
		return NULL;
	}
	return p;
}

/* Binds and connects the new QEMU's sockets, makes the stream's socket pair and starts it. */
static int start_new(struct upgrade *u, struct verr *err)
{
	static const struct qmp_handlers handlers = { .ready = dst_ready_cb, .closed = dst_closed_cb };
	struct sup *s = u->s;
	_cleanup_close_ int mon = -1, proxy = -1, con = -1, agent = -1, dst_fd = -1, mig_new = -1;
	int pair[2], fds[6];
	struct spawn_creds creds;
	struct spawned child;
	struct strv argv = { 0 };
	int r;

	/* The new QEMU runs as its user too: it may be another binary, in another directory. */
	if (qemu_user_grant_plan(u->plan, &s->rd, err) < 0)
		return -1;
	if ((mon = rundir_listen(&s->rd, socks[SOCK_MONITOR][1], err)) < 0)
		return -1;
	u->made[SOCK_MONITOR] = true;
	if ((proxy = rundir_listen(&s->rd, socks[SOCK_PROXY][1], err)) < 0)
		return -1;
	u->made[SOCK_PROXY] = true;
	if ((con = rundir_listen(&s->rd, socks[SOCK_CONSOLE][1], err)) < 0)
		return -1;
	u->made[SOCK_CONSOLE] = true;
	if (s->plan->config.agent) {
		if ((agent = rundir_listen(&s->rd, socks[SOCK_AGENT][1], err)) < 0)
			return -1;
		u->made[SOCK_AGENT] = true;
		if ((u->agent_fd = rundir_connect(&s->rd, socks[SOCK_AGENT][1], err)) < 0)
			return -1;
	}
	/* Connected before QEMU runs: the connections wait in the backlog. */
	if ((u->qmp_fd = rundir_connect(&s->rd, socks[SOCK_MONITOR][1], err)) < 0 ||
	    (u->con_fd = rundir_connect(&s->rd, socks[SOCK_CONSOLE][1], err)) < 0 ||
	    (dst_fd = rundir_connect(&s->rd, socks[SOCK_PROXY][1], err)) < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
		return verr_set(err, errno, "cannot create the migration socket pair");
	u->mig_fd = pair[0];
	mig_new = pair[1];
	fds[LAUNCH_MONITOR_FD - 3] = mon;
	fds[LAUNCH_CONSOLE_FD - 3] = con;
	fds[LAUNCH_PROXY_MONITOR_FD - 3] = proxy;
	fds[LAUNCH_AGENT_FD - 3] = agent;
	fds[LAUNCH_RAM_FD - 3] = s->ram_fd;
	fds[LAUNCH_MIGRATION_FD - 3] = mig_new;
	/* The guest runs on as it ran, once moved: no -S (the supervisor pins the threads just after). */
	for (size_t i = 0; u->plan->argv.v[i]; i++)
		if (strcmp(u->plan->argv.v[i], "-S"))
			strv_push(&argv, u->plan->argv.v[i]);
	strv_push(&argv, "-incoming");
	strv_push(&argv, "defer");
	clock_gettime(CLOCK_MONOTONIC, &u->t0);
	r = spawn_as(qemu_user_creds(&u->plan->qemu_user, &u->plan->config, &creds) ? &creds : NULL, u->plan->qemu_path,
		     argv.v, u->plan->prefix.env.v, fds, 6, &child, err);
	strv_free(&argv);
	if (r < 0)
		return -1;
	u->pid = child.pid;
	u->output_fd = child.output_fd;
	u->dst = qmp_client_new(s->base, steal_fd(dst_fd), &handlers, u);
	return 0;
}

/* The guest RAM's memfd of QEMU pid, which a supervisor reattached to it did not make: opened
 * again through /proc (the same memory), or -1 when it is not there. */
static int reattached_ram(pid_t pid)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/fd/%d", pid, LAUNCH_RAM_FD);
	char target[64];
	ssize_t n = readlink(path, target, sizeof(target) - 1);

	if (n < 0)
		return -1;
	target[n] = '\0';
	if (strncmp(target, "/memfd:" RAM_MEMFD_NAME " ", strlen("/memfd:" RAM_MEMFD_NAME " ")))
		return -1;
	return open(path, O_RDWR | O_CLOEXEC);
}

/* A move of the guest out of s's QEMU, under way from now on. */
struct upgrade *move_new(struct sup *s)
{
	struct upgrade *u = xzalloc(sizeof(*u));

	*u = (struct upgrade){ .s = s, .output_fd = -1, .qmp_fd = -1, .con_fd = -1, .agent_fd = -1, .mig_fd = -1,
			       .file_fd = -1, .pipe_fd = -1,
			       .was_running = !strcmp(s->vm.runstate, "running") };
	u->poll = evtimer_new(s->base, poll_cb, u);
	u->deadline = evtimer_new(s->base, deadline_cb, u);
	u->reap = evtimer_new(s->base, reap_cb, u);
	s->upgrade = u;
	return u;
}

/* In the child of plan_child_start(): resolves the new QEMU's plan, its probe landing in the cache. */
static int resolve_in_child(void *arg, struct verr *err)
{
	struct upgrade *u = arg;
	struct plan *p = new_plan(u->s, u->binary, err);

	if (!p)
		return -1;
	plan_free(p);
	free(p);
	return 0;
}

/* The child resolved the plan (or said why not): resolved again here, from the probe's cache,
 * and the new QEMU started. */
static void resolved_cb(struct plan_child *c, const char *error, void *arg)
{
	_cleanup_verr_ struct verr err = { 0 };
	_cleanup_free_ char *why = NULL;
	struct upgrade *u = arg;
	struct sup *s = u->s;

	(void)c;
	if (error) {
		why = xstrdup(error);
		move_fail(u, "%s", why); /* frees the child, and error with it */
		return;
	}
	plan_child_free(steal_ptr(u->resolving));
	/* What the request was checked for may have changed during the probe (a device hot-added,
	 * a migration or a stop asked for meanwhile): checked again. */
	if ((why = refusal(s, u))) {
		move_fail(u, "%s", why);
		return;
	}
	u->plan = new_plan(s, u->binary, &err);
	if (!u->plan || start_new(u, &err) < 0) {
		_cleanup_free_ char *text = move_joined(&err);
		move_fail(u, "%s", text);
		return;
	}
	say(&s->vm, "upgrading: QEMU pid %d (%s) started to take over from pid %d", u->pid, u->plan->qemu_path,
	    s->vm.pid);
	arm_ms(u->deadline, UPGRADE_TIMEOUT_MS);
}

void upgrade_request(struct sup *s, struct control_conn *conn, struct json_object *args)
{
	_cleanup_free_ char *no = move_refusal(s);
	_cleanup_verr_ struct verr err = { 0 };
	struct json_object *bin = NULL;
	struct upgrade *u;

	if (no) {
		control_fail(conn, "cannot upgrade: %s", no);
		return;
	}
	if (json_object_object_get_ex(args, CTL_ARG_QEMU, &bin) && !json_object_is_type(bin, json_type_string)) {
		control_fail(conn, CTL_ARG_QEMU ": expected the path of a QEMU binary");
		return;
	}
	if (s->ram_fd < 0 && build_shared_ram(&s->plan->config))
		s->ram_fd = reattached_ram(s->vm.pid);
	u = move_new(s);
	u->conn = conn;
	control_hold(conn);
	u->binary = bin ? xstrdup(json_object_get_string(bin)) : NULL;
	say(&s->vm, "upgrade: probing %s (when not in the cache) for the new QEMU's plan",
	    u->binary ? u->binary : s->plan->qemu_path);
	u->resolving = plan_child_start(s->base, resolve_in_child, resolved_cb, u, &err);
	if (!u->resolving) {
		_cleanup_free_ char *text = move_joined(&err);
		move_fail(u, "%s", text);
	}
}

void upgrade_abort(struct sup *s)
{
	struct upgrade *u = s->upgrade;

	if (u && !u->finished)
		move_fail(u, "the VM's QEMU ended before the move was done");
	else if (u && u->conn) {
		answer_lost(u);
		move_free_when_done(u);
	}
}

void upgrade_free(struct sup *s)
{
	struct upgrade *u = s->upgrade;

	if (!u)
		return;
	upgrade_abort(s);
	if (u->old_pid > 0) {
		kill(u->old_pid, SIGKILL);
		if (u->old_child)
			waitpid(u->old_pid, NULL, 0);
		u->old_pid = 0;
	}
	u->pending = 0;
	move_free_when_done(u);
}

/* The memfd_create() flag of p's huge page size (log2 of its bytes, as MFD_HUGE_2MB). */
static unsigned huge_flag(const struct plan *p)
{
	return (unsigned)__builtin_ctzll(hugepage_sizes[p->config.hugepages].bytes) << MFD_HUGE_SHIFT;
}

int upgrade_ram_create(const struct plan *p, int *fd, struct verr *err)
{
	*fd = -1;
	if (!build_shared_ram(&p->config))
		return 0;
	*fd = memfd_create(RAM_MEMFD_NAME, MFD_CLOEXEC | (p->config.hugepages ? MFD_HUGETLB | huge_flag(p) : 0));
	if (*fd < 0)
		return verr_set(err, errno, "cannot create the guest RAM (memfd)");
	if (ftruncate(*fd, (off_t)p->config.memory) < 0) {
		int e = errno;
		close(*fd);
		*fd = -1;
		return verr_set(err, e, "cannot size the guest RAM (%llu MiB)", (unsigned long long)(p->config.memory >> 20));
	}
	return 0;
}
