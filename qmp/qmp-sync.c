#include "qmp/qmp-sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qmp_sync {
	struct event_base *base;
	struct qmp_client *c;
	struct json_object *events; /* queued, oldest first */
	bool ready, closed;
	enum qmp_failure closed_why;
	char closed_desc[160];
	struct call *call; /* the call being waited for, or NULL */
};

/* The answer one call waits for: held by the caller and by the client until its reply
 * callback runs, which may come after the caller went on (see error_cb). */
struct call {
	unsigned refs;
	bool done;
	enum qmp_failure failure;
	struct json_object *ret;
	char *cls;
	char desc[256];
};

/* Drops a reference to a call; the last frees it. */
static void call_unref(struct call *call)
{
	if (--call->refs > 0)
		return;
	json_object_put(call->ret);
	free(call->cls);
	free(call);
}

/* Records a call's answer, unless it has one: the first to come counts. */
static void call_answer(struct call *call, enum qmp_failure failure, struct json_object *ret, const char *cls,
			const char *desc)
{
	if (call->done)
		return;
	call->done = true;
	call->failure = failure;
	call->ret = json_object_get(ret);
	if (cls)
		call->cls = strdup(cls);
	if (desc)
		snprintf(call->desc, sizeof(call->desc), "%s", desc);
}

/* The session is negotiated. */
static void ready_cb(struct qmp_client *c, void *arg)
{
	(void)c;
	((struct qmp_sync *)arg)->ready = true;
}

/* Queues an event for qmp_sync_event(). */
static void event_cb(struct qmp_client *c, const char *name, struct json_object *msg, void *arg)
{
	(void)c;
	(void)name;
	json_object_array_add(((struct qmp_sync *)arg)->events, json_object_get(msg));
}

/* The connection ended. */
static void closed_cb(struct qmp_client *c, enum qmp_failure why, const char *desc, void *arg)
{
	struct qmp_sync *s = arg;

	(void)c;
	s->closed = true;
	s->closed_why = why;
	snprintf(s->closed_desc, sizeof(s->closed_desc), "%s", desc);
}

/* An error without an id: input the server could not read as a command. One call is
 * in flight at a time, so it is the answer to the call being waited for, if any. */
static void error_cb(struct qmp_client *c, const char *class, const char *desc, void *arg)
{
	struct qmp_sync *s = arg;

	(void)c;
	if (s->call)
		call_answer(s->call, QMP_ERR_COMMAND, NULL, class, desc);
}

/* A wait ran out of time. */
static void expire_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(bool *)arg = true;
}

/* Runs the loop until done() holds, the connection closes or timeout_ms (0: never) pass.
 * Returns false on timeout. */
static bool run_until(struct qmp_sync *s, bool (*done)(struct qmp_sync *s, void *arg), void *arg,
		      unsigned timeout_ms)
{
	bool expired = false;
	struct event *timer = NULL;

	if (timeout_ms) {
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
		timer = evtimer_new(s->base, expire_cb, &expired);
		evtimer_add(timer, &tv);
	}
	while (!done(s, arg) && !s->closed && !expired)
		event_base_loop(s->base, EVLOOP_ONCE);
	if (timer)
		event_free(timer);
	return !expired || done(s, arg) || s->closed;
}

/* run_until() condition: negotiated. */
static bool is_ready(struct qmp_sync *s, void *arg)
{
	(void)arg;
	return s->ready;
}

struct qmp_sync *qmp_sync_open(int fd, unsigned timeout_ms, char *errbuf, size_t errlen)
{
	static const struct qmp_handlers handlers = { .ready = ready_cb, .event = event_cb, .closed = closed_cb,
						      .error = error_cb };
	struct qmp_sync *s = calloc(1, sizeof(*s));

	if (!s)
		abort();
	s->base = event_base_new();
	if (!s->base)
		abort();
	s->events = json_object_new_array();
	s->c = qmp_client_new(s->base, fd, &handlers, s);
	if (!run_until(s, is_ready, NULL, timeout_ms)) {
		snprintf(errbuf, errlen, "no QMP greeting within %u ms", timeout_ms);
		qmp_sync_close(s);
		return NULL;
	}
	if (!s->ready) {
		snprintf(errbuf, errlen, "%s", s->closed_desc);
		qmp_sync_close(s);
		return NULL;
	}
	return s;
}

/* A call's reply (or failure) arrived. */
static void reply_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	(void)c;
	call_answer(arg, r->failure, r->ret, r->class, r->desc);
	call_unref(arg);
}

/* run_until() condition: the call has its answer. */
static bool call_done(struct qmp_sync *s, void *arg)
{
	(void)s;
	return ((struct call *)arg)->done;
}

enum qmp_failure qmp_sync_call(struct qmp_sync *s, struct json_object *cmd, unsigned timeout_ms,
			       struct json_object **ret, char **cls, char *errbuf, size_t errlen)
{
	struct call *call = calloc(1, sizeof(*call));
	enum qmp_failure failure;

	if (!call)
		abort();
	*ret = NULL;
	*cls = NULL;
	call->refs = 2;
	if (qmp_send_object(s->c, cmd, timeout_ms, reply_cb, call) < 0) {
		free(call);
		snprintf(errbuf, errlen, "%s", s->closed ? s->closed_desc : "the QMP connection is closed");
		return QMP_ERR_CLOSED;
	}
	/* The command's own timeout ends the wait; the connection's end fails it too. */
	s->call = call;
	run_until(s, call_done, call, 0);
	s->call = NULL;
	failure = call->failure;
	if (failure != QMP_OK)
		snprintf(errbuf, errlen, "%s", call->desc);
	*ret = call->ret;
	*cls = call->cls;
	call->ret = NULL;
	call->cls = NULL;
	call_unref(call);
	return failure;
}

/* run_until() condition: an event is queued. */
static bool has_event(struct qmp_sync *s, void *arg)
{
	(void)arg;
	return json_object_array_length(s->events) > 0;
}

enum qmp_failure qmp_sync_event(struct qmp_sync *s, unsigned timeout_ms, struct json_object **event,
				char *errbuf, size_t errlen)
{
	*event = NULL;
	if (!run_until(s, has_event, NULL, timeout_ms))
		return QMP_ERR_TIMEOUT;
	if (!has_event(s, NULL)) {
		snprintf(errbuf, errlen, "%s", s->closed_desc);
		return s->closed_why == QMP_ERR_PROTOCOL ? QMP_ERR_PROTOCOL : QMP_ERR_CLOSED;
	}
	*event = json_object_get(json_object_array_get_idx(s->events, 0));
	json_object_array_del_idx(s->events, 0, 1);
	return QMP_OK;
}

void qmp_sync_close(struct qmp_sync *s)
{
	if (!s)
		return;
	qmp_client_free(s->c);
	json_object_put(s->events);
	event_base_free(s->base);
	free(s);
}
