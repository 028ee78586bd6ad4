#include "vmm/supervisor/proxy.h"

#include <errno.h>
#include <malloc.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "qmp/reader.h"
#include "vmm/supervisor/listener.h"
#include "vmm/supervisor/peer.h"
#include "vmm/base/util.h"

/* A client that has this much unread output is dropped. */
#define PROXY_MAX_BACKLOG (8u << 20)
/* Largest command accepted from a client (larger ones are answered with an error). */
#define PROXY_MAX_MESSAGE (1u << 20)

struct pclient {
	TAILQ_ENTRY(pclient) entry;
	struct proxy *p;
	struct peer *peer;
	struct qmp_reader *reader;
	bool negotiated, oob;
};

struct proxy {
	struct event_base *base;
	struct listener *listener;
	struct qmp_client *qmp;
	const struct proxy_policy *policy;
	TAILQ_HEAD(, pclient) clients;
	unsigned n;
};

/* A command in flight: whose it is (a reference) and its id as the client wrote it (or NULL). */
struct inflight {
	struct peer *peer;
	char *id;
};

/* Sends a message object (consumed) as one QMP line, with the command's id when it had one. */
static void pclient_send(struct pclient *c, struct json_object *msg, const char *id)
{
	const char *s = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	if (id) /* the closing brace makes way for the id, exactly as the client wrote it */
		peer_printf(c->peer, "%.*s,\"id\":%s}\r\n", (int)strlen(s) - 1, s, id);
	else
		peer_printf(c->peer, "%s\r\n", s);
	json_object_put(msg);
}

/* Answers a command with an error of QMP class cls. */
static void pclient_error(struct pclient *c, const char *id, const char *cls, const char *desc)
{
	struct json_object *msg = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(e, "class", json_object_new_string(cls));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(msg, "error", e);
	pclient_send(c, msg, id);
}

/* Answers a command with a return value (consumed). */
static void pclient_return(struct pclient *c, const char *id, struct json_object *ret)
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
	if (!peer_gone(f->peer)) {
		struct pclient *c = peer_data(f->peer);
		if (r->failure == QMP_OK)
			pclient_return(c, f->id, json_object_get(r->ret));
		else
			pclient_error(c, f->id, r->class ? r->class : "GenericError", r->desc);
	}
	peer_unref(f->peer);
	free(f->id);
	free(f);
}

/* qmp_capabilities from a client: answered here, QEMU negotiated long ago. */
static void negotiate(struct pclient *c, struct json_object *cmd, const char *id)
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

/* One complete message from a client (id: its raw id, or NULL): answer it here or forward it to QEMU. */
static void handle_command(struct pclient *c, struct json_object *cmd, const char *id)
{
	struct json_object *exec = NULL, *oob = NULL;
	const char *name;
	struct inflight *f;

	if (!json_object_is_type(cmd, json_type_object)) {
		pclient_error(c, NULL, "GenericError", "QMP input must be a JSON object");
		return;
	}
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
	*f = (struct inflight){ .peer = c->peer, .id = id ? xstrdup(id) : NULL };
	peer_ref(c->peer);
	if (qmp_send_object(c->p->qmp, json_object_get(cmd), 0, forwarded_cb, f) < 0)
		forwarded_cb(c->p->qmp, &(struct qmp_result){ .failure = QMP_ERR_CLOSED, .desc = "QEMU is gone" }, f);
}

/* Client bytes: answer or forward each complete message, answer each bad one with an error. */
static void pclient_read(struct peer *peer, void *data)
{
	struct pclient *c = data;
	struct evbuffer *in = peer_input(peer);
	struct qmp_item item;
	enum qmp_read got;
	size_t len;

	while (!peer_gone(peer) && (len = evbuffer_get_contiguous_space(in)) > 0) {
		qmp_reader_feed(c->reader, (const char *)evbuffer_pullup(in, (ssize_t)len), len);
		evbuffer_drain(in, len);
		while (!peer_gone(peer) && (got = qmp_reader_next(c->reader, &item)) != QMP_READ_NONE) {
			if (got == QMP_READ_ERROR)
				pclient_error(c, NULL, "GenericError", item.desc);
			else {
				handle_command(c, item.msg, item.id);
				json_object_put(item.msg);
			}
		}
	}
}

/* The client is gone: forget it (replies still due are dropped when they come). */
static void pclient_lost(struct peer *peer, enum peer_lost why, void *data)
{
	struct pclient *c = data;
	struct proxy *p = c->p;

	(void)peer;
	(void)why;
	TAILQ_REMOVE(&p->clients, c, entry);
	p->n--;
	/* A burst of pipelined commands grew the heap: give it back once nobody is connected. */
	if (p->n == 0)
		malloc_trim(0);
}

/* The last reference to the client went. */
static void pclient_free(void *data)
{
	qmp_reader_free(((struct pclient *)data)->reader);
}

static const struct peer_type pclient_type = {
	.data_size = sizeof(struct pclient),
	.max_output = PROXY_MAX_BACKLOG,
	.read = pclient_read,
	.lost = pclient_lost,
	.free = pclient_free,
};

void proxy_add_client(struct proxy *p, int fd)
{
	struct peer *peer = peer_new(p->base, fd, &pclient_type);
	struct pclient *c = peer_data(peer);

	c->p = p;
	c->peer = peer;
	c->reader = qmp_reader_new(PROXY_MAX_MESSAGE);
	TAILQ_INSERT_TAIL(&p->clients, c, entry);
	p->n++;
	peer_printf(peer, "%s\r\n", json_object_to_json_string_ext(qmp_greeting(p->qmp), JSON_C_TO_STRING_PLAIN));
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
	if (listen_fd >= 0) {
		p->listener = listener_new(base, listen_fd, adopt, p);
		listener_cap(p->listener, LISTENER_QMP_CLIENTS, &p->n);
	}
	return p;
}

void proxy_event(struct proxy *p, struct json_object *msg)
{
	const char *s = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	struct pclient *c, *next;

	for (c = TAILQ_FIRST(&p->clients); c; c = next) {
		next = TAILQ_NEXT(c, entry); /* c may be dropped */
		if (c->negotiated)
			peer_printf(c->peer, "%s\r\n", s);
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
		peer_drop(c->peer, PEER_SHUTDOWN);
	listener_free(p->listener);
	free(p);
}
