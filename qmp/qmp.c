#include "qmp/qmp.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "qmp/reader.h"

/* Largest single message accepted from the server (query-qmp-schema is ~200 KiB). */
#define QMP_MAX_MESSAGE (64u << 20)

/* One command waiting for its reply (or, before READY, for its turn to be sent). */
struct pending {
	TAILQ_ENTRY(pending) entry;
	struct qmp_client *c;
	int64_t id;
	qmp_reply_fn fn;
	void *arg;
	struct event *timer;
	struct json_object *unsent; /* the command, until it is written */
	bool abandoned;             /* timed out: a late reply is dropped */
};

struct qmp_client {
	struct event_base *base;
	struct bufferevent *bev;
	struct qmp_reader *reader;
	enum qmp_state state;
	struct qmp_handlers h;
	void *arg;
	struct json_object *greeting;
	bool oob;
	int64_t next_id;
	TAILQ_HEAD(, pending) pending;
	int depth;   /* how many callbacks are running (hiredis' "in callback" guard) */
	bool doomed; /* qmp_client_free() was called while depth > 0 */
	char desc[160];
};

/* Releases one pending entry (its callback must have run or be moot). */
static void pending_free(struct qmp_client *c, struct pending *p)
{
	TAILQ_REMOVE(&c->pending, p, entry);
	if (p->timer)
		event_free(p->timer);
	json_object_put(p->unsent);
	free(p);
}

/* Releases everything; the caller made sure no callback is running. */
static void destroy(struct qmp_client *c)
{
	struct pending *p;

	while ((p = TAILQ_FIRST(&c->pending)))
		pending_free(c, p);
	if (c->bev)
		bufferevent_free(c->bev);
	qmp_reader_free(c->reader);
	json_object_put(c->greeting);
	free(c);
}

/* Fails every command that still expects a reply, each exactly once. */
static void fail_all(struct qmp_client *c, enum qmp_failure why, const char *desc)
{
	struct qmp_result r = { .failure = why, .desc = desc };
	struct pending *p;

	while ((p = TAILQ_FIRST(&c->pending))) {
		qmp_reply_fn fn = p->abandoned ? NULL : p->fn;
		void *arg = p->arg;
		pending_free(c, p);
		if (fn)
			fn(c, &r, arg);
	}
}

/* Ends a callback section; returns false when the client is gone and must not be touched. */
static bool leave(struct qmp_client *c)
{
	if (--c->depth > 0 || !c->doomed)
		return !c->doomed;
	c->depth++;
	fail_all(c, QMP_ERR_CLOSED, "the QMP client was closed");
	destroy(c);
	return false;
}

void qmp_client_free(struct qmp_client *c)
{
	if (!c || c->doomed)
		return;
	c->doomed = true;
	if (c->depth == 0) {
		c->depth++;
		leave(c);
	}
}

/* The connection is over: fail what is pending, then tell the owner. */
static void client_close(struct qmp_client *c, enum qmp_failure why, const char *desc)
{
	if (c->state == QMP_CLOSED)
		return;
	c->state = QMP_CLOSED;
	snprintf(c->desc, sizeof(c->desc), "%s", desc);
	/* The bufferevent may be mid-callback; it is freed with the client. */
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	c->depth++;
	fail_all(c, why == QMP_ERR_PROTOCOL ? QMP_ERR_PROTOCOL : QMP_ERR_CLOSED, c->desc);
	if (!c->doomed && c->h.closed)
		c->h.closed(c, why, c->desc, c->arg);
	leave(c);
}

/* Writes one queued command to the socket. */
static void write_command(struct qmp_client *c, struct pending *p)
{
	const char *s;

	json_object_object_add(p->unsent, "id", json_object_new_int64(p->id));
	s = json_object_to_json_string_ext(p->unsent, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	bufferevent_write(c->bev, s, strlen(s));
	bufferevent_write(c->bev, "\n", 1);
	json_object_put(p->unsent);
	p->unsent = NULL;
}

/* A command's timer fired: its callback gets QMP_ERR_TIMEOUT now, any late reply is dropped. */
static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;
	struct qmp_client *c = p->c;
	struct qmp_result r = { .failure = QMP_ERR_TIMEOUT, .desc = "no reply from QEMU in time" };
	qmp_reply_fn fn = p->fn;
	void *fn_arg = p->arg;

	(void)fd;
	(void)what;
	if (p->unsent)
		pending_free(c, p);
	else {
		p->abandoned = true;
		event_free(p->timer);
		p->timer = NULL;
	}
	c->depth++;
	fn(c, &r, fn_arg);
	leave(c);
}

/* Queues a command object (consumed); writes it at once when READY. */
static int enqueue(struct qmp_client *c, struct json_object *cmd, unsigned timeout_ms, qmp_reply_fn fn,
		   void *arg, bool now)
{
	struct pending *p;

	if (c->state == QMP_CLOSED || c->doomed) {
		json_object_put(cmd);
		return -ENOTCONN;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		abort();
	p->c = c;
	p->id = c->next_id++;
	p->fn = fn;
	p->arg = arg;
	p->unsent = cmd;
	if (timeout_ms) {
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
		p->timer = evtimer_new(c->base, timeout_cb, p);
		evtimer_add(p->timer, &tv);
	}
	TAILQ_INSERT_TAIL(&c->pending, p, entry);
	if (now || c->state == QMP_READY)
		write_command(c, p);
	return 0;
}

int qmp_send_object(struct qmp_client *c, struct json_object *cmd, unsigned timeout_ms, qmp_reply_fn fn,
		    void *arg)
{
	return enqueue(c, cmd, timeout_ms, fn, arg, false);
}

/* The descriptors go on a single space sent between messages, ahead of the command: the
 * output is written out first, or the space could land inside a message. */
int qmp_send_fds(struct qmp_client *c, struct json_object *cmd, const int *fds, size_t n, unsigned timeout_ms,
		 qmp_reply_fn fn, void *arg)
{
	union {
		char buf[CMSG_SPACE(QMP_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec space = { " ", 1 };
	struct msghdr msg = { .msg_iov = &space, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	int fd = bufferevent_getfd(c->bev);

	if (c->state != QMP_READY || c->doomed || n == 0 || n > QMP_MAX_FDS) {
		json_object_put(cmd);
		return c->state != QMP_READY || c->doomed ? -ENOTCONN : -EINVAL;
	}
	evbuffer_unfreeze(out, 1);
	while (evbuffer_get_length(out) > 0 && evbuffer_write(out, fd) > 0)
		;
	evbuffer_freeze(out, 1);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	if (evbuffer_get_length(out) > 0 || sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) {
		json_object_put(cmd);
		return -EAGAIN;
	}
	return enqueue(c, cmd, timeout_ms, fn, arg, false);
}

int qmp_send(struct qmp_client *c, const char *command, struct json_object *args, unsigned timeout_ms,
	     unsigned flags, qmp_reply_fn fn, void *arg)
{
	struct json_object *cmd;

	if ((flags & QMP_SEND_OOB) && !c->oob && c->state == QMP_READY) {
		json_object_put(args);
		return -EINVAL;
	}
	cmd = json_object_new_object();
	json_object_object_add(cmd, flags & QMP_SEND_OOB ? "exec-oob" : "execute", json_object_new_string(command));
	if (args)
		json_object_object_add(cmd, "arguments", args);
	return enqueue(c, cmd, timeout_ms, fn, arg, false);
}

/* qmp_capabilities answered: the session is open; send what was queued. */
static void negotiated_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct pending *p;

	(void)arg;
	if (r->failure != QMP_OK) {
		if (r->failure == QMP_ERR_COMMAND)
			client_close(c, QMP_ERR_PROTOCOL, "QEMU refused qmp_capabilities");
		return;
	}
	c->state = QMP_READY;
	TAILQ_FOREACH(p, &c->pending, entry)
		if (p->unsent)
			write_command(c, p);
	if (c->h.ready)
		c->h.ready(c, c->arg);
}

/* The greeting arrived: remember it and negotiate (asking for oob when offered). */
static void handle_greeting(struct qmp_client *c, struct json_object *msg)
{
	struct json_object *qmp, *caps, *cmd = json_object_new_object();

	c->greeting = json_object_get(msg);
	json_object_object_get_ex(msg, "QMP", &qmp);
	if (json_object_object_get_ex(qmp, "capabilities", &caps) && json_object_is_type(caps, json_type_array))
		for (size_t i = 0; i < json_object_array_length(caps); i++)
			if (!strcmp(json_object_get_string(json_object_array_get_idx(caps, i)), "oob"))
				c->oob = true;
	json_object_object_add(cmd, "execute", json_object_new_string("qmp_capabilities"));
	if (c->oob) {
		struct json_object *args = json_object_new_object(), *enable = json_object_new_array();
		json_object_array_add(enable, json_object_new_string("oob"));
		json_object_object_add(args, "enable", enable);
		json_object_object_add(cmd, "arguments", args);
	}
	c->state = QMP_NEGOTIATING;
	/* Written at once: queued commands wait for its reply. */
	enqueue(c, cmd, 0, negotiated_cb, NULL, true);
}

/* The class and description of an error object, with stand-ins for missing ones. */
static void error_text(struct json_object *error, const char **class, const char **desc)
{
	struct json_object *v;

	*class = json_object_object_get_ex(error, "class", &v) ? json_object_get_string(v) : "GenericError";
	*desc = json_object_object_get_ex(error, "desc", &v) ? json_object_get_string(v) : "(no description)";
}

/* A reply ("return" or "error"): hand it to the command with its id; an error without
 * one answers no command and is only reported. */
static void handle_reply(struct qmp_client *c, struct json_object *msg)
{
	struct json_object *id = NULL, *ret = NULL, *error = NULL;
	struct qmp_result r = { .failure = QMP_OK };
	struct pending *p;
	qmp_reply_fn fn;
	void *arg;

	json_object_object_get_ex(msg, "error", &error);
	if (!json_object_object_get_ex(msg, "id", &id) && error) {
		const char *class, *desc;
		error_text(error, &class, &desc);
		if (c->h.error)
			c->h.error(c, class, desc, c->arg);
		return;
	}
	if (!json_object_is_type(id, json_type_int)) {
		client_close(c, QMP_ERR_PROTOCOL, "QEMU sent a reply without a command id");
		return;
	}
	TAILQ_FOREACH(p, &c->pending, entry)
		if (p->id == json_object_get_int64(id) && !p->unsent)
			break;
	if (!p) {
		client_close(c, QMP_ERR_PROTOCOL, "QEMU sent a reply to no pending command");
		return;
	}
	if (error) {
		r.failure = QMP_ERR_COMMAND;
		error_text(error, &r.class, &r.desc);
	} else {
		json_object_object_get_ex(msg, "return", &ret);
		r.ret = ret;
	}
	fn = p->abandoned ? NULL : p->fn;
	arg = p->arg;
	pending_free(c, p);
	if (fn)
		fn(c, &r, arg);
}

/* Classifies one complete message from the server. */
static void handle_message(struct qmp_client *c, struct json_object *msg)
{
	struct json_object *v;

	if (!json_object_is_type(msg, json_type_object))
		client_close(c, QMP_ERR_PROTOCOL, "QEMU sent a message that is not a JSON object");
	else if (json_object_object_get_ex(msg, "QMP", &v)) {
		if (c->state != QMP_GREETING || !json_object_is_type(v, json_type_object))
			client_close(c, QMP_ERR_PROTOCOL, "QEMU sent an unexpected greeting");
		else
			handle_greeting(c, msg);
	} else if (c->state == QMP_GREETING)
		client_close(c, QMP_ERR_PROTOCOL, "QEMU did not start with a QMP greeting");
	else if (json_object_object_get_ex(msg, "event", &v)) {
		if (!json_object_is_type(v, json_type_string))
			client_close(c, QMP_ERR_PROTOCOL, "QEMU sent an event without a name");
		else if (c->h.event)
			c->h.event(c, json_object_get_string(v), msg, c->arg);
	} else if (json_object_object_get_ex(msg, "return", NULL) || json_object_object_get_ex(msg, "error", NULL))
		handle_reply(c, msg);
	else
		client_close(c, QMP_ERR_PROTOCOL, "QEMU sent a message that is neither reply nor event");
}

/* Parses bytes, dispatching each complete message; stops when the client closes or is freed. */
static void parse(struct qmp_client *c, const char *buf, size_t len)
{
	struct qmp_item item;
	enum qmp_read got;

	qmp_reader_feed(c->reader, buf, len);
	while (c->state != QMP_CLOSED && !c->doomed && (got = qmp_reader_next(c->reader, &item)) != QMP_READ_NONE) {
		if (got == QMP_READ_ERROR) {
			char desc[128];
			snprintf(desc, sizeof(desc), "QEMU sent %s", item.desc);
			client_close(c, QMP_ERR_PROTOCOL, desc);
		} else {
			handle_message(c, item.msg);
			json_object_put(item.msg);
		}
	}
}

void qmp_feed(struct qmp_client *c, const char *buf, size_t len)
{
	c->depth++;
	parse(c, buf, len);
	leave(c);
}

/* Socket readable: parse every contiguous chunk of the input buffer. */
static void read_cb(struct bufferevent *bev, void *arg)
{
	struct qmp_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;

	c->depth++;
	while (c->state != QMP_CLOSED && !c->doomed && (len = evbuffer_get_contiguous_space(in)) > 0) {
		parse(c, (const char *)evbuffer_pullup(in, (ssize_t)len), len);
		evbuffer_drain(in, len);
	}
	leave(c);
}

/* EOF or an I/O error on the socket. */
static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct qmp_client *c = arg;
	char desc[128];

	(void)bev;
	if (what & BEV_EVENT_EOF)
		snprintf(desc, sizeof(desc), "QEMU closed the QMP connection");
	else if (what & BEV_EVENT_ERROR)
		snprintf(desc, sizeof(desc), "QMP connection failed: %s", strerror(EVUTIL_SOCKET_ERROR()));
	else
		return;
	c->depth++;
	client_close(c, QMP_ERR_CLOSED, desc);
	leave(c);
}

struct qmp_client *qmp_client_new(struct event_base *base, int fd, const struct qmp_handlers *h, void *arg)
{
	struct qmp_client *c = calloc(1, sizeof(*c));

	if (!c)
		abort();
	c->base = base;
	c->h = *h;
	c->arg = arg;
	c->next_id = 1;
	TAILQ_INIT(&c->pending);
	c->reader = qmp_reader_new(QMP_MAX_MESSAGE);
	evutil_make_socket_nonblocking(fd);
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
		abort();
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

enum qmp_state qmp_state(const struct qmp_client *c)
{
	return c->state;
}

struct json_object *qmp_greeting(const struct qmp_client *c)
{
	return c->greeting;
}

bool qmp_oob(const struct qmp_client *c)
{
	return c->oob;
}
