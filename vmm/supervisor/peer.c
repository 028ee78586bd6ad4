#include "vmm/supervisor/peer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "vmm/base/util.h"

/* Bytes read at most at a time, as a bufferevent does. */
#define PEER_READ_CHUNK (64u << 10)
/* Reads whose descriptors a peer keeps (the oldest are closed first). */
#define PEER_FD_READS 4

/* The descriptors that came with one read, and where in the stream that read began. */
struct fd_read {
	size_t at;
	size_t n;
	int fds[PEER_MAX_FDS];
};

struct peer {
	const struct peer_type *type;
	struct bufferevent *bev;    /* writes; NULL once gone */
	struct evbuffer *in;        /* what was read and the owner has not consumed */
	struct event *rd;           /* reading, while the input is under its limit */
	struct event *hup;          /* the client hung up: seen even while reading pauses */
	bool paused;                /* rd is not pending: the input is full */
	size_t received;            /* bytes read so far */
	size_t largest;             /* the largest message queued since the output was empty */
	struct fd_read fd_reads[PEER_FD_READS];
	size_t n_fd_reads;
	unsigned refs;              /* one while connected, one per peer_ref */
	max_align_t data[];         /* the owner's, type->data_size bytes */
};

void *peer_data(struct peer *p)
{
	return p->data;
}

struct evbuffer *peer_input(struct peer *p)
{
	return p->in;
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
	evbuffer_free(p->in);
	if (p->type->free)
		p->type->free(p->data);
	free(p);
}

/* Closes the descriptors of the first n reads that brought some and forgets them. */
static void close_fd_reads(struct peer *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < p->fd_reads[i].n; j++)
			close(p->fd_reads[i].fds[j]);
	memmove(p->fd_reads, p->fd_reads + n, (p->n_fd_reads - n) * sizeof(*p->fd_reads));
	p->n_fd_reads -= n;
}

void peer_drop(struct peer *p, enum peer_lost why)
{
	if (peer_gone(p))
		return;
	event_free(p->rd);
	if (p->hup)
		event_free(p->hup);
	close_fd_reads(p, p->n_fd_reads);
	bufferevent_free(p->bev);
	p->bev = NULL;
	p->type->lost(p, why, p->data);
	peer_unref(p); /* the connection's */
}

size_t peer_take_fds(struct peer *p, size_t before, int *fds)
{
	size_t i = 0, n;

	while (i < p->n_fd_reads && p->fd_reads[i].at < before)
		i++;
	if (i == 0)
		return 0;
	n = p->fd_reads[i - 1].n;
	memcpy(fds, p->fd_reads[i - 1].fds, n * sizeof(*fds));
	p->fd_reads[i - 1].n = 0; /* taken, not closed */
	close_fd_reads(p, i);
	return n;
}

/* A message was queued after `before` bytes of output: past the limit, the peer is lost. */
static void queued(struct peer *p, struct evbuffer *out, size_t before)
{
	if (evbuffer_get_length(out) - before > p->largest)
		p->largest = evbuffer_get_length(out) - before;
	if (evbuffer_get_length(out) > p->type->max_output + p->largest)
		peer_drop(p, PEER_OVERFLOW);
}

/* The peer's output, as a message is about to be queued (NULL once gone). */
static struct evbuffer *output(struct peer *p, size_t *before)
{
	struct evbuffer *out;

	if (peer_gone(p))
		return NULL;
	out = bufferevent_get_output(p->bev);
	*before = evbuffer_get_length(out);
	if (*before == 0)
		p->largest = 0;
	return out;
}

void peer_printf(struct peer *p, const char *fmt, ...)
{
	size_t before;
	struct evbuffer *out = output(p, &before);
	va_list ap;

	if (!out)
		return;
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	queued(p, out, before);
}

void peer_write(struct peer *p, const void *data, size_t len)
{
	size_t before;
	struct evbuffer *out = output(p, &before);

	if (!out)
		return;
	evbuffer_add(out, data, len);
	queued(p, out, before);
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

/* Keeps the descriptors that came with a read which began at stream offset at. */
static void keep_fds(struct peer *p, size_t at, const struct cmsghdr *cm)
{
	size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	struct fd_read *r;

	if (p->n_fd_reads == PEER_FD_READS)
		close_fd_reads(p, 1);
	r = &p->fd_reads[p->n_fd_reads++];
	r->at = at;
	r->n = n < PEER_MAX_FDS ? n : PEER_MAX_FDS;
	memcpy(r->fds, CMSG_DATA(cm), n * sizeof(int) > sizeof(r->fds) ? sizeof(r->fds) : n * sizeof(int));
}

/* Reads once into the input (with the descriptors passed along, for a type that keeps
 * them); 0 at EOF, -1 with errno on failure (EAGAIN: nothing there, or no room). */
static ssize_t receive(struct peer *p)
{
	union {
		char buf[CMSG_SPACE(PEER_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} control;
	size_t room = PEER_READ_CHUNK, have = evbuffer_get_length(p->in);
	struct evbuffer_iovec vec;
	struct msghdr msg = { .msg_iov = (struct iovec *)&vec, .msg_iovlen = 1 };
	ssize_t n;

	if (p->type->max_input && p->type->max_input - have < room)
		room = have < p->type->max_input ? p->type->max_input - have : 0;
	if (room == 0) {
		errno = EAGAIN;
		return -1;
	}
	if (p->type->fds) {
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
	}
	if (evbuffer_reserve_space(p->in, (ev_ssize_t)room, &vec, 1) < 1)
		abort();
	if (vec.iov_len > room)
		vec.iov_len = room;
	n = recvmsg(bufferevent_getfd(p->bev), &msg, MSG_CMSG_CLOEXEC);
	if (n <= 0) {
		evbuffer_commit_space(p->in, NULL, 0);
		return n;
	}
	for (struct cmsghdr *cm = msg.msg_controllen ? CMSG_FIRSTHDR(&msg) : NULL; cm; cm = CMSG_NXTHDR(&msg, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			keep_fds(p, p->received, cm);
	vec.iov_len = (size_t)n;
	evbuffer_commit_space(p->in, &vec, 1);
	p->received += (size_t)n;
	return n;
}

/* Pauses reading while the input is at its limit, resumes it below. */
static void pace(struct peer *p)
{
	bool full = p->type->max_input && evbuffer_get_length(p->in) >= p->type->max_input;

	if (full && !p->paused)
		event_del(p->rd);
	else if (!full && p->paused)
		event_add(p->rd, NULL);
	p->paused = full;
}

/* The owner consumed input: reading may go on. */
static void input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct peer *p = arg;

	(void)buf;
	if (info->n_deleted && p->paused && !peer_gone(p))
		pace(p);
}

/* The socket is readable or the client hung up: read once, let the owner take it, and
 * end the peer on EOF, a failure or a hang-up (after what came before it was read). */
static void socket_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	ssize_t n = p->paused ? -1 : receive(p);
	int err = n < 0 && !p->paused ? errno : EAGAIN;

	(void)fd;
	peer_ref(p);
	if (n > 0) {
		p->type->read(p, p->data);
		if (!peer_gone(p))
			pace(p);
	}
	if (!peer_gone(p) && (n == 0 || (what & EV_CLOSED)))
		peer_drop(p, PEER_EOF);
	else if (!peer_gone(p) && err != EAGAIN && err != EINTR)
		peer_drop(p, PEER_ERROR);
	peer_unref(p);
}

/* A write failed. */
static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		peer_drop(arg, PEER_ERROR);
}

struct peer *peer_new(struct event_base *base, int fd, const struct peer_type *type)
{
	struct peer *p = xzalloc(sizeof(*p) + type->data_size);

	p->type = type;
	p->refs = 1;
	evutil_make_socket_nonblocking(fd);
	p->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	p->in = evbuffer_new();
	p->rd = event_new(base, fd, EV_READ | EV_PERSIST, socket_cb, p);
	if (event_base_get_features(base) & EV_FEATURE_EARLY_CLOSE)
		p->hup = event_new(base, fd, EV_CLOSED | EV_PERSIST, socket_cb, p);
	if (!p->bev || !p->in || !p->rd || (p->hup && event_add(p->hup, NULL) < 0))
		abort();
	evbuffer_add_cb(p->in, input_cb, p);
	event_add(p->rd, NULL);
	bufferevent_setcb(p->bev, NULL, NULL, event_cb, p);
	bufferevent_enable(p->bev, EV_WRITE);
	return p;
}
