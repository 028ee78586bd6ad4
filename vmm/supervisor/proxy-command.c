/* One message from a proxy client: the envelope checked and answered as QEMU's monitor
 * would (qmp_capabilities is answered here, QEMU negotiated long ago), the policy
 * applied, descriptors attached, and what is left queued for QEMU. */
#include <string.h>

#include "vmm/base/util.h"
#include "vmm/supervisor/proxy-int.h"

/* Answers a message with an error, in its turn. */
static void answer_error(struct pcmd *cmd, const char *cls, const char *desc)
{
	pcmd_done(cmd, proxy_error_line(cmd->id, cls, desc));
}

/* qmp_capabilities from a client: negotiates its own session. */
static void negotiate(struct pclient *c, struct pcmd *cmd, struct json_object *msg)
{
	struct json_object *args, *enable;
	bool oob = false;

	if (c->negotiated) {
		answer_error(cmd, "CommandNotFound", "Capabilities negotiation is already complete, command ignored");
		return;
	}
	if (json_object_object_get_ex(msg, "arguments", &args) && json_object_object_get_ex(args, "enable", &enable)) {
		if (!json_object_is_type(enable, json_type_array)) {
			answer_error(cmd, "GenericError", "Invalid parameter type for 'enable', expected: array");
			return;
		}
		for (size_t i = 0; i < json_object_array_length(enable); i++) {
			const char *cap = json_object_get_string(json_object_array_get_idx(enable, i));
			if (!cap || strcmp(cap, "oob") || !qmp_oob(c->p->qmp)) {
				answer_error(cmd, "GenericError", "Capability not available");
				return;
			}
			oob = true;
		}
	}
	c->negotiated = true;
	c->oob = oob;
	pcmd_done(cmd, proxy_return_line(NULL, cmd->id));
}

/* The command's name, or NULL after answering a message that is not a command. */
static const char *command_name(struct pcmd *cmd, struct json_object *msg)
{
	struct json_object *exec = NULL, *oob = NULL;

	if (!json_object_is_type(msg, json_type_object)) {
		answer_error(cmd, "GenericError", "QMP input must be a JSON object");
		return NULL;
	}
	json_object_object_get_ex(msg, "execute", &exec);
	json_object_object_get_ex(msg, "exec-oob", &oob);
	if (!exec == !oob) {
		answer_error(cmd, "GenericError", "QMP input must have exactly one of 'execute' and 'exec-oob'");
		return NULL;
	}
	if (!json_object_is_type(exec ? exec : oob, json_type_string)) {
		answer_error(cmd, "GenericError", "QMP input member 'execute' must be a string");
		return NULL;
	}
	return json_object_get_string(exec ? exec : oob);
}

/* True for the commands that take the descriptors passed with them. */
static bool takes_fds(const char *name)
{
	return !strcmp(name, "getfd") || !strcmp(name, "add-fd");
}

void proxy_command(struct pclient *c, const struct qmp_item *item)
{
	struct pcmd *cmd = xzalloc(sizeof(*cmd));
	const char *name, *why;

	cmd->p = c->p;
	cmd->id = item->id ? xstrdup(item->id) : NULL;
	/* QEMU runs an exec-oob at once, and answers one it refuses at once too. */
	cmd->oob = json_object_is_type(item->msg, json_type_object) &&
		   json_object_object_get_ex(item->msg, "exec-oob", NULL) &&
		   !json_object_object_get_ex(item->msg, "execute", NULL);
	pcmd_enqueue(c, cmd);
	if (!(name = command_name(cmd, item->msg)))
		return;
	if (!strcmp(name, "qmp_capabilities"))
		negotiate(c, cmd, item->msg);
	else if (!c->negotiated)
		answer_error(cmd, "CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'");
	else if (cmd->oob && !c->oob)
		answer_error(cmd, "GenericError", "QMP input member 'exec-oob' requires the 'oob' capability");
	else if ((why = proxy_refusal(c->p->policy, name, item->msg)))
		answer_error(cmd, "GenericError", why);
	else if (takes_fds(name) && !cmd->oob &&
		 (cmd->n_fds = peer_take_fds(c->peer, item->end, cmd->fds)) == 0)
		answer_error(cmd, "GenericError", "No file descriptor supplied via SCM_RIGHTS");
	else if (cmd->oob)
		proxy_send_oob(cmd, item->msg);
	else {
		cmd->text = xmemdup(item->text, item->len);
		cmd->len = item->len;
		c->waiting++;
		c->waiting_bytes += cmd->len;
		proxy_ready(c);
	}
}
