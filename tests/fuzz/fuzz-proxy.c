/* libFuzzer target: arbitrary bytes from a QMP proxy client. The proxy rides on a QMP
 * connection whose server side is played here: it answers every forwarded command, so
 * replies travel back to the fuzzed client, whose output is read and thrown away. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp/reader.h"
#include "vmm/supervisor/proxy.h"

static struct event_base *base;
static struct qmp_client *qmp;
static struct proxy *proxy;
static int qemu_fd;                /* the fake QEMU's end of the QMP connection */
static struct qmp_reader *qemu_in; /* what the proxy forwarded */

/* Builds the proxy over a negotiated QMP connection (once). */
static void setup(void)
{
	static const struct qmp_handlers h = { 0 };
	static const char *const refused[] = { "quit", NULL };
	static const struct proxy_policy policy = { .refused = refused, .why = "refused" };
	static const char hello[] = "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}}, "
				    "\"capabilities\": [\"oob\"]}}\n{\"return\": {}, \"id\": 1}\n";
	int sv[2];

	signal(SIGPIPE, SIG_IGN); /* as in the supervisor */
	base = event_base_new();
	if (!base || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	qmp = qmp_client_new(base, sv[0], &h, NULL);
	qmp_feed(qmp, hello, sizeof(hello) - 1);
	if (qmp_state(qmp) != QMP_READY)
		abort();
	qemu_fd = sv[1];
	qemu_in = qmp_reader_new(1u << 20);
	proxy = proxy_new(base, -1, qmp, &policy);
}

/* The fake QEMU: answers each command the proxy forwarded, by id. */
static void answer_forwarded(void)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(qemu_fd, buf, sizeof(buf))) > 0) {
		struct qmp_item item;
		qmp_reader_feed(qemu_in, buf, (size_t)n);
		while (qmp_reader_next(qemu_in, &item) == QMP_READ_MESSAGE) {
			if (item.id) {
				char reply[96];
				int len = snprintf(reply, sizeof(reply), "{\"return\": {}, \"id\": %s}\n", item.id);
				qmp_feed(qmp, reply, (size_t)len);
			}
			json_object_put(item.msg);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input: a new client sends the bytes and hangs up; everything it caused is answered. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char sink[65536];
	int sv[2];

	if (!base)
		setup();
	if (size > 60000 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		return 0;
	proxy_add_client(proxy, sv[0]);
	if (size && write(sv[1], data, size) < 0)
		abort();
	shutdown(sv[1], SHUT_WR);
	for (int i = 0; i < 50 && proxy_clients(proxy) > 0; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		answer_forwarded();
		while (read(sv[1], sink, sizeof(sink)) > 0)
			;
	}
	close(sv[1]);
	event_base_loop(base, EVLOOP_NONBLOCK);
	return 0;
}
