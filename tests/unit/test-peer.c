/* The supervisor's peer on a socketpair: one lost callback, once, for EOF, overflow and
 * shutdown; dropping a peer inside its own read callback; references that outlive the
 * connection; input that pauses at its limit, and a hang-up seen all the same; output
 * limited to what the client does not drain; descriptors passed along with the bytes;
 * a last flush that does not wait forever. Then the control socket on top of it: many
 * requests in one read, a line too long. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "vmm/supervisor/control.h"
#include "vmm/supervisor/peer.h"
#include "scm.h"
#include "tap.h"

static struct event_base *base;

/* What the callbacks saw, kept in the owner's data. */
struct seen {
	int reads, lost;
	enum peer_lost why;
	size_t input;         /* bytes waiting at the last read */
	bool drop_in_read;    /* the read callback drops the peer */
	bool gone_in_lost;    /* peer_gone() inside the lost callback */
	bool gone_after_drop; /* peer_gone() in the read callback, after dropping */
};

static int freed; /* data released by the free callback, counted outside the data */

/* Read callback: notes the input, and drops the peer when asked to. */
static void on_read(struct peer *p, void *data)
{
	struct seen *s = data;

	s->reads++;
	s->input = evbuffer_get_length(peer_input(p));
	if (s->drop_in_read) {
		peer_drop(p, PEER_SHUTDOWN);
		s->gone_after_drop = peer_gone(p); /* the memory is still there */
	}
}

/* Lost callback: notes why. */
static void on_lost(struct peer *p, enum peer_lost why, void *data)
{
	struct seen *s = data;

	s->lost++;
	s->why = why;
	s->gone_in_lost = peer_gone(p);
}

/* Free callback: counts. */
static void on_free(void *data)
{
	(void)data;
	freed++;
}

static const struct peer_type test_type = {
	.data_size = sizeof(struct seen),
	.max_input = 1000,
	.max_output = 64 << 10,
	.read = on_read,
	.lost = on_lost,
	.free = on_free,
};

/* Runs the loop for ms milliseconds. */
static void pump(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static const struct peer_type fd_type = {
	.data_size = sizeof(struct seen),
	.max_input = 1000,
	.max_output = 64 << 10,
	.fds = true,
	.read = on_read,
	.lost = on_lost,
	.free = on_free,
};

/* A peer of a type on one end of a socketpair, with a reference for the test; *other gets the far end. */
static struct peer *pair_of(const struct peer_type *type, int *other)
{
	int sv[2];
	struct peer *p;

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	*other = sv[1];
	p = peer_new(base, sv[0], type);
	peer_ref(p);
	return p;
}

/* A peer of the test type. */
static struct peer *pair(int *other)
{
	return pair_of(&test_type, other);
}

/* EOF: lost once with PEER_EOF; the memory stays while referenced. */
static void test_eof(void)
{
	int fd;
	struct peer *p = pair(&fd);
	struct seen *s = peer_data(p);

	freed = 0;
	(void)!write(fd, "hello", 5);
	pump(10);
	ok(s->reads == 1 && s->input == 5, "input reaches the read callback");
	close(fd);
	pump(10);
	ok(s->lost == 1 && s->why == PEER_EOF && s->gone_in_lost, "hang-up: lost once, with PEER_EOF, gone inside it");
	peer_drop(p, PEER_SHUTDOWN);
	ok(s->lost == 1 && freed == 0, "dropping a gone peer does nothing; a reference keeps its memory");
	peer_unref(p);
	ok(freed == 1, "the last reference frees it, once");
}

/* A client that does not read: lost once with PEER_OVERFLOW; later writes are dropped. */
static void test_overflow(void)
{
	int fd;
	struct peer *p = pair(&fd);
	struct seen *s = peer_data(p);
	char line[1024];

	freed = 0;
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	for (int i = 0; i < 2000 && !peer_gone(p); i++) {
		peer_printf(p, "%s\n", line);
		pump(1);
	}
	ok(s->lost == 1 && s->why == PEER_OVERFLOW, "output past the limit: lost once, with PEER_OVERFLOW");
	peer_printf(p, "more\n");
	ok(s->lost == 1, "writing to a gone peer is a no-op");
	peer_unref(p);
	close(fd);
	ok(freed == 1, "freed with its last reference");
}

/* Dropping the peer inside its own read callback. */
static void test_drop_in_read(void)
{
	int fd;
	struct peer *p = pair(&fd);
	struct seen *s = peer_data(p);
	char c;

	freed = 0;
	s->drop_in_read = true;
	(void)!write(fd, "x", 1);
	pump(10);
	ok(s->lost == 1 && s->why == PEER_SHUTDOWN && s->gone_after_drop,
	   "a read callback may drop its peer: lost once, the memory still there after");
	ok(read(fd, &c, 1) == 0, "the socket is closed");
	peer_unref(p);
	close(fd);
	ok(freed == 1, "freed with its last reference");
}

/* Input the owner does not consume: reading pauses at the limit and resumes below it; a
 * hang-up while it pauses is seen all the same. */
static void test_input_limit(void)
{
	int fd;
	struct peer *p = pair(&fd);
	struct seen *s = peer_data(p);
	char buf[5000];

	memset(buf, 'x', sizeof(buf));
	(void)!write(fd, buf, sizeof(buf));
	pump(20);
	ok(s->input > 0 && s->input <= 1000, "reading pauses at the input limit (%zu bytes held)", s->input);
	evbuffer_drain(peer_input(p), s->input);
	pump(20);
	ok(s->input > 0 && s->input <= 1000, "and goes on once the owner consumed it");
	close(fd);
	pump(20);
	ok(s->input == 1000 && s->lost == 1 && s->why == PEER_EOF, "a hang-up while reading pauses: lost with PEER_EOF");
	peer_unref(p);
}

/* Drains what the far end fd has; returns the bytes read. */
static size_t drain_fd(int fd)
{
	char buf[65536];
	size_t total = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += (size_t)n;
	return total;
}

/* One message larger than the output limit reaches a client that reads; a client that
 * does not read is lost once the output behind it passes the limit. */
static void test_large_message(void)
{
	int fd;
	struct peer *p = pair(&fd);
	struct seen *s = peer_data(p);
	char *big = malloc(200 << 10);
	size_t got = 0;

	memset(big, 'y', (200 << 10) - 1);
	big[(200 << 10) - 1] = '\0';
	peer_printf(p, "%s\n", big);
	for (int i = 0; i < 100; i++) {
		peer_printf(p, "event %d\n", i);
		pump(1);
		got += drain_fd(fd);
	}
	for (int i = 0; i < 50 && got < (200 << 10) + 890; i++) {
		pump(1);
		got += drain_fd(fd);
	}
	ok(s->lost == 0 && got == (200 << 10) + 890, "200 KiB past a 64 KiB limit reach a reader, and what follows (%zu bytes)", got);
	peer_printf(p, "%s\n", big);
	for (int i = 0; i < 1000 && !s->lost; i++)
		peer_printf(p, "%0100d\n", i);
	ok(s->lost == 1 && s->why == PEER_OVERFLOW, "a client that does not read: lost once 64 KiB are behind it");
	peer_unref(p);
	close(fd);
	free(big);
}

/* True when the pipe whose write end is w still has a reader. */
static bool has_reader(int w)
{
	return write(w, "", 1) == 1;
}

/* Descriptors come with the reads that brought them: the owner takes those of the last
 * read before a stream offset, older ones are closed; a type that takes none closes all. */
static void test_fds(void)
{
	int fd, a[2], b[2], c[2], got[PEER_MAX_FDS];
	struct peer *p = pair_of(&fd_type, &fd);
	char buf[8];
	size_t n;

	pipe(a);
	pipe(b);
	pipe(c);
	scm_send(fd, "ab", &a[0], 1);
	pump(5);
	scm_send(fd, "cd", (int[]){ b[0], c[0] }, 2);
	pump(5);
	close(a[0]);
	close(b[0]);
	close(c[0]);
	ok(evbuffer_get_length(peer_input(p)) == 4, "the bytes arrive");
	ok(peer_take_fds(p, 0, got) == 0, "none before the first byte");
	n = peer_take_fds(p, 1, got);
	ok(n == 1 && write(a[1], "x", 1) == 1 && read(got[0], buf, 1) == 1 && buf[0] == 'x',
	   "a message ending in the first read gets its descriptor, which works");
	close(got[0]);
	n = peer_take_fds(p, 4, got);
	ok(n == 2, "the next gets both of the second read");
	close(got[0]);
	close(got[1]);
	ok(peer_take_fds(p, 4, got) == 0, "taken once");

	pipe(a);
	pipe(b);
	scm_send(fd, "e", &a[0], 1);
	pump(5);
	scm_send(fd, "f", &b[0], 1);
	pump(5);
	close(a[0]);
	close(b[0]);
	n = peer_take_fds(p, 6, got);
	ok(n == 1 && !has_reader(a[1]) && has_reader(b[1]), "of two reads the last counts; the older is closed");
	close(got[0]);
	close(a[1]);
	close(b[1]);
	peer_drop(p, PEER_SHUTDOWN);
	peer_unref(p);
	close(fd);

	p = pair(&fd);
	pipe(a);
	scm_send(fd, "g", &a[0], 1);
	close(a[0]);
	pump(5);
	ok(evbuffer_get_length(peer_input(p)) == 1 && !has_reader(a[1]), "a type that takes none: the bytes, no descriptor");
	close(a[1]);
	peer_drop(p, PEER_SHUTDOWN);
	peer_unref(p);
	close(fd);
}

/* A last flush to a client that does not read gives up after a second. */
static void test_flush(void)
{
	int sv[2], small = 4096;
	struct peer *p;
	char line[1024];
	struct timeval t0, t1;
	double took;

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	p = peer_new(base, sv[0], &test_type);
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	for (int i = 0; i < 60; i++)
		peer_printf(p, "%s\n", line);
	gettimeofday(&t0, NULL);
	peer_flush(p);
	gettimeofday(&t1, NULL);
	took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_usec - t0.tv_usec) / 1e6;
	ok(took >= 0.5 && took < 10, "flushing 60 KiB to a client that does not read gives up (after %.1f s)", took);
	peer_drop(p, PEER_SHUTDOWN);
	close(sv[1]);
}

static struct control_conn *held;

/* The control server's handler: "status" answered at once, "stop" held. */
static void on_request(struct control_conn *conn, const char *request, struct json_object *args, void *arg)
{
	(void)args;
	(void)arg;
	if (!strcmp(request, "stop")) {
		control_hold(conn);
		held = conn;
	} else
		control_reply(conn, NULL);
}

/* Reads what the control server wrote to fd until it closes or goes quiet; returns the lines. */
static int read_lines(int fd, bool *closed)
{
	char buf[65536];
	int lines = 0, quiet = 0;
	ssize_t n;

	*closed = false;
	while (quiet < 20) {
		pump(2);
		n = read(fd, buf, sizeof(buf));
		if (n == 0) {
			*closed = true;
			break;
		}
		quiet = n < 0 ? quiet + 1 : 0;
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	}
	return lines;
}

/* The control socket: 5000 requests in one write, a line too long, a held reply after the client left. */
static void test_control(void)
{
	static const char req[] = "{\"request\": \"status\", \"version\": 1}\n";
	static const char stop[] = "{\"request\": \"stop\", \"version\": 1}\n";
	struct control *ctl = control_new(base, -1, on_request, NULL);
	char *many = malloc(5000 * (sizeof(req) - 1)), *line = malloc(70000);
	int sv[2], lines;
	bool closed;

	for (int i = 0; i < 5000; i++)
		memcpy(many + i * (sizeof(req) - 1), req, sizeof(req) - 1);
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	control_add_client(ctl, sv[0]);
	for (size_t off = 0, len = 5000 * (sizeof(req) - 1); off < len; pump(1)) {
		ssize_t w = write(sv[1], many + off, len - off);
		off += w > 0 ? (size_t)w : 0;
	}
	lines = read_lines(sv[1], &closed);
	ok(lines == 5000 && !closed, "5000 requests sent at once: 5000 replies");

	(void)!write(sv[1], stop, strlen(stop));
	pump(5);
	ok(held != NULL, "a request held for later");
	close(sv[1]);
	pump(5);
	control_reply(held, NULL); /* under ASan (as in CI) a use after free would end the test here */
	ok(1, "its reply after the client left is dropped");
	held = NULL;

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	control_add_client(ctl, sv[0]);
	memset(line, 'x', 70000);
	(void)!write(sv[1], line, 70000);
	lines = read_lines(sv[1], &closed);
	ok(lines == 0 && closed, "a line longer than 64 KiB: the client is dropped");
	close(sv[1]);
	control_free(ctl);
	free(many);
	free(line);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	test_eof();
	test_overflow();
	test_drop_in_read();
	test_input_limit();
	test_large_message();
	test_fds();
	test_flush();
	test_control();
	event_base_free(base);
	return tap_done();
}
