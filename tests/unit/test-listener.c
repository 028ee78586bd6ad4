/* The supervisor's listener: a cap on clients (a connection past it is closed at once,
 * and let in again when a client leaves), the cap shrunk to a quarter of a low
 * descriptor limit; with no descriptor left, connections shed through the spare
 * descriptor at once, over and over, with no pause before the next one is taken; and
 * without a spare, a pause of a second for that listener alone. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/supervisor/listener.h"
#include "tap.h"

static struct event_base *base;

/* The owner's side: the clients it adopted. */
static unsigned n;
static int adopted[64];

/* The listener's callback: keep the client. */
static void adopt(void *arg, int fd)
{
	(void)arg;
	adopted[n++] = fd;
}

/* The owner lets its clients go. */
static void drop_all(void)
{
	while (n > 0)
		close(adopted[--n]);
}

/* Runs the event loop for ms milliseconds. */
static void pump(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* The address of this test's listening socket number i (abstract: no file to clean up). */
static socklen_t address(struct sockaddr_un *sa, int i)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "vmm-test-listener-%d-%d", (int)getpid(), i);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa->sun_path + 1));
}

/* Listening socket number i. */
static int listening(int i)
{
	struct sockaddr_un sa;
	socklen_t len = address(&sa, i);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 64) < 0)
		abort();
	return fd;
}

/* A client socket, non-blocking: a full backlog fails the connect rather than hang the test. */
static int client(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		abort();
	return fd;
}

/* Connects a client socket (made beforehand when descriptors are short) to listening
 * socket i; one that finds the backlog full stays unconnected, and never looks closed. */
static int connect_client(int fd, int i)
{
	struct sockaddr_un sa;
	socklen_t len = address(&sa, i);

	(void)!connect(fd, (struct sockaddr *)&sa, len);
	return fd;
}

/* True when the supervisor's side closed the client's connection. */
static bool closed(int fd)
{
	char c;

	return recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

/* A listener on lfd for this test's owner, with a cap of max. */
static struct listener *capped(int lfd, unsigned max)
{
	struct listener *l = listener_new(base, lfd, adopt, NULL);

	listener_cap(l, max, &n);
	return l;
}

/* Past the cap, a connection is closed at once; when a client leaves, room is made. */
static void test_cap(void)
{
	int lfd = listening(0), c[4];
	struct listener *l = capped(lfd, 3);
	bool kept = true;

	for (int i = 0; i < 4; i++)
		c[i] = connect_client(client(), 0);
	pump(50);
	for (int i = 0; i < 3; i++)
		kept = kept && !closed(c[i]);
	ok(n == 3 && kept && closed(c[3]), "a cap of 3: three clients in, the fourth closed at once");
	close(adopted[--n]);
	close(c[3]);
	c[3] = connect_client(client(), 0);
	pump(50);
	ok(n == 3 && !closed(c[3]), "a client left: the next one is let in");
	drop_all();
	for (int i = 0; i < 4; i++)
		close(c[i]);
	listener_free(l);
	close(lfd);
}

/* A descriptor limit of 32 makes a cap of 64 a cap of 8. */
static void test_low_limit(void)
{
	struct rlimit old, low;
	int lfd = listening(0), c[10];
	struct listener *l;

	getrlimit(RLIMIT_NOFILE, &old);
	low = (struct rlimit){ 32, old.rlim_max };
	setrlimit(RLIMIT_NOFILE, &low);
	l = capped(lfd, 64);
	for (int i = 0; i < 10; i++)
		c[i] = connect_client(client(), 0);
	pump(50);
	ok(n == 8 && closed(c[8]) && closed(c[9]), "under a limit of 32 descriptors, 8 clients at most");
	drop_all();
	for (int i = 0; i < 10; i++)
		close(c[i]);
	listener_free(l);
	close(lfd);
	setrlimit(RLIMIT_NOFILE, &old);
}

/* The descriptor limit before exhaust(). */
static struct rlimit saved;

/* Leaves no descriptor free: the limit drops to the lowest free one. */
static void exhaust(void)
{
	int next = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct rlimit full;

	close(next);
	getrlimit(RLIMIT_NOFILE, &saved);
	full = (struct rlimit){ (rlim_t)next, saved.rlim_max };
	setrlimit(RLIMIT_NOFILE, &full);
}

/* Gives the descriptors back. */
static void restore(void)
{
	setrlimit(RLIMIT_NOFILE, &saved);
}

/* With every descriptor taken, each connection is shed at once and the next one that
 * fits is let in without a pause. */
static void test_out_of_descriptors(void)
{
	int lfd = listening(0), c[101];
	struct listener *l = listener_new(base, lfd, adopt, NULL);
	bool shed = true;

	for (int i = 0; i < 101; i++)
		c[i] = client();
	exhaust();
	for (int i = 0; i < 100; i++) {
		connect_client(c[i], 0);
		pump(5);
		shed = shed && closed(c[i]);
	}
	ok(n == 0 && shed, "no descriptor left: 100 connections closed at once, one by one");
	restore();
	connect_client(c[100], 0);
	pump(20);
	ok(n == 1 && !closed(c[100]), "descriptors free again: the next connection is let in at once");
	drop_all();
	for (int i = 0; i < 101; i++)
		close(c[i]);
	listener_free(l);
	close(lfd);
}

/* A listener that cannot shed (made with no descriptor free for its spare) pauses for a
 * second, alone; then it takes the connection that waited, and has its spare back. */
static void test_pause(void)
{
	int la = listening(1), lb = listening(2), a = client(), b = client(), a2 = client();
	struct listener *lst_b = listener_new(base, lb, adopt, NULL), *lst_a;

	exhaust();
	lst_a = listener_new(base, la, adopt, NULL);
	connect_client(a, 1);
	pump(50);
	restore();
	connect_client(b, 2);
	pump(50);
	ok(n == 1 && !closed(a) && !closed(b), "out of descriptors and no spare: that listener pauses, the other does not");
	pump(1100);
	ok(n == 2 && !closed(a), "a second later it takes the connection that waited");
	exhaust();
	connect_client(a2, 1);
	pump(20);
	ok(closed(a2), "and sheds the next one with its spare, opened again");
	restore();
	drop_all();
	close(a);
	close(b);
	close(a2);
	listener_free(lst_a);
	listener_free(lst_b);
	close(la);
	close(lb);
}

int main(void)
{
	base = event_base_new();
	test_cap();
	test_low_limit();
	test_out_of_descriptors();
	test_pause();
	event_base_free(base);
	return tap_done();
}
