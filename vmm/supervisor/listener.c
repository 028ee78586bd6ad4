#include "vmm/supervisor/listener.h"

#include <unistd.h>

#include <event2/listener.h>

#include "vmm/base/util.h"

struct listener {
	struct evconnlistener *ev;
	struct event *backoff;
	listener_adopt_fn adopt;
	void *arg;
};

/* A new client: let it in when it is our user or root. */
static void accept_cb(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;

	(void)ev;
	(void)sa;
	(void)salen;
	if (!peer_is_trusted(fd)) {
		close(fd);
		return;
	}
	l->adopt(l->arg, fd);
}

/* The back-off is over: accept again. */
static void backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	evconnlistener_enable(((struct listener *)arg)->ev);
}

/* accept() failed (EMFILE, ENFILE, ENOMEM): pause accepting for a second. */
static void accept_error_cb(struct evconnlistener *ev, void *arg)
{
	struct timeval second = { 1, 0 };

	evconnlistener_disable(ev);
	evtimer_add(((struct listener *)arg)->backoff, &second);
}

struct listener *listener_new(struct event_base *base, int listen_fd, listener_adopt_fn adopt, void *arg)
{
	struct listener *l = xzalloc(sizeof(*l));

	l->adopt = adopt;
	l->arg = arg;
	l->backoff = evtimer_new(base, backoff_cb, l);
	evutil_make_socket_nonblocking(listen_fd);
	l->ev = evconnlistener_new(base, accept_cb, l, LEV_OPT_CLOSE_ON_EXEC, 0, listen_fd);
	if (!l->ev || !l->backoff)
		abort();
	evconnlistener_set_error_cb(l->ev, accept_error_cb);
	return l;
}

void listener_free(struct listener *l)
{
	if (!l)
		return;
	evconnlistener_free(l->ev);
	event_free(l->backoff);
	free(l);
}
