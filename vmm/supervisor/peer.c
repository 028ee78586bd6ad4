#include "vmm/supervisor/peer.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "vmm/base/util.h"

struct peer {
	const struct peer_type *type;
	struct bufferevent *bev; /* NULL once gone */
	unsigned refs;           /* one while connected, one per peer_ref */
	max_align_t data[];      /* the owner's, type->data_size bytes */
};

void *peer_data(struct peer *p)
{
	return p->data;
}

struct evbuffer *peer_input(struct peer *p)
{
	return bufferevent_get_input(p->bev);
}

bool peer_gone(const struct peer *p)
{
	return !p->bev;
}

void peer_ref(struct peer *p)
{
	p->refs++;
}

void peer_unref(struct peer *p)
{
	if (--p->refs > 0)
		return;
	if (p->type->free)
		p->type->free(p->data);
	free(p);
}

void peer_drop(struct peer *p, enum peer_lost why)
{
	if (peer_gone(p))
		return;
	bufferevent_free(p->bev);
	p->bev = NULL;
	p->type->lost(p, why, p->data);
	peer_unref(p); /* the connection's */
}

void peer_printf(struct peer *p, const char *fmt, ...)
{
	struct evbuffer *out;
	va_list ap;

	if (peer_gone(p))
		return;
	out = bufferevent_get_output(p->bev);
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	if (evbuffer_get_length(out) > p->type->max_output)
		peer_drop(p, PEER_OVERFLOW);
}

/* The socket bufferevent keeps its output's start frozen; it is thawed to be written here. */
void peer_flush(struct peer *p)
{
	struct timeval second = { 1, 0 }; /* a client that does not read holds nobody up for longer */
	struct evbuffer *out;
	int fd;

	if (peer_gone(p))
		return;
	out = bufferevent_get_output(p->bev);
	fd = bufferevent_getfd(p->bev);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &second, sizeof(second));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	evbuffer_unfreeze(out, 1);
	while (evbuffer_get_length(out) > 0 && evbuffer_write(out, fd) > 0)
		;
}

/* Input arrived: the owner reads it, and may drop the peer meanwhile. */
static void read_cb(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;

	(void)bev;
	peer_ref(p);
	p->type->read(p, p->data);
	peer_unref(p);
}

/* EOF or an error on the socket. */
static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & BEV_EVENT_EOF)
		peer_drop(arg, PEER_EOF);
	else if (what & BEV_EVENT_ERROR)
		peer_drop(arg, PEER_ERROR);
}

struct peer *peer_new(struct event_base *base, int fd, const struct peer_type *type)
{
	struct peer *p = xzalloc(sizeof(*p) + type->data_size);

	p->type = type;
	p->refs = 1;
	evutil_make_socket_nonblocking(fd);
	p->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!p->bev)
		abort();
	bufferevent_setcb(p->bev, read_cb, NULL, event_cb, p);
	if (type->max_input)
		bufferevent_setwatermark(p->bev, EV_READ, 0, type->max_input);
	bufferevent_enable(p->bev, EV_READ | EV_WRITE);
	return p;
}
