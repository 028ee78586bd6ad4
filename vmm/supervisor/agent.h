/* The guest agent (qemu-guest-agent in the guest), owned by the supervisor. QEMU's agent
 * channel is a virtio-serial port (org.qemu.guest_agent.0) whose chardev is a socket QEMU
 * listens on (AGENT_SOCK in the run directory, inherited pre-bound like the console's), and
 * the supervisor stays connected to it, again after a restart or a `vmm attach`.
 *
 * Calls are serialised: one at a time, in the order they came. Each one first asks QEMU
 * (query-chardev) whether the guest has opened its end of the port, and fails at once when
 * it has not (no agent runs there); then synchronises with guest-sync-delimited (a 0xff sent
 * first resets the agent's parser, and everything before the 0xff the agent sends back is
 * stale), so that what a call that timed out left in the channel never passes for an answer;
 * then sends the command with an id its reply must carry back. A guest that does not answer
 * costs the call its time limit (CTL_AGENT_SYNC_MS for the sync) and nothing more. Commands
 * that answer nothing when they succeed (guest-shutdown, guest-suspend-*) succeed when no
 * error came within AGENT_NO_REPLY_MS, or when the channel closed before. What the guest sends is untrusted: a reply is at most AGENT_MAX_REPLY
 * bytes, and what it sends while no call waits is dropped unread. */
#ifndef VMM_AGENT_H
#define VMM_AGENT_H

#include <event2/event.h>
#include <json-c/json.h>

#include "qmp/qmp.h"

/* The socket of QEMU's agent chardev, in the run directory. */
#define AGENT_SOCK "agent.sock"
/* Milliseconds within which a command that answers nothing on success may still fail. */
#define AGENT_NO_REPLY_MS 1000
/* The largest reply taken from the agent (guest-exec-status carries output in base64). */
#define AGENT_MAX_REPLY (512u << 10)
/* Calls that may wait for their turn. */
#define AGENT_MAX_CALLS 16

/* Why a call failed. */
enum agent_failure {
	AGENT_OK,
	AGENT_ERR_COMMAND, /* the agent answered with an error */
	AGENT_ERR_ABSENT,  /* no agent: the channel is not connected, or the guest has not opened the port */
	AGENT_ERR_TIMEOUT, /* the agent did not answer in time */
	AGENT_ERR_GONE,    /* the channel closed (QEMU ended) while the call waited */
	AGENT_ERR_BUSY     /* too many calls wait already, or the agent does not read what it is sent */
};

/* The outcome of one call, valid only during its callback. */
struct agent_result {
	enum agent_failure failure;
	struct json_object *ret; /* AGENT_OK: the return value (NULL for a command that answers nothing) */
	const char *desc;        /* otherwise: what went wrong, worded for a person */
};

typedef void (*agent_reply_fn)(const struct agent_result *r, void *arg);

struct agent;

/* An agent with no channel yet. qmp points at where the supervisor keeps its QMP client (NULL
 * while it has none), asked whether the guest opened the port. */
struct agent *agent_new(struct event_base *base, struct qmp_client *const *qmp);

/* Takes over fd (owned): a connection to the current QEMU's agent socket. */
void agent_attach(struct agent *a, int fd);

/* The current QEMU is gone: fails every call (AGENT_ERR_GONE) and closes the channel. Safe
 * with NULL. */
void agent_detach(struct agent *a);

/* Detaches and frees. Safe with NULL. */
void agent_free(struct agent *a);

/* Queues a command ({"execute": NAME, "arguments": {...}}, consumed) that the agent gets
 * timeout_ms to answer once synchronised; fn gets its outcome exactly once, never before
 * agent_call returns. */
void agent_call(struct agent *a, struct json_object *cmd, unsigned timeout_ms, agent_reply_fn fn, void *arg);

#endif
