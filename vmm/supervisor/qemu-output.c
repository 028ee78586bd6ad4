#include "vmm/supervisor/qemu-output.h"

#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "vmm/base/util.h"
#include "vmm/supervisor/state.h"

/* The most of QEMU's output kept until it is ready (its last lines are kept apart for the verdict). */
#define EARLY_OUTPUT_MAX 65536

const char *without_timestamp(const char *line)
{
	const char *z = strchr(line, 'Z');

	if (strlen(line) > 28 && line[4] == '-' && line[10] == 'T' && z && z - line < 32 && z[1] == ' ')
		return z + 2;
	return line;
}

/* A line of QEMU's output ended: kept, without its timestamp, for the verdict and the record. */
static void line_done(struct qemu_output *o)
{
	const char *text = without_timestamp(o->last);

	memmove(o->last, text, strlen(text) + 1);
	state_output_line(o->vm, o->last);
	o->partial = 0;
}

/* QEMU wrote something: relayed (or kept until it is ready), its lines followed. */
static void read_cb(struct bufferevent *bev, void *arg)
{
	struct qemu_output *o = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char buf[4096];
	int n;

	while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		if (o->relay)
			(void)write_all(STDERR_FILENO, buf, (size_t)n);
		else if (evbuffer_get_length(o->early) < EARLY_OUTPUT_MAX)
			evbuffer_add(o->early, buf, (size_t)n);
		for (int i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				if (o->partial)
					line_done(o);
			} else if (o->partial + 1 < sizeof(o->last)) {
				o->last[o->partial++] = buf[i];
				o->last[o->partial] = '\0';
			}
		}
	}
}

/* Output EOF or error: nothing more will come. */
static void eof_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_disable(bev, EV_READ);
}

void qemu_output_attach(struct qemu_output *o, struct event_base *base, struct vm_state *vm, int fd)
{
	o->vm = vm;
	evutil_make_socket_nonblocking(fd);
	o->early = evbuffer_new();
	o->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(o->bev, read_cb, NULL, eof_cb, o);
	bufferevent_enable(o->bev, EV_READ);
}

void qemu_output_ready(struct qemu_output *o)
{
	char buf[4096];
	int n;

	o->relay = true;
	while (o->early && (n = evbuffer_remove(o->early, buf, sizeof(buf))) > 0)
		(void)write_all(STDERR_FILENO, buf, (size_t)n);
}

void qemu_output_drain(struct qemu_output *o)
{
	if (!o->bev)
		return;
	while (evbuffer_read(bufferevent_get_input(o->bev), bufferevent_getfd(o->bev), -1) > 0)
		;
	read_cb(o->bev, o);
	if (o->partial)
		line_done(o);
}

void qemu_output_detach(struct qemu_output *o)
{
	if (o->bev)
		bufferevent_free(o->bev);
	if (o->early)
		evbuffer_free(o->early);
	*o = (struct qemu_output){ .vm = o->vm };
}
