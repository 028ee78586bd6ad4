#include "vmm/supervisor/blockops.h"

#include <string.h>
#include <time.h>

#include "vmm/base/strict.h"
#include "vmm/base/util.h"
#include "vmm/supervisor/protocol.h"

/* The most commands one request runs. */
#define MAX_COMMANDS 64

/* One request being run: its commands, what they returned, the freeze around them. */
struct run {
	struct control_conn *conn;
	struct agent *agent;
	struct qmp_client *const *qmp;
	blockops_deleted_fn deleted;
	void *deleted_arg;
	struct json_object *commands, *returns;
	size_t next;
	int frozen;             /* filesystems frozen, -1 when none */
	char *freeze_error;     /* why the guest was not frozen (asked to be) */
	char *error;            /* why a command failed */
	int64_t t_freeze, t_first, t_last, t_thawed;
};

/* Microseconds on the monotonic clock. */
static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Answers the request and frees the run. */
static void finish(struct run *r)
{
	if (r->error) {
		control_fail(r->conn, "%s", r->error);
	} else {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, BLOCK_KEY_RETURNS, steal_ptr(r->returns));
		json_object_object_add(o, BLOCK_KEY_FROZEN, json_object_new_int(r->frozen));
		if (r->freeze_error)
			json_object_object_add(o, BLOCK_KEY_FREEZE_ERROR, json_object_new_string(r->freeze_error));
		json_object_object_add(o, BLOCK_KEY_QMP_US, json_object_new_int64(r->t_last - r->t_first));
		if (r->frozen >= 0)
			json_object_object_add(o, BLOCK_KEY_FROZEN_US, json_object_new_int64(r->t_thawed - r->t_freeze));
		control_reply(r->conn, o);
	}
	json_object_put(r->commands);
	json_object_put(r->returns);
	free(r->freeze_error);
	free(r->error);
	free(r);
}

/* The guest thawed (or said why not: the request fails then, loudly). */
static void thaw_cb(const struct agent_result *ar, void *arg)
{
	struct run *r = arg;

	r->t_thawed = now_us();
	if (ar->failure != AGENT_OK) {
		char *e = xasprintf("%s%sthe guest's filesystems could not be thawed: %s (thaw them with vmm agent NAME "
				    "--raw '{\"execute\": \"guest-fsfreeze-thaw\"}')", r->error ? r->error : "",
				    r->error ? "; " : "", ar->desc);
		free(r->error);
		r->error = e;
	}
	finish(r);
}

/* The commands are done (or one failed): thaws the guest when it was frozen, then answers. */
static void after_commands(struct run *r)
{
	struct json_object *thaw;

	r->t_last = now_us();
	if (r->frozen < 0) {
		finish(r);
		return;
	}
	thaw = json_object_new_object();
	json_object_object_add(thaw, "execute", json_object_new_string("guest-fsfreeze-thaw"));
	agent_call(r->agent, thaw, CTL_FREEZE_TIMEOUT_MS, thaw_cb, r);
}

static void send_next(struct run *r);

/* One command answered: the next one, or the end. */
static void command_cb(struct qmp_client *c, const struct qmp_result *res, void *arg)
{
	struct run *r = arg;
	struct json_object *cmd = json_object_array_get_idx(r->commands, r->next), *node;

	(void)c;
	if (res->failure != QMP_OK) {
		r->error = xasprintf("QEMU's %s failed: %s", json_object_get_string(json_object_object_get(cmd, "execute")),
				     res->failure == QMP_ERR_TIMEOUT ? "no answer in time" : res->desc);
		after_commands(r);
		return;
	}
	json_object_array_add(r->returns, res->ret ? json_object_get(res->ret) : json_object_new_object());
	if (!strcmp(json_object_get_string(json_object_object_get(cmd, "execute")), "blockdev-del") &&
	    json_object_object_get_ex(json_object_object_get(cmd, "arguments"), "node-name", &node) &&
	    json_object_is_type(node, json_type_string))
		r->deleted(json_object_get_string(node), r->deleted_arg);
	r->next++;
	send_next(r);
}

/* Sends the next command, or ends when none is left. */
static void send_next(struct run *r)
{
	struct json_object *cmd;

	if (r->next == json_object_array_length(r->commands)) {
		after_commands(r);
		return;
	}
	cmd = json_object_array_get_idx(r->commands, r->next);
	if (r->next == 0)
		r->t_first = now_us();
	if (!*r->qmp || qmp_send_object(*r->qmp, json_object_get(cmd), CTL_QMP_TIMEOUT_MS, command_cb, r) < 0) {
		r->error = xstrdup("QEMU's QMP connection is gone");
		after_commands(r);
	}
}

/* The guest froze its filesystems, or did not: the commands run either way. */
static void freeze_cb(const struct agent_result *ar, void *arg)
{
	struct run *r = arg;

	r->t_freeze = now_us();
	if (ar->failure == AGENT_OK)
		r->frozen = (int)json_object_get_int(ar->ret);
	else
		r->freeze_error = xstrdup(ar->desc);
	send_next(r);
}

/* True when cmd is {"execute": one of BLOCK_COMMANDS, "arguments": {...}} and nothing more. */
static bool command_valid(struct json_object *cmd)
{
	static const char *const allowed[] = { BLOCK_COMMANDS };
	struct json_object *name, *arguments = NULL;

	if (!json_object_is_type(cmd, json_type_object) || !json_object_object_get_ex(cmd, "execute", &name) ||
	    !json_object_is_type(name, json_type_string) ||
	    (json_object_object_get_ex(cmd, "arguments", &arguments) &&
	     !json_object_is_type(arguments, json_type_object)) ||
	    json_object_object_length(cmd) != 1 + (arguments != NULL))
		return false;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (!strcmp(allowed[i], json_object_get_string(name)))
			return true;
	return false;
}

void blockops_request(struct agent *agent, struct qmp_client *const *qmp, const char *protected_in,
		      struct control_conn *conn, struct json_object *args, blockops_deleted_fn deleted, void *arg)
{
	struct json_object *commands;
	struct run *r;
	bool freeze;
	size_t n;

	if (!json_object_object_get_ex(args, CTL_ARG_COMMANDS, &commands) ||
	    !json_object_is_type(commands, json_type_array) || (n = json_object_array_length(commands)) == 0 ||
	    n > MAX_COMMANDS) {
		control_fail(conn, CTL_ARG_COMMANDS ": expected a list of 1 to %d QMP commands", MAX_COMMANDS);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *cmd = json_object_array_get_idx(commands, i);
		if (!command_valid(cmd)) {
			control_fail(conn, CTL_ARG_COMMANDS "[%zu]: expected {\"execute\": NAME, \"arguments\": {...}} with "
				     "a block command as NAME", i);
			return;
		}
		if (protected_in && !strcmp(json_object_get_string(json_object_object_get(cmd, "execute")), "snapshot-load")) {
			control_fail(conn, "snapshot-load refused: the VM is protected (lifecycle.protected in '%s')",
				     protected_in);
			return;
		}
	}
	if (json_bool_member(args, CTL_ARG_FREEZE, &freeze) < 0) {
		control_fail(conn, CTL_ARG_FREEZE ": expected true or false");
		return;
	}
	r = xzalloc(sizeof(*r));
	r->conn = conn;
	r->agent = agent;
	r->qmp = qmp;
	r->deleted = deleted;
	r->deleted_arg = arg;
	r->commands = json_object_get(commands);
	r->returns = json_object_new_array();
	r->frozen = -1;
	control_hold(conn);
	if (!freeze) {
		send_next(r);
	} else if (!agent) {
		r->freeze_error = xstrdup("the VM " CTL_ERR_NO_AGENT);
		send_next(r);
	} else {
		struct json_object *cmd = json_object_new_object();
		json_object_object_add(cmd, "execute", json_object_new_string("guest-fsfreeze-freeze"));
		agent_call(agent, cmd, CTL_FREEZE_TIMEOUT_MS, freeze_cb, r);
	}
}
