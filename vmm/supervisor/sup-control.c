#include "vmm/supervisor/sup-control.h"

#include <string.h>

#include "vmm/base/util.h"
#include "vmm/supervisor/blockops.h"
#include "vmm/supervisor/lifecycle.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/save.h"
#include "vmm/supervisor/sup-agent.h"
#include "vmm/supervisor/sup-grants.h"
#include "vmm/supervisor/sup-migrate.h"
#include "vmm/supervisor/sup.h"

/* The answer a stop or kill gets once the VM has ended. */
static struct json_object *end_reply(const struct vm_state *st)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, CTL_END_NAME, json_object_new_string(vm_end_name(st->end)));
	json_object_object_add(o, CTL_END_CODE, json_object_new_int(st->end < 0 ? 1 : st->end));
	json_object_object_add(o, CTL_END_MESSAGE, json_object_new_string(st->end_text ? st->end_text : ""));
	return o;
}

void sup_answer_waiters(struct sup *s)
{
	for (size_t i = 0; i < s->n_waiters; i++)
		control_reply(s->waiters[i], end_reply(&s->vm));
	s->n_waiters = 0;
}

void sup_add_waiter(struct sup *s, struct control_conn *conn)
{
	s->waiters = xrealloc(s->waiters, (s->n_waiters + 1) * sizeof(*s->waiters));
	s->waiters[s->n_waiters++] = conn;
}

/* Keeps a stop or kill request to be answered when the VM has ended. */
static void add_waiter(struct sup *s, struct control_conn *conn)
{
	control_hold(conn);
	sup_add_waiter(s, conn);
}

/* A pause, resume or reset came back from QEMU. */
static void command_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct control_conn *conn = arg;

	(void)c;
	if (r->failure == QMP_OK)
		control_reply(conn, NULL);
	else if (r->failure == QMP_ERR_TIMEOUT)
		control_fail(conn, "QEMU did not answer within %d ms (is it frozen?)", CTL_QMP_TIMEOUT_MS);
	else
		control_fail(conn, "%s", r->desc);
}

/* Sends command to QEMU for a request, whose answer fn gives (with conn). */
static void forward_then(struct sup *s, struct control_conn *conn, const char *command, qmp_reply_fn fn)
{
	if (!s->ready || !s->qmp) {
		control_fail(conn, "QEMU is not running (state %s)", s->vm.runstate);
		return;
	}
	control_hold(conn);
	qmp_send(s->qmp, command, NULL, CTL_QMP_TIMEOUT_MS, 0, fn, conn);
}

/* pause, reset: one QMP command, answered when QEMU answers. */
static void forward(struct sup *s, struct control_conn *conn, const char *command)
{
	forward_then(s, conn, command, command_cb);
}

/* resume's query-status came back: a guest migrated out of this QEMU (postmigrate: a migration
 * that completed without its supervisor, or one not vmm's) runs elsewhere now; cont would run
 * it twice, on the same disks. Anything else is resumed. */
static void resume_status_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct json_object *st;

	if (r->failure != QMP_OK)
		command_cb(c, r, arg);
	else if (json_object_object_get_ex(r->ret, "status", &st) && !strcmp(json_object_get_string(st), "postmigrate"))
		control_fail(arg, "the guest was migrated out of this QEMU (status postmigrate): resumed here, it would "
				  "run twice");
	else
		qmp_send(c, "cont", NULL, CTL_QMP_TIMEOUT_MS, 0, command_cb, arg);
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

/* stop: the power button, then the guest agent (if any), then quit, then SIGKILL; answered when
 * the VM has ended. */
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
		lifecycle_stop(s);
}

/* kill: SIGKILL now; answered when the VM has ended. */
static void request_kill(struct sup *s, struct control_conn *conn)
{
	if (refuse_protected(s, conn, CTL_REQ_KILL))
		return;
	add_waiter(s, conn);
	lifecycle_kill(s);
}

/* add, remove, set: hot-plugging needs QEMU up and its QMP connection, and the guest staying
 * where it is: a device changed while it moves would not be on the other side (nor in a save). */
static void hotplug_request(struct sup *s, struct control_conn *conn, const char *request, struct json_object *args)
{
	if (!s->ready || !s->qmp)
		control_fail(conn, "QEMU is not running (state %s)", s->vm.runstate);
	else if (s->upgrade || s->migration || s->migrate_conn || s->incoming)
		control_fail(conn, "cannot %s: the guest is moving (%s); try again once it is done", request,
			     s->incoming ? "the VM waits for an incoming migration" :
			     s->upgrade ? "a save or an upgrade is under way" : "a migration is under way");
	else if (!strcmp(request, CTL_REQ_ADD))
		hotplug_add(s->hotplug, s->qmp, conn, args);
	else if (!strcmp(request, CTL_REQ_SET))
		hotplug_set(s->hotplug, s->qmp, conn, args);
	else
		hotplug_remove(s->hotplug, s->qmp, conn, args);
}

/* The status object: the VM's state, and where it waits for an incoming migration. */
static struct json_object *status(struct sup *s)
{
	struct json_object *o = state_status(&s->vm, s->proxy ? proxy_clients(s->proxy) : 0);

	if (s->incoming)
		json_object_object_add(o, VM_KEY_INCOMING, json_object_new_string(s->opt.incoming));
	return o;
}

/* Lets QEMU's user open the images a block request adds; false (answered) when it cannot. */
static bool block_grants(struct sup *s, struct control_conn *conn, struct json_object *args)
{
	_cleanup_verr_ struct verr err = { 0 };

	if (qemu_user_grant_blockdevs(s->plan, &s->rd, json_object_object_get(args, CTL_ARG_COMMANDS), &err) == 0)
		return true;
	control_fail(conn, "%s", err.n ? err.lines[0] : "cannot let QEMU's user reach the image");
	return false;
}

void sup_give_back_for(struct sup *s, const char *purpose)
{
	_cleanup_verr_ struct verr err = { 0 };

	if (s->plan->qemu_user.name && qemu_user_give_back_for(&s->rd, purpose, &err) < 0) {
		verr_wrap(&err, "taking back QEMU's access to the files of %s", purpose);
		say_err(&s->vm, &err);
	}
}

/* A block node is gone: QEMU's user loses the access granted for its image (a backup's target). */
static void block_deleted(const char *node, void *arg)
{
	_cleanup_free_ char *purpose = grant_for_node(node);

	sup_give_back_for(arg, purpose);
}

void sup_request(struct control_conn *conn, const char *request, struct json_object *args, void *arg)
{
	struct sup *s = arg;

	if (!strcmp(request, CTL_REQ_STATUS))
		control_reply(conn, status(s));
	else if (!strcmp(request, CTL_REQ_STOP))
		request_stop(s, conn, args);
	else if (!strcmp(request, CTL_REQ_KILL))
		request_kill(s, conn);
	else if (!strcmp(request, CTL_REQ_PAUSE))
		forward(s, conn, "stop");
	else if (!strcmp(request, CTL_REQ_RESUME))
		forward_then(s, conn, "query-status", resume_status_cb);
	else if (!strcmp(request, CTL_REQ_RESET)) {
		if (!refuse_protected(s, conn, CTL_REQ_RESET))
			forward(s, conn, "system_reset");
	} else if (!strcmp(request, CTL_REQ_ADD) || !strcmp(request, CTL_REQ_REMOVE) || !strcmp(request, CTL_REQ_SET))
		hotplug_request(s, conn, request, args);
	else if (!strcmp(request, CTL_REQ_DEVICES))
		control_reply(conn, hotplug_devices(s->hotplug));
	else if (!strcmp(request, CTL_REQ_AGENT) || !strcmp(request, CTL_REQ_IP))
		sup_agent_request(s, conn, request, args);
	else if (!strcmp(request, CTL_REQ_BALLOON) && (!s->ready || !s->qmp))
		control_fail(conn, "QEMU is not running (state %s)", s->vm.runstate);
	else if (!strcmp(request, CTL_REQ_BALLOON))
		balloon_request(s->balloon, conn, args);
	else if (!strcmp(request, CTL_REQ_BLOCK) && (!s->ready || !s->qmp))
		control_fail(conn, "QEMU is not running (state %s)", s->vm.runstate);
	else if (!strcmp(request, CTL_REQ_BLOCK) && !block_grants(s, conn, args))
		;
	else if (!strcmp(request, CTL_REQ_BLOCK))
		blockops_request(s->plan->config.agent ? s->agent : NULL, &s->qmp,
				 s->plan->config.protected ? s->plan->profile_path : NULL, conn, args, block_deleted, s);
	else if (!strcmp(request, CTL_REQ_MIGRATE) || !strcmp(request, CTL_REQ_MIGRATION) ||
		 !strcmp(request, CTL_REQ_MIGRATE_CANCEL))
		sup_migrate_request(s, conn, request, args);
	else if (!strcmp(request, CTL_REQ_UPGRADE))
		upgrade_request(s, conn, args);
	else if (!strcmp(request, CTL_REQ_SAVE))
		save_request(s, conn, args);
	else if (!strcmp(request, CTL_REQ_SAVE_CANCEL))
		save_cancel_request(s, conn);
	else
		control_fail(conn, "unknown request '%s'", request);
}
