/* Times QMP round trips against one socket, three ways, for bench/qmp.sh:
 *   raw SOCKET N        a plain blocking client: write a line, read lines until the reply
 *   lib SOCKET N        the qmp/ library, one command at a time
 *   pipelined SOCKET N  the qmp/ library, all N in flight at once (the "oob" capability is
 *                       negotiated when offered, which lets QEMU queue in-band commands)
 * Prints "MODE N TOTAL_US" on one line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qmp/qmp.h"

/* Microseconds on the monotonic clock. */
static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Connects to a unix socket or exits. */
static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

/* Reads one line from f (skipping events when skip_events) or exits. */
static void read_reply(FILE *f, char **line, size_t *cap, int skip_events)
{
	do {
		if (getline(line, cap, f) < 0) {
			fprintf(stderr, "connection closed\n");
			exit(1);
		}
	} while (skip_events && strstr(*line, "\"event\""));
}

/* The plain client: the baseline. */
static long long run_raw(const char *path, int n)
{
	int fd = connect_to(path);
	FILE *f = fdopen(fd, "r");
	char *line = NULL, cmd[128];
	size_t cap = 0;
	long long t0;

	read_reply(f, &line, &cap, 0);
	dprintf(fd, "{\"execute\": \"qmp_capabilities\"}\n");
	read_reply(f, &line, &cap, 1);
	t0 = now_us();
	for (int i = 0; i < n; i++) {
		int len = snprintf(cmd, sizeof(cmd), "{\"execute\": \"query-status\", \"id\": %d}\n", i);
		if (write(fd, cmd, (size_t)len) != len)
			exit(1);
		read_reply(f, &line, &cap, 1);
	}
	t0 = now_us() - t0;
	free(line);
	fclose(f);
	return t0;
}

struct lib_run {
	struct event_base *base;
	int n, sent, done;
	bool pipelined;
	long long t0, total;
};

static void send_next(struct qmp_client *c, struct lib_run *r);

/* One reply: count it; send the next when going one at a time. */
static void reply_cb(struct qmp_client *c, const struct qmp_result *res, void *arg)
{
	struct lib_run *r = arg;

	if (res->failure != QMP_OK) {
		fprintf(stderr, "command failed: %s\n", res->desc);
		exit(1);
	}
	if (++r->done == r->n) {
		r->total = now_us() - r->t0;
		event_base_loopbreak(r->base);
	} else if (!r->pipelined)
		send_next(c, r);
}

/* Sends one query-status. */
static void send_next(struct qmp_client *c, struct lib_run *r)
{
	r->sent++;
	qmp_send(c, "query-status", NULL, 10000, 0, reply_cb, r);
}

/* Negotiated: start the clock and send. */
static void ready_cb(struct qmp_client *c, void *arg)
{
	struct lib_run *r = arg;

	r->t0 = now_us();
	do
		send_next(c, r);
	while (r->pipelined && r->sent < r->n);
}

/* The library client, one at a time or pipelined. */
static long long run_lib(const char *path, int n, bool pipelined)
{
	static const struct qmp_handlers h = { .ready = ready_cb };
	struct lib_run r = { .base = event_base_new(), .n = n, .pipelined = pipelined };
	struct qmp_client *c = qmp_client_new(r.base, connect_to(path), &h, &r);

	event_base_dispatch(r.base);
	qmp_client_free(c);
	event_base_free(r.base);
	return r.total;
}

int main(int argc, char **argv)
{
	long long us;
	int n;

	if (argc != 4) {
		fprintf(stderr, "usage: qmp-bench raw|lib|pipelined SOCKET N\n");
		return 1;
	}
	n = atoi(argv[3]);
	if (!strcmp(argv[1], "raw"))
		us = run_raw(argv[2], n);
	else
		us = run_lib(argv[2], n, !strcmp(argv[1], "pipelined"));
	printf("%s %d %lld\n", argv[1], n, us);
	return 0;
}
