/* libFuzzer target: arbitrary bytes from a guest agent, sent to the supervisor's agent channel
 * while a call waits for its reply (the sync answered first). "@ID@" in the input becomes the
 * command's id, so that replies that match are reached too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmm/supervisor/agent.h"

/* Counts outcomes so the callback does some work with the result. */
static void on_reply(const struct agent_result *r, void *arg)
{
	(*(int *)arg)++;
	if (r->failure == AGENT_OK && r->ret)
		(void)json_object_get_type(r->ret);
}

/* Runs the loop until it has nothing left to do at once. */
static void spin(struct event_base *base)
{
	for (int i = 0; i < 8; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

/* Reads what the channel wrote and the number in it after key ("\"id\":"); -1 when none. */
static long long number_after(int fd, const char *key)
{
	char buf[512];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	const char *p;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input: a fresh channel, a call synced, the bytes (with its id put in), then free. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event_base *base;
	static struct qmp_client *no_qmp;
	struct agent *a;
	struct json_object *cmd = json_object_new_object();
	char line[64], id[24];
	int sv[2], replies = 0;
	long long n;

	if (!base)
		base = event_base_new();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0) {
		json_object_put(cmd);
		return 0;
	}
	a = agent_new(base, &no_qmp);
	agent_attach(a, sv[0]);
	json_object_object_add(cmd, "execute", json_object_new_string("guest-info"));
	agent_call(a, cmd, 1000, on_reply, &replies);
	spin(base);
	n = number_after(sv[1], "\"id\":");
	snprintf(line, sizeof(line), "\xff{\"return\": %lld}\n", n);
	(void)!write(sv[1], line, strlen(line));
	spin(base);
	snprintf(id, sizeof(id), "%lld", number_after(sv[1], "\"id\":"));
	for (size_t off = 0; off < size;) {
		const uint8_t *at = memmem(data + off, size - off, "@ID@", 4);
		size_t len = at ? (size_t)(at - data - off) : size - off;
		(void)!write(sv[1], data + off, len);
		if (at)
			(void)!write(sv[1], id, strlen(id));
		off += len + (at ? 4 : 0);
		spin(base);
	}
	agent_free(a);
	close(sv[1]);
	return replies == 1 ? 0 : (abort(), 0);
}
