#include "vmm/supervisor/agent.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "qmp/reader.h"
#include "vmm/base/util.h"
#include "vmm/supervisor/protocol.h"

/* Bytes sent to the agent and not yet taken by QEMU beyond which no call is sent: the agent
 * does not read its channel. */
#define AGENT_MAX_BACKLOG (64u << 10)
/* The id of the agent's chardev (vmm/launch/builder.c), as query-chardev names it. */
#define AGENT_CHARDEV "agent"

/* Where a call is. */
enum call_phase {
	CALL_QUEUED,   /* waiting for its turn */
	CALL_CHECKING, /* query-chardev asked: has the guest opened the port? */
	CALL_SYNCING,  /* guest-sync-delimited sent */
	CALL_WAITING   /* the command sent, its reply awaited */
};

/* One command. */
struct call {
	TAILQ_ENTRY(call) entry;
	struct json_object *cmd;
	unsigned timeout_ms;
	bool no_reply;            /* succeeds unless an error comes within AGENT_NO_REPLY_MS */
	enum call_phase phase;
	int64_t sync_id, cmd_id;
	enum agent_failure early; /* a failure known before its turn (AGENT_OK: none) */
	agent_reply_fn fn;
	void *arg;
};

struct agent {
	struct event_base *base;
	struct qmp_client *const *qmp;
	struct bufferevent *bev;    /* the channel, NULL when none */
	struct qmp_reader *reader;
	bool await_delim;           /* a sync was sent: drop what comes before the agent's 0xff */
	struct event *timer;        /* the current call's time limit */
	struct event *kick;         /* runs the queue outside of agent_call */
	TAILQ_HEAD(, call) calls;
	size_t n_calls;
	int64_t next_id;
	unsigned checks_out;        /* query-chardev commands not answered yet: the last one counts */
};

/* Commands that answer nothing when they succeed (the guest goes away instead). */
static const char *const no_reply_commands[] = { "guest-shutdown", "guest-suspend-disk", "guest-suspend-ram",
						 "guest-suspend-hybrid", NULL };

/* The command's name. */
static const char *call_name(const struct call *c)
{
	struct json_object *v;

	return json_object_object_get_ex(c->cmd, "execute", &v) ? json_object_get_string(v) : "?";
}

/* Ends the current call's time limit and starts another of ms milliseconds. */
static void arm(struct agent *a, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(a->timer, &tv);
}

/* Runs the queue on the next turn of the event loop. */
static void schedule(struct agent *a)
{
	struct timeval now = { 0, 0 };

	evtimer_add(a->kick, &now);
}

/* Removes call c, gives it its outcome and lets the next call go. */
static void finish(struct agent *a, struct call *c, enum agent_failure failure, struct json_object *ret,
		   const char *desc)
{
	struct agent_result r = { .failure = failure, .ret = ret, .desc = desc };

	if (c->phase != CALL_QUEUED)
		evtimer_del(a->timer);
	TAILQ_REMOVE(&a->calls, c, entry);
	a->n_calls--;
	c->fn(&r, c->arg);
	json_object_put(c->cmd);
	free(c);
	schedule(a);
}

/* Fails call c with a message made here. */
static void __attribute__((format(printf, 4, 5))) fail(struct agent *a, struct call *c, enum agent_failure why,
						       const char *fmt, ...)
{
	_cleanup_free_ char *desc = NULL;
	va_list ap;

	va_start(ap, fmt);
	desc = xvasprintf(fmt, ap);
	va_end(ap);
	finish(a, c, why, NULL, desc);
}

/* Writes one JSON text to the agent, after a 0xff when delim. */
static void send_json(struct agent *a, struct json_object *o, bool delim)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	if (delim)
		bufferevent_write(a->bev, "\xff", 1);
	bufferevent_write(a->bev, s, strlen(s));
	bufferevent_write(a->bev, "\n", 1);
}

/* Sends guest-sync-delimited for call c: the 0xff first resets the agent's parser. */
static void sync_agent(struct agent *a, struct call *c)
{
	struct json_object *sync, *args;

	if (!a->bev) {
		fail(a, c, AGENT_ERR_ABSENT, "the guest agent's channel is not connected (QEMU is not running)");
		return;
	}
	if (evbuffer_get_length(bufferevent_get_output(a->bev)) > AGENT_MAX_BACKLOG) {
		fail(a, c, AGENT_ERR_BUSY, "the guest agent does not read its channel (over %u KiB unread)",
		     AGENT_MAX_BACKLOG >> 10);
		return;
	}
	sync = json_object_new_object();
	args = json_object_new_object();
	c->phase = CALL_SYNCING;
	c->sync_id = a->next_id++;
	json_object_object_add(args, "id", json_object_new_int64(c->sync_id));
	json_object_object_add(sync, "execute", json_object_new_string("guest-sync-delimited"));
	json_object_object_add(sync, "arguments", args);
	send_json(a, sync, true);
	json_object_put(sync);
	a->await_delim = true;
	arm(a, CTL_AGENT_SYNC_MS);
}

/* query-chardev answered (the last one sent is the current call's): sync when the guest has
 * opened the agent's port. */
static void check_cb(struct qmp_client *qc, const struct qmp_result *r, void *arg)
{
	struct agent *a = arg;
	struct call *c = TAILQ_FIRST(&a->calls);

	(void)qc;
	if (--a->checks_out || !c || c->phase != CALL_CHECKING)
		return;
	/* Without an answer from QEMU, the sync alone tells. */
	for (size_t i = 0; r->failure == QMP_OK && json_object_is_type(r->ret, json_type_array) &&
			   i < json_object_array_length(r->ret); i++) {
		struct json_object *dev = json_object_array_get_idx(r->ret, i), *label, *open;
		if (json_object_object_get_ex(dev, "label", &label) &&
		    !strcmp(json_object_get_string(label), AGENT_CHARDEV) &&
		    json_object_object_get_ex(dev, "frontend-open", &open) && !json_object_get_boolean(open)) {
			fail(a, c, AGENT_ERR_ABSENT, "no guest agent runs in the guest (it has not opened its port "
			     "org.qemu.guest_agent.0: is qemu-guest-agent installed and started?)");
			return;
		}
	}
	sync_agent(a, c);
}

/* Starts the call at the head of the queue when none runs; fails those known to fail. */
static void run_queue(struct agent *a)
{
	struct call *c;

	TAILQ_FOREACH(c, &a->calls, entry)
		if (c->early != AGENT_OK) {
			fail(a, c, c->early, "%u calls to the guest agent wait already", AGENT_MAX_CALLS);
			return; /* finish() runs the queue again */
		}
	c = TAILQ_FIRST(&a->calls);
	if (!c || c->phase != CALL_QUEUED)
		return;
	c->phase = CALL_CHECKING;
	if (!a->bev || !*a->qmp) {
		sync_agent(a, c);
		return;
	}
	a->checks_out++;
	if (qmp_send(*a->qmp, "query-chardev", NULL, CTL_QMP_TIMEOUT_MS, 0, check_cb, a) < 0) {
		a->checks_out--;
		sync_agent(a, c);
	}
}

/* The kick event: run the queue. */
static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run_queue(arg);
}

/* The current call's time ran out. */
static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	struct call *c = TAILQ_FIRST(&a->calls);

	(void)fd;
	(void)what;
	if (!c)
		return;
	if (c->phase == CALL_SYNCING)
		/* The calls queued behind it would wait for the same hung agent in turn: they fail with it. */
		for (size_t n = a->n_calls; n > 0 && (c = TAILQ_FIRST(&a->calls)); n--)
			fail(a, c, AGENT_ERR_TIMEOUT, "the guest agent did not answer within %d s (it has its port open: "
			     "is it hung, or the guest too busy?)", CTL_AGENT_SYNC_MS / 1000);
	else if (c->no_reply)
		finish(a, c, AGENT_OK, NULL, NULL);
	else
		fail(a, c, AGENT_ERR_TIMEOUT, "the guest agent did not answer %s within %u s", call_name(c),
		     (c->timeout_ms + 999) / 1000);
}

/* The sync was answered: send the command itself, with an id its reply carries back. */
static void send_command(struct agent *a, struct call *c)
{
	c->phase = CALL_WAITING;
	c->cmd_id = a->next_id++;
	json_object_object_add(c->cmd, "id", json_object_new_int64(c->cmd_id));
	send_json(a, c->cmd, false);
	arm(a, c->no_reply ? AGENT_NO_REPLY_MS : c->timeout_ms);
}

/* True when a reply's "id" is want, or absent. */
static bool id_matches(struct json_object *msg, int64_t want)
{
	struct json_object *id;

	if (!json_object_object_get_ex(msg, "id", &id))
		return true;
	return json_object_is_type(id, json_type_int) && json_object_get_int64(id) == want;
}

/* One message from the agent: the answer the current call waits for, or stale. */
static void message(struct agent *a, struct json_object *msg)
{
	struct call *c = TAILQ_FIRST(&a->calls);
	struct json_object *ret, *error, *desc;

	if (!c || !json_object_is_type(msg, json_type_object))
		return;
	if (c->phase == CALL_SYNCING) {
		if (json_object_object_get_ex(msg, "return", &ret) && json_object_is_type(ret, json_type_int) &&
		    json_object_get_int64(ret) == c->sync_id)
			send_command(a, c);
		return;
	}
	if (c->phase != CALL_WAITING || !id_matches(msg, c->cmd_id))
		return;
	if (json_object_object_get_ex(msg, "return", &ret))
		finish(a, c, AGENT_OK, ret, NULL);
	else if (json_object_object_get_ex(msg, "error", &error)) {
		json_object_object_get_ex(error, "desc", &desc);
		fail(a, c, AGENT_ERR_COMMAND, "the guest agent failed %s: %s", call_name(c),
		     desc ? json_object_get_string(desc) : "(no description)");
	}
}

/* Takes what the reader has; a reply over AGENT_MAX_REPLY fails the call that waits for it. */
static void take_messages(struct agent *a)
{
	struct qmp_item item;
	enum qmp_read r;

	while (a->bev && (r = qmp_reader_next(a->reader, &item)) != QMP_READ_NONE) {
		struct call *c = TAILQ_FIRST(&a->calls);
		if (r == QMP_READ_MESSAGE) {
			message(a, item.msg);
			json_object_put(item.msg);
		} else if (item.error == QMP_READ_ESIZE && c && c->phase == CALL_WAITING)
			fail(a, c, AGENT_ERR_COMMAND, "the guest agent's reply to %s is over %u KiB", call_name(c),
			     AGENT_MAX_REPLY >> 10);
	}
}

/* Bytes from the agent: dropped unless a call waits; after a sync, those before the 0xff too. */
static void read_cb(struct bufferevent *bev, void *arg)
{
	struct agent *a = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct call *c = TAILQ_FIRST(&a->calls);
	size_t len;

	if (!c || (c->phase != CALL_SYNCING && c->phase != CALL_WAITING)) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if (a->await_delim) {
		struct evbuffer_ptr at = evbuffer_search(in, "\xff", 1, NULL);
		if (at.pos < 0) {
			evbuffer_drain(in, evbuffer_get_length(in));
			return;
		}
		evbuffer_drain(in, (size_t)at.pos + 1);
		qmp_reader_free(a->reader);
		a->reader = qmp_reader_new(AGENT_MAX_REPLY);
		a->await_delim = false;
	}
	while ((len = evbuffer_get_contiguous_space(in)) > 0) {
		qmp_reader_feed(a->reader, (const char *)evbuffer_pullup(in, (ssize_t)len), len);
		evbuffer_drain(in, len);
	}
	take_messages(a);
}

/* The channel closed (QEMU exited) or failed. */
static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	agent_detach(arg);
}

struct agent *agent_new(struct event_base *base, struct qmp_client *const *qmp)
{
	struct agent *a = xzalloc(sizeof(*a));

	a->base = base;
	a->qmp = qmp;
	a->reader = qmp_reader_new(AGENT_MAX_REPLY);
	a->timer = evtimer_new(base, timer_cb, a);
	a->kick = evtimer_new(base, kick_cb, a);
	/* Ids differ from one supervisor to the next: a reply to a former one never matches. */
	a->next_id = ((int64_t)getpid() << 20 ^ now_ms()) & 0xffffffffffffLL;
	TAILQ_INIT(&a->calls);
	return a;
}

void agent_attach(struct agent *a, int fd)
{
	agent_detach(a);
	evutil_make_socket_nonblocking(fd);
	a->bev = bufferevent_socket_new(a->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!a->bev)
		abort();
	bufferevent_setcb(a->bev, read_cb, NULL, event_cb, a);
	bufferevent_enable(a->bev, EV_READ | EV_WRITE);
}

void agent_detach(struct agent *a)
{
	struct call *c;

	if (!a)
		return;
	if (a->bev)
		bufferevent_free(steal_ptr(a->bev));
	a->await_delim = false;
	/* A command that answers nothing was taken: the guest going away is what it asked for. */
	while ((c = TAILQ_FIRST(&a->calls)) && c->phase == CALL_WAITING && c->no_reply)
		finish(a, c, AGENT_OK, NULL, NULL);
	while ((c = TAILQ_FIRST(&a->calls)) && c->phase != CALL_QUEUED)
		fail(a, c, AGENT_ERR_GONE, "QEMU's agent channel closed while the guest agent had %s to answer",
		     call_name(c));
}

void agent_free(struct agent *a)
{
	struct call *c;

	if (!a)
		return;
	agent_detach(a);
	while ((c = TAILQ_FIRST(&a->calls)))
		fail(a, c, AGENT_ERR_GONE, "the supervisor is ending");
	event_free(a->timer);
	event_free(a->kick);
	qmp_reader_free(a->reader);
	free(a);
}

void agent_call(struct agent *a, struct json_object *cmd, unsigned timeout_ms, agent_reply_fn fn, void *arg)
{
	struct call *c = xzalloc(sizeof(*c));
	const char *name;

	c->cmd = cmd;
	c->timeout_ms = timeout_ms;
	c->fn = fn;
	c->arg = arg;
	name = call_name(c);
	for (size_t i = 0; no_reply_commands[i]; i++)
		c->no_reply |= !strcmp(name, no_reply_commands[i]);
	if (a->n_calls >= AGENT_MAX_CALLS)
		c->early = AGENT_ERR_BUSY;
	TAILQ_INSERT_TAIL(&a->calls, c, entry);
	a->n_calls++;
	schedule(a);
}
