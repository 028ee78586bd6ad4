#include "vmm/supervisor/control.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "vmm/supervisor/listener.h"
#include "vmm/base/util.h"

/* Longest request line accepted. */
#define CONTROL_MAX_LINE (64u << 10)

struct control_conn {
	TAILQ_ENTRY(control_conn) entry;
	struct control *ctl;
	struct bufferevent *bev;
	bool busy;     /* a request is being handled: later lines wait */
	bool gone;     /* disconnected: a late reply is dropped */
	bool held;     /* the reply comes after the handler returned */
	unsigned refs; /* one while connected, one while held */
};

struct control {
	struct event_base *base;
	struct listener *listener;
	control_request_fn fn;
	void *arg;
	TAILQ_HEAD(, control_conn) conns;
};

static void conn_read_cb(struct bufferevent *bev, void *arg);

/* Drops one reference; the last frees the memory. */
static void conn_unref(struct control_conn *c)
{
	if (--c->refs == 0)
		free(c);
}

/* Disconnects a client. */
static void conn_drop(struct control_conn *c)
{
	if (c->gone)
		return;
	c->gone = true;
	TAILQ_REMOVE(&c->ctl->conns, c, entry);
	bufferevent_free(c->bev);
	conn_unref(c);
}

/* Writes one reply line (msg consumed), lets the next request in, and releases a hold. */
static void conn_answer(struct control_conn *c, struct json_object *msg)
{
	bool held = c->held;

	c->held = false;
	if (!c->gone) {
		const char *s = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		struct evbuffer *out = bufferevent_get_output(c->bev);
		evbuffer_add(out, s, strlen(s));
		evbuffer_add(out, "\n", 1);
		c->busy = false;
		conn_read_cb(c->bev, c);
	}
	json_object_put(msg);
	if (held)
		conn_unref(c);
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
	c->refs++;
}

/* Checks one request line and hands it to the supervisor. */
static void handle_line(struct control_conn *c, const char *line)
{
	struct json_object *req = json_tokener_parse(line), *v;

	c->busy = true;
	if (!json_object_is_type(req, json_type_object) || !json_object_object_get_ex(req, "request", &v) ||
	    !json_object_is_type(v, json_type_string))
		control_fail(c, "not a control request (expected a JSON object with a \"request\" string)");
	else if (!json_object_object_get_ex(req, "version", &v) || json_object_get_int(v) != CONTROL_VERSION)
		control_fail(c, "control protocol version mismatch (the supervisor speaks version %d): "
			     "this vmm binary and the VM's supervisor differ", CONTROL_VERSION);
	else {
		json_object_object_get_ex(req, "request", &v);
		c->ctl->fn(c, json_object_get_string(v), req, c->ctl->arg);
	}
	json_object_put(req);
}

/* Request bytes: handle each complete line, one request at a time. */
static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct control_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	c->refs++;
	while (!c->gone && !c->busy) {
		char *line = evbuffer_readln(in, NULL, EVBUFFER_EOL_LF);
		if (!line) {
			if (evbuffer_get_length(in) > CONTROL_MAX_LINE)
				conn_drop(c);
			break;
		}
		handle_line(c, line);
		free(line);
	}
	conn_unref(c);
}

/* Client EOF or error. */
static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_drop(arg);
}

void control_add_client(struct control *ctl, int fd)
{
	struct control_conn *c = xzalloc(sizeof(*c));

	c->ctl = ctl;
	c->refs = 1;
	evutil_make_socket_nonblocking(fd);
	c->bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
		abort();
	bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&ctl->conns, c, entry);
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
	if (listen_fd >= 0)
		ctl->listener = listener_new(base, listen_fd, adopt, ctl);
	return ctl;
}

/* Writes what is queued for a client, blocking (the replies are small). The socket
 * bufferevent keeps its output's start frozen; it is thawed to be written here. */
static void conn_flush(struct control_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	int fd = bufferevent_getfd(c->bev);

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	evbuffer_unfreeze(out, 1);
	while (evbuffer_get_length(out) > 0 && evbuffer_write(out, fd) > 0)
		;
}

void control_free(struct control *ctl)
{
	struct control_conn *c;

	if (!ctl)
		return;
	while ((c = TAILQ_FIRST(&ctl->conns))) {
		conn_flush(c);
		conn_drop(c);
	}
	listener_free(ctl->listener);
	free(ctl);
}
