#include "vmm/supervisor/proxy.h"

#include <malloc.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "vmm/base/util.h"
#include "vmm/supervisor/listener.h"
#include "vmm/supervisor/proxy-int.h"

/* A client that has this much output it does not drain is dropped (see peer.h). */
#define PROXY_MAX_BACKLOG (8u << 20)
/* Largest command accepted from a client (larger ones are answered with an error). */
#define PROXY_MAX_MESSAGE (1u << 20)
/* Most values in a command (see qmp_reader_for_clients): a few MiB parsed at most. */
#define PROXY_MAX_VALUES 65536
/* A client's bytes read ahead of its reader. */
#define PROXY_MAX_INPUT (64u << 10)

/* Appends n bytes to the line being built at *end. */
static void put(char **end, const char *s, size_t n)
{
	memcpy(*end, s, n);
	*end += n;
}

char *proxy_line(struct json_object *msg, const char *id)
{
	size_t len, id_len = id ? strlen(id) : 0;
	const char *s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
							  &len);
	char *line = xmalloc(len + id_len + 9), *end = line;

	if (id) { /* the closing brace makes way for the id, exactly as the client wrote it */
		put(&end, s, len - 1);
		put(&end, ",\"id\":", 6);
		put(&end, id, id_len);
		put(&end, "}", 1);
	} else
		put(&end, s, len);
	put(&end, "\r\n", 3); /* with the NUL */
	json_object_put(msg);
	return line;
}

char *proxy_return_line(struct json_object *ret, const char *id)
{
	struct json_object *msg = json_object_new_object();

	json_object_object_add(msg, "return", ret ? ret : json_object_new_object());
	return proxy_line(msg, id);
}

char *proxy_error_line(const char *id, const char *cls, const char *desc)
{
	struct json_object *msg = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(e, "class", json_object_new_string(cls));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(msg, "error", e);
	return proxy_line(msg, id);
}

void pcmd_free(struct pcmd *cmd)
{
	for (size_t i = 0; i < cmd->n_fds; i++)
		close(cmd->fds[i]);
	free(cmd->text);
	free(cmd->id);
	free(cmd->answer);
	free(cmd);
}

void pcmd_enqueue(struct pclient *c, struct pcmd *cmd)
{
	cmd->c = c;
	TAILQ_INSERT_TAIL(&c->queue, cmd, entry);
	c->queued++;
}

/* Takes an entry out of its client's queue. */
static void pcmd_unlink(struct pclient *c, struct pcmd *cmd)
{
	TAILQ_REMOVE(&c->queue, cmd, entry);
	c->queued--;
}

/* Writes an answered entry and frees it. */
static void pcmd_write(struct pclient *c, struct pcmd *cmd)
{
	pcmd_unlink(c, cmd);
	peer_write(c->peer, cmd->answer, strlen(cmd->answer));
	pcmd_free(cmd);
}

/* Writes the answers whose turn came: from the head of the queue while answered (an
 * out-of-band command at QEMU holds nobody up). The client may be dropped on the way. */
static void pclient_flush(struct pclient *c)
{
	struct pcmd *cmd, *next;

	for (cmd = TAILQ_FIRST(&c->queue); cmd && !peer_gone(c->peer); cmd = next) {
		next = TAILQ_NEXT(cmd, entry);
		if (cmd->state == PCMD_DONE)
			pcmd_write(c, cmd);
		else if (!cmd->oob)
			break;
	}
}

void pcmd_done(struct pcmd *cmd, char *answer)
{
	struct pclient *c = cmd->c;

	cmd->state = PCMD_DONE;
	cmd->answer = answer;
	if (cmd->oob)
		pcmd_write(c, cmd);
	else
		pclient_flush(c);
}

/* True when the client may not be read further for now. */
static bool pclient_full(const struct pclient *c)
{
	return c->queued >= PROXY_QUEUE || c->waiting_bytes >= PROXY_QUEUE_BYTES;
}

/* Client bytes: answer or queue each complete message, answer each bad one with an
 * error, while the client's queue has room. */
static void pclient_read(struct peer *peer, void *data)
{
	struct pclient *c = data;
	struct evbuffer *in = peer_input(peer);
	struct qmp_item item;
	enum qmp_read got;
	size_t len;

	if (c->reading)
		return;
	c->reading = true;
	while (!peer_gone(peer) && !pclient_full(c)) {
		got = qmp_reader_next(c->reader, &item);
		if (got == QMP_READ_NONE) {
			if ((len = evbuffer_get_contiguous_space(in)) == 0)
				break;
			qmp_reader_feed(c->reader, (const char *)evbuffer_pullup(in, (ssize_t)len), len);
			evbuffer_drain(in, len);
		} else if (got == QMP_READ_ERROR) {
			struct pcmd *cmd = xzalloc(sizeof(*cmd));
			pcmd_enqueue(c, cmd);
			pcmd_done(cmd, proxy_error_line(NULL, "GenericError", item.desc));
		} else {
			proxy_command(c, &item);
			json_object_put(item.msg);
		}
	}
	c->reading = false;
	if (!peer_gone(peer))
		proxy_dispatch(c->p);
}

void pclient_read_more(struct pclient *c)
{
	if (!peer_gone(c->peer))
		pclient_read(c->peer, c);
}

/* The client is gone: its messages not sent yet are dropped, replies still due will be. */
static void pclient_lost(struct peer *peer, enum peer_lost why, void *data)
{
	struct pclient *c = data;
	struct proxy *p = c->p;
	struct pcmd *cmd;

	(void)peer;
	(void)why;
	TAILQ_REMOVE(&p->clients, c, entry);
	proxy_leave_round(c);
	while ((cmd = TAILQ_FIRST(&c->queue))) {
		pcmd_unlink(c, cmd);
		if (cmd->state == PCMD_SENT)
			cmd->c = NULL;
		else
			pcmd_free(cmd);
	}
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
	.max_input = PROXY_MAX_INPUT,
	.max_output = PROXY_MAX_BACKLOG,
	.fds = true,
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
	qmp_reader_for_clients(c->reader, PROXY_MAX_VALUES);
	TAILQ_INIT(&c->queue);
	TAILQ_INSERT_TAIL(&p->clients, c, entry);
	p->n++;
	peer_printf(peer, "%s\r\n", json_object_to_json_string_ext(qmp_greeting(p->qmp), JSON_C_TO_STRING_PLAIN));
}

/* The listener's callback: a trusted client connected. */
static void adopt(void *arg, int fd)
{
	proxy_add_client(arg, fd);
}

/* A command with descriptors waited for QEMU to read: try again. */
static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	proxy_dispatch(arg);
}

struct proxy *proxy_new(struct event_base *base, int listen_fd, struct qmp_client *qmp,
			const struct proxy_policy *policy)
{
	struct proxy *p = xzalloc(sizeof(*p));

	p->base = base;
	p->qmp = qmp;
	p->policy = policy;
	TAILQ_INIT(&p->clients);
	TAILQ_INIT(&p->round);
	p->retry = evtimer_new(base, retry_cb, p);
	if (!p->retry)
		abort();
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

void proxy_release(struct proxy *p)
{
	if (p->closed && p->sent == 0)
		free(p);
}

void proxy_free(struct proxy *p)
{
	struct pclient *c;

	if (!p)
		return;
	p->closed = true;
	while ((c = TAILQ_FIRST(&p->clients)))
		peer_drop(c->peer, PEER_SHUTDOWN);
	listener_free(p->listener);
	event_free(p->retry);
	proxy_release(p);
}
