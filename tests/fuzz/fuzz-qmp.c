/* libFuzzer target: arbitrary bytes from a QMP server, fed to the client in chunks whose
 * size the first byte chooses, with commands pending so replies and failures are matched. */
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qmp/qmp.h"

/* Counts replies so the callback does some work with the result. */
static void on_reply(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	(*(int *)arg)++;
	if (r->failure == QMP_OK)
		(void)json_object_get_type(r->ret);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input: a fresh client, three pending commands, the bytes, then free. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event_base *base;
	static const struct qmp_handlers h = { 0 };
	struct qmp_client *c;
	int sv[2], replies = 0;
	size_t chunk;

	if (size < 1)
		return 0;
	if (!base)
		base = event_base_new();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	c = qmp_client_new(base, sv[0], &h, NULL);
	for (int i = 0; i < 3; i++)
		qmp_send(c, "query-status", NULL, 0, 0, on_reply, &replies);
	chunk = (size_t)data[0] % 64 + 1;
	for (size_t off = 1; off < size; off += chunk)
		qmp_feed(c, (const char *)data + off, off + chunk <= size ? chunk : size - off);
	qmp_client_free(c);
	close(sv[1]);
	return replies == 3 ? 0 : (abort(), 0);
}
