/* vmm ip NAME: the guest's network interfaces and addresses as its agent reports them, each
 * matched to the VM's NIC by MAC. vmm wait NAME running|agent|ip|ssh: waits until the VM
 * runs, its guest agent answers, the guest has an address, or SSH can be reached, for
 * scripts. With user networking the host has no route to the guest's address (only ports
 * forwarded to it are reachable), so there `ssh` means that the guest listens on TCP port
 * 22, read from its /proc/net/tcp and tcp6 through the agent. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmm/base/util.h"
#include "vmm/cli/cmd.h"
#include "vmm/cli/guest.h"
#include "vmm/cli/vmref.h"
#include "vmm/supervisor/protocol.h"

/* Seconds wait waits unless --timeout says otherwise. */
#define WAIT_SECONDS 60
/* Milliseconds between two tries. */
#define WAIT_POLL_MS 250
/* Milliseconds a TCP connect to port 22 may take. */
#define SSH_CONNECT_MS 1000
/* The most of /proc/net/tcp read from the guest. */
#define PROC_NET_MAX (1u << 20)

/* A member of o as a string ("" when absent). */
static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

/* Asks the supervisor for the guest's interfaces (IP_KEY_*). Returns 0 with *list, or as vm_request. */
static int interfaces(const char *name, struct json_object **list, struct verr *err)
{
	unsigned wait_ms = CTL_QMP_TIMEOUT_MS + CTL_AGENT_SYNC_MS + CTL_AGENT_TIMEOUT_MS + VM_ANSWER_TIMEOUT_MS;

	return vm_request(name, CTL_REQ_IP, NULL, wait_ms, list, err);
}

/* True for an address a host could reach: not link-local (fe80::/10), not loopback. */
static bool routable(const char *address)
{
	return strncasecmp(address, "fe8", 3) && strncasecmp(address, "fe9", 3) && strncasecmp(address, "fea", 3) &&
	       strncasecmp(address, "feb", 3) && strncmp(address, "127.", 4) && strcmp(address, "::1");
}

/* The first address of an interface a host could reach, without its prefix, or NULL. */
static char *first_address(struct json_object *iface)
{
	struct json_object *list;

	if (!json_object_object_get_ex(iface, IP_KEY_ADDRESSES, &list))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		const char *a = json_object_get_string(json_object_array_get_idx(list, i));
		if (routable(a))
			return xasprintf("%.*s", (int)strcspn(a, "/"), a);
	}
	return NULL;
}

/* Prints the interfaces for a person: name, MAC, NIC and its network, addresses. */
static void print_interfaces(struct json_object *list)
{
	bool user = false;

	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *o = json_object_array_get_idx(list, i), *a;
		_cleanup_free_ char *name = text_clean(str(o, IP_KEY_NAME), strlen(str(o, IP_KEY_NAME)));
		_cleanup_free_ char *nic = xasprintf("%s %s", str(o, IP_KEY_NIC), str(o, IP_KEY_NETWORK));
		size_t n = json_object_object_get_ex(o, IP_KEY_ADDRESSES, &a) ? json_object_array_length(a) : 0;

		user |= !strcmp(str(o, IP_KEY_NETWORK), "user");
		printf("%-10s %-17s %-14s", name, *str(o, IP_KEY_MAC) ? str(o, IP_KEY_MAC) : "-", nic[1] ? nic : "-");
		for (size_t j = 0; j < n; j++) {
			const char *s = json_object_get_string(json_object_array_get_idx(a, j));
			_cleanup_free_ char *clean = text_clean(s, strlen(s));
			printf(" %s", clean);
		}
		printf("%s\n", n ? "" : " -");
	}
	if (user)
		printf("(user networking: the host reaches the guest only through ports forwarded to it)\n");
}

/* vmm ip NAME [--json]. */
static int cmd_ip(const struct cmd_args *args, struct verr *err)
{
	struct json_object *list;

	if (interfaces(args->argv[0], &list, err) < 0)
		return -1;
	if (args->json)
		cmd_print_json(list, JSON_PRETTY);
	else
		print_interfaces(list);
	json_object_put(list);
	return 0;
}

/* True when a TCP connection to address:22 is accepted within SSH_CONNECT_MS. */
static bool port_22_open(const char *address)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM }, *ai;
	_cleanup_close_ int fd = -1;
	struct pollfd p;
	int e = 0;
	socklen_t len = sizeof(e);

	if (getaddrinfo(address, "22", &hints, &ai) != 0)
		return false;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)
		e = errno;
	freeaddrinfo(ai);
	if (fd < 0 || e)
		return false;
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	return poll(&p, 1, SSH_CONNECT_MS) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0 && !e;
}

/* True when the guest's /proc/net/FILE shows a socket listening on port 22 (0x16, state 0A). */
static bool listens_on_22(const char *name, const char *file, struct verr *err)
{
	_cleanup_free_ char *path = xasprintf("/proc/net/%s", file), *text = NULL;
	size_t len;

	if (guest_read_file(name, path, PROC_NET_MAX, &text, &len, err) < 0)
		return false;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char local[64], state[8];
		if (sscanf(line, " %*s %63s %*s %7s", local, state) == 2 && strlen(local) > 5 &&
		    !strcmp(local + strlen(local) - 5, ":0016") && !strcmp(state, "0A"))
			return true;
	}
	return false;
}

/* The condition wait waits for. */
enum until { UNTIL_RUNNING, UNTIL_AGENT, UNTIL_IP, UNTIL_SSH };
static const char *const until_names[] = { "running", "agent", "ip", "ssh", NULL };

/* One look at ssh: a TCP connection to port 22 of an address of a tap or bridge NIC (or of
 * an interface of no NIC of the profile), or, for user networking, a listener on port 22. */
static int look_ssh(const char *name, struct json_object *list, struct verr *err)
{
	bool user_addr = false;

	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *o = json_object_array_get_idx(list, i);
		_cleanup_free_ char *a = first_address(o);
		if (!a)
			continue;
		if (strcmp(str(o, IP_KEY_NETWORK), "user") && port_22_open(a)) {
			printf("%s\n", a);
			return 1;
		}
		user_addr |= !strcmp(str(o, IP_KEY_NETWORK), "user");
	}
	if (user_addr && (listens_on_22(name, "tcp", err) || (!err->n && listens_on_22(name, "tcp6", err)))) {
		printf("the guest listens on port 22 (user networking: reach it through a forwarded port)\n");
		return 1;
	}
	if (!err->n)
		verr_set(err, 0, user_addr ? "VM '%s': nothing listens on port 22 in the guest"
					   : "VM '%s': port 22 of the guest's addresses does not answer", name);
	return 0;
}

/* One look at the condition: 1 when it holds (what a script wants printed), 0 when not yet
 * (err says why), -1 when it never will (err). */
static int look(const char *name, enum until until, struct verr *err)
{
	struct json_object *r;
	int found = 0, rc;

	if (until == UNTIL_RUNNING)
		rc = vm_request(name, CTL_REQ_STATUS, NULL, VM_ANSWER_TIMEOUT_MS, &r, err);
	else if (until == UNTIL_AGENT)
		rc = guest_agent(name, "guest-ping", NULL, GUEST_AGENT_SECONDS, &r, err);
	else
		rc = interfaces(name, &r, err);
	if (rc < 0)
		return rc == -ESRCH || (err->n && strstr(err->lines[err->n - 1], CTL_ERR_NO_AGENT)) ? -1 : 0;
	if (until == UNTIL_RUNNING) {
		found = !strcmp(str(r, VM_KEY_STATE), "running");
		if (!found)
			verr_set(err, 0, "VM '%s' is %s", name, str(r, VM_KEY_STATE));
	} else if (until == UNTIL_AGENT)
		found = 1;
	else if (until == UNTIL_SSH)
		found = look_ssh(name, r, err);
	for (size_t i = 0; until == UNTIL_IP && !found && i < json_object_array_length(r); i++) {
		_cleanup_free_ char *a = first_address(json_object_array_get_idx(r, i));
		if ((found = a != NULL))
			printf("%s\n", a);
	}
	if (until == UNTIL_IP && !found)
		verr_set(err, 0, "VM '%s': the guest has no address yet", name);
	json_object_put(r);
	return found;
}

/* vmm wait NAME running|agent|ip|ssh [--timeout S]. */
static int cmd_wait(const struct cmd_args *args, struct verr *err)
{
	const char *name = args->argv[0];
	unsigned seconds = WAIT_SECONDS;
	int64_t deadline;
	size_t until = 0;

	while (until_names[until] && strcmp(until_names[until], args->argv[1]))
		until++;
	if (!until_names[until])
		return verr_set(err, 0, "wait: expected running, agent, ip or ssh, not '%s'", args->argv[1]);
	if (args_uint(args, "timeout", "seconds", 1, 86400, &seconds, err) < 0)
		return -1;
	deadline = now_ms() + (int64_t)seconds * 1000;
	for (;;) {
		int r;
		verr_clear(err);
		if ((r = look(name, (enum until)until, err)) != 0)
			return r > 0 ? 0 : -1;
		if (now_ms() + WAIT_POLL_MS >= deadline)
			break;
		usleep(WAIT_POLL_MS * 1000);
	}
	verr_wrap(err, "waited %u s for %s", seconds, until_names[until]);
	return -1;
}

const struct cmd_entry cmd_ip_entry = {
	.name = "ip",
	.usage = "NAME [--json]",
	.help = "show the guest's interfaces and addresses (from its guest agent)",
	.args = { .lower = 1, .upper = 1 },
	.flags = CMD_JSON,
	.exec = cmd_ip,
};

const struct cmd_entry cmd_wait_entry = {
	.name = "wait",
	.usage = "NAME running|agent|ip|ssh [--timeout S]",
	.help = "wait until the VM runs, its guest agent answers, the guest has an address, or SSH answers",
	.args = { .options = "timeout:", .lower = 2, .upper = 2 },
	.exec = cmd_wait,
};
