#include "vmm/supervisor/sup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "vmm/base/host.h"
#include "vmm/launch/spawn.h"
#include "vmm/base/util.h"

/* Seconds QEMU has to answer QMP after exec (or after a reconnect). */
#define START_TIMEOUT 30
/* Seconds between `quit` and SIGKILL when a stop escalates. */
#define QUIT_TIMEOUT 5

/* Commands a protected VM refuses through qmp.sock. */
static const char *const protected_commands[] = { "quit", "system_reset", "system_powerdown", NULL };

void say(struct sup *s, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vmm: %s: ", s->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Ends this QEMU's part of the loop once QMP is closed and the process is gone (tmux's job model). */
static void maybe_finish(struct sup *s)
{
	if (s->reaped && s->qmp_closed)
		event_base_loopbreak(s->base);
}

/* Arms a one-shot timer for ms milliseconds. */
static void arm_ms(struct event *ev, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	evtimer_add(ev, &tv);
}

/* Reply to a stop command; only failures matter (the events tell the rest). */
static void stop_reply_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	(void)c;
	if (r->failure == QMP_ERR_COMMAND || r->failure == QMP_ERR_TIMEOUT)
		say(arg, "stop command failed: %s", r->desc);
}

void stop_step(struct sup *s)
{
	s->quitting = true;
	if (s->restarting) {
		event_base_loopbreak(s->base);
		return;
	}
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
		say(s, "stopping: ACPI power button, up to %u s (interrupt again to force)", s->stop_timeout);
		qmp_send(s->qmp, "system_powerdown", NULL, COMMAND_TIMEOUT_MS, 0, stop_reply_cb, s);
		arm_ms(s->step_timer, s->stop_timeout * 1000);
		break;
	case STOP_QUIT:
		say(s, "stopping: the guest did not power off, sending quit");
		qmp_send(s->qmp, "quit", NULL, COMMAND_TIMEOUT_MS, 0, stop_reply_cb, s);
		arm_ms(s->step_timer, QUIT_TIMEOUT * 1000);
		break;
	default:
		say(s, "stopping: QEMU did not quit, killing it");
		kill(s->pid, SIGKILL);
		break;
	}
}

/* SIGINT, SIGTERM (and SIGHUP in the foreground): stop the VM (again: escalate). */
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

/* Closes the QMP connection and the proxy that rides on it. */
static void drop_qmp(struct sup *s)
{
	proxy_free(s->proxy);
	s->proxy = NULL;
	qmp_client_free(s->qmp);
	s->qmp = NULL;
	s->qmp_closed = true;
}

/* QEMU exited but something still holds its QMP socket open: stop waiting. */
static void linger_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drop_qmp(arg);
	maybe_finish(arg);
}

/* The QEMU process is gone. */
static void gone(struct sup *s)
{
	s->reaped = true;
	if (!s->qmp_closed)
		arm_ms(s->linger_timer, 2000);
	maybe_finish(s);
}

/* SIGCHLD: reap QEMU when it is our child. */
static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sup *s = arg;

	(void)sig;
	(void)what;
	if (s->child && !s->reaped && s->pid > 0 && waitpid(s->pid, &s->wstatus, WNOHANG) == s->pid)
		gone(s);
}

/* The pidfd of a QEMU we reconnected to became readable: it exited. */
static void pidfd_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	gone(arg);
}

/* Reads QEMU's version from the greeting into s->version. */
static void read_version(struct sup *s)
{
	struct json_object *qmp, *ver, *q, *maj, *min, *mic;

	if (json_object_object_get_ex(qmp_greeting(s->qmp), "QMP", &qmp) &&
	    json_object_object_get_ex(qmp, "version", &ver) && json_object_object_get_ex(ver, "qemu", &q) &&
	    json_object_object_get_ex(q, "major", &maj) && json_object_object_get_ex(q, "minor", &min) &&
	    json_object_object_get_ex(q, "micro", &mic))
		snprintf(s->version, sizeof(s->version), "%d.%d.%d", json_object_get_int(maj),
			 json_object_get_int(min), json_object_get_int(mic));
}

/* Tells a waiting `vmm start` that the guest runs, and points stderr at vmm.log from now on. */
static void notify_ready(struct sup *s)
{
	_cleanup_free_ char *log = xasprintf("%s/vmm.log", s->rd.path);
	const char ready = SUP_READY;
	int fd;

	fflush(stderr);
	(void)write_all(STDERR_FILENO, &ready, 1);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
}

/* The first query-status answered: the VM is up. */
static void status_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct sup *s = arg;
	struct json_object *status;

	(void)c;
	if (r->failure != QMP_OK)
		return;
	read_version(s);
	if (json_object_object_get_ex(r->ret, "status", &status))
		snprintf(s->runstate, sizeof(s->runstate), "%s", json_object_get_string(status));
	s->ready = true;
	evtimer_del(s->start_timer);
	s->proxy = proxy_new(s->base, s->qmp_listen, s->qmp, &s->policy);
	sup_write_state(s);
	say(s, "QEMU %s pid %d (%s), status %s; console log %s/console.log", s->version, s->pid,
	    accel_names[s->plan->launch.accel], s->runstate, s->rd.path);
	if (s->opt.detached && !s->ever_ready)
		notify_ready(s);
	s->ever_ready = true;
	if (s->stop != STOP_NONE) {
		s->stop = STOP_NONE;
		stop_step(s);
	}
}

void sup_pinned(struct sup *s)
{
	qmp_send(s->qmp, "query-status", NULL, COMMAND_TIMEOUT_MS, 0, status_cb, s);
}

/* QMP is negotiated: pin the threads when asked, then ask for the run state. */
static void qmp_ready_cb(struct qmp_client *c, void *arg)
{
	struct sup *s = arg;

	(void)c;
	if (sup_wants_pinning(s))
		sup_pin(s);
	else
		sup_pinned(s);
}

/* Events from QEMU: track the run state, remember why it shut down, pass them to proxy clients. */
static void qmp_event_cb(struct qmp_client *c, const char *name, struct json_object *msg, void *arg)
{
	struct sup *s = arg;
	struct json_object *data = NULL, *reason;
	const char *state = NULL;

	(void)c;
	json_object_object_get_ex(msg, "data", &data);
	if (!strcmp(name, "STOP"))
		state = "paused";
	else if (!strcmp(name, "RESUME"))
		state = "running";
	else if (!strcmp(name, "GUEST_PANICKED"))
		state = "guest-panicked";
	else if (!strcmp(name, "SHUTDOWN")) {
		state = "shutdown";
		if (json_object_object_get_ex(data, "reason", &reason))
			snprintf(s->reason, sizeof(s->reason), "%s", json_object_get_string(reason));
	}
	if (state)
		snprintf(s->runstate, sizeof(s->runstate), "%s", state);
	if (s->proxy)
		proxy_event(s->proxy, msg);
}

/* QEMU's QMP connection ended. */
static void qmp_closed_cb(struct qmp_client *c, enum qmp_failure why, const char *desc, void *arg)
{
	struct sup *s = arg;

	(void)c;
	(void)why;
	(void)desc;
	drop_qmp(s);
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

/* Console or output EOF or error: nothing more will come. */
static void eof_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_disable(bev, EV_READ);
}

/* Drops the "2026-11-23T09:44:40.881022Z " that -msg timestamp=on puts before QEMU's messages. */
static const char *without_timestamp(const char *line)
{
	const char *z = strchr(line, 'Z');

	if (strlen(line) > 28 && line[4] == '-' && line[10] == 'T' && z && z - line < 32 && z[1] == ' ')
		return z + 2;
	return line;
}

/* A line of QEMU's output ended: keep it, without its timestamp, for the verdict. */
static void line_done(struct sup *s)
{
	const char *text = without_timestamp(s->last_output);

	memmove(s->last_output, text, strlen(text) + 1);
	s->partial = 0;
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
					line_done(s);
			} else if (s->partial + 1 < sizeof(s->last_output)) {
				s->last_output[s->partial++] = buf[i];
				s->last_output[s->partial] = '\0';
			}
		}
	}
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

/* Records how the VM ended (s->end, s->end_text) and says so, a line for each line of why. */
static void end_with(struct sup *s, enum vm_end end, const struct verr *why)
{
	size_t len = 1;
	char *p;

	for (size_t i = 0; i < why->n; i++)
		len += strlen(why->lines[i]) + 1;
	free(s->end_text);
	s->end_text = p = xzalloc(len);
	for (size_t i = 0; i < why->n; i++) {
		p += sprintf(p, "%s%s", i ? "\n" : "", why->lines[i]);
		say(s, "%s", why->lines[i]);
	}
	s->end = end;
}

/* Records how the VM ended and says so in one line. */
static void __attribute__((format(printf, 3, 4))) ended(struct sup *s, enum vm_end end, const char *fmt, ...)
{
	_cleanup_verr_ struct verr why = { 0 };
	va_list ap;

	va_start(ap, fmt);
	verr_vset(&why, 0, fmt, ap);
	va_end(ap);
	end_with(s, end, &why);
}

/* Records that no QEMU could be started (or reconnected to), with every line of err. */
static void start_failed(struct sup *s, struct verr *err)
{
	verr_wrap(err, "failed to start");
	end_with(s, VM_START_FAILED, err);
}

/* Decides how a QEMU that was never ready ended. */
static void verdict_start(struct sup *s)
{
	int st = s->wstatus;

	if (s->start_error.n)
		start_failed(s, &s->start_error);
	else if (s->stop_before_ready)
		ended(s, VM_FORCED_OFF, "forced off: stopped before QEMU was ready");
	else if (s->start_timed_out)
		ended(s, VM_START_FAILED, "failed to start: QEMU did not answer QMP within %d s", START_TIMEOUT);
	else if (s->last_output[0])
		ended(s, VM_START_FAILED, "failed to start: %s", s->last_output);
	else if (!s->child)
		ended(s, VM_START_FAILED, "failed to reconnect: QEMU exited");
	else if (WIFSIGNALED(st))
		ended(s, VM_START_FAILED, "failed to start: QEMU was killed by %s", signame(WTERMSIG(st)));
	else
		ended(s, VM_START_FAILED, "failed to start: QEMU exited with status %d", WEXITSTATUS(st));
}

/* Decides how the VM ended from the exit status and the SHUTDOWN reason. */
static void verdict(struct sup *s)
{
	int st = s->wstatus;

	if (s->killed)
		ended(s, VM_FORCED_OFF, "forced off: killed (vmm kill)");
	else if (!s->ready)
		verdict_start(s);
	else if (s->child && WIFSIGNALED(st) && s->stop == STOP_KILL)
		ended(s, VM_FORCED_OFF, "forced off: killed after the guest did not power off and QEMU did not quit");
	else if (s->child && WIFSIGNALED(st))
		ended(s, VM_CRASHED, "QEMU crashed: killed by %s", signame(WTERMSIG(st)));
	else if (s->child && WEXITSTATUS(st) != 0)
		ended(s, VM_CRASHED, "QEMU crashed: exited with status %d%s%s", WEXITSTATUS(st),
		      s->last_output[0] ? ": " : "", s->last_output);
	else if (!strcmp(s->reason, "guest-shutdown"))
		ended(s, VM_POWERED_OFF, "guest powered off");
	else if (!strcmp(s->reason, "host-qmp-quit"))
		ended(s, VM_FORCED_OFF, "forced off: QEMU quit before the guest powered off");
	else if (!strcmp(s->reason, "host-signal"))
		ended(s, VM_FORCED_OFF, "forced off: QEMU was stopped by a signal sent to it");
	else if (s->reason[0])
		ended(s, VM_CRASHED, "QEMU crashed: shut down (%s)", s->reason);
	else if (!s->child)
		ended(s, VM_CRASHED, "QEMU crashed: it ended without a shutdown event");
	else
		ended(s, VM_CRASHED, "QEMU crashed: exited without a shutdown event");
}

/* Starts watching one QEMU: its QMP connection, console and output (both may be -1). */
static void watch(struct sup *s, int qmp_fd, int console_fd, int output_fd)
{
	static const struct qmp_handlers handlers = { .ready = qmp_ready_cb, .event = qmp_event_cb,
						      .closed = qmp_closed_cb };

	s->qmp = qmp_client_new(s->base, qmp_fd, &handlers, s);
	if (console_fd >= 0) {
		s->console = bufferevent_socket_new(s->base, console_fd, BEV_OPT_CLOSE_ON_FREE);
		bufferevent_setcb(s->console, console_read_cb, NULL, eof_cb, s);
		bufferevent_enable(s->console, EV_READ);
	}
	if (output_fd >= 0) {
		evutil_make_socket_nonblocking(output_fd);
		s->output = bufferevent_socket_new(s->base, output_fd, BEV_OPT_CLOSE_ON_FREE);
		bufferevent_setcb(s->output, output_read_cb, NULL, eof_cb, s);
		bufferevent_enable(s->output, EV_READ);
	}
	arm_ms(s->start_timer, START_TIMEOUT * 1000);
}

/* Binds QEMU's sockets, spawns it with the plan's argv and connects to it; on failure
 * nothing is left running. */
static int launch(struct sup *s, struct verr *err)
{
	_cleanup_close_ int mon = -1, con = -1, qmp_fd = -1, con_fd = -1;
	struct spawned child;
	int fds[2];

	if (plan_prepare(s->plan, err) < 0 || sup_bind_passthrough(s, err) < 0)
		return -1;
	if ((mon = rundir_listen(&s->rd, "monitor.sock", err)) < 0 ||
	    (con = rundir_listen(&s->rd, "console.sock", err)) < 0)
		return -1;
	/* Connected before QEMU runs: the connections wait in the backlog, so no output is lost. */
	if ((qmp_fd = rundir_connect(&s->rd, "monitor.sock", err)) < 0)
		return -1;
	if (!s->opt.detached && (con_fd = rundir_connect(&s->rd, "console.sock", err)) < 0)
		return -1;
	fds[LAUNCH_MONITOR_FD - 3] = mon;
	fds[LAUNCH_CONSOLE_FD - 3] = con;
	if (spawn(s->plan->qemu_path, s->plan->argv.v, fds, 2, &child, err) < 0)
		return -1;
	s->pid = child.pid;
	s->child = true;
	s->started = time(NULL);
	sup_write_state(s);
	watch(s, steal_fd(qmp_fd), steal_fd(con_fd), child.output_fd);
	return 0;
}

/* Reconnects to a QEMU of this VM that runs without a supervisor, leaving the guest as it is. */
static int reconnect(struct sup *s, pid_t pid, struct verr *err)
{
	_cleanup_free_ char *state = xasprintf("%s/state.json", s->rd.path);
	struct json_object *old = json_object_from_file(state), *v;
	_cleanup_close_ int qmp_fd = -1;

	s->started = json_object_object_get_ex(old, VM_KEY_STARTED, &v) ? json_object_get_int64(v) : time(NULL);
	json_object_put(old);
	s->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (s->pidfd < 0)
		return verr_set(err, errno, "cannot watch QEMU pid %d", pid);
	if ((qmp_fd = rundir_connect(&s->rd, "monitor.sock", err)) < 0)
		return -1;
	s->pid = pid;
	s->child = false;
	s->pidfd_ev = event_new(s->base, s->pidfd, EV_READ, pidfd_cb, s);
	event_add(s->pidfd_ev, NULL);
	say(s, "reconnecting to QEMU pid %d", pid);
	watch(s, steal_fd(qmp_fd), -1, -1);
	return 0;
}

/* Forgets the QEMU that ended, keeping what the supervisor needs across restarts. */
static void clear_instance(struct sup *s)
{
	drop_qmp(s);
	if (s->console)
		bufferevent_free(s->console);
	if (s->output)
		bufferevent_free(s->output);
	if (s->pidfd_ev)
		event_free(s->pidfd_ev);
	if (s->pidfd >= 0)
		close(s->pidfd);
	evtimer_del(s->step_timer);
	evtimer_del(s->start_timer);
	evtimer_del(s->linger_timer);
	s->console = s->output = NULL;
	s->pidfd_ev = NULL;
	s->pidfd = -1;
	s->pid = 0;
	s->reaped = s->qmp_closed = s->ready = s->child = false;
	s->stop_before_ready = s->start_timed_out = s->killed = false;
	s->stop = STOP_NONE;
	s->wstatus = 0;
	s->reason[0] = s->last_output[0] = '\0';
	verr_clear(&s->start_error);
	json_object_put(s->vcpus);
	s->vcpus = NULL;
	s->pinned = false;
	s->partial = 0;
	snprintf(s->runstate, sizeof(s->runstate), "%s", s->end == VM_CRASHED ? "crashed" : "off");
}

/* Decides whether the VM that just ended is started again, and after how long (ms). */
static bool restart_due(struct sup *s, unsigned *delay_ms)
{
	enum restart_policy policy = s->plan->config.restart;
	time_t now = time(NULL);
	unsigned recent = 0;

	if (s->quitting || !s->ever_ready || policy == RESTART_NO ||
	    (policy == RESTART_ON_CRASH && s->end != VM_CRASHED))
		return false;
	for (size_t i = 0; i < RESTART_BURST; i++)
		if (s->recent[i] && now - s->recent[i] < RESTART_WINDOW)
			recent++;
	if (recent >= RESTART_BURST) {
		say(s, "not restarting: %d restarts within %d s", RESTART_BURST, RESTART_WINDOW);
		return false;
	}
	s->recent[s->restarts % RESTART_BURST] = now;
	*delay_ms = 500u << recent;
	say(s, "restarting in %u ms (lifecycle.restart is %s)", *delay_ms, restart_names[policy]);
	return true;
}

/* The restart back-off is over. */
static void restart_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(((struct sup *)arg)->base);
}

/* Creates the events that live as long as the supervisor. */
static void setup_events(struct sup *s)
{
	static const int stop_signals[] = { SIGINT, SIGTERM, SIGHUP };

	for (size_t i = 0; i < 3; i++) {
		if (stop_signals[i] == SIGHUP && s->opt.detached) {
			signal(SIGHUP, SIG_IGN);
			continue;
		}
		s->signals[i] = evsignal_new(s->base, stop_signals[i], signal_cb, s);
		evsignal_add(s->signals[i], NULL);
	}
	s->sigchld = evsignal_new(s->base, SIGCHLD, sigchld_cb, s);
	evsignal_add(s->sigchld, NULL);
	s->step_timer = evtimer_new(s->base, step_timer_cb, s);
	s->start_timer = evtimer_new(s->base, start_timer_cb, s);
	s->linger_timer = evtimer_new(s->base, linger_timer_cb, s);
	s->restart_timer = evtimer_new(s->base, restart_timer_cb, s);
}

/* Frees the supervisor-wide events. */
static void teardown_events(struct sup *s)
{
	struct event *evs[] = { s->signals[0], s->signals[1], s->signals[2], s->sigchld, s->step_timer,
				s->start_timer, s->linger_timer, s->restart_timer };

	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
}

/* Opens the run directory and the supervisor's own sockets; decides whether to reconnect. */
static int open_rundir(struct sup *s, pid_t *orphan, struct verr *err)
{
	if (rundir_open(&s->rd, s->name, s->opt.attach == ATTACH_NEVER ? NULL : orphan, err) < 0)
		return -1;
	if (s->opt.attach == ATTACH_ONLY && !*orphan)
		return verr_set(err, 0, "VM '%s' has no QEMU running without a supervisor (nothing to attach to)",
				s->name);
	if ((s->qmp_listen = rundir_listen(&s->rd, "qmp.sock", err)) < 0 ||
	    (s->ctl_listen = rundir_listen(&s->rd, "ctl.sock", err)) < 0)
		return -1;
	s->ctl = control_new(s->base, s->ctl_listen, sup_request, s);
	return 0;
}

/* Runs QEMU after QEMU until one ends for good (no restart due). */
static void run_loop(struct sup *s, pid_t orphan)
{
	_cleanup_verr_ struct verr err = { 0 };
	unsigned delay;

	for (;;) {
		if ((orphan ? reconnect(s, orphan, &err) : launch(s, &err)) < 0) {
			start_failed(s, &err);
			if (!orphan)
				sup_restore_passthrough(s);
			return;
		}
		orphan = 0;
		event_base_dispatch(s->base);
		/* Whatever QEMU printed last, before deciding. */
		if (s->output) {
			while (evbuffer_read(bufferevent_get_input(s->output), bufferevent_getfd(s->output), -1) > 0)
				;
			output_read_cb(s->output, s);
			if (s->partial)
				line_done(s);
		}
		verdict(s);
		clear_instance(s);
		if (!restart_due(s, &delay)) {
			sup_restore_passthrough(s);
			return;
		}
		s->restarts++;
		s->restarting = true;
		arm_ms(s->restart_timer, delay);
		event_base_dispatch(s->base);
		s->restarting = false;
		if (s->quitting)
			return;
	}
}

int supervise(const struct plan *p, const struct sup_options *o, struct verr *err)
{
	struct sup s = { .plan = p, .name = p->config.name, .opt = *o, .rd = { .lock_fd = -1 }, .qmp_listen = -1,
			 .ctl_listen = -1, .pidfd = -1, .end = -1,
			 .policy = { .refused = p->config.protected ? protected_commands : NULL,
				     .why = "the VM is protected (lifecycle.protected): the command is refused" } };
	sigset_t chld;
	pid_t orphan = 0;

	s.stop_timeout = p->config.shutdown_timeout;
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
	setup_events(&s);
	if (open_rundir(&s, &orphan, err) == 0) {
		snprintf(s.runstate, sizeof(s.runstate), "starting");
		/* A SIGCHLD that arrived while blocked stays pending: libevent sees it once unblocked. */
		sigprocmask(SIG_UNBLOCK, &chld, NULL);
		run_loop(&s, orphan);
	}
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
	clear_instance(&s);
	if (s.qmp_listen >= 0)
		close(s.qmp_listen);
	if (s.ctl_listen >= 0)
		close(s.ctl_listen);
	/* The run directory is released before stop and kill are answered, so a script
	 * can start the VM again as soon as they return. */
	rundir_close(&s.rd);
	sup_answer_waiters(&s);
	control_free(s.ctl);
	teardown_events(&s);
	event_base_free(s.base);
	free(s.waiters);
	free(s.end_text);
	return s.end;
}
