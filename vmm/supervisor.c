#define _GNU_SOURCE
#include "supervisor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "../qmp/qmp.h"
#include "host.h"
#include "rundir.h"
#include "spawn.h"
#include "util.h"

/* Seconds QEMU has to answer QMP after exec. */
#define START_TIMEOUT 30
/* Seconds between `quit` and SIGKILL when a stop escalates. */
#define QUIT_TIMEOUT 5
/* Milliseconds for each QMP command the supervisor sends. */
#define COMMAND_TIMEOUT_MS 5000

/* The steps of a stop; each signal or timeout moves one step on. */
enum stop_step { STOP_NONE, STOP_POWERDOWN, STOP_QUIT, STOP_KILL };

struct sup {
	const struct plan *plan;
	const char *name;
	struct event_base *base;
	struct rundir rd;
	pid_t pid;
	bool reaped;
	int wstatus;
	struct qmp_client *qmp;
	bool qmp_closed;
	bool ready;
	enum stop_step stop;
	bool stop_before_ready;
	bool start_timed_out;
	char reason[32];       /* the SHUTDOWN event's reason, "" when none came */
	char last_output[512]; /* QEMU's last line of output */
	size_t partial;        /* bytes of an unfinished line in last_output */
	struct bufferevent *console, *output;
	struct event *signals[3], *sigchld, *step_timer, *start_timer, *linger_timer;
};

/* Prints one status line for the user. */
static void __attribute__((format(printf, 2, 3))) say(struct sup *s, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vmm: %s: ", s->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Ends the event loop once QMP is closed and QEMU is reaped (tmux's job model). */
static void maybe_finish(struct sup *s)
{
	if (s->reaped && s->qmp_closed)
		event_base_loopbreak(s->base);
}

/* Arms a one-shot timer for `seconds`. */
static void arm(struct event *ev, unsigned seconds)
{
	struct timeval tv = { seconds, 0 };
	evtimer_add(ev, &tv);
}

/* Reply to a stop command; only failures matter (the events tell the rest). */
static void stop_reply_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct sup *s = arg;

	(void)c;
	if (r->failure == QMP_ERR_COMMAND || r->failure == QMP_ERR_TIMEOUT)
		say(s, "stop command failed: %s", r->desc);
}

/* Moves the stop one step on: power button, then quit, then SIGKILL. */
static void stop_step(struct sup *s)
{
	if (s->reaped || s->stop == STOP_KILL)
		return;
	if (!s->ready) {
		s->stop_before_ready = true;
		s->stop = STOP_KILL;
		kill(s->pid, SIGKILL);
		return;
	}
	s->stop++;
	switch (s->stop) {
	case STOP_POWERDOWN:
		say(s, "stopping: ACPI power button, up to %u s (interrupt again to force)",
		    s->plan->config.shutdown_timeout);
		qmp_send(s->qmp, "system_powerdown", NULL, COMMAND_TIMEOUT_MS, 0, stop_reply_cb, s);
		arm(s->step_timer, s->plan->config.shutdown_timeout);
		break;
	case STOP_QUIT:
		say(s, "stopping: the guest did not power off, sending quit");
		qmp_send(s->qmp, "quit", NULL, COMMAND_TIMEOUT_MS, 0, stop_reply_cb, s);
		arm(s->step_timer, QUIT_TIMEOUT);
		break;
	default:
		say(s, "stopping: QEMU did not quit, killing it");
		kill(s->pid, SIGKILL);
		break;
	}
}

/* SIGINT, SIGTERM, SIGHUP: stop the VM (again: escalate). */
static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	stop_step(arg);
}

/* The current stop step ran out of time. */
static void step_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stop_step(arg);
}

/* QEMU did not answer QMP in time: it will not start. */
static void start_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sup *s = arg;

	(void)fd;
	(void)what;
	if (!s->ready && !s->reaped) {
		s->start_timed_out = true;
		kill(s->pid, SIGKILL);
	}
}

/* QEMU exited but something still holds its QMP socket open: stop waiting. */
static void linger_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sup *s = arg;

	(void)fd;
	(void)what;
	qmp_client_free(s->qmp);
	s->qmp = NULL;
	s->qmp_closed = true;
	maybe_finish(s);
}

/* SIGCHLD: reap QEMU. */
static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sup *s = arg;

	(void)sig;
	(void)what;
	if (s->reaped || waitpid(s->pid, &s->wstatus, WNOHANG) != s->pid)
		return;
	s->reaped = true;
	if (!s->qmp_closed)
		arm(s->linger_timer, 2);
	maybe_finish(s);
}

/* Records the state file: who supervises which QEMU, since when. */
static void write_state(struct sup *s, const char *version)
{
	struct json_object *st = json_object_new_object();
	_cleanup_verr_ struct verr err = { 0 };

	json_object_object_add(st, "name", json_object_new_string(s->name));
	json_object_object_add(st, "supervisor_pid", json_object_new_int(getpid()));
	json_object_object_add(st, "qemu_pid", json_object_new_int(s->pid));
	json_object_object_add(st, "started", json_object_new_int64(time(NULL)));
	json_object_object_add(st, "accel", json_object_new_string(accel_names[s->plan->launch.accel]));
	json_object_object_add(st, "profile", json_object_new_string(s->plan->profile_path));
	if (version)
		json_object_object_add(st, "qemu_version", json_object_new_string(version));
	if (rundir_write(&s->rd, "state.json", json_object_to_json_string_ext(st, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED), &err) < 0)
		say(s, "%s", err.lines[0]);
	json_object_put(st);
}

/* The first query-status answered: the VM is up. */
static void status_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct sup *s = arg;
	struct json_object *qmp, *ver, *q, *status;
	char version[32] = "?";

	if (r->failure != QMP_OK)
		return;
	if (json_object_object_get_ex(qmp_greeting(c), "QMP", &qmp) && json_object_object_get_ex(qmp, "version", &ver) &&
	    json_object_object_get_ex(ver, "qemu", &q)) {
		struct json_object *maj, *min, *mic;
		json_object_object_get_ex(q, "major", &maj);
		json_object_object_get_ex(q, "minor", &min);
		json_object_object_get_ex(q, "micro", &mic);
		snprintf(version, sizeof(version), "%d.%d.%d", json_object_get_int(maj), json_object_get_int(min),
			 json_object_get_int(mic));
	}
	json_object_object_get_ex(r->ret, "status", &status);
	s->ready = true;
	evtimer_del(s->start_timer);
	write_state(s, version);
	say(s, "QEMU %s pid %d (%s), status %s; console log %s/console.log", version, s->pid,
	    accel_names[s->plan->launch.accel], json_object_get_string(status), s->rd.path);
	if (s->stop != STOP_NONE) {
		s->stop = STOP_NONE;
		stop_step(s);
	}
}

/* QMP is negotiated: ask for the run state. */
static void qmp_ready_cb(struct qmp_client *c, void *arg)
{
	qmp_send(c, "query-status", NULL, COMMAND_TIMEOUT_MS, 0, status_cb, arg);
}

/* Events from QEMU: remember why it shut down. */
static void qmp_event_cb(struct qmp_client *c, const char *name, struct json_object *msg, void *arg)
{
	struct sup *s = arg;
	struct json_object *data, *reason;

	(void)c;
	if (!strcmp(name, "SHUTDOWN") && json_object_object_get_ex(msg, "data", &data) &&
	    json_object_object_get_ex(data, "reason", &reason))
		snprintf(s->reason, sizeof(s->reason), "%s", json_object_get_string(reason));
}

/* QEMU's QMP connection ended. */
static void qmp_closed_cb(struct qmp_client *c, enum qmp_failure why, const char *desc, void *arg)
{
	struct sup *s = arg;

	(void)why;
	(void)desc;
	qmp_client_free(c);
	s->qmp = NULL;
	s->qmp_closed = true;
	evtimer_del(s->linger_timer);
	maybe_finish(s);
}

/* Serial console bytes: to the terminal (the log is QEMU's own). */
static void console_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;

	(void)arg;
	while ((len = evbuffer_get_contiguous_space(in)) > 0) {
		(void)write_all(STDOUT_FILENO, evbuffer_pullup(in, (ssize_t)len), len);
		evbuffer_drain(in, len);
	}
}

/* Console EOF or error: nothing more will come. */
static void console_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_disable(bev, EV_READ);
}

/* QEMU's own stdout/stderr: relayed to ours; the last line is kept for the verdict. */
static void output_read_cb(struct bufferevent *bev, void *arg)
{
	struct sup *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char buf[4096];
	int n;

	while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		(void)write_all(STDERR_FILENO, buf, (size_t)n);
		for (int i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				if (s->partial)
					s->last_output[s->partial] = '\0';
				s->partial = 0;
			} else if (s->partial + 1 < sizeof(s->last_output)) {
				s->last_output[s->partial++] = buf[i];
				s->last_output[s->partial] = '\0';
			}
		}
	}
}

/* Output pipe EOF: stop watching it. */
static void output_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_disable(bev, EV_READ);
}

/* Names a signal for the verdict line. */
static const char *signame(int sig)
{
	const char *abbrev = sigabbrev_np(sig);
	static char buf[16];

	if (abbrev)
		snprintf(buf, sizeof(buf), "SIG%s", abbrev);
	else
		snprintf(buf, sizeof(buf), "signal %d", sig);
	return buf;
}

/* Decides how the VM ended and says so in one line. */
static enum vm_end verdict(struct sup *s)
{
	int st = s->wstatus;

	if (!s->ready) {
		if (s->stop_before_ready) {
			say(s, "forced off: stopped before QEMU was ready");
			return VM_FORCED_OFF;
		}
		if (s->start_timed_out)
			say(s, "failed to start: QEMU did not answer QMP within %d s", START_TIMEOUT);
		else if (s->last_output[0])
			say(s, "failed to start: %s", s->last_output);
		else if (WIFSIGNALED(st))
			say(s, "failed to start: QEMU was killed by %s", signame(WTERMSIG(st)));
		else
			say(s, "failed to start: QEMU exited with status %d", WEXITSTATUS(st));
		return VM_START_FAILED;
	}
	if (WIFSIGNALED(st)) {
		if (s->stop == STOP_KILL) {
			say(s, "forced off: killed after the guest did not power off and QEMU did not quit");
			return VM_FORCED_OFF;
		}
		say(s, "QEMU crashed: killed by %s", signame(WTERMSIG(st)));
		return VM_CRASHED;
	}
	if (WEXITSTATUS(st) != 0) {
		say(s, "QEMU crashed: exited with status %d%s%s", WEXITSTATUS(st), s->last_output[0] ? ": " : "",
		    s->last_output);
		return VM_CRASHED;
	}
	if (!strcmp(s->reason, "guest-shutdown")) {
		say(s, "guest powered off");
		return VM_POWERED_OFF;
	}
	if (!strcmp(s->reason, "host-qmp-quit")) {
		say(s, "forced off: QEMU quit before the guest powered off");
		return VM_FORCED_OFF;
	}
	if (!strcmp(s->reason, "host-signal")) {
		say(s, "forced off: QEMU was stopped by a signal sent to it");
		return VM_FORCED_OFF;
	}
	if (s->reason[0]) {
		say(s, "QEMU crashed: shut down (%s)", s->reason);
		return VM_CRASHED;
	}
	say(s, "QEMU crashed: exited without a shutdown event");
	return VM_CRASHED;
}

/* Creates the libevent objects of the loop. */
static void setup_events(struct sup *s, int console_fd, int output_fd, int qmp_fd)
{
	static const struct qmp_handlers handlers = { .ready = qmp_ready_cb, .event = qmp_event_cb,
						      .closed = qmp_closed_cb };
	static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };

	for (size_t i = 0; i < 3; i++) {
		s->signals[i] = evsignal_new(s->base, stop_signals[i], signal_cb, s);
		evsignal_add(s->signals[i], NULL);
	}
	s->sigchld = evsignal_new(s->base, SIGCHLD, sigchld_cb, s);
	evsignal_add(s->sigchld, NULL);
	s->step_timer = evtimer_new(s->base, step_timer_cb, s);
	s->start_timer = evtimer_new(s->base, start_timer_cb, s);
	s->linger_timer = evtimer_new(s->base, linger_timer_cb, s);
	arm(s->start_timer, START_TIMEOUT);

	s->console = bufferevent_socket_new(s->base, console_fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(s->console, console_read_cb, NULL, console_event_cb, s);
	bufferevent_enable(s->console, EV_READ);
	evutil_make_socket_nonblocking(output_fd);
	s->output = bufferevent_socket_new(s->base, output_fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(s->output, output_read_cb, NULL, output_event_cb, s);
	bufferevent_enable(s->output, EV_READ);
	s->qmp = qmp_client_new(s->base, qmp_fd, &handlers, s);
}

/* Frees the libevent objects. */
static void teardown_events(struct sup *s)
{
	struct event *evs[] = { s->signals[0], s->signals[1], s->signals[2], s->sigchld,
				s->step_timer, s->start_timer, s->linger_timer };

	qmp_client_free(s->qmp);
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	if (s->console)
		bufferevent_free(s->console);
	if (s->output)
		bufferevent_free(s->output);
}

/* Binds the sockets, spawns QEMU and connects to it; on failure nothing is left running. */
static int launch(struct sup *s, struct verr *err)
{
	_cleanup_close_ int mon = -1, con = -1, qmp_fd = -1, con_fd = -1;
	_cleanup_free_ char *path = NULL;
	struct strv argv = { 0 };
	struct spawned child;
	int fds[2], r;

	path = find_program(s->plan->launch.binary, err);
	if (!path)
		return -1;
	if ((mon = rundir_listen(&s->rd, "monitor.sock", err)) < 0 ||
	    (con = rundir_listen(&s->rd, "console.sock", err)) < 0)
		return -1;
	/* Connected before QEMU runs: the connections wait in the backlog, so no output is lost. */
	if ((qmp_fd = rundir_connect(&s->rd, "monitor.sock", err)) < 0 ||
	    (con_fd = rundir_connect(&s->rd, "console.sock", err)) < 0)
		return -1;
	build_argv(&s->plan->config, &s->plan->launch, &argv);
	fds[LAUNCH_MONITOR_FD - 3] = mon;
	fds[LAUNCH_CONSOLE_FD - 3] = con;
	r = spawn(path, argv.v, fds, 2, &child, err);
	strv_free(&argv);
	if (r < 0)
		return -1;
	s->pid = child.pid;
	write_state(s, NULL);
	setup_events(s, steal_fd(con_fd), child.output_fd, steal_fd(qmp_fd));
	return 0;
}

int supervise(const struct plan *p, struct verr *err)
{
	struct sup s = { .plan = p, .name = p->config.name, .rd = { .lock_fd = -1 } };
	sigset_t chld;
	int ret = -1;

	/* Blocked until libevent watches it, so an early exit of QEMU is not missed. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (p->kvm_missing)
		say(&s, "warning: KVM is not usable here (/dev/kvm), using TCG (slow)");
	s.base = event_base_new();
	if (!s.base)
		abort();
	if (rundir_open(&s.rd, s.name, err) < 0)
		goto out;
	if (launch(&s, err) < 0) {
		/* Nothing runs: one line that says so, with the reason. */
		for (size_t i = 0; i < err->n; i++)
			say(&s, "failed to start: %s", err->lines[i]);
		verr_clear(err);
		ret = VM_START_FAILED;
		goto out;
	}
	/* A SIGCHLD that arrived while blocked stayed pending: libevent sees it now. */
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
	event_base_dispatch(s.base);
	/* Whatever QEMU printed last, before deciding. */
	while (evbuffer_read(bufferevent_get_input(s.output), bufferevent_getfd(s.output), -1) > 0)
		;
	output_read_cb(s.output, &s);
	ret = verdict(&s);
out:
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
	teardown_events(&s);
	rundir_close(&s.rd);
	event_base_free(s.base);
	return ret;
}
