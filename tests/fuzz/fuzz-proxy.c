/* libFuzzer target: arbitrary bytes from QMP proxy clients, through the proxy's queues.
 * The first byte chooses how the input is played: one client or two (each sending its
 * half, in turns of a few bytes), whether a descriptor comes with the first bytes,
 * whether QEMU (played here, on the far end of the supervisor's QMP connection) answers at
 * once or holds its in-band replies and gives them one per turn, and whether a client
 * hangs up halfway. Clients read what they are sent and throw it away. Throughout, QEMU
 * holds no more commands than the proxy allows; once the clients left and QEMU answered
 * everything, the proxy holds nothing. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp/reader.h"
#include "vmm/supervisor/proxy-int.h"

static struct event_base *base;
static struct qmp_client *qmp;
static struct proxy *proxy;
static int qemu_fd;                /* the fake QEMU's end of the QMP connection */
static struct qmp_reader *qemu_in; /* what the proxy forwarded */
static char *held[64];             /* in-band replies QEMU holds back, in order */
static size_t n_held;
static bool holding;

/* Builds the proxy over a negotiated QMP connection (once), for a protected VM. */
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
	qmp_reader_for_clients(qemu_in, SIZE_MAX); /* for the raw ids */
	proxy = proxy_new(base, -1, qmp, &policy);
}

/* QEMU answers the oldest reply it holds. */
static void release_one(void)
{
	if (n_held == 0)
		return;
	qmp_feed(qmp, held[0], strlen(held[0]));
	free(held[0]);
	memmove(held, held + 1, --n_held * sizeof(*held));
}

/* The fake QEMU: reads what the proxy forwarded (closing descriptors passed along) and
 * answers each command by id, at once or later; the proxy must keep within its bounds. */
static void serve(void)
{
	char buf[65536], control[CMSG_SPACE(8 * sizeof(int))];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control };
	struct qmp_item item;
	ssize_t n;

	while ((msg.msg_controllen = sizeof(control), n = recvmsg(qemu_fd, &msg, 0)) > 0) {
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
			for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
				close(((int *)CMSG_DATA(cm))[i]);
		qmp_reader_feed(qemu_in, buf, (size_t)n);
		while (qmp_reader_next(qemu_in, &item) == QMP_READ_MESSAGE) {
			bool oob = json_object_object_get_ex(item.msg, "exec-oob", NULL);
			char *reply;
			if (!item.id || asprintf(&reply, "{\"return\": {}, \"id\": %s}\n", item.id) < 0)
				abort();
			if (holding && !oob && n_held < 64)
				held[n_held++] = reply;
			else {
				qmp_feed(qmp, reply, strlen(reply));
				free(reply);
			}
			json_object_put(item.msg);
		}
	}
	if (proxy->inband > PROXY_INBAND || n_held > PROXY_INBAND)
		abort(); /* QEMU holds more in-band commands than the proxy allows */
}

/* A client of the proxy; returns the fuzzer's end. */
static int client_new(void)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	proxy_add_client(proxy, sv[0]);
	return sv[1];
}

/* Sends bytes, with the descriptor fd when it is not -1; returns how many went (none
 * while the proxy does not read). */
static size_t client_send(int sock, const uint8_t *data, size_t len, int fd)
{
	ssize_t sent;
	char control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { (void *)data, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *cm;
		msg.msg_control = control;
		msg.msg_controllen = sizeof(control);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	sent = sendmsg(sock, &msg, 0);
	return sent > 0 ? (size_t)sent : 0;
}

/* One turn: the loop runs, QEMU answers (one held reply, when holding), clients read. */
static void turn(const int *socks, size_t n)
{
	char sink[65536];

	event_base_loop(base, EVLOOP_NONBLOCK);
	serve();
	release_one();
	for (size_t i = 0; i < n; i++)
		while (socks[i] >= 0 && read(socks[i], sink, sizeof(sink)) > 0)
			;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input: see the top. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int socks[2] = { -1, -1 }, pipefd[2] = { -1, -1 };
	size_t n, half, step, off[2], end[2];
	uint8_t how;

	if (!base)
		setup();
	if (size < 1 || size > 60000)
		return 0;
	how = data[0];
	data++;
	size--;
	n = how & 1 ? 2 : 1;
	holding = how & 2;
	step = (size_t)(how >> 4) * 7 + 1;
	half = n == 2 ? size / 2 : size;
	off[0] = 0, end[0] = half, off[1] = half, end[1] = size;
	if ((how & 4) && pipe(pipefd) < 0)
		abort();
	for (size_t i = 0; i < n; i++)
		socks[i] = client_new();
	for (int round = 0; round < 4000 && (off[0] < end[0] || (n == 2 && off[1] < end[1])); round++) {
		for (size_t i = 0; i < n; i++) {
			size_t len = end[i] - off[i] < step ? end[i] - off[i] : step;
			if (socks[i] < 0 || len == 0)
				continue;
			off[i] += client_send(socks[i], data + off[i], len, off[i] == (i ? half : 0) ? pipefd[0] : -1);
			if ((how & 8) && i == 0 && off[0] >= end[0] / 2) { /* hangs up halfway */
				close(socks[0]);
				socks[0] = -1;
				off[0] = end[0];
			}
		}
		turn(socks, n);
	}
	for (int round = 0; round < 100; round++)
		turn(socks, n);
	for (size_t i = 0; i < n; i++)
		if (socks[i] >= 0)
			close(socks[i]);
	if (pipefd[0] >= 0) {
		close(pipefd[0]);
		close(pipefd[1]);
	}
	holding = false;
	for (int round = 0; round < 100 && (n_held || proxy->sent || proxy_clients(proxy)); round++)
		turn(socks, 0);
	if (n_held || proxy->sent || proxy->inband || proxy_clients(proxy) || !TAILQ_EMPTY(&proxy->round))
		abort(); /* the proxy holds something after everyone left and QEMU answered all */
	return 0;
}
