#include "vmm/supervisor/sup-proxy.h"

/* Milliseconds before the proxy's lost monitor connection is made again. */
#define PROXY_RECONNECT_MS 500

/* The proxy's monitor is negotiated: serve qmp.sock through it. */
static void ready_cb(struct qmp_client *c, void *arg)
{
	struct sup *s = arg;

	s->proxy = proxy_new(s->base, s->qmp_listen, c, &s->policy);
}

/* Events on the proxy's monitor go to the proxy's clients (the supervisor has its own). */
static void event_cb(struct qmp_client *c, const char *name, struct json_object *msg, void *arg)
{
	struct sup *s = arg;

	(void)c;
	(void)name;
	if (s->proxy)
		proxy_event(s->proxy, msg);
}

/* QEMU sent an error that answers no command on the proxy's monitor: the log says so. */
static void error_cb(struct qmp_client *c, const char *class, const char *desc, void *arg)
{
	(void)c;
	say(&((struct sup *)arg)->vm, "warning: QEMU sent the QMP proxy an error that answers no command: %s: %s",
	    class, desc);
}

/* The proxy's monitor connection ended: its clients go; while QEMU runs, connect again. */
static void closed_cb(struct qmp_client *c, enum qmp_failure why, const char *desc, void *arg)
{
	struct sup *s = arg;

	(void)c;
	(void)why;
	(void)desc;
	sup_proxy_drop(s);
	if (s->ready && !s->reaped)
		arm_ms(s->proxy_timer, PROXY_RECONNECT_MS);
}

/* The reconnect delay is over: QEMU still runs (it was not exiting), so connect again. */
static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sup *s = arg;

	(void)fd;
	(void)what;
	if (!s->ready || s->reaped || s->proxy_qmp)
		return;
	say(&s->vm, "the QMP proxy lost its connection to QEMU; connecting again");
	sup_proxy_connect(s);
}

void sup_proxy_connect(struct sup *s)
{
	static const struct qmp_handlers handlers = { .ready = ready_cb, .event = event_cb, .error = error_cb,
						      .closed = closed_cb };
	_cleanup_verr_ struct verr err = { 0 };
	int fd;

	if (!s->proxy_timer)
		s->proxy_timer = evtimer_new(s->base, timer_cb, s);
	fd = rundir_connect(&s->rd, SUP_PROXY_MONITOR, &err);
	if (fd < 0) {
		verr_wrap(&err, "warning: qmp.sock is not served");
		say_err(&s->vm, &err);
		return;
	}
	s->proxy_qmp = qmp_client_new(s->base, fd, &handlers, s);
}

void sup_proxy_drop(struct sup *s)
{
	proxy_free(steal_ptr(s->proxy));
	qmp_client_free(steal_ptr(s->proxy_qmp));
	if (s->proxy_timer)
		evtimer_del(s->proxy_timer);
}
