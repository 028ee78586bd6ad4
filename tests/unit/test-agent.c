/* The guest agent channel against a scripted agent on a socketpair: the 0xff before each
 * sync, stale output before the agent's delimiter, replies matched by id, errors, calls one
 * at a time, commands that answer nothing, a reply over the limit, a silent agent, and the
 * channel closing under calls. No QMP: the port check is skipped. */
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "vmm/supervisor/agent.h"
#include "vmm/supervisor/protocol.h"

static struct event_base *base;
static struct qmp_client *no_qmp;
static int srv = -1;
static char srv_buf[1 << 16];
static size_t srv_have;

/* What the callbacks saw. */
static struct {
	int calls, failures[6], order[8];
	char desc[256];
	char ret[256];
} seen;

/* Records an outcome; arg is the call's tag. */
static void on_reply(const struct agent_result *r, void *arg)
{
	if (seen.calls < 8)
		seen.order[seen.calls] = (int)(intptr_t)arg;
	seen.calls++;
	seen.failures[r->failure]++;
	snprintf(seen.desc, sizeof(seen.desc), "%s", r->desc ? r->desc : "");
	snprintf(seen.ret, sizeof(seen.ret), "%s",
		 r->ret ? json_object_to_json_string_ext(r->ret, JSON_C_TO_STRING_PLAIN) : "");
}

/* Runs the event loop for ms milliseconds. */
static void pump(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Agent side: one line the channel wrote, with the count of 0xff bytes before it; NULL when
 * none came within a second. */
static struct json_object *srv_recv(int *delims)
{
	*delims = 0;
	for (int tries = 0; tries < 200; tries++) {
		char *nl = memchr(srv_buf, '\n', srv_have);
		if (nl) {
			char *p = srv_buf;
			struct json_object *o;
			while (*p == '\xff') {
				p++;
				(*delims)++;
			}
			*nl = '\0';
			o = json_tokener_parse(p);
			srv_have -= (size_t)(nl + 1 - srv_buf);
			memmove(srv_buf, nl + 1, srv_have);
			return o;
		}
		struct pollfd pfd = { srv, POLLIN, 0 };
		if (poll(&pfd, 1, 0) == 1) {
			ssize_t n = read(srv, srv_buf + srv_have, sizeof(srv_buf) - srv_have);
			if (n > 0)
				srv_have += (size_t)n;
		} else
			pump(5);
	}
	return NULL;
}

/* Agent side: writes a string. */
static void srv_send(const char *s, size_t n)
{
	(void)!write(srv, s, n);
}

/* A member of a command's "arguments" (or the command's "id" when args is false), -1 when absent. */
static int64_t number(struct json_object *cmd, bool args, const char *key)
{
	struct json_object *a = cmd, *v;

	if (args && !json_object_object_get_ex(cmd, "arguments", &a))
		return -1;
	return json_object_object_get_ex(a, key, &v) ? json_object_get_int64(v) : -1;
}

/* The command's name. */
static const char *name_of(struct json_object *cmd)
{
	struct json_object *v;

	return json_object_object_get_ex(cmd, "execute", &v) ? json_object_get_string(v) : "";
}

/* Agent side: reads the sync and answers it after stale bytes and the delimiter; true when the
 * sync came after a 0xff. */
static bool answer_sync(void)
{
	char out[160];
	int delims;
	struct json_object *sync = srv_recv(&delims);
	bool good = sync && !strcmp(name_of(sync), "guest-sync-delimited") && delims == 1;
	int n = snprintf(out, sizeof(out), "{\"return\": {\"stale\": 1}}\n{\"ret\xff{\"return\": %lld}\n",
			 (long long)number(sync, true, "id"));

	srv_send(out, (size_t)n);
	json_object_put(sync);
	return good;
}

/* A fresh agent attached to a fresh socketpair. */
static struct agent *fresh(void)
{
	struct agent *a = agent_new(base, &no_qmp);
	int sv[2];

	memset(&seen, 0, sizeof(seen));
	if (srv >= 0)
		close(srv);
	srv_have = 0;
	socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	srv = sv[1];
	agent_attach(a, sv[0]);
	return a;
}

/* A command with no arguments. */
static struct json_object *command(const char *name)
{
	struct json_object *c = json_object_new_object();

	json_object_object_add(c, "execute", json_object_new_string(name));
	return c;
}

/* A call answered after a sync; stale output and a reply with another id do not count. */
static void test_call(void)
{
	struct agent *a = fresh();
	struct json_object *cmd;
	char out[160];
	int delims, n;

	agent_call(a, command("guest-info"), 1000, on_reply, (void *)1);
	ok(seen.calls == 0, "no outcome before the loop runs");
	ok(answer_sync(), "the sync comes first, after one 0xff");
	cmd = srv_recv(&delims);
	ok(cmd && !strcmp(name_of(cmd), "guest-info") && number(cmd, false, "id") > 0 && delims == 0,
	   "then the command, with an id");
	n = snprintf(out, sizeof(out), "{\"return\": {\"v\": 0}, \"id\": %lld}\n{\"return\": {\"v\": 1}, \"id\": %lld}\n",
		     (long long)number(cmd, false, "id") + 1000, (long long)number(cmd, false, "id"));
	srv_send(out, (size_t)n);
	pump(50);
	ok(seen.calls == 1 && seen.failures[AGENT_OK] == 1 && !strcmp(seen.ret, "{\"v\":1}"),
	   "the reply with the command's id is the answer (%s)", seen.ret);
	json_object_put(cmd);
	agent_free(a);
}

/* An error reply fails the call with the agent's words. */
static void test_error(void)
{
	struct agent *a = fresh();
	struct json_object *cmd;
	int delims;
	const char *err = "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no such file\"}}\n";

	agent_call(a, command("guest-file-open"), 1000, on_reply, NULL);
	answer_sync();
	cmd = srv_recv(&delims);
	srv_send(err, strlen(err));
	pump(50);
	ok(seen.failures[AGENT_ERR_COMMAND] == 1 && strstr(seen.desc, "guest-file-open") &&
	   strstr(seen.desc, "no such file"), "an error reply: %s", seen.desc);
	json_object_put(cmd);
	agent_free(a);
}

/* Calls go one at a time: the second sync only once the first call is answered. */
static void test_serial(void)
{
	struct agent *a = fresh();
	struct json_object *cmd;
	int delims;

	agent_call(a, command("guest-ping"), 1000, on_reply, (void *)1);
	agent_call(a, command("guest-info"), 1000, on_reply, (void *)2);
	answer_sync();
	cmd = srv_recv(&delims);
	pump(50);
	struct pollfd pfd = { srv, POLLIN, 0 };
	ok(srv_have == 0 && poll(&pfd, 1, 0) == 0, "nothing of the second call while the first waits");
	srv_send("{\"return\": {}}\n", 15);
	json_object_put(cmd);
	ok(answer_sync(), "the second call syncs once the first is answered");
	cmd = srv_recv(&delims);
	ok(cmd && !strcmp(name_of(cmd), "guest-info"), "then sends its command");
	srv_send("{\"return\": {}}\n", 15);
	pump(50);
	ok(seen.calls == 2 && seen.order[0] == 1 && seen.order[1] == 2, "answered in order");
	json_object_put(cmd);
	agent_free(a);
}

/* A command that answers nothing on success succeeds after the window; one that fails, fails. */
static void test_no_reply(void)
{
	struct agent *a = fresh();
	struct json_object *cmd;
	int delims;

	agent_call(a, command("guest-shutdown"), 1000, on_reply, NULL);
	answer_sync();
	cmd = srv_recv(&delims);
	pump(AGENT_NO_REPLY_MS + 200);
	ok(seen.failures[AGENT_OK] == 1 && !seen.ret[0], "guest-shutdown without an answer succeeds");
	json_object_put(cmd);
	agent_call(a, command("guest-shutdown"), 1000, on_reply, NULL);
	answer_sync();
	cmd = srv_recv(&delims);
	srv_send("{\"error\": {\"desc\": \"child process has failed to shutdown\"}}\n", 61);
	pump(50);
	ok(seen.failures[AGENT_ERR_COMMAND] == 1, "guest-shutdown with an error fails: %s", seen.desc);
	json_object_put(cmd);
	agent_call(a, command("guest-shutdown"), 1000, on_reply, NULL);
	answer_sync();
	cmd = srv_recv(&delims);
	close(srv);
	srv = -1;
	pump(50);
	ok(seen.failures[AGENT_OK] == 2, "guest-shutdown and the channel closing succeeds");
	json_object_put(cmd);
	agent_free(a);
}

/* A reply over AGENT_MAX_REPLY fails the call; the next call works. */
static void test_large(void)
{
	struct agent *a = fresh();
	struct json_object *cmd;
	char *big = malloc(AGENT_MAX_REPLY + 64);
	int delims;

	agent_call(a, command("guest-exec-status"), 2000, on_reply, NULL);
	answer_sync();
	cmd = srv_recv(&delims);
	memset(big, 'a', AGENT_MAX_REPLY + 64);
	memcpy(big, "{\"return\": \"", 12);
	for (size_t off = 0; off < AGENT_MAX_REPLY + 64; off += 4096) {
		size_t n = AGENT_MAX_REPLY + 64 - off < 4096 ? AGENT_MAX_REPLY + 64 - off : 4096;
		srv_send(big + off, n);
		pump(2);
	}
	pump(50);
	ok(seen.failures[AGENT_ERR_COMMAND] == 1 && strstr(seen.desc, "over"), "a reply over the limit: %s", seen.desc);
	json_object_put(cmd);
	free(big);
	srv_send("\"}\n", 3);
	pump(20);
	agent_call(a, command("guest-ping"), 1000, on_reply, NULL);
	ok(answer_sync(), "the next call syncs");
	cmd = srv_recv(&delims);
	srv_send("{\"return\": {}}\n", 15);
	pump(50);
	ok(seen.failures[AGENT_OK] == 1, "and is answered");
	json_object_put(cmd);
	agent_free(a);
}

/* A silent agent: the sync times out; the channel closing fails the call waiting. */
static void test_silent_and_gone(void)
{
	struct agent *a = fresh();
	struct json_object *cmd;
	int delims;

	agent_call(a, command("guest-ping"), 1000, on_reply, NULL);
	pump(CTL_AGENT_SYNC_MS + 300);
	ok(seen.failures[AGENT_ERR_TIMEOUT] == 1 && strstr(seen.desc, "did not answer"), "a silent agent: %s",
	   seen.desc);
	json_object_put(srv_recv(&delims)); /* the sync it did not answer, read late */
	agent_call(a, command("guest-ping"), 300, on_reply, NULL);
	ok(answer_sync(), "the next call syncs (the late answer to the old sync does not count)");
	cmd = srv_recv(&delims);
	pump(500);
	ok(seen.failures[AGENT_ERR_TIMEOUT] == 2, "a command not answered in its time: %s", seen.desc);
	json_object_put(cmd);
	agent_call(a, command("guest-ping"), 1000, on_reply, NULL);
	answer_sync();
	close(srv);
	srv = -1;
	pump(50);
	ok(seen.failures[AGENT_ERR_GONE] == 1, "the channel closing: %s", seen.desc);
	agent_call(a, command("guest-ping"), 1000, on_reply, NULL);
	pump(20);
	ok(seen.failures[AGENT_ERR_ABSENT] == 1, "no channel: %s", seen.desc);
	agent_free(a);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* as in the supervisor */
	base = event_base_new();
	test_call();
	test_error();
	test_serial();
	test_no_reply();
	test_large();
	test_silent_and_gone();
	event_base_free(base);
	return tap_done();
}
