/* libFuzzer target: arbitrary bytes on a supervisor's control socket. Every request
 * that gets through the checks is answered at once, or held and answered later like
 * a stop, so both reply paths run. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmm/supervisor/control.h"

static struct control_conn *held;

/* The supervisor's part: "status" answered now, anything else held until the input ends. */
static void on_request(struct control_conn *conn, const char *request, struct json_object *args, void *arg)
{
	(void)args;
	(void)arg;
	if (!strcmp(request, "status") || held) {
		control_reply(conn, json_object_new_string(request));
		return;
	}
	control_hold(conn);
	held = conn;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input: a new client sends the bytes and hangs up. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event_base *base;
	static struct control *ctl;
	char sink[65536];
	int sv[2];

	if (!base) {
		signal(SIGPIPE, SIG_IGN); /* as in the supervisor */
		base = event_base_new();
		ctl = control_new(base, -1, on_request, NULL);
	}
	if (size > 60000 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		return 0;
	control_add_client(ctl, sv[0]);
	if (size && write(sv[1], data, size) < 0)
		abort();
	for (int i = 0; i < 20; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		while (read(sv[1], sink, sizeof(sink)) > 0)
			;
	}
	if (held) {
		control_fail(held, "ended");
		held = NULL;
	}
	close(sv[1]);
	event_base_loop(base, EVLOOP_NONBLOCK);
	return 0;
}
