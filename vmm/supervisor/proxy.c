#include "vmm/supervisor/proxy.h"

#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "vmm/supervisor/listener.h"
#include "vmm/base/util.h"

/* A client that has this much unread output is dropped. */
#define PROXY_MAX_BACKLOG (8u << 20)
/* Largest command accepted from a client. */
#define PROXY_MAX_MESSAGE (16u << 20)

struct pclient {
	TAILQ_ENTRY(pclient) entry;
	struct proxy *p;
	struct bufferevent *bev;
	struct json_tokener *tok;
	size_t msg_bytes;
	bool negotiated, oob;
	bool gone;     /* disconnected: replies still due are dropped */
	unsigned refs; /* one while connected, one per command in flight */
};

struct proxy {
	struct event_base *base;
	struct listener *listener;
	struct qmp_client *qmp;
	const struct proxy_policy *policy;
	TAILQ_HEAD(, pclient) clients;
	unsigned n;
};

/* A command in flight: whose it is and the id it came with (NULL when none). */
struct inflight {
	struct pclient *c;
	struct json_object *id;
};

/* Drops one reference; the last frees the client's memory. */
static void pclient_unref(struct pclient *c)
{
	if (--c->refs == 0)
		free(c);
}

/* Disconnects a client; its memory lives on while commands are in flight. */
static void pclient_drop(struct pclient *c)
{
	struct proxy *p = c->p;

	if (c->gone)
		return;
	c->gone = true;
	TAILQ_REMOVE(&p->clients, c, entry);
	p->n--;
	bufferevent_free(c->bev);
	json_tokener_free(c->tok);
	pclient_unref(c);
	/* A burst of pipelined commands grew the heap: give it back once nobody is connected. */
	if (p->n == 0)
		malloc_trim(0);
}

/* Writes one message as a QMP line; drops a client that stopped reading. */
static void pclient_write(struct pclient *c, const char *json, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_add(out, json, len);
	evbuffer_add(out, "\r\n", 2);
	if (evbuffer_get_length(out) > PROXY_MAX_BACKLOG)
		pclient_drop(c);
}

/* Sends a message object (consumed), with the command's id when it had one. */
static void pclient_send(struct pclient *c, struct json_object *msg, struct json_object *id)
{
	const char *s;

	if (id)
		json_object_object_add(msg, "id", json_object_get(id));
	s = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	pclient_write(c, s, strlen(s));
	json_object_put(msg);
}

/* Answers a command with an error of QMP class cls. */
static void pclient_error(struct pclient *c, struct json_object *id, const char *cls, const char *desc)
{
	struct json_object *msg = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(e, "class", json_object_new_string(cls));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(msg, "error", e);
	pclient_send(c, msg, id);
}

/* Answers a command with a return value (consumed). */
static void pclient_return(struct pclient *c, struct json_object *id, struct json_object *ret)
{
	struct json_object *msg = json_object_new_object();

	json_object_object_add(msg, "return", ret ? ret : json_object_new_object());
	pclient_send(c, msg, id);
}

/* QEMU answered a forwarded command: pass the answer on under the client's id. */
static void forwarded_cb(struct qmp_client *q, const struct qmp_result *r, void *arg)
{
	struct inflight *f = arg;

	(void)q;
	if (!f->c->gone) {
		if (r->failure == QMP_OK)
			pclient_return(f->c, f->id, json_object_get(r->ret));
		else
			pclient_error(f->c, f->id, r->class ? r->class : "GenericError", r->desc);
	}
	pclient_unref(f->c);
	json_object_put(f->id);
	free(f);
}

/* qmp_capabilities from a client: answered here, QEMU negotiated long ago. */
static void negotiate(struct pclient *c, struct json_object *cmd, struct json_object *id)
{
	struct json_object *args, *enable;
	bool oob = false;

	if (c->negotiated) {
		pclient_error(c, id, "CommandNotFound", "Capabilities negotiation is already complete, command ignored");
		return;
	}
	if (json_object_object_get_ex(cmd, "arguments", &args) && json_object_object_get_ex(args, "enable", &enable)) {
		if (!json_object_is_type(enable, json_type_array)) {
			pclient_error(c, id, "GenericError", "Invalid parameter type for 'enable', expected: array");
			return;
		}
		for (size_t i = 0; i < json_object_array_length(enable); i++) {
			const char *cap = json_object_get_string(json_object_array_get_idx(enable, i));
			if (!cap || strcmp(cap, "oob") || !qmp_oob(c->p->qmp)) {
				pclient_error(c, id, "GenericError", "Capability not available");
				return;
			}
			oob = true;
		}
	}
	c->negotiated = true;
	c->oob = oob;
	pclient_return(c, id, NULL);
}

/* True when the VM's policy refuses this command. */
static bool refused(const struct proxy *p, const char *name)
{
	for (const char *const *r = p->policy ? p->policy->refused : NULL; r && *r; r++)
		if (!strcmp(*r, name))
			return true;
	return false;
}

/* One complete message from a client: answer it here or forward it to QEMU. */
static void handle_command(struct pclient *c, struct json_object *cmd)
{
	struct json_object *id = NULL, *exec = NULL, *oob = NULL;
	const char *name;
	struct inflight *f;

	if (!json_object_is_type(cmd, json_type_object)) {
		pclient_error(c, NULL, "GenericError", "QMP input must be a JSON object");
		return;
	}
	json_object_object_get_ex(cmd, "id", &id);
	json_object_object_get_ex(cmd, "execute", &exec);
	json_object_object_get_ex(cmd, "exec-oob", &oob);
	if (!exec == !oob) {
		pclient_error(c, id, "GenericError", "QMP input must have exactly one of 'execute' and 'exec-oob'");
		return;
	}
	if (!json_object_is_type(exec ? exec : oob, json_type_string)) {
		pclient_error(c, id, "GenericError", "QMP input member 'execute' must be a string");
		return;
	}
	name = json_object_get_string(exec ? exec : oob);
	if (!strcmp(name, "qmp_capabilities")) {
		negotiate(c, cmd, id);
		return;
	}
	if (!c->negotiated) {
		pclient_error(c, id, "CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'");
		return;
	}
	if (oob && !c->oob) {
		pclient_error(c, id, "GenericError", "QMP input member 'exec-oob' requires the 'oob' capability");
		return;
	}
	if (refused(c->p, name)) {
		pclient_error(c, id, "GenericError", c->p->policy->why);
		return;
	}
	f = xmalloc(sizeof(*f));
	*f = (struct inflight){ .c = c, .id = json_object_get(id) };
	c->refs++;
	if (qmp_send_object(c->p->qmp, json_object_get(cmd), 0, forwarded_cb, f) < 0)
		forwarded_cb(c->p->qmp, &(struct qmp_result){ .failure = QMP_ERR_CLOSED, .desc = "QEMU is gone" }, f);
}

/* Client bytes: parse every complete message, answer or forward it. */
static void pclient_read_cb(struct bufferevent *bev, void *arg)
{
	struct pclient *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;

	c->refs++; /* the client may be dropped while its input is handled */
	while (!c->gone && (len = evbuffer_get_contiguous_space(in)) > 0) {
		const char *buf = (const char *)evbuffer_pullup(in, (ssize_t)len);
		size_t off = 0;

		while (off < len && !c->gone) {
			struct json_object *msg = json_tokener_parse_ex(c->tok, buf + off, (int)(len - off));
			enum json_tokener_error jerr = json_tokener_get_error(c->tok);

			if (jerr == json_tokener_continue) {
				c->msg_bytes += len - off;
				if (c->msg_bytes > PROXY_MAX_MESSAGE) {
					pclient_error(c, NULL, "GenericError", "QMP input exceeds 16 MiB");
					pclient_drop(c);
				}
				break;
			}
			if (jerr != json_tokener_success) {
				pclient_error(c, NULL, "GenericError", "JSON parse error");
				pclient_drop(c);
				break;
			}
			off += json_tokener_get_parse_end(c->tok);
			json_tokener_reset(c->tok);
			c->msg_bytes = 0;
			handle_command(c, msg);
			json_object_put(msg);
		}
		if (!c->gone)
			evbuffer_drain(in, len);
	}
	pclient_unref(c);
}

/* Client EOF or error. */
static void pclient_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		pclient_drop(arg);
}

void proxy_add_client(struct proxy *p, int fd)
{
	struct pclient *c;
	const char *greeting;

	c = xzalloc(sizeof(*c));
	c->p = p;
	c->refs = 1;
	c->tok = json_tokener_new_ex(64);
	if (!c->tok)
		abort();
	evutil_make_socket_nonblocking(fd);
	c->bev = bufferevent_socket_new(p->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
		abort();
	bufferevent_setcb(c->bev, pclient_read_cb, NULL, pclient_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&p->clients, c, entry);
	p->n++;
	greeting = json_object_to_json_string_ext(qmp_greeting(p->qmp), JSON_C_TO_STRING_PLAIN);
	pclient_write(c, greeting, strlen(greeting));
}

/* The listener's callback: a trusted client connected. */
static void adopt(void *arg, int fd)
{
	proxy_add_client(arg, fd);
}

struct proxy *proxy_new(struct event_base *base, int listen_fd, struct qmp_client *qmp,
			const struct proxy_policy *policy)
{
	struct proxy *p = xzalloc(sizeof(*p));

	p->base = base;
	p->qmp = qmp;
	p->policy = policy;
	TAILQ_INIT(&p->clients);
	if (listen_fd >= 0)
		p->listener = listener_new(base, listen_fd, adopt, p);
	return p;
}

void proxy_event(struct proxy *p, struct json_object *msg)
{
	const char *s = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t len = strlen(s);
	struct pclient *c, *next;

	for (c = TAILQ_FIRST(&p->clients); c; c = next) {
		next = TAILQ_NEXT(c, entry); /* c may be dropped */
		if (c->negotiated)
			pclient_write(c, s, len);
	}
}

unsigned proxy_clients(const struct proxy *p)
{
	return p->n;
}

void proxy_free(struct proxy *p)
{
	struct pclient *c;

	if (!p)
		return;
	while ((c = TAILQ_FIRST(&p->clients)))
		pclient_drop(c);
	listener_free(p->listener);
	free(p);
}
