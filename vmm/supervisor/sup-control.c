/* The supervisor's answers on ctl.sock, its status and its state file. Status is
 * answered from what the supervisor knows, so it answers even when QEMU is frozen. */
#include "vmm/supervisor/sup.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "vmm/base/util.h"
#include "vmm/supervisor/protocol.h"

const char *vm_end_name(int end)
{
	switch (end) {
	case VM_POWERED_OFF:
		return "powered-off";
	case VM_START_FAILED:
		return "start-failed";
	case VM_FORCED_OFF:
		return "forced-off";
	case VM_CRASHED:
		return "crashed";
	default:
		return "none";
	}
}

/* Adds a string member when the value is set. */
static void add_string(struct json_object *o, const char *key, const char *value)
{
	if (value && *value)
		json_object_object_add(o, key, json_object_new_string(value));
}

/* The facts both the status and the state file carry. */
static struct json_object *facts(struct sup *s)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, VM_KEY_NAME, json_object_new_string(s->name));
	json_object_object_add(o, VM_KEY_SUPERVISOR_PID, json_object_new_int(getpid()));
	if (s->pid > 0)
		json_object_object_add(o, VM_KEY_QEMU_PID, json_object_new_int(s->pid));
	if (s->started)
		json_object_object_add(o, VM_KEY_STARTED, json_object_new_int64(s->started));
	add_string(o, VM_KEY_QEMU_VERSION, s->version);
	json_object_object_add(o, VM_KEY_ACCEL, json_object_new_string(accel_names[s->plan->launch.accel]));
	json_object_object_add(o, VM_KEY_PROFILE, json_object_new_string(s->plan->profile_path));
	json_object_object_add(o, VM_KEY_RUN_DIR, json_object_new_string(s->rd.path));
	return o;
}

struct json_object *sup_status(struct sup *s)
{
	struct json_object *o = facts(s);

	json_object_object_add(o, VM_KEY_STATE, json_object_new_string(s->runstate));
	if (s->started && s->pid > 0)
		json_object_object_add(o, VM_KEY_UPTIME, json_object_new_int64(time(NULL) - s->started));
	json_object_object_add(o, VM_KEY_STOPPING, json_object_new_boolean(s->quitting));
	json_object_object_add(o, VM_KEY_RESTARTING, json_object_new_boolean(s->restarting));
	json_object_object_add(o, VM_KEY_RESTARTS, json_object_new_int(s->restarts));
	json_object_object_add(o, VM_KEY_PROTECTED, json_object_new_boolean(s->plan->config.protected));
	json_object_object_add(o, VM_KEY_RESTART, json_object_new_string(restart_names[s->plan->config.restart]));
	json_object_object_add(o, VM_KEY_PINNED, json_object_new_boolean(s->pinned));
	json_object_object_add(o, VM_KEY_QMP_CLIENTS, json_object_new_int(s->proxy ? proxy_clients(s->proxy) : 0));
	if (s->end >= 0) {
		json_object_object_add(o, VM_KEY_LAST_END, json_object_new_string(vm_end_name(s->end)));
		json_object_object_add(o, VM_KEY_LAST_END_MESSAGE, json_object_new_string(s->end_text));
	}
	return o;
}

void sup_write_state(struct sup *s)
{
	struct json_object *st = facts(s);
	_cleanup_verr_ struct verr err = { 0 };

	json_object_object_add(st, VM_KEY_RESOLVED_PROFILE, json_object_get(s->plan->profile));
	if (rundir_write(&s->rd, "state.json",
			 json_object_to_json_string_ext(st, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED), &err) < 0)
		for (size_t i = 0; i < err.n; i++)
			say(s, "%s", err.lines[i]);
	json_object_put(st);
}

/* The answer a stop or kill gets once the VM has ended. */
static struct json_object *end_reply(struct sup *s)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, CTL_END_NAME, json_object_new_string(vm_end_name(s->end)));
	json_object_object_add(o, CTL_END_CODE, json_object_new_int(s->end < 0 ? 1 : s->end));
	json_object_object_add(o, CTL_END_MESSAGE, json_object_new_string(s->end_text ? s->end_text : ""));
	return o;
}

void sup_answer_waiters(struct sup *s)
{
	for (size_t i = 0; i < s->n_waiters; i++)
		control_reply(s->waiters[i], end_reply(s));
	s->n_waiters = 0;
}

/* Keeps a stop or kill request to be answered when the VM has ended. */
static void add_waiter(struct sup *s, struct control_conn *conn)
{
	control_hold(conn);
	s->waiters = xrealloc(s->waiters, (s->n_waiters + 1) * sizeof(*s->waiters));
	s->waiters[s->n_waiters++] = conn;
}

/* A pause, resume or reset came back from QEMU. */
static void command_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct control_conn *conn = arg;

	(void)c;
	if (r->failure == QMP_OK)
		control_reply(conn, NULL);
	else if (r->failure == QMP_ERR_TIMEOUT)
		control_fail(conn, "QEMU did not answer within %d ms (is it frozen?)", COMMAND_TIMEOUT_MS);
	else
		control_fail(conn, "%s", r->desc);
}

/* pause, resume, reset: one QMP command, answered when QEMU answers. */
static void forward(struct sup *s, struct control_conn *conn, const char *command)
{
	if (!s->ready || !s->qmp) {
		control_fail(conn, "QEMU is not running (state %s)", s->runstate);
		return;
	}
	control_hold(conn);
	qmp_send(s->qmp, command, NULL, COMMAND_TIMEOUT_MS, 0, command_cb, conn);
}

/* Refuses a destructive request on a protected VM; returns true when it did. */
static bool refuse_protected(struct sup *s, struct control_conn *conn, const char *request)
{
	if (!s->plan->config.protected)
		return false;
	control_fail(conn, "%s refused: the VM is protected (lifecycle.protected in '%s')", request,
		     s->plan->profile_path);
	return true;
}

/* stop: the power button, then quit, then SIGKILL; answered when the VM has ended. */
static void request_stop(struct sup *s, struct control_conn *conn, struct json_object *args)
{
	struct json_object *t;

	if (refuse_protected(s, conn, CTL_REQ_STOP))
		return;
	if (json_object_object_get_ex(args, CTL_ARG_TIMEOUT, &t)) {
		int64_t seconds = json_object_get_int64(t);
		if (!json_object_is_type(t, json_type_int) || seconds < 0 || seconds > 3600) {
			control_fail(conn, CTL_ARG_TIMEOUT ": expected seconds from 0 to 3600");
			return;
		}
		s->stop_timeout = (unsigned)seconds;
	}
	add_waiter(s, conn);
	if (s->stop == STOP_NONE)
		stop_step(s);
}

/* kill: SIGKILL now; answered when the VM has ended. */
static void request_kill(struct sup *s, struct control_conn *conn)
{
	if (refuse_protected(s, conn, CTL_REQ_KILL))
		return;
	add_waiter(s, conn);
	s->quitting = true;
	if (s->restarting || s->pid <= 0) {
		event_base_loopbreak(s->base);
		return;
	}
	s->killed = true;
	s->stop = STOP_KILL;
	kill(s->pid, SIGKILL);
}

void sup_request(struct control_conn *conn, const char *request, struct json_object *args, void *arg)
{
	struct sup *s = arg;

	if (!strcmp(request, CTL_REQ_STATUS))
		control_reply(conn, sup_status(s));
	else if (!strcmp(request, CTL_REQ_STOP))
		request_stop(s, conn, args);
	else if (!strcmp(request, CTL_REQ_KILL))
		request_kill(s, conn);
	else if (!strcmp(request, CTL_REQ_PAUSE))
		forward(s, conn, "stop");
	else if (!strcmp(request, CTL_REQ_RESUME))
		forward(s, conn, "cont");
	else if (!strcmp(request, CTL_REQ_RESET)) {
		if (!refuse_protected(s, conn, CTL_REQ_RESET))
			forward(s, conn, "system_reset");
	} else
		control_fail(conn, "unknown request '%s'", request);
}
