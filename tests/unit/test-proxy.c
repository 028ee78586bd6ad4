/* The QMP proxy against a fake QEMU played here: ids go back exactly as the client wrote
 * them; a bad message (invalid JSON, NaN, cut short by 0xff, longer than 1 MiB) gets an
 * error and the client carries on, and nothing of it reaches QEMU; a client that leaves
 * with a command in flight, or stops reading, costs nobody else anything. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp/reader.h"
#include "vmm/supervisor/proxy.h"
#include "tap.h"

static struct event_base *base;
static struct qmp_client *qmp;
static struct proxy *proxy;
static int qemu_fd;                /* the fake QEMU's end of the QMP connection */
static struct qmp_reader *qemu_in; /* what reached QEMU */
static int forwarded;              /* commands QEMU received */
static bool qemu_holds;            /* QEMU keeps its replies back */
static long long held_id = -1;

/* A client of the proxy: its socket and what it read and has not taken yet. */
struct tclient {
	int fd;
	char buf[1 << 17];
	size_t have;
};

/* The fake QEMU's reply to command id: {"return": {"echo": NAME}}, or 64 KiB for "big". */
static void qemu_reply(const char *name, long long id)
{
	static char pad[64 << 10];
	char reply[sizeof(pad) + 128];
	int len;

	if (!strcmp(name, "big")) {
		memset(pad, 'x', sizeof(pad) - 1);
		len = snprintf(reply, sizeof(reply), "{\"return\": {\"pad\": \"%s\"}, \"id\": %lld}\r\n", pad, id);
	} else
		len = snprintf(reply, sizeof(reply), "{\"return\": {\"echo\": \"%s\"}, \"id\": %lld}\r\n", name, id);
	qmp_feed(qmp, reply, (size_t)len);
}

/* The fake QEMU reads what the proxy forwarded and answers it (or holds the answer back). */
static void qemu_serve(void)
{
	char buf[65536];
	struct qmp_item item;
	ssize_t n;

	while ((n = read(qemu_fd, buf, sizeof(buf))) > 0) {
		qmp_reader_feed(qemu_in, buf, (size_t)n);
		while (qmp_reader_next(qemu_in, &item) == QMP_READ_MESSAGE) {
			struct json_object *name;
			long long id = strtoll(item.id, NULL, 10);
			json_object_object_get_ex(item.msg, "execute", &name);
			forwarded++;
			if (qemu_holds)
				held_id = id;
			else
				qemu_reply(json_object_get_string(name), id);
			json_object_put(item.msg);
		}
	}
}

/* Runs the loop (and the fake QEMU) for about ms milliseconds. */
static void pump(int ms)
{
	for (int i = 0; i < ms; i++) {
		struct timeval tv = { 0, 1000 };
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
		qemu_serve();
	}
}

/* Builds the proxy over a negotiated QMP connection to the fake QEMU. */
static void setup(void)
{
	static const struct qmp_handlers h = { 0 };
	static const char hello[] = "{\"QMP\": {\"version\": {}, \"capabilities\": [\"oob\"]}}\r\n";
	int sv[2];

	base = event_base_new();
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	qemu_fd = sv[1];
	qemu_in = qmp_reader_new(1u << 20);
	qmp = qmp_client_new(base, sv[0], &h, NULL);
	qmp_feed(qmp, hello, sizeof(hello) - 1);
	proxy = proxy_new(base, -1, qmp, NULL);
	pump(5); /* QEMU answers qmp_capabilities */
	forwarded = 0;
}

/* A new client of the proxy. */
static struct tclient *client_new(void)
{
	struct tclient *c = calloc(1, sizeof(*c));
	int sv[2];

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	c->fd = sv[1];
	proxy_add_client(proxy, sv[0]);
	return c;
}

/* Sends len bytes, pumping the loop while the socket is full. */
static void client_send_buf(struct tclient *c, const char *s, size_t len)
{
	for (size_t off = 0; off < len;) {
		ssize_t w = write(c->fd, s + off, len - off);
		if (w > 0)
			off += (size_t)w;
		else
			pump(1);
	}
}

/* Sends a string. */
static void client_send(struct tclient *c, const char *s)
{
	client_send_buf(c, s, strlen(s));
}

/* The next line the proxy sent (without its CRLF; caller frees), or NULL after a second. */
static char *client_recv(struct tclient *c)
{
	for (int tries = 0; tries < 1000; tries++) {
		char *end = memmem(c->buf, c->have, "\r\n", 2);
		ssize_t n;
		if (end) {
			char *line = strndup(c->buf, (size_t)(end - c->buf));
			c->have -= (size_t)(end + 2 - c->buf);
			memmove(c->buf, end + 2, c->have);
			return line;
		}
		n = read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have);
		if (n > 0)
			c->have += (size_t)n;
		else
			pump(1);
	}
	return NULL;
}

/* True when the next line is exactly want. */
static bool client_gets(struct tclient *c, const char *want)
{
	char *line = client_recv(c);
	bool same = line && !strcmp(line, want);

	if (!same)
		printf("#   got:  %s\n#   want: %s\n", line ? line : "(nothing)", want);
	free(line);
	return same;
}

/* Closes a client. */
static void client_free(struct tclient *c)
{
	close(c->fd);
	free(c);
}

/* Ids come back as the client wrote them. */
static void test_ids(struct tclient *c)
{
	client_send(c, "{\"execute\": \"query-status\", \"id\": 1.50}\n");
	ok(client_gets(c, "{\"return\":{\"echo\":\"query-status\"},\"id\":1.50}"), "a number id keeps its spelling");
	client_send(c, "{\"id\": {\"a\" : [1, \"}\"]}, \"execute\": \"query-name\"}\n");
	ok(client_gets(c, "{\"return\":{\"echo\":\"query-name\"},\"id\":{\"a\" : [1, \"}\"]}}"), "an object id keeps its spacing");
	client_send(c, "{\"execute\": \"query-name\", \"id\": 18446744073709551616}\n");
	ok(client_gets(c, "{\"return\":{\"echo\":\"query-name\"},\"id\":18446744073709551616}"),
	   "an id too large for json-c comes back whole");
	client_send(c, "{\"execute\": \"query-nothing\", \"id\": \"\\u00e9\"}");
	ok(client_gets(c, "{\"return\":{\"echo\":\"query-nothing\"},\"id\":\"\\u00e9\"}"), "a string id keeps its escapes");
}

/* A bad message: an error without id, nothing forwarded, and the next command works. */
static void test_recovery(struct tclient *c)
{
	char *big = malloc((1u << 20) + 64);
	int before = forwarded;
	bool first, second;

	client_send(c, "{\"execute\": \"x\" \"y\"}\n{\"execute\": \"query-name\", \"id\": 2}\n");
	first = client_gets(c, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"invalid JSON: object value separator ',' expected\"}}");
	second = client_gets(c, "{\"return\":{\"echo\":\"query-name\"},\"id\":2}");
	ok(first && second, "invalid JSON: an error, then the next command is answered");
	client_send(c, "{\"execute\": \"x\", \"arguments\": {\"v\": NaN}, \"id\": 3}\n");
	ok(client_gets(c, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"invalid JSON: expected a number, true, false or null\"}}"),
	   "NaN (which json-c takes and QEMU would answer without an id): an error");
	client_send(c, "{\"execute\": \"x\", \"id\": 4\xff{\"execute\": \"query-name\", \"id\": 5}");
	first = client_gets(c, "{\"error\":{\"class\":\"GenericError\",\"desc\":"
			       "\"a message cut short by a control character or a 0xff byte\"}}");
	second = client_gets(c, "{\"return\":{\"echo\":\"query-name\"},\"id\":5}");
	ok(first && second, "0xff: the command in progress is dropped with an error, the next is answered");
	client_send(c, "{\"execute\": \"x\", \"arguments\": {\"pad\": \"");
	memset(big, 'a', (1u << 20) + 64);
	client_send_buf(c, big, (1u << 20) + 64);
	client_send(c, "\"}, \"id\": 6}{\"execute\": \"query-name\", \"id\": 7}");
	first = client_gets(c, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"a message longer than 1 MiB\"}}");
	second = client_gets(c, "{\"return\":{\"echo\":\"query-name\"},\"id\":7}");
	ok(first && second, "a command longer than 1 MiB: an error, the client stays, the next is answered");
	ok(forwarded == before + 3, "only the three good commands reached QEMU");
	free(big);
}

/* Clients that leave with a command in flight, or stop reading, are dropped alone. */
static void test_dropped(struct tclient *c)
{
	struct tclient *gone = client_new(), *slow = client_new();
	char *line;

	free(client_recv(gone));
	client_send(gone, "{\"execute\": \"qmp_capabilities\"}");
	free(client_recv(gone));
	qemu_holds = true;
	client_send(gone, "{\"execute\": \"slow\", \"id\": \"s\"}");
	pump(5);
	client_free(gone);
	pump(5);
	qemu_holds = false;
	ok(held_id >= 0 && proxy_clients(proxy) == 2, "a client left with a command in flight");
	qemu_reply("slow", held_id);
	ok(proxy_clients(proxy) == 2, "its reply is dropped without harm");

	free(client_recv(slow));
	client_send(slow, "{\"execute\": \"qmp_capabilities\"}");
	free(client_recv(slow));
	for (int i = 0; i < 200 && proxy_clients(proxy) == 2; i++) {
		client_send(slow, "{\"execute\": \"big\"}");
		pump(1);
	}
	ok(proxy_clients(proxy) == 1, "a client that does not read its 64 KiB replies is dropped");
	client_free(slow);
	client_send(c, "{\"execute\": \"query-name\", \"id\": 9}");
	line = client_recv(c);
	ok(line && !strcmp(line, "{\"return\":{\"echo\":\"query-name\"},\"id\":9}"), "the others carry on");
	free(line);
}

int main(void)
{
	struct tclient *c;
	char *greeting;

	setup();
	c = client_new();
	greeting = client_recv(c);
	ok(greeting && !strncmp(greeting, "{\"QMP\":", 7), "a client is greeted");
	free(greeting);
	client_send(c, "{\"execute\": \"qmp_capabilities\"}");
	ok(client_gets(c, "{\"return\":{}}"), "and negotiates");
	test_ids(c);
	test_recovery(c);
	test_dropped(c);
	client_free(c);
	proxy_free(proxy);
	qmp_client_free(qmp);
	qmp_reader_free(qemu_in);
	close(qemu_fd);
	event_base_free(base);
	return tap_done();
}
