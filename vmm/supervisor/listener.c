#include "vmm/supervisor/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "vmm/base/util.h"

/* Connections taken per wakeup before the loop moves on to other events. */
#define LISTENER_BURST 16

struct listener {
	struct event *ev;        /* the listening socket is readable */
	struct event *backoff;   /* the pause after an accept() failure that could not be shed */
	int fd;
	int spare;               /* /dev/null, given up to shed a connection; -1 when it could not be reopened */
	unsigned max;            /* with clients: the cap */
	const unsigned *clients; /* the owner's count of its clients, or NULL: no cap */
	listener_adopt_fn adopt;
	void *arg;
};

/* Opens the spare descriptor (-1 when none is free). */
static int open_spare(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Out of descriptors: accepts one connection into the spare's slot and closes it.
 * Returns 0, or -1 with errno (EAGAIN: none was waiting; EMFILE: no spare). */
static int shed(struct listener *l)
{
	int fd, e;

	if (l->spare < 0) {
		errno = EMFILE;
		return -1;
	}
	close(l->spare);
	fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
	e = errno;
	if (fd >= 0)
		close(fd);
	l->spare = open_spare();
	errno = e;
	return fd < 0 ? -1 : 0;
}

/* accept() failed in a way shedding cannot help: this listener pauses for a second. */
static void pause_accepting(struct listener *l)
{
	struct timeval second = { 1, 0 };

	event_del(l->ev);
	evtimer_add(l->backoff, &second);
}

/* The back-off is over: get the spare back if it was lost, and accept again. */
static void backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void)fd;
	(void)what;
	if (l->spare < 0)
		l->spare = open_spare();
	event_add(l->ev, NULL);
}

/* New connections: let in the trusted ones the owner has room for, close the others. */
static void accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct listener *l = arg;

	(void)what;
	for (int i = 0; i < LISTENER_BURST; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0 && errno == EMFILE && shed(l) == 0)
			continue;
		if (fd < 0) {
			if (errno == EAGAIN)
				return;
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			pause_accepting(l);
			return;
		}
		if ((l->clients && *l->clients >= l->max) || !peer_is_trusted(fd))
			close(fd);
		else
			l->adopt(l->arg, fd);
	}
}

struct listener *listener_new(struct event_base *base, int listen_fd, listener_adopt_fn adopt, void *arg)
{
	struct listener *l = xzalloc(sizeof(*l));

	l->fd = listen_fd;
	l->spare = open_spare();
	l->adopt = adopt;
	l->arg = arg;
	evutil_make_socket_nonblocking(listen_fd);
	l->ev = event_new(base, listen_fd, EV_READ | EV_PERSIST, accept_cb, l);
	l->backoff = evtimer_new(base, backoff_cb, l);
	if (!l->ev || !l->backoff)
		abort();
	event_add(l->ev, NULL);
	return l;
}

void listener_cap(struct listener *l, unsigned max, const unsigned *clients)
{
	struct rlimit nofile;

	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur / 4 < max)
		max = (unsigned)(nofile.rlim_cur / 4);
	l->max = max;
	l->clients = clients;
}

void listener_free(struct listener *l)
{
	if (!l)
		return;
	event_free(l->ev);
	event_free(l->backoff);
	if (l->spare >= 0)
		close(l->spare);
	free(l);
}
