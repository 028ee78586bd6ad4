#include "vmm/supervisor/sup-agent.h"

#include <strings.h>
#include <string.h>

#include "vmm/base/strict.h"
#include "vmm/base/util.h"
#include "vmm/supervisor/agent.h"
#include "vmm/supervisor/protocol.h"

int sup_agent_listen(struct sup *s, int *listen_fd, int *conn_fd, struct verr *err)
{
	*listen_fd = *conn_fd = -1;
	if (!s->plan->config.agent)
		return 0;
	/* Connected before QEMU runs: the connection waits in the backlog. */
	if ((*listen_fd = rundir_listen(&s->rd, AGENT_SOCK, err)) < 0 ||
	    (*conn_fd = rundir_connect(&s->rd, AGENT_SOCK, err)) < 0)
		return -1;
	return 0;
}

void sup_agent_reconnect(struct sup *s)
{
	_cleanup_verr_ struct verr err = { 0 };
	int fd;

	if (!s->plan->config.agent)
		return;
	if ((fd = rundir_connect(&s->rd, AGENT_SOCK, &err)) < 0) {
		verr_wrap(&err, "warning: the guest agent cannot be reached");
		say_err(&s->vm, &err);
		return;
	}
	agent_attach(s->agent, fd);
}

/* The agent answered a CTL_REQ_AGENT: its return value, or why not. */
static void agent_reply_cb(const struct agent_result *r, void *arg)
{
	struct control_conn *conn = arg;

	if (r->failure == AGENT_OK)
		control_reply(conn, json_object_get(r->ret));
	else
		control_fail(conn, "%s", r->desc);
}

/* The command of an agent request, checked: {"execute": NAME, "arguments": OBJECT}; NULL after
 * failing conn. */
static struct json_object *command_of(struct control_conn *conn, struct json_object *args)
{
	struct json_object *cmd, *name, *arguments = NULL, *out;

	if (!json_object_object_get_ex(args, CTL_ARG_COMMAND, &cmd) || !json_object_is_type(cmd, json_type_object) ||
	    !json_object_object_get_ex(cmd, "execute", &name) || !json_object_is_type(name, json_type_string) ||
	    (json_object_object_get_ex(cmd, "arguments", &arguments) &&
	     !json_object_is_type(arguments, json_type_object)) ||
	    json_object_object_length(cmd) != 1 + (arguments != NULL)) {
		control_fail(conn, CTL_ARG_COMMAND ": expected {\"execute\": NAME, \"arguments\": {...}} and no other "
			     "member");
		return NULL;
	}
	out = json_object_new_object();
	json_object_object_add(out, "execute", json_object_get(name));
	if (arguments)
		json_object_object_add(out, "arguments", json_object_get(arguments));
	return out;
}

/* Fails conn unless the VM has an agent channel and QEMU runs; returns true when it did. */
static bool refuse(struct sup *s, struct control_conn *conn)
{
	if (!s->plan->config.agent)
		control_fail(conn, "VM '%s' " CTL_ERR_NO_AGENT " (\"agent\": true in its profile '%s' adds one)",
			     s->vm.name, s->plan->profile_path);
	else if (!s->ready)
		control_fail(conn, "QEMU is not running (state %s)", s->vm.runstate);
	else
		return false;
	return true;
}

/* agent: one command through the agent, answered with what the agent returned. */
static void request_agent(struct sup *s, struct control_conn *conn, struct json_object *args)
{
	struct json_object *cmd, *t;
	int64_t seconds = CTL_AGENT_TIMEOUT_MS / 1000;

	if (json_object_object_get_ex(args, CTL_ARG_TIMEOUT, &t)) {
		seconds = json_object_get_int64(t);
		if (!json_object_is_type(t, json_type_int) || seconds < 1 || seconds > 3600) {
			control_fail(conn, CTL_ARG_TIMEOUT ": expected seconds from 1 to 3600");
			return;
		}
	}
	if (!(cmd = command_of(conn, args)))
		return;
	control_hold(conn);
	agent_call(s->agent, cmd, (unsigned)seconds * 1000, agent_reply_cb, conn);
}

/* An ip request waiting for the agent. */
struct ip_ask {
	struct sup *s;
	struct control_conn *conn;
};

/* The VM's NIC whose MAC is mac (the profile's, else the identity's), or NULL. */
static const struct nic_config *nic_with_mac(const struct sup *s, const char *mac)
{
	const struct vm_config *c = &s->plan->config;
	struct json_object *macs = NULL, *m;

	json_object_object_get_ex(s->plan->identity.json, "macs", &macs);
	for (size_t i = 0; mac && i < c->n_nics; i++) {
		const char *own = c->nics[i].mac;
		if (!own && json_object_object_get_ex(macs, c->nics[i].id, &m))
			own = json_object_get_string(m);
		if (own && !strcasecmp(own, mac))
			return &c->nics[i];
	}
	return NULL;
}

/* Appends an interface's addresses of one family ("ipv4", "ipv6") as "ADDRESS/PREFIX". */
static void add_addresses(struct json_object *out, struct json_object *iface, const char *family)
{
	struct json_object *list, *type, *ip;
	int64_t prefix;

	if (!json_object_object_get_ex(iface, "ip-addresses", &list) || !json_object_is_type(list, json_type_array))
		return;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *a = json_object_array_get_idx(list, i);
		if (!json_object_object_get_ex(a, "ip-address-type", &type) ||
		    strcmp(json_object_get_string(type), family) || !json_object_object_get_ex(a, "ip-address", &ip) ||
		    !json_object_is_type(ip, json_type_string))
			continue;
		_cleanup_free_ char *text = json_int_member(a, "prefix", 0, 128, &prefix)
			? xasprintf("%s/%d", json_object_get_string(ip), (int)prefix)
			: xstrdup(json_object_get_string(ip));
		json_object_array_add(out, json_object_new_string(text));
	}
}

/* One interface of guest-network-get-interfaces as ip returns it (IP_KEY_*), NULL for the loopback. */
static struct json_object *interface(const struct sup *s, struct json_object *iface)
{
	struct json_object *name, *mac = NULL, *o, *addresses;
	const struct nic_config *nic;

	if (!json_object_object_get_ex(iface, "name", &name) || !json_object_is_type(name, json_type_string) ||
	    !strcmp(json_object_get_string(name), "lo"))
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, IP_KEY_NAME, json_object_get(name));
	if (json_object_object_get_ex(iface, "hardware-address", &mac) && json_object_is_type(mac, json_type_string))
		json_object_object_add(o, IP_KEY_MAC, json_object_get(mac));
	if ((nic = nic_with_mac(s, mac ? json_object_get_string(mac) : NULL))) {
		json_object_object_add(o, IP_KEY_NIC, json_object_new_string(nic->id));
		json_object_object_add(o, IP_KEY_NETWORK, json_object_new_string(nic_type_names[nic->type].profile));
	}
	addresses = json_object_new_array();
	add_addresses(addresses, iface, "ipv4");
	add_addresses(addresses, iface, "ipv6");
	json_object_object_add(o, IP_KEY_ADDRESSES, addresses);
	return o;
}

/* The agent listed the guest's interfaces: answer with those of the VM's NICs first. */
static void ip_reply_cb(const struct agent_result *r, void *arg)
{
	_cleanup_free_ struct ip_ask *ask = arg;
	struct json_object *out;

	if (r->failure != AGENT_OK) {
		control_fail(ask->conn, "%s", r->desc);
		return;
	}
	if (!json_object_is_type(r->ret, json_type_array)) {
		control_fail(ask->conn, "the guest agent's guest-network-get-interfaces returned no list");
		return;
	}
	out = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(r->ret); i++) {
		struct json_object *o = interface(ask->s, json_object_array_get_idx(r->ret, i));
		if (o)
			json_object_array_add(out, o);
	}
	control_reply(ask->conn, out);
}

void sup_agent_request(struct sup *s, struct control_conn *conn, const char *request, struct json_object *args)
{
	struct ip_ask *ask;
	struct json_object *cmd;

	if (refuse(s, conn))
		return;
	if (!strcmp(request, CTL_REQ_AGENT)) {
		request_agent(s, conn, args);
		return;
	}
	ask = xzalloc(sizeof(*ask));
	ask->s = s;
	ask->conn = conn;
	cmd = json_object_new_object();
	json_object_object_add(cmd, "execute", json_object_new_string("guest-network-get-interfaces"));
	control_hold(conn);
	agent_call(s->agent, cmd, CTL_AGENT_TIMEOUT_MS, ip_reply_cb, ask);
}
