/* The QMP proxy against a fake QEMU played here: ids go back exactly as the client wrote
 * them; a bad message (invalid JSON, NaN, cut short by 0xff, longer than 1 MiB) gets an
 * error and the client carries on, and nothing of it reaches QEMU; a client that leaves
 * with a command in flight, or stops reading, costs nobody else anything; answers come in
 * the order of the client's messages, the proxy's own included; clients take turns, one
 * command each at QEMU; exec-oob goes at once; a flood to a QEMU that does not answer is
 * not read past the client's queue, and is dropped when the client leaves; descriptors
 * reach QEMU with getfd; a reply over the output limit reaches a client that reads; what
 * a protected VM refuses. */
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp/reader.h"
#include "vmm/supervisor/proxy-int.h"
#include "scm.h"
#include "tap.h"

static struct event_base *base;
static struct qmp_client *qmp;
static struct proxy *proxy;
static int qemu_fd;                /* the fake QEMU's end of the QMP connection */
static struct qmp_reader *qemu_in; /* what reached QEMU */
static int forwarded;              /* commands QEMU received */
static char order[4096];           /* their names, each followed by a space */
static bool qemu_holds;            /* QEMU keeps its in-band replies back (exec-oob answered at once) */
static struct {
	char name[32];
	long long id;
} held[64]; /* the replies held back, in order */
static int n_held;
static int qemu_got_fd = -1; /* the last descriptor QEMU received */

/* A client of the proxy: its socket and what it read and has not taken yet. */
struct tclient {
	int fd;
	char buf[1 << 17];
	size_t have;
};

/* The fake QEMU's reply to command id: {"return": {"echo": NAME}}, or a pad of 64 KiB for
 * "big" and of 9 MiB for "huge". */
static void qemu_reply(const char *name, long long id)
{
	size_t size = !strcmp(name, "huge") ? 9u << 20 : !strcmp(name, "big") ? 64u << 10 : 0;
	char *pad = malloc(size + 1), *reply = malloc(size + 128);
	int len;

	memset(pad, 'x', size);
	pad[size] = '\0';
	if (size)
		len = snprintf(reply, size + 128, "{\"return\": {\"pad\": \"%s\"}, \"id\": %lld}\r\n", pad, id);
	else
		len = snprintf(reply, 128, "{\"return\": {\"echo\": \"%s\"}, \"id\": %lld}\r\n", name, id);
	qmp_feed(qmp, reply, (size_t)len);
	free(pad);
	free(reply);
}

/* QEMU answers the first n replies it held back. */
static void qemu_release(int n)
{
	for (int i = 0; i < n && n_held > 0; i++) {
		qemu_reply(held[0].name, held[0].id);
		memmove(held, held + 1, (size_t)--n_held * sizeof(*held));
	}
}

/* Reads what the proxy sent QEMU, keeping a descriptor passed with it. */
static ssize_t qemu_recv(char *buf, size_t len)
{
	int fd = -1;
	ssize_t n = scm_recv(qemu_fd, buf, len, &fd);

	if (fd >= 0) {
		if (qemu_got_fd >= 0)
			close(qemu_got_fd);
		qemu_got_fd = fd;
	}
	return n;
}

/* The fake QEMU reads what the proxy forwarded and answers it (or holds the answer back). */
static void qemu_serve(void)
{
	char buf[65536];
	struct qmp_item item;
	ssize_t n;

	while ((n = qemu_recv(buf, sizeof(buf))) > 0) {
		qmp_reader_feed(qemu_in, buf, (size_t)n);
		while (qmp_reader_next(qemu_in, &item) == QMP_READ_MESSAGE) {
			struct json_object *name;
			long long id = strtoll(item.id, NULL, 10);
			bool oob = json_object_object_get_ex(item.msg, "exec-oob", &name);
			if (!oob)
				json_object_object_get_ex(item.msg, "execute", &name);
			forwarded++;
			snprintf(order + strlen(order), sizeof(order) - strlen(order), "%s ", json_object_get_string(name));
			if (qemu_holds && !oob && n_held < 64) {
				snprintf(held[n_held].name, sizeof(held[n_held].name), "%s", json_object_get_string(name));
				held[n_held++].id = id;
			} else
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
	qmp_reader_for_clients(qemu_in, SIZE_MAX); /* for the raw ids */
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

/* Takes the greeting and negotiates, with oob or without. */
static void negotiate(struct tclient *c, bool oob)
{
	free(client_recv(c));
	client_send(c, oob ? "{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": [\"oob\"]}}"
			   : "{\"execute\": \"qmp_capabilities\"}");
	free(client_recv(c));
}

/* True when nothing comes for a while. */
static bool client_quiet(struct tclient *c)
{
	char b;

	pump(20);
	return c->have == 0 && read(c->fd, &b, 1) < 0;
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

	negotiate(gone, false);
	qemu_holds = true;
	client_send(gone, "{\"execute\": \"slow\", \"id\": \"s\"}");
	pump(5);
	client_free(gone);
	pump(5);
	qemu_holds = false;
	ok(n_held == 1 && proxy_clients(proxy) == 2, "a client left with a command in flight");
	qemu_release(1);
	ok(proxy_clients(proxy) == 2, "its reply is dropped without harm");

	negotiate(slow, false);
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

/* Answers come in the order of the messages, those the proxy makes itself waiting for
 * the commands before them; a client has one command at QEMU at a time. */
static void test_order(void)
{
	static const char *const want[] = {
		"{\"return\":{\"echo\":\"first\"},\"id\":1}",
		"{\"error\":{\"class\":\"CommandNotFound\",\"desc\":\"Capabilities negotiation is already complete, "
		"command ignored\"},\"id\":2}",
		"{\"error\":{\"class\":\"GenericError\",\"desc\":\"invalid JSON: expected a number, true, false or null\"}}",
		"{\"error\":{\"class\":\"GenericError\",\"desc\":\"QMP input must have exactly one of 'execute' and "
		"'exec-oob'\"},\"id\":3}",
		"{\"return\":{\"echo\":\"second\"},\"id\":4}",
	};
	struct tclient *c = client_new();
	bool all = true;

	negotiate(c, false);
	qemu_holds = true;
	forwarded = 0;
	client_send(c, "{\"execute\": \"first\", \"id\": 1}{\"execute\": \"qmp_capabilities\", \"id\": 2} xyz "
		       "{\"id\": 3}{\"execute\": \"second\", \"id\": 4}");
	ok(client_quiet(c) && forwarded == 1, "while the first command is at QEMU: no answer, nothing else sent");
	qemu_holds = false;
	qemu_release(1);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		all = client_gets(c, want[i]) && all;
	ok(all && forwarded == 2, "then every answer in the order of the messages");
	client_free(c);
}

/* Clients take turns: one command each at QEMU, two of all at most. */
static void test_turns(void)
{
	struct tclient *a = client_new(), *b = client_new(), *x = client_new();
	char *line;

	negotiate(a, false);
	negotiate(b, false);
	negotiate(x, false);
	qemu_holds = true;
	order[0] = '\0';
	client_send(a, "{\"execute\": \"a1\"}{\"execute\": \"a2\"}{\"execute\": \"a3\"}");
	pump(10);
	client_send(b, "{\"execute\": \"b1\"}{\"execute\": \"b2\"}");
	pump(10);
	client_send(x, "{\"execute\": \"x1\"}");
	pump(10);
	ok(!strcmp(order, "a1 b1 "), "one command of each client at QEMU, two in all: %s", order);
	for (int i = 0; i < 6; i++) {
		qemu_release(1);
		pump(5);
	}
	ok(!strcmp(order, "a1 b1 x1 a2 b2 a3 "), "then the clients in turn: %s", order);
	qemu_holds = false;
	line = client_recv(a);
	ok(line && !strcmp(line, "{\"return\":{\"echo\":\"a1\"}}"), "each gets its own answers");
	free(line);
	client_free(a);
	client_free(b);
	client_free(x);
	pump(5);
}

/* exec-oob goes to QEMU at once, past the in-band commands waiting, and its answer
 * comes as soon as QEMU gives it. */
static void test_oob(void)
{
	struct tclient *busy = client_new(), *c = client_new();

	negotiate(busy, false);
	negotiate(c, true);
	qemu_holds = true;
	forwarded = 0;
	client_send(busy, "{\"execute\": \"b1\"}");
	client_send(c, "{\"execute\": \"slow\", \"id\": 1}{\"execute\": \"next\", \"id\": 2}"
		       "{\"exec-oob\": \"migrate-pause\", \"id\": \"o\"}");
	ok(client_gets(c, "{\"return\":{\"echo\":\"migrate-pause\"},\"id\":\"o\"}") && forwarded == 3,
	   "with QEMU full of in-band commands, exec-oob passes and is answered first");
	qemu_holds = false;
	qemu_release(2);
	ok(client_gets(c, "{\"return\":{\"echo\":\"slow\"},\"id\":1}") && client_gets(c, "{\"return\":{\"echo\":\"next\"},\"id\":2}"),
	   "then the in-band ones, in order");
	client_free(busy);
	client_free(c);
	pump(5);
}

/* A flood to a QEMU that does not answer: the client is read no further than its queue,
 * and what was not sent is dropped when it leaves. */
static void test_flood(void)
{
	static const char cmd[] = "{\"execute\": \"query-qmp-schema\"}";
	struct tclient *c = client_new();
	char chunk[128 * (sizeof(cmd) - 1)];
	size_t accepted = 0, heap;

	for (size_t i = 0; i < 128; i++)
		memcpy(chunk + i * (sizeof(cmd) - 1), cmd, sizeof(cmd) - 1);
	negotiate(c, false);
	qemu_holds = true;
	forwarded = 0;
	heap = mallinfo2().uordblks;
	for (int i = 0, stuck = 0; i < 5000 && stuck < 100; i++) {
		ssize_t w = write(c->fd, chunk, sizeof(chunk));
		stuck = w > 0 ? 0 : stuck + 1;
		if (w > 0)
			accepted += (size_t)w;
		else
			pump(1);
	}
	ok(forwarded == 1 && accepted < (4u << 20), "one command at QEMU, the rest not read (%zu KiB taken of 20 MiB)",
	   accepted >> 10);
	ok(mallinfo2().uordblks < heap + (4u << 20), "the heap did not grow with the flood");
	client_free(c);
	pump(10);
	qemu_holds = false;
	qemu_release(1);
	pump(10);
	ok(forwarded == 1 && proxy_clients(proxy) == 1, "the client left: what was not sent is dropped");
}

/* getfd: a descriptor passed with it reaches QEMU; without one, QEMU's error, nothing sent. */
static void test_fds(void)
{
	struct tclient *c = client_new();
	int p[2];
	char b;

	negotiate(c, false);
	forwarded = 0;
	client_send(c, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"x\"}, \"id\": 1}");
	ok(client_gets(c, "{\"error\":{\"class\":\"GenericError\",\"desc\":\"No file descriptor supplied via SCM_RIGHTS\"},"
			  "\"id\":1}") && forwarded == 0,
	   "getfd without a descriptor: QEMU's error, nothing sent");
	(void)!pipe(p);
	scm_send(c->fd, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"x\"}, \"id\": 2}", &p[0], 1);
	close(p[0]);
	ok(client_gets(c, "{\"return\":{\"echo\":\"getfd\"},\"id\":2}") && forwarded == 1, "with one: sent and answered");
	ok(qemu_got_fd >= 0 && write(p[1], "z", 1) == 1 && read(qemu_got_fd, &b, 1) == 1 && b == 'z',
	   "QEMU got the descriptor");
	close(p[1]);
	client_free(c);
}

/* A reply over the 8 MiB output limit reaches a client that reads it. */
static void test_huge_reply(void)
{
	static const char tail[] = "\"},\"id\":1}\r\n";
	struct tclient *c = client_new();
	size_t cap = 10u << 20, have = 0;
	char *buf = malloc(cap);

	negotiate(c, false);
	client_send(c, "{\"execute\": \"huge\", \"id\": 1}");
	for (int i = 0; i < 10000 && (have < sizeof(tail) || memcmp(buf + have - sizeof(tail) + 1, tail, sizeof(tail) - 1)); i++) {
		ssize_t n = read(c->fd, buf + have, cap - have);
		if (n > 0)
			have += (size_t)n;
		else
			pump(1);
	}
	ok(have == (9u << 20) + 30 && proxy_clients(proxy) == 2, "9 MiB in one reply reach a client that reads (%zu bytes)",
	   have);
	free(buf);
	client_free(c);
}

/* What a protected VM refuses: its policy's commands and the proxy's, and HMP but
 * read-only 'info'. */
static void test_policy(void)
{
	static const char *const listed[] = { "x-custom", NULL };
	static const struct proxy_policy protect = { listed, "protected" };
	static const struct {
		const char *name, *line;
		bool refused;
	} cases[] = {
		{ "x-custom", NULL, true },   { "quit", NULL, true },  { "system_reset", NULL, true },
		{ "migrate", NULL, true },    { "stop", NULL, false }, { "query-status", NULL, false },
		{ "human-monitor-command", "info status", false },
		{ "human-monitor-command", " \tinfo\tregisters -a", false },
		{ "human-monitor-command", "quit", true },
		{ "human-monitor-command", "info", true },
		{ "human-monitor-command", "infostatus", true },
		{ "human-monitor-command", "info usernet", true },
		{ "human-monitor-command", "info/status", true },
		{ "human-monitor-command", NULL, true },
	};
	bool all = true;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *cmd = json_object_new_object(), *args = json_object_new_object();
		if (cases[i].line)
			json_object_object_add(args, "command-line", json_object_new_string(cases[i].line));
		json_object_object_add(cmd, "arguments", args);
		if (!proxy_refusal(&protect, cases[i].name, cmd) != !cases[i].refused) {
			printf("#   %s %s\n", cases[i].name, cases[i].line ? cases[i].line : "");
			all = false;
		}
		json_object_put(cmd);
	}
	ok(all, "protected: what ends, resets or replaces the VM refused, HMP only for read-only 'info'");
	ok(!proxy_refusal(&(struct proxy_policy){ NULL, "x" }, "quit", NULL), "an unprotected VM refuses nothing");
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
	test_order();
	test_turns();
	test_oob();
	test_flood();
	test_fds();
	test_huge_reply();
	test_policy();
	client_free(c);
	proxy_free(proxy);
	qmp_client_free(qmp);
	qmp_reader_free(qemu_in);
	close(qemu_fd);
	event_base_free(base);
	return tap_done();
}
