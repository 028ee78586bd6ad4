#include "vmm/supervisor/lifecycle.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "vmm/base/util.h"
#include "vmm/supervisor/notify.h"

/* Seconds between `quit` (or SIGTERM) and SIGKILL when a stop escalates. */
#define QUIT_TIMEOUT 5

/* Reply to a stop command; only failures matter (the events tell the rest). */
static void stop_reply_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct sup *s = arg;

	(void)c;
	if (r->failure == QMP_ERR_COMMAND || r->failure == QMP_ERR_TIMEOUT)
		say(&s->vm, "stop command failed: %s", r->desc);
}

/* Sends one QMP command for the current stop step (QMP is there) and gives it seconds before the next. */
static void command_step(struct sup *s, const char *command, unsigned seconds)
{
	qmp_send(s->qmp, command, NULL, CTL_QMP_TIMEOUT_MS, 0, stop_reply_cb, s);
	arm_ms(s->step_timer, seconds * 1000);
}

/* The agent took guest-shutdown (the guest gets stop_timeout to power off), or could not. */
static void agent_stop_cb(const struct agent_result *r, void *arg)
{
	struct sup *s = arg;

	if (s->stop != STOP_AGENT || s->reaped)
		return;
	if (r->failure != AGENT_OK) {
		say(&s->vm, "stopping: no guest-shutdown through the guest agent: %s", r->desc);
		lifecycle_stop(s);
		return;
	}
	say(&s->vm, "stopping: the guest agent took guest-shutdown, up to %u s", s->stop_timeout);
	arm_ms(s->step_timer, s->stop_timeout * 1000);
}

void lifecycle_step_expired(struct sup *s)
{
	struct json_object *cmd;

	if (s->stop != STOP_POWERDOWN || !s->plan->config.agent || !s->qmp || s->reaped) {
		lifecycle_stop(s);
		return;
	}
	s->stop = STOP_AGENT;
	say(&s->vm, "stopping: the guest ignored the power button, asking its guest agent (guest-shutdown)");
	cmd = json_object_new_object();
	json_object_object_add(cmd, "execute", json_object_new_string("guest-shutdown"));
	agent_call(s->agent, cmd, CTL_AGENT_TIMEOUT_MS, agent_stop_cb, s);
}

void lifecycle_stop(struct sup *s)
{
	/* The service manager waits as long as every step of the stop may take. */
	if (!s->vm.stopping)
		notify_send("STOPPING=1\nEXTEND_TIMEOUT_USEC=%llu",
			    (s->stop_timeout + CTL_AGENT_TIMEOUT_MS / 1000 + 2 * QUIT_TIMEOUT) * 1000000ULL);
	s->vm.stopping = true;
	if (s->vm.restarting) {
		event_base_loopbreak(s->base);
		return;
	}
	if (s->reaped || s->stop == STOP_KILL)
		return;
	if (!s->ready) {
		s->stop_before_ready = true;
		if (!s->child) {
			lifecycle_give_up(s);
			return;
		}
		s->stop = STOP_KILL;
		kill(s->vm.pid, SIGKILL);
		return;
	}
	s->stop++;
	if (s->stop == STOP_AGENT) /* only when the power button's time ran out (lifecycle_step_expired) */
		s->stop++;
	if (!s->qmp && s->stop != STOP_KILL) {
		/* QEMU runs without its QMP connection: no power button, no quit; SIGTERM
		 * makes QEMU quit as `quit` would, and SIGKILL follows as after `quit`. */
		s->stop = STOP_QUIT;
		s->terminated = true;
		say(&s->vm, "stopping: the QMP connection to QEMU is gone, sending it SIGTERM");
		kill(s->vm.pid, SIGTERM);
		arm_ms(s->step_timer, QUIT_TIMEOUT * 1000);
		return;
	}
	switch (s->stop) {
	case STOP_POWERDOWN:
		say(&s->vm, "stopping: ACPI power button, up to %u s (interrupt again to force)", s->stop_timeout);
		command_step(s, "system_powerdown", s->stop_timeout);
		break;
	case STOP_QUIT:
		say(&s->vm, "stopping: the guest did not power off, sending quit");
		command_step(s, "quit", QUIT_TIMEOUT);
		break;
	default:
		say(&s->vm, "stopping: QEMU did not quit, killing it");
		kill(s->vm.pid, SIGKILL);
		break;
	}
}

void lifecycle_give_up(struct sup *s)
{
	s->gave_up = true;
	event_base_loopbreak(s->base);
}

void lifecycle_kill(struct sup *s)
{
	s->vm.stopping = true;
	if (s->vm.restarting || s->vm.pid <= 0) {
		event_base_loopbreak(s->base);
		return;
	}
	s->killed = true;
	s->stop = STOP_KILL;
	kill(s->vm.pid, SIGKILL);
}

/* Records how the VM ended and says so, a line for each line of why; a QEMU that runs on
 * (a reconnect given up) has not ended and leaves no record. */
static void end_with(struct sup *s, enum vm_end end, const struct verr *why)
{
	state_set_end(&s->vm, end, why);
	say_err(&s->vm, why);
	if (!s->gave_up)
		state_save_end(&s->vm);
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

void lifecycle_start_failed(struct sup *s, struct verr *err)
{
	verr_wrap(err, "failed to start");
	end_with(s, VM_START_FAILED, err);
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

/* A QEMU that said why it could not start: the verdict is its whole output (which was not
 * shown before: the error is printed once). */
static void start_failed_with_output(struct sup *s)
{
	_cleanup_verr_ struct verr why = { 0 };

	state_output_lines(&s->vm, &why);
	if (s->out.partial)
		verr_set(&why, 0, "%s", s->out.last);
	lifecycle_start_failed(s, &why);
}

/* Decides how a QEMU that was never ready ended. */
static void verdict_start(struct sup *s)
{
	int st = s->wstatus;

	if (s->gave_up && s->start_timed_out)
		ended(s, VM_START_FAILED, "failed to reconnect: QEMU pid %d did not answer QMP within %d s (is it "
		      "stopped, or does another process hold its monitor?); it runs on, untouched", s->vm.pid,
		      START_TIMEOUT);
	else if (s->gave_up)
		ended(s, VM_START_FAILED, "reconnect abandoned: stopped before QEMU pid %d answered QMP; it runs on, "
		      "untouched", s->vm.pid);
	else if (s->start_error.n)
		lifecycle_start_failed(s, &s->start_error);
	else if (s->stop_before_ready)
		ended(s, VM_FORCED_OFF, "forced off: stopped before QEMU was ready");
	else if (s->start_timed_out)
		ended(s, VM_START_FAILED, "failed to start: QEMU did not answer QMP within %d s", START_TIMEOUT);
	else if (s->out.last[0])
		start_failed_with_output(s);
	else if (!s->child)
		ended(s, VM_START_FAILED, "failed to reconnect: QEMU exited");
	else if (WIFSIGNALED(st))
		ended(s, VM_START_FAILED, "failed to start: QEMU was killed by %s", signame(WTERMSIG(st)));
	else
		ended(s, VM_START_FAILED, "failed to start: QEMU exited with status %d", WEXITSTATUS(st));
}

void lifecycle_verdict(struct sup *s)
{
	int st = s->wstatus;

	s->vm.wstatus = s->child ? st : -1;
	if (s->saved_to)
		ended(s, VM_SAVED, "saved to %s (vmm restore %s brings it back)", s->saved_to, s->saved_to);
	else if (s->killed)
		ended(s, VM_FORCED_OFF, "forced off: killed (vmm kill)");
	else if (s->migrated_to)
		ended(s, VM_MIGRATED, "migrated to %s", s->migrated_to);
	else if (s->ready && s->incoming)
		ended(s, VM_START_FAILED, "incoming migration on %s failed%s%s", s->opt.incoming,
		      s->out.last[0] ? ": " : "", s->out.last);
	else if (swtpm_failure(s->swtpm))
		ended(s, VM_CRASHED, "the TPM failed: %s (QEMU was killed)", swtpm_failure(s->swtpm));
	else if (!s->ready)
		verdict_start(s);
	else if (s->terminated && s->stop == STOP_KILL)
		ended(s, VM_FORCED_OFF, "forced off: killed after QEMU ignored SIGTERM (its QMP connection was gone)");
	else if (s->terminated)
		ended(s, VM_FORCED_OFF, "forced off: QEMU was stopped by SIGTERM (its QMP connection was gone)");
	else if (s->child && WIFSIGNALED(st) && s->stop == STOP_KILL)
		ended(s, VM_FORCED_OFF, "forced off: killed after the guest did not power off and QEMU did not quit");
	else if (s->child && WIFSIGNALED(st))
		ended(s, VM_CRASHED, "QEMU crashed: killed by %s", signame(WTERMSIG(st)));
	else if (s->child && WEXITSTATUS(st) != 0)
		ended(s, VM_CRASHED, "QEMU crashed: exited with status %d%s%s", WEXITSTATUS(st),
		      s->out.last[0] ? ": " : "", s->out.last);
	else if (!strcmp(s->reason, "guest-shutdown") && s->stop == STOP_AGENT)
		ended(s, VM_POWERED_OFF, "guest powered off (through its guest agent: it ignored the power button)");
	else if (!strcmp(s->reason, "guest-shutdown"))
		ended(s, VM_POWERED_OFF, "guest powered off");
	else if (!strcmp(s->reason, "host-qmp-quit"))
		ended(s, VM_FORCED_OFF, "forced off: QEMU quit before the guest powered off");
	else if (!strcmp(s->reason, "host-signal"))
		ended(s, VM_FORCED_OFF, "forced off: QEMU was stopped by a signal sent to it");
	else if (!strcmp(s->reason, "guest-panic"))
		ended(s, VM_CRASHED, "guest crashed: its kernel panicked (GUEST_PANICKED)");
	else if (s->reason[0])
		ended(s, VM_CRASHED, "QEMU crashed: shut down (%s)", s->reason);
	else if (!s->child)
		ended(s, VM_CRASHED, "QEMU crashed: it ended without a shutdown event");
	else
		ended(s, VM_CRASHED, "QEMU crashed: exited without a shutdown event");
}

bool lifecycle_restart_due(struct sup *s, unsigned *delay_ms)
{
	enum restart_policy policy = s->plan->config.restart;
	time_t now = time(NULL);
	unsigned recent = 0;

	if (s->vm.stopping || !s->ever_ready || s->incoming || s->migrated_to || policy == RESTART_NO ||
	    (policy == RESTART_ON_CRASH && s->vm.end != VM_CRASHED))
		return false;
	for (size_t i = 0; i < RESTART_BURST; i++)
		if (s->recent[i] && now - s->recent[i] < RESTART_WINDOW)
			recent++;
	if (recent >= RESTART_BURST) {
		say(&s->vm, "not restarting: %d restarts within %d s", RESTART_BURST, RESTART_WINDOW);
		return false;
	}
	s->recent[s->vm.restarts++ % RESTART_BURST] = now;
	*delay_ms = 500u << recent;
	say(&s->vm, "restarting in %u ms (lifecycle.restart is %s)", *delay_ms, restart_names[policy]);
	return true;
}
