#include "vmm/supervisor/feed.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "vmm/base/util.h"

struct feed {
	struct event *ev;
	int file, pipe;    /* -1 once done */
	char buf[65536];
	size_t len, off;   /* read from the file, of which written into the pipe */
};

/* Closes the file and the pipe's write end: the reader sees EOF (all of it, or a failed read). */
static void done(struct feed *f)
{
	event_del(f->ev);
	close(steal_fd(f->file));
	close(steal_fd(f->pipe));
}

/* The pipe has room: more of the file. */
static void write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct feed *f = arg;
	ssize_t n;

	(void)fd;
	(void)what;
	for (;;) {
		if (f->off == f->len) {
			n = read(f->file, f->buf, sizeof(f->buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				done(f);
				return;
			}
			f->len = (size_t)n;
			f->off = 0;
		}
		n = write(f->pipe, f->buf + f->off, f->len - f->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) { /* the reader is gone */
			done(f);
			return;
		}
		f->off += (size_t)n;
	}
}

int feed_start(struct event_base *base, int file, struct feed **out, struct verr *err)
{
	struct feed *f;
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0) {
		close(file);
		return verr_set(err, errno, "cannot create a pipe");
	}
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	f = xzalloc(sizeof(*f));
	f->file = file;
	f->pipe = p[1];
	f->ev = event_new(base, f->pipe, EV_WRITE | EV_PERSIST, write_cb, f);
	event_add(f->ev, NULL);
	*out = f;
	return p[0];
}

void feed_free(struct feed *f)
{
	if (!f)
		return;
	if (f->file >= 0)
		done(f);
	event_free(f->ev);
	free(f);
}
