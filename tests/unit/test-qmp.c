/* The QMP client against a scripted server on a socketpair: handshake, queueing,
 * pipelining, id matching with events in between, partial and large messages,
 * timeouts, EOF, protocol errors, errors without an id (also through the synchronous
 * wrapper), freeing the client inside a callback, and descriptors passed ahead of a
 * command. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qmp/qmp.h"
#include "qmp/qmp-sync.h"
#include "scm.h"
#include "tap.h"

static struct event_base *base;
static int srv = -1;
static char srv_buf[1 << 16]; /* bytes the client wrote, not yet consumed */
static size_t srv_have;

/* What the handlers saw. */
static struct {
	int ready, closed, events, replies, failures[5], errors;
	enum qmp_failure closed_why;
	char last_event[64];
	char last_error[128];
	char last_class[64];
	int64_t last_value;
	int order[256];
} seen;

static void on_ready(struct qmp_client *c, void *arg) { seen.ready++; }
static void on_event(struct qmp_client *c, const char *name, struct json_object *m, void *arg)
{
	seen.events++;
	snprintf(seen.last_event, sizeof(seen.last_event), "%s", name);
}
static void on_closed(struct qmp_client *c, enum qmp_failure why, const char *desc, void *arg)
{
	seen.closed++;
	seen.closed_why = why;
}
static void on_error(struct qmp_client *c, const char *class, const char *desc, void *arg)
{
	seen.errors++;
	snprintf(seen.last_error, sizeof(seen.last_error), "%s: %s", class, desc);
}

/* Reply callback: arg is the command's tag; ret is {"v": N}. */
static void on_reply(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct json_object *v;

	seen.failures[r->failure]++;
	if (r->failure == QMP_OK) {
		seen.last_value = json_object_object_get_ex(r->ret, "v", &v) ? json_object_get_int64(v) : -1;
		if (seen.replies < 256)
			seen.order[seen.replies] = (int)(intptr_t)arg;
	}
	if (r->class)
		snprintf(seen.last_class, sizeof(seen.last_class), "%s", r->class);
	seen.replies++;
}

/* Reply callback that frees the client. */
static void on_reply_free(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	on_reply(c, r, arg);
	qmp_client_free(c);
}

/* Runs the event loop for ms milliseconds. */
static void pump(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Server side: write a string. */
static void srv_send(const char *s)
{
	(void)!write(srv, s, strlen(s));
}

/* Server side: read one line the client wrote (pumping the loop so it gets written). */
static struct json_object *srv_recv(void)
{
	char *nl;

	for (int tries = 0; tries < 200; tries++) {
		if ((nl = memchr(srv_buf, '\n', srv_have))) {
			struct json_object *o;
			*nl = '\0';
			o = json_tokener_parse(srv_buf);
			srv_have -= (size_t)(nl + 1 - srv_buf);
			memmove(srv_buf, nl + 1, srv_have);
			return o;
		}
		struct pollfd p = { srv, POLLIN, 0 };
		if (poll(&p, 1, 0) == 1) {
			ssize_t n = read(srv, srv_buf + srv_have, sizeof(srv_buf) - srv_have);
			if (n > 0)
				srv_have += (size_t)n;
		} else
			pump(5);
	}
	return NULL;
}

/* The id of a command the client wrote. */
static int64_t id_of(struct json_object *cmd)
{
	struct json_object *id;
	return json_object_object_get_ex(cmd, "id", &id) ? json_object_get_int64(id) : -1;
}

/* Sends a reply {"return": {"v": value}, "id": id}. */
static void srv_reply(int64_t id, int64_t value)
{
	char s[128];
	snprintf(s, sizeof(s), "{\"return\": {\"v\": %lld}, \"id\": %lld}\r\n", (long long)value, (long long)id);
	srv_send(s);
}

/* A client connected to a fresh server socket, handshake done. */
static struct qmp_client *connect_ready(bool oob)
{
	static const struct qmp_handlers h = { on_ready, on_event, on_closed, on_error };
	struct qmp_client *c;
	struct json_object *caps;
	int sv[2];

	memset(&seen, 0, sizeof(seen));
	if (srv >= 0)
		close(srv);
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	srv = sv[1];
	srv_have = 0;
	fcntl(srv, F_SETFL, O_NONBLOCK);
	c = qmp_client_new(base, sv[0], &h, NULL);
	srv_send(oob ? "{\"QMP\": {\"version\": {}, \"capabilities\": [\"oob\"]}}\r\n"
		     : "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n");
	caps = srv_recv();
	srv_reply(id_of(caps), 0);
	json_object_put(caps);
	pump(10);
	return c;
}

/* Handshake: capabilities negotiated with oob when offered; ready fires once. */
static void test_handshake(void)
{
	static const struct qmp_handlers h = { on_ready, on_event, on_closed, on_error };
	struct qmp_client *c;
	struct json_object *caps, *args, *q;
	int sv[2];

	memset(&seen, 0, sizeof(seen));
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	srv = sv[1];
	srv_have = 0;
	fcntl(srv, F_SETFL, O_NONBLOCK);
	c = qmp_client_new(base, sv[0], &h, NULL);
	qmp_send(c, "query-status", NULL, 0, 0, on_reply, (void *)1);
	srv_send("{\"QMP\": {\"version\": {\"qemu\": {\"major\": 9}}, \"capabilities\": [\"oob\"]}}\r\n");
	caps = srv_recv();
	ok(caps && json_object_object_get_ex(caps, "arguments", &args) &&
	   !strcmp(json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN), "{\"enable\":[\"oob\"]}"),
	   "qmp_capabilities asks for oob when the greeting offers it");
	ok(qmp_state(c) == QMP_NEGOTIATING, "state is NEGOTIATING until capabilities are answered");
	srv_reply(id_of(caps), 0);
	json_object_put(caps);
	q = srv_recv();
	ok(q && !strcmp(json_object_get_string(json_object_object_get(q, "execute")), "query-status"),
	   "a command queued before the greeting is sent after negotiation");
	ok(seen.ready == 1 && qmp_state(c) == QMP_READY && qmp_oob(c), "ready once, oob on");
	srv_reply(id_of(q), 7);
	json_object_put(q);
	pump(10);
	ok(seen.replies == 1 && seen.last_value == 7, "the queued command gets its reply");
	qmp_client_free(c);
}

/* 200 pipelined commands answered in reverse order with events in between. */
static void test_pipelining(void)
{
	struct qmp_client *c = connect_ready(true);
	int64_t ids[200];
	bool all_ok = true;

	for (int i = 0; i < 200; i++)
		qmp_send(c, "x", NULL, 0, 0, on_reply, (void *)(intptr_t)i);
	for (int i = 0; i < 200; i++) {
		struct json_object *cmd = srv_recv();
		ids[i] = id_of(cmd);
		json_object_put(cmd);
	}
	for (int i = 199; i >= 0; i--) {
		srv_reply(ids[i], i);
		if (i % 50 == 0)
			srv_send("{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n");
	}
	pump(50);
	for (int i = 0; i < 200; i++)
		if (seen.order[i] != 199 - i)
			all_ok = false;
	ok(seen.replies == 200 && all_ok, "each of 200 out-of-order replies reaches its own command");
	ok(seen.events == 4 && !strcmp(seen.last_event, "STOP"), "events between replies are delivered");
	qmp_client_free(c);
}

/* A reply split into single bytes, and a 4 MiB reply. */
static void test_partial_and_large(void)
{
	struct qmp_client *c = connect_ready(false);
	struct json_object *cmd;
	char msg[128];
	size_t big = 4u << 20;
	char *s;

	qmp_send(c, "x", NULL, 0, 0, on_reply, NULL);
	cmd = srv_recv();
	snprintf(msg, sizeof(msg), "{\"return\": {\"v\": 42}, \"id\": %lld}\r\n", (long long)id_of(cmd));
	json_object_put(cmd);
	for (size_t i = 0; msg[i]; i++) {
		(void)!write(srv, msg + i, 1);
		pump(1);
	}
	ok(seen.replies == 1 && seen.last_value == 42, "a reply read one byte at a time is parsed once");

	qmp_send(c, "query-qmp-schema", NULL, 0, 0, on_reply, NULL);
	cmd = srv_recv();
	s = malloc(big + 128);
	int n = snprintf(s, 128, "{\"id\": %lld, \"return\": {\"v\": 5, \"pad\": \"", (long long)id_of(cmd));
	memset(s + n, 'a', big);
	strcpy(s + n + big, "\"}}\r\n");
	json_object_put(cmd);
	for (size_t off = 0, len = strlen(s); off < len;) {
		ssize_t w = write(srv, s + off, len - off);
		if (w > 0)
			off += (size_t)w;
		pump(1);
	}
	pump(20);
	free(s);
	ok(seen.replies == 2 && seen.last_value == 5 && qmp_state(c) == QMP_READY, "a 4 MiB reply is parsed");
	qmp_client_free(c);
}

/* A timed-out command fails once; its late reply is dropped without harm. */
static void test_timeout(void)
{
	struct qmp_client *c = connect_ready(false);
	struct json_object *cmd;
	int64_t id;

	qmp_send(c, "slow", NULL, 50, 0, on_reply, NULL);
	cmd = srv_recv();
	id = id_of(cmd);
	json_object_put(cmd);
	pump(120);
	ok(seen.replies == 1 && seen.failures[QMP_ERR_TIMEOUT] == 1, "no reply in 50 ms: one timeout");
	srv_reply(id, 1);
	qmp_send(c, "next", NULL, 0, 0, on_reply, NULL);
	cmd = srv_recv();
	srv_reply(id_of(cmd), 2);
	json_object_put(cmd);
	pump(20);
	ok(seen.replies == 2 && seen.last_value == 2 && qmp_state(c) == QMP_READY,
	   "the late reply is dropped and the connection stays usable");
	qmp_client_free(c);
}

/* EOF fails each pending command exactly once, then the closed handler runs once. */
static void test_eof(void)
{
	struct qmp_client *c = connect_ready(false);

	for (int i = 0; i < 3; i++)
		qmp_send(c, "x", NULL, 1000, 0, on_reply, NULL);
	pump(10);
	close(srv);
	srv = -1;
	pump(20);
	ok(seen.failures[QMP_ERR_CLOSED] == 3 && seen.replies == 3, "three pending commands fail once each");
	ok(seen.closed == 1 && seen.closed_why == QMP_ERR_CLOSED, "closed handler once");
	ok(qmp_send(c, "x", NULL, 0, 0, on_reply, NULL) == -ENOTCONN, "sending after close is refused");
	pump(1100);
	ok(seen.replies == 3, "no timeout fires after the connection ended");
	qmp_client_free(c);
}

/* Freeing the client inside a reply callback fails the rest once and is safe. */
static void test_free_in_callback(void)
{
	struct qmp_client *c = connect_ready(false);
	struct json_object *cmd;
	char two[256];

	qmp_send(c, "a", NULL, 0, 0, on_reply_free, NULL);
	qmp_send(c, "b", NULL, 0, 0, on_reply, NULL);
	qmp_send(c, "c", NULL, 0, 0, on_reply, NULL);
	cmd = srv_recv();
	/* Two replies in one read: the second must not be touched after the free. */
	snprintf(two, sizeof(two), "{\"return\": {\"v\": 1}, \"id\": %lld}\r\n{\"return\": {\"v\": 2}, \"id\": %lld}\r\n",
		 (long long)id_of(cmd), (long long)id_of(cmd) + 1);
	json_object_put(cmd);
	srv_send(two);
	pump(20);
	ok(seen.replies == 3 && seen.failures[QMP_OK] == 1 && seen.failures[QMP_ERR_CLOSED] == 2,
	   "free in a callback: the others fail once with CLOSED");
	ok(seen.closed == 0, "the closed handler does not run for an explicit free");
}

/* An error reply carries class and description; garbage closes with a protocol error. */
static void test_errors(void)
{
	struct qmp_client *c = connect_ready(false);
	struct json_object *cmd;
	char s[160];

	qmp_send(c, "bogus", NULL, 0, 0, on_reply, NULL);
	cmd = srv_recv();
	snprintf(s, sizeof(s), "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"no\"}, \"id\": %lld}\r\n",
		 (long long)id_of(cmd));
	json_object_put(cmd);
	srv_send(s);
	pump(10);
	ok(seen.failures[QMP_ERR_COMMAND] == 1 && !strcmp(seen.last_class, "CommandNotFound"), "error class delivered");
	qmp_send(c, "x", NULL, 0, 0, on_reply, NULL);
	pump(5);
	srv_send("]]]not json\r\n");
	pump(10);
	ok(seen.closed == 1 && seen.closed_why == QMP_ERR_PROTOCOL && seen.failures[QMP_ERR_PROTOCOL] == 1,
	   "garbage from the server: protocol error, pending command failed");
	qmp_client_free(c);
}

/* An error without an id (QEMU's answer to input it could not read) is reported and
 * harms nothing: the command in flight keeps its callback, new ones are answered. */
static void test_error_without_id(void)
{
	struct qmp_client *c = connect_ready(false);
	struct json_object *cmd;
	int64_t id;

	qmp_send(c, "x", NULL, 0, 0, on_reply, NULL);
	cmd = srv_recv();
	id = id_of(cmd);
	json_object_put(cmd);
	srv_send("{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, invalid keyword 'NaN'\"}}\r\n"
		 "{\"error\": {}}\r\n");
	pump(10);
	ok(seen.errors == 2 && !strcmp(seen.last_error, "GenericError: (no description)") && seen.closed == 0 &&
	   seen.replies == 0 && qmp_state(c) == QMP_READY,
	   "two errors without an id: reported, the connection stays up, nothing is failed");
	srv_reply(id, 3);
	pump(10);
	ok(seen.replies == 1 && seen.last_value == 3, "the command in flight still gets its reply");
	qmp_send(c, "y", NULL, 0, 0, on_reply, NULL);
	cmd = srv_recv();
	srv_reply(id_of(cmd), 4);
	json_object_put(cmd);
	pump(10);
	ok(seen.replies == 2 && seen.last_value == 4, "a new command is answered");
	qmp_client_free(c);
}

/* A server process for the synchronous wrapper: greets, negotiates, answers the first
 * command with an error without an id and the second with {"v": 5}. */
static void sync_server(int fd)
{
	FILE *f = fdopen(fd, "r+");
	char line[4096], reply[128];
	struct json_object *cmd;

	setvbuf(f, NULL, _IONBF, 0);
	fputs("{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n", f);
	for (int i = 0; i < 3 && fgets(line, sizeof(line), f); i++) {
		cmd = json_tokener_parse(line);
		if (i == 1)
			snprintf(reply, sizeof(reply), "{\"error\": {\"class\": \"GenericError\", \"desc\": \"bad\"}}\r\n");
		else
			snprintf(reply, sizeof(reply), "{\"return\": {\"v\": 5}, \"id\": %lld}\r\n", (long long)id_of(cmd));
		fputs(reply, f);
		json_object_put(cmd);
	}
	_exit(0);
}

/* Through the synchronous wrapper, an error without an id fails the call that waits
 * (the only one in flight) with its class and description; the next call works. */
static void test_sync_error_without_id(void)
{
	struct json_object *ret;
	struct qmp_sync *s;
	char *cls, why[256];
	enum qmp_failure f;
	int sv[2], status;
	pid_t pid;

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		sync_server(sv[1]);
	}
	close(sv[1]);
	s = qmp_sync_open(sv[0], 5000, why, sizeof(why));
	f = qmp_sync_call(s, json_tokener_parse("{\"execute\": \"x\"}"), 2000, &ret, &cls, why, sizeof(why));
	ok(f == QMP_ERR_COMMAND && cls && !strcmp(cls, "GenericError") && !strcmp(why, "bad"),
	   "sync: an error without an id answers the call that waits");
	json_object_put(ret);
	free(cls);
	f = qmp_sync_call(s, json_tokener_parse("{\"execute\": \"y\"}"), 2000, &ret, &cls, why, sizeof(why));
	ok(f == QMP_OK && json_object_get_int(json_object_object_get(ret, "v")) == 5, "sync: the next call is answered");
	json_object_put(ret);
	free(cls);
	qmp_sync_close(s);
	waitpid(pid, &status, 0);
}

/* A command whose descriptor reaches the server first, on a space between messages; none
 * while output is still waiting to be written. */
static void test_fds(void)
{
	struct qmp_client *c = connect_ready(false);
	struct json_object *big = json_object_new_object(), *cmd;
	char *pad = malloc(4u << 20), buf[4096];
	int p[2], got = -1;
	ssize_t n;

	pipe(p);
	memset(pad, 'a', (4u << 20) - 1);
	pad[(4u << 20) - 1] = '\0';
	json_object_object_add(big, "pad", json_object_new_string(pad));
	qmp_send(c, "big", big, 0, 0, on_reply, NULL);
	pump(5);
	cmd = json_tokener_parse("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"x\"}}");
	ok(qmp_send_fds(c, cmd, &p[0], 1, 0, on_reply, NULL) == -EAGAIN, "not while 4 MiB wait to be written");
	while (scm_recv(srv, buf, sizeof(buf), &got) > 0 || (pump(1), scm_recv(srv, buf, sizeof(buf), &got) > 0))
		;
	cmd = json_tokener_parse("{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"x\"}}");
	ok(qmp_send_fds(c, cmd, &p[0], 1, 0, on_reply, NULL) == 0, "once QEMU read them, sent");
	n = scm_recv(srv, buf, sizeof(buf), &got);
	ok(n == 1 && buf[0] == ' ' && got >= 0, "the descriptor comes first, on a space");
	ok(write(p[1], "z", 1) == 1 && read(got, buf, 1) == 1 && buf[0] == 'z', "it is the pipe");
	close(got);
	cmd = srv_recv();
	ok(cmd && !strcmp(json_object_get_string(json_object_object_get(cmd, "execute")), "getfd"), "then the command");
	srv_reply(id_of(cmd), 5);
	json_object_put(cmd);
	pump(10);
	ok(seen.failures[QMP_OK] == 1 && seen.last_value == 5, "and its reply");
	close(p[0]);
	close(p[1]);
	free(pad);
	qmp_client_free(c);
}

int main(void)
{
	base = event_base_new();
	test_handshake();
	test_pipelining();
	test_partial_and_large();
	test_timeout();
	test_eof();
	test_free_in_callback();
	test_errors();
	test_error_without_id();
	test_sync_error_without_id();
	test_fds();
	event_base_free(base);
	return tap_done();
}
