#include "vmm/supervisor/control.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>

#include "vmm/supervisor/listener.h"
#include "vmm/supervisor/peer.h"
#include "vmm/base/strict.h"
#include "vmm/base/util.h"

/* Longest request line accepted; reading pauses at it while a request is handled. */
#define CONTROL_MAX_LINE CTL_MAX_REQUEST
/* Replies a client may leave unread (they are small: a status is under 1 KiB). */
#define CONTROL_MAX_OUTPUT (1u << 20)

struct control_conn {
	TAILQ_ENTRY(control_conn) entry;
	struct control *ctl;
	struct peer *peer;
	bool busy;    /* a request is being handled: later lines wait */
	bool reading; /* conn_read is running: an answer lets its loop go on */
	bool held;    /* the reply comes after the handler returned (a reference is kept) */
};

struct control {
	struct event_base *base;
	struct listener *listener;
	control_request_fn fn;
	void *arg;
	TAILQ_HEAD(, control_conn) conns;
	unsigned n; /* connections in conns */
};

static void conn_read(struct peer *peer, void *data);

/* Writes one reply line (msg consumed), lets the next request in, and releases a hold. */
static void conn_answer(struct control_conn *c, struct json_object *msg)
{
	bool held = c->held;

	c->held = false;
	c->busy = false;
	peer_printf(c->peer, "%s\n",
		    json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(msg);
	if (!c->reading && !peer_gone(c->peer))
		conn_read(c->peer, c);
	if (held)
		peer_unref(c->peer);
}

void control_reply(struct control_conn *c, struct json_object *ret)
{
	struct json_object *msg = json_object_new_object();

	json_object_object_add(msg, "return", ret ? ret : json_object_new_object());
	conn_answer(c, msg);
}

void control_fail(struct control_conn *c, const char *fmt, ...)
{
	struct json_object *msg = json_object_new_object();
	_cleanup_free_ char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	text = xvasprintf(fmt, ap);
	va_end(ap);
	json_object_object_add(msg, "error", json_object_new_string(text));
	conn_answer(c, msg);
}

void control_hold(struct control_conn *c)
{
	c->held = true;
	peer_ref(c->peer);
}

/* Checks one request line and hands it to the supervisor. */
static void handle_line(struct control_conn *c, const char *line)
{
	struct json_object *req = json_tokener_parse(line), *v;
	int64_t version;

	c->busy = true;
	if (!json_object_is_type(req, json_type_object) || !json_object_object_get_ex(req, "request", &v) ||
	    !json_object_is_type(v, json_type_string))
		control_fail(c, "not a control request (expected a JSON object with a \"request\" string)");
	else if (!json_int_member(req, CTL_KEY_VERSION, CONTROL_VERSION, CONTROL_VERSION, &version))
		control_fail(c, "control protocol version mismatch (the supervisor speaks version %d): "
			     "this vmm binary and the VM's supervisor differ", CONTROL_VERSION);
	else {
		json_object_object_get_ex(req, "request", &v);
		c->ctl->fn(c, json_object_get_string(v), req, c->ctl->arg);
	}
	json_object_put(req);
}

/* Request bytes: handle each complete line, one request at a time. */
static void conn_read(struct peer *peer, void *data)
{
	struct control_conn *c = data;
	struct evbuffer *in = peer_input(peer);

	c->reading = true;
	while (!peer_gone(peer) && !c->busy) {
		char *line = evbuffer_readln(in, NULL, EVBUFFER_EOL_LF);
		if (!line) {
			if (evbuffer_get_length(in) >= CONTROL_MAX_LINE)
				peer_drop(peer, PEER_OVERFLOW);
			break;
		}
		handle_line(c, line);
		free(line);
	}
	c->reading = false;
}

/* The client is gone: forget it (a held request's late reply is dropped). */
static void conn_lost(struct peer *peer, enum peer_lost why, void *data)
{
	struct control_conn *c = data;

	(void)peer;
	(void)why;
	TAILQ_REMOVE(&c->ctl->conns, c, entry);
	c->ctl->n--;
}

static const struct peer_type conn_type = {
	.data_size = sizeof(struct control_conn),
	.max_input = CONTROL_MAX_LINE,
	.max_output = CONTROL_MAX_OUTPUT,
	.read = conn_read,
	.lost = conn_lost,
};

void control_add_client(struct control *ctl, int fd)
{
	struct peer *peer = peer_new(ctl->base, fd, &conn_type);
	struct control_conn *c = peer_data(peer);

	c->ctl = ctl;
	c->peer = peer;
	TAILQ_INSERT_TAIL(&ctl->conns, c, entry);
	ctl->n++;
}

/* The listener's callback: a trusted client connected. */
static void adopt(void *arg, int fd)
{
	control_add_client(arg, fd);
}

struct control *control_new(struct event_base *base, int listen_fd, control_request_fn fn, void *arg)
{
	struct control *ctl = xzalloc(sizeof(*ctl));

	ctl->base = base;
	ctl->fn = fn;
	ctl->arg = arg;
	TAILQ_INIT(&ctl->conns);
	if (listen_fd >= 0) {
		ctl->listener = listener_new(base, listen_fd, adopt, ctl);
		listener_cap(ctl->listener, LISTENER_CTL_CLIENTS, &ctl->n);
	}
	return ctl;
}

void control_free(struct control *ctl)
{
	struct control_conn *c;

	if (!ctl)
		return;
	while ((c = TAILQ_FIRST(&ctl->conns))) {
		peer_flush(c->peer); /* the replies are small */
		peer_drop(c->peer, PEER_SHUTDOWN);
	}
	listener_free(ctl->listener);
	free(ctl);
}
