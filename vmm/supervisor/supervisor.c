/* The event loop of one VM: launches QEMU (or reconnects to it), watches its process,
 * QMP connection, console and output, and runs QEMU after QEMU while the restart policy
 * asks. What to do when (stop, verdict, restart) is lifecycle.c's; requests come through
 * sup-control.c; pinning and passthrough are sup-pin.c's and sup-vfio.c's; the serial
 * console (its log and console.sock) is console.c's; the guest agent is agent.c's and
 * sup-agent.c's; the balloon is balloon.c's. */
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
#include "vmm/base/strict.h"
#include "vmm/base/util.h"
#include "vmm/launch/spawn.h"
#include "vmm/supervisor/incoming.h"
#include "vmm/supervisor/feed.h"
#include "vmm/supervisor/lifecycle.h"
#include "vmm/supervisor/sup-hugepages.h"
#include "vmm/supervisor/sup-grants.h"
#include "vmm/supervisor/sup-isolate.h"
#include "vmm/supervisor/notify.h"
#include "vmm/supervisor/qemu-output.h"
#include "vmm/supervisor/move-record.h"
#include "vmm/supervisor/postmigrate.h"
#include "vmm/supervisor/save-record.h"
#include "vmm/supervisor/sup-agent.h"
#include "vmm/supervisor/sup-control.h"
#include "vmm/supervisor/sup-migrate.h"
#include "vmm/supervisor/sup-pin.h"
#include "vmm/supervisor/sup-proxy.h"
#include "vmm/supervisor/sup-vfio.h"

/* The files QEMU has in the run directory (bound for it, or made by it): taken over once
 * it answers, so that the supervisor removes them when QEMU has ended. */
static const char *const qemu_files[] = { "monitor.sock", SUP_PROXY_MONITOR, CONSOLE_SERIAL_SOCK, AGENT_SOCK,
					   "vnc.sock", NULL };

/* Commands a protected VM refuses through qmp.sock. */
static const char *const protected_commands[] = { "quit", "system_reset", "system_powerdown", NULL };

/* Ends this QEMU's part of the loop once QMP is closed and the process is gone (tmux's job model). */
static void maybe_finish(struct sup *s)
{
	if (s->reaped && s->qmp_closed)
		event_base_loopbreak(s->base);
}

/* SIGINT, SIGTERM (and SIGHUP in the foreground): stop the VM (again: escalate). */
static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	lifecycle_stop(arg);
}

/* The current stop step ran out of time. */
static void step_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	lifecycle_step_expired(arg);
}

/* QEMU did not answer QMP in time: ours will not start; one we reconnect to is not ours to kill. */
static void start_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sup *s = arg;

	(void)fd;
	(void)what;
	if (!s->ready && !s->reaped) {
		s->start_timed_out = true;
		if (s->child)
			kill(s->vm.pid, SIGKILL);
		else
			lifecycle_give_up(s);
	}
}

/* Closes the QMP connections, the supervisor's and the proxy's. s->qmp is NULL before the
 * client is freed: the replies it fails on the way must not use it. */
static void drop_qmp(struct sup *s)
{
	sup_proxy_drop(s);
	qmp_client_free(steal_ptr(s->qmp));
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
	if (s->child && !s->reaped && s->vm.pid > 0 && waitpid(s->vm.pid, &s->wstatus, WNOHANG) == s->vm.pid)
		gone(s);
	swtpm_reap(s->swtpm);
}

/* The VM's swtpm ended while its QEMU runs on: the guest has lost its TPM, so the VM fails. */
static void swtpm_died_cb(void *arg)
{
	struct sup *s = arg;

	if (s->reaped || s->vm.stopping || s->vm.pid <= 0 || s->reason[0])
		return;
	swtpm_blame(s->swtpm);
	say(&s->vm, "the TPM failed: %s: killing QEMU", swtpm_failure(s->swtpm));
	kill(s->vm.pid, SIGKILL);
}

/* The pidfd of a QEMU we reconnected to became readable: it exited. */
static void pidfd_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	gone(arg);
}

/* Reads QEMU's version from the greeting of qmp into the VM's state: three integers, else none. */
static void read_version(struct sup *s, struct qmp_client *c)
{
	struct json_object *qmp, *ver, *q;
	int64_t maj, min, mic;

	if (json_object_object_get_ex(qmp_greeting(c), "QMP", &qmp) &&
	    json_object_object_get_ex(qmp, "version", &ver) && json_object_object_get_ex(ver, "qemu", &q) &&
	    json_int_member(q, "major", 0, 9999, &maj) && json_int_member(q, "minor", 0, 9999, &min) &&
	    json_int_member(q, "micro", 0, 9999, &mic))
		snprintf(s->vm.version, sizeof(s->vm.version), "%d.%d.%d", (int)maj, (int)min, (int)mic);
}

/* Tells a waiting `vmm start` that the guest runs, and points stderr at vmm.log from now on. */
static void notify_ready(struct sup *s)
{
	const char ready = SUP_READY;
	int fd;

	fflush(stderr);
	(void)write_all(STDERR_FILENO, &ready, 1);
	fd = rundir_open_file(&s->rd, "vmm.log", O_WRONLY | O_CREAT | O_APPEND, 0600);
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
	_cleanup_verr_ struct verr err = { 0 };

	if (r->failure != QMP_OK || c != s->qmp)
		return;
	read_version(s, c);
	if (json_object_object_get_ex(r->ret, "status", &status))
		state_set_runstate(&s->vm, json_object_get_string(status));
	s->ready = true;
	qemu_output_ready(&s->out);
	evtimer_del(s->start_timer);
	for (size_t i = 0; qemu_files[i]; i++)
		rundir_adopt(&s->rd, qemu_files[i]);
	sup_proxy_connect(s);
	balloon_ready(s->balloon);
	hotplug_ready(s->hotplug, c);
	save_record_resume(s);
	move_record_resume(s);
	if (state_save(&s->vm, &err) < 0)
		say_err(&s->vm, &err);
	say(&s->vm, "QEMU %s pid %d (%s), status %s; console log %s/console.log", s->vm.version, s->vm.pid,
	    accel_names[s->plan->launch.accel], s->vm.runstate, s->rd.path);
	if (!s->ever_ready)
		notify_send("READY=1");
	if (s->opt.detached && !s->ever_ready)
		notify_ready(s);
	s->ever_ready = true;
	if (s->stop != STOP_NONE) {
		s->stop = STOP_NONE;
		lifecycle_stop(s);
	}
}

/* Asks for the run state; its answer makes the VM ready. */
static void query_status(struct sup *s)
{
	if (s->qmp)
		qmp_send(s->qmp, "query-status", NULL, CTL_QMP_TIMEOUT_MS, 0, status_cb, s);
}

/* QEMU is set up: a destination of a migration listens first, then the run state is asked. */
static void set_up(struct sup *s)
{
	if (s->opt.incoming)
		incoming_start(s, query_status);
	else
		query_status(s);
}

/* cont answered: the guest runs (its state comes with query-status). */
static void cont_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct sup *s = arg;

	if (c != s->qmp)
		return;
	if (r->failure != QMP_OK) {
		verr_set(&s->start_error, 0, "cannot start the guest after pinning: cont failed: %s", r->desc);
		if (!s->reaped)
			kill(s->vm.pid, SIGKILL);
		return;
	}
	query_status(s);
}

/* The state of a QEMU started with -S, its threads pinned: from prelaunch, cont runs the guest. */
static void pinned_status_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct sup *s = arg;
	struct json_object *status;
	const char *state = "unknown";

	if (r->failure != QMP_OK || c != s->qmp)
		return;
	if (json_object_object_get_ex(r->ret, "status", &status))
		state = json_object_get_string(status);
	say(&s->vm, "threads pinned while QEMU was %s; continuing", state);
	if (!strcmp(state, "prelaunch"))
		qmp_send(c, "cont", NULL, CTL_QMP_TIMEOUT_MS, 0, cont_cb, s);
	else
		query_status(s);
}

/* Pinning is over: a QEMU we started (paused: -S) runs from now on; a failure kills QEMU and
 * fails the start with every line of err. */
static void pinned_cb(const struct verr *err, void *arg)
{
	struct sup *s = arg;

	if (!err) {
		s->vm.pinned = true;
		if (s->opt.incoming)
			set_up(s);
		else if (s->child && s->qmp)
			qmp_send(s->qmp, "query-status", NULL, CTL_QMP_TIMEOUT_MS, 0, pinned_status_cb, s);
		else
			query_status(s);
		return;
	}
	for (size_t i = 0; i < err->n; i++)
		verr_set(&s->start_error, 0, "%s", err->lines[i]);
	if (!s->reaped)
		kill(s->vm.pid, SIGKILL);
}

/* QMP is negotiated: pin the threads when asked, then ask for the run state. */
static void qmp_ready_cb(struct qmp_client *c, void *arg)
{
	struct sup *s = arg;

	if (pin_wanted(&s->plan->config))
		pin_threads(c, &s->plan->config, s->vm.pid, CTL_QMP_TIMEOUT_MS, pinned_cb, s);
	else
		set_up(s);
}

/* Events from QEMU: track the run state, remember why it shut down (the proxy's clients get
 * events from its own monitor). */
static void qmp_event_cb(struct qmp_client *c, const char *name, struct json_object *msg, void *arg)
{
	struct sup *s = arg;
	struct json_object *data = NULL, *reason;
	const char *state = NULL;

	json_object_object_get_ex(msg, "data", &data);
	if (!strcmp(name, "STOP")) {
		state = "paused";
		postmigrate_check(s);
	}
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
		state_set_runstate(&s->vm, state);
	hotplug_event(s->hotplug, c, name, msg);
	balloon_event(s->balloon, name);
	sup_migrate_event(s, name, msg);
}

/* QEMU sent an error that answers no command (it could not read something): the log says so. */
static void qmp_error_cb(struct qmp_client *c, const char *class, const char *desc, void *arg)
{
	(void)c;
	say(&((struct sup *)arg)->vm, "warning: QEMU sent an error that answers no command: %s: %s", class, desc);
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

/* Starts watching one QEMU: its QMP connection, serial console and output (both may be -1). */
static void watch(struct sup *s, int qmp_fd, int console_fd, int output_fd)
{
	static const struct qmp_handlers handlers = { .ready = qmp_ready_cb, .event = qmp_event_cb,
						      .error = qmp_error_cb, .closed = qmp_closed_cb };

	s->qmp = qmp_client_new(s->base, qmp_fd, &handlers, s);
	if (console_fd >= 0)
		console_attach(s->console, console_fd);
	if (output_fd >= 0)
		qemu_output_attach(&s->out, s->base, &s->vm, output_fd);
	arm_ms(s->start_timer, START_TIMEOUT * 1000);
}

/* Binds QEMU's sockets, spawns it with the plan's argv and connects to it; on failure
 * nothing is left running. */
static int launch(struct sup *s, struct verr *err)
{
	_cleanup_close_ int mon = -1, con = -1, qmp_fd = -1, con_fd = -1, proxy_mon = -1, agent = -1, agent_fd = -1;
	_cleanup_close_ int incoming = -1, tpm = -1;
	_cleanup_free_ char *isolated = NULL;
	struct spawn_creds creds;
	struct spawned child;
	struct strv argv = { 0 };
	int fds[LAUNCH_TPM_FD - 2] = { -1, -1, -1, -1, -1, -1, -1 }, r;
	size_t n;

	if (state_check_no_qemu(&s->vm, err) < 0 || plan_prepare(s->plan, err) < 0 ||
	    passthrough_bind(&s->plan->config, err) < 0 || hugepages_take(&s->plan->config, &s->rd, err) < 0 ||
	    swtpm_start(s->swtpm, err) < 0 || isolate_take(&s->plan->config, &isolated, err) < 0 ||
	    qemu_user_grant_plan(s->plan, &s->rd, err) < 0)
		return -1;
	if (isolated)
		say(&s->vm, "%s", isolated);
	if ((mon = rundir_listen(&s->rd, "monitor.sock", err)) < 0 ||
	    (proxy_mon = rundir_listen(&s->rd, SUP_PROXY_MONITOR, err)) < 0 ||
	    (con = rundir_listen(&s->rd, CONSOLE_SERIAL_SOCK, err)) < 0 ||
	    sup_agent_listen(s, &agent, &agent_fd, err) < 0 || upgrade_ram_create(s->plan, &s->ram_fd, err) < 0)
		return -1;
	/* Connected before QEMU runs: the connections wait in the backlog, so no output is lost. */
	if ((qmp_fd = rundir_connect(&s->rd, "monitor.sock", err)) < 0)
		return -1;
	if ((con_fd = rundir_connect(&s->rd, CONSOLE_SERIAL_SOCK, err)) < 0)
		return -1;
	fds[LAUNCH_MONITOR_FD - 3] = mon;
	fds[LAUNCH_CONSOLE_FD - 3] = con;
	fds[LAUNCH_PROXY_MONITOR_FD - 3] = proxy_mon;
	fds[LAUNCH_AGENT_FD - 3] = agent;
	fds[LAUNCH_RAM_FD - 3] = s->ram_fd;
	n = s->ram_fd >= 0 ? 5 : agent >= 0 ? 4 : 3;
	if (s->opt.restore) {
		/* vmm restore: this QEMU loads the saved guest, which runs as it did when saved once
		 * loaded: no -S (pinned just after); a restart boots it afresh. */
		for (size_t i = 0; s->plan->argv.v[i]; i++)
			if (strcmp(s->plan->argv.v[i], "-S"))
				strv_push(&argv, s->plan->argv.v[i]);
		s->opt.restore = false;
		if ((incoming = feed_start(s->base, s->opt.restore_fd, &s->feed, err)) < 0) {
			strv_free(&argv);
			return -1;
		}
		fds[LAUNCH_MIGRATION_FD - 3] = incoming;
		n = 6;
		strv_push(&argv, "-incoming");
		strv_pushf(&argv, "fd:%d", LAUNCH_MIGRATION_FD);
	} else
		incoming_argv(s, &argv);
	/* QEMU gets its connection to swtpm made: as its own user it could not reach the run directory. */
	if (s->plan->config.tpm) {
		if ((tpm = rundir_connect(&s->rd, SWTPM_SOCK, err)) < 0) {
			strv_free(&argv);
			return -1;
		}
		fds[LAUNCH_TPM_FD - 3] = tpm;
		n = LAUNCH_TPM_FD - 2;
	}
	r = spawn_as(qemu_user_creds(&s->plan->qemu_user, &s->plan->config, &creds) ? &creds : NULL,
		     s->plan->qemu_path, argv.v, s->plan->prefix.env.v, fds, n, &child, err);
	strv_free(&argv);
	if (r < 0)
		return -1;
	state_new_qemu(&s->vm, child.pid);
	/* What runs must be on record (a later vmm finds it, and no old pid stays there). */
	if (state_save(&s->vm, err) < 0 || isolate_qemu(&s->plan->config, child.pid, err) < 0) {
		kill(child.pid, SIGKILL);
		waitpid(child.pid, NULL, 0);
		close(child.output_fd);
		s->vm.pid = 0;
		return -1;
	}
	s->child = true;
	watch(s, steal_fd(qmp_fd), steal_fd(con_fd), child.output_fd);
	if (agent_fd >= 0)
		agent_attach(s->agent, steal_fd(agent_fd));
	return 0;
}

/* Reconnects to a QEMU of this VM that runs without a supervisor, leaving the guest as it
 * is; a serial console that cannot be reached is said, and the VM is supervised without it. */
static int reconnect(struct sup *s, pid_t pid, struct verr *err)
{
	_cleanup_close_ int qmp_fd = -1, con_fd = -1;
	_cleanup_verr_ struct verr con_err = { 0 };

	s->vm.started = state_started(s->rd.path);
	s->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (s->pidfd < 0)
		return verr_set(err, errno, "cannot watch QEMU pid %d", pid);
	if ((qmp_fd = rundir_connect(&s->rd, "monitor.sock", err)) < 0)
		return -1;
	s->vm.pid = pid;
	s->child = false;
	s->pidfd_ev = event_new(s->base, s->pidfd, EV_READ, pidfd_cb, s);
	event_add(s->pidfd_ev, NULL);
	say(&s->vm, "reconnecting to QEMU pid %d", pid);
	hotplug_reattach(s->hotplug);
	save_record_reattach(s);
	if ((con_fd = rundir_connect(&s->rd, CONSOLE_SERIAL_SOCK, &con_err)) < 0) {
		verr_wrap(&con_err, "warning: the serial console is neither logged nor served");
		say_err(&s->vm, &con_err);
	}
	watch(s, steal_fd(qmp_fd), steal_fd(con_fd), -1);
	sup_agent_reconnect(s);
	swtpm_reattach(s->swtpm);
	return 0;
}

/* Lets go of the QEMU the supervisor watched: its QMP, console, agent, output and pidfd. */
static void detach_qemu(struct sup *s)
{
	drop_qmp(s);
	console_detach(s->console);
	agent_detach(s->agent);
	qemu_output_detach(&s->out);
	if (s->pidfd_ev)
		event_free(s->pidfd_ev);
	if (s->pidfd >= 0)
		close(s->pidfd);
	evtimer_del(s->start_timer);
	evtimer_del(s->linger_timer);
	s->pidfd_ev = NULL;
	s->pidfd = -1;
	s->reaped = s->qmp_closed = s->ready = false;
	s->vm.pinned = false;
}

/* Watches the QEMU an upgrade moved the guest into, instead of the old one (supervisor.h). */
void sup_take_qemu(struct sup *s, struct sup_handover *h)
{
	detach_qemu(s);
	s->vm.pid = h->pid;
	s->child = true;
	if (s->own_plan) {
		plan_free(s->own_plan);
		free(s->own_plan);
	}
	s->plan = s->vm.plan = s->own_plan = h->plan;
	watch(s, h->qmp_fd, h->console_fd, h->output_fd);
	if (h->agent_fd >= 0)
		agent_attach(s->agent, h->agent_fd);
}

/* Forgets the QEMU that ended, keeping what the supervisor needs across restarts. */
static void clear_instance(struct sup *s)
{
	upgrade_abort(s);
	feed_free(steal_ptr(s->feed));
	detach_qemu(s);
	sup_migrate_reset(s);
	swtpm_stop(s->swtpm, s->gave_up);
	hotplug_reset(s->hotplug);
	balloon_reset(s->balloon);
	evtimer_del(s->step_timer);
	s->vm.pid = 0;
	if (s->ram_fd >= 0)
		close(steal_fd(s->ram_fd));
	s->child = false;
	s->stop_before_ready = s->start_timed_out = s->killed = s->terminated = false;
	s->stop = STOP_NONE;
	s->wstatus = 0;
	s->reason[0] = '\0';
	verr_clear(&s->start_error);
	state_set_runstate(&s->vm, s->vm.end == VM_CRASHED ? "crashed" : "off");
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
	struct event *evs[] = { s->signals[0], s->signals[1], s->signals[2], s->sigchld, s->proxy_timer, s->step_timer,
				s->start_timer, s->linger_timer, s->restart_timer };

	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
}

/* Opens the run directory and the supervisor's own sockets; decides whether to reconnect. */
static int open_rundir(struct sup *s, pid_t *orphan, struct verr *err)
{
	const char *name = s->vm.name;
	pid_t pid;

	if (state_claim(&s->rd, s->plan->run_dir, name, &pid, err) < 0)
		return -1;
	if (pid && s->opt.attach == ATTACH_NEVER) {
		/* The directory is that QEMU's: its sockets and state file stay. */
		rundir_close(&s->rd);
		return state_qemu_error(QEMU_ORPHAN, name, s->plan->run_dir, pid, err);
	}
	if (s->opt.attach == ATTACH_ONLY && !pid)
		return verr_set(err, 0, "VM '%s' has no QEMU running without a supervisor (nothing to attach to)",
				name);
	*orphan = pid;
	if ((s->qmp_listen = rundir_listen(&s->rd, "qmp.sock", err)) < 0 ||
	    (s->ctl_listen = rundir_listen(&s->rd, "ctl.sock", err)) < 0)
		return -1;
	s->ctl = control_new(s->base, s->ctl_listen, sup_request, s);
	s->console = console_new(s->base, &s->rd, &s->plan->config, !s->opt.detached, &s->vm, err);
	return s->console ? 0 : -1;
}

/* Gives the host back what the VM held: its passthrough devices to their host drivers,
 * the huge pages it reserved to the pools, its isolated CPUs; says what failed. */
static void release_host(struct sup *s)
{
	_cleanup_verr_ struct verr err = { 0 }, pages_err = { 0 }, cpus_err = { 0 }, grants_err = { 0 };
	int n = passthrough_restore(&s->plan->config, &err);
	long pages = hugepages_give_back(&s->rd, &pages_err), grants = qemu_user_give_back(&s->rd, &grants_err);
	int cpus = isolate_give_back(s->plan->config.name, &cpus_err);

	verr_wrap(&err, "restoring passthrough devices");
	say_err(&s->vm, &err);
	if (n > 0)
		say(&s->vm, "%d passthrough device%s given back to %s host driver%s", n, n == 1 ? "" : "s",
		    n == 1 ? "its" : "their", n == 1 ? "" : "s");
	verr_wrap(&pages_err, "giving back huge pages");
	say_err(&s->vm, &pages_err);
	if (pages > 0)
		say(&s->vm, "%ld huge page%s given back to the host", pages, pages == 1 ? "" : "s");
	verr_wrap(&cpus_err, "giving back isolated CPUs");
	say_err(&s->vm, &cpus_err);
	if (cpus > 0)
		say(&s->vm, "isolated CPUs given back to the host");
	verr_wrap(&grants_err, "taking back QEMU's access to files");
	say_err(&s->vm, &grants_err);
	if (grants > 0)
		say(&s->vm, "the permissions of %ld path%s put back as they were", grants, grants == 1 ? "" : "s");
}

/* Runs QEMU after QEMU until one ends for good (no restart due). */
static void run_loop(struct sup *s, pid_t orphan)
{
	_cleanup_verr_ struct verr err = { 0 };
	unsigned delay;

	for (;;) {
		if ((orphan ? reconnect(s, orphan, &err) : launch(s, &err)) < 0) {
			s->gave_up = orphan != 0; /* that QEMU runs on */
			lifecycle_start_failed(s, &err);
			if (!s->gave_up)
				release_host(s);
			return;
		}
		orphan = 0;
		event_base_dispatch(s->base);
		/* Whatever QEMU printed last, before deciding. */
		qemu_output_drain(&s->out);
		incoming_remove_sockets(s); /* before the verdict answers whoever waits for the end */
		lifecycle_verdict(s);
		clear_instance(s);
		if (!lifecycle_restart_due(s, &delay)) {
			if (!s->gave_up)
				release_host(s);
			return;
		}
		s->vm.restarting = true;
		arm_ms(s->restart_timer, delay);
		event_base_dispatch(s->base);
		s->vm.restarting = false;
		if (s->vm.stopping) {
			/* Stopped during the back-off: the VM has ended for good. */
			release_host(s);
			return;
		}
	}
}

int supervise(const struct plan *p, const struct sup_options *o, struct verr *err)
{
	struct sup s = { .plan = p, .opt = *o, .rd = RUNDIR_INIT, .qmp_listen = -1, .ctl_listen = -1, .pidfd = -1,
			 .ram_fd = -1,
			 .policy = { .refused = p->config.protected ? protected_commands : NULL,
				     .why = "the VM is protected (lifecycle.protected): the command is refused" } };
	sigset_t chld;
	pid_t orphan = 0;
	int end;

	state_init(&s.vm, p, &s.rd);
	s.stop_timeout = p->config.shutdown_timeout;
	if (notify_open() < 0)
		say(&s.vm, "warning: $NOTIFY_SOCKET cannot be used: %s", strerror(errno));
	/* Blocked until libevent watches it, so an early exit of QEMU is not missed. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (p->kvm_missing)
		say(&s.vm, "warning: KVM is not usable here (/dev/kvm), using TCG (slow)");
	for (size_t i = 0; i < p->warnings.n; i++)
		say(&s.vm, "warning: %s", p->warnings.v[i]);
	s.base = event_base_new();
	if (!s.base)
		abort();
	setup_events(&s);
	s.hotplug = hotplug_new(s.base, p, &s.vm, &s.rd, &s.qmp);
	s.swtpm = swtpm_new(s.base, p, &s.vm, &s.rd, swtpm_died_cb, &s);
	s.agent = agent_new(s.base, &s.qmp);
	s.balloon = balloon_new(s.base, p, &s.vm, &s.qmp);
	if (open_rundir(&s, &orphan, err) == 0) {
		state_set_runstate(&s.vm, "starting");
		/* A SIGCHLD that arrived while blocked stays pending: libevent sees it once unblocked. */
		sigprocmask(SIG_UNBLOCK, &chld, NULL);
		run_loop(&s, orphan);
	}
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
	clear_instance(&s);
	upgrade_free(&s);
	if (s.qmp_listen >= 0)
		close(s.qmp_listen);
	if (s.ctl_listen >= 0)
		close(s.ctl_listen);
	console_free(s.console);
	hotplug_free(s.hotplug);
	swtpm_free(s.swtpm);
	agent_free(s.agent);
	balloon_free(s.balloon);
	/* The run directory is released before stop and kill are answered, so a script
	 * can start the VM again as soon as they return. */
	rundir_close(&s.rd);
	sup_answer_waiters(&s);
	control_free(s.ctl);
	teardown_events(&s);
	event_base_free(s.base);
	free(s.waiters);
	free(s.migrated_to);
	end = s.vm.end;
	notify_close();
	state_free(&s.vm);
	if (s.own_plan) {
		plan_free(s.own_plan);
		free(s.own_plan);
	}
	free(s.saved_to);
	return end;
}
