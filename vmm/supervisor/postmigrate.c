#include "vmm/supervisor/postmigrate.h"

#include <string.h>

#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/sup.h"

/* Milliseconds between two looks while QEMU finishes a migration. */
#define FINISHING_POLL_MS 50

static void look(struct sup *s);

/* Time to look again. */
static void again_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	look(arg);
}

/* query-status after a STOP: postmigrate is taken, finish-migrate looked at again. */
static void status_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct sup *s = arg;
	struct json_object *status;
	const char *st;

	if (r->failure != QMP_OK || c != s->qmp || !json_object_object_get_ex(r->ret, "status", &status))
		return;
	st = json_object_get_string(status);
	if (!strcmp(st, "postmigrate"))
		state_set_runstate(&s->vm, st);
	else if (!strcmp(st, "finish-migrate")) {
		struct timeval tv = { 0, FINISHING_POLL_MS * 1000 };
		event_base_once(s->base, -1, EV_TIMEOUT, again_cb, s, &tv);
	}
}

/* Asks QEMU's run state. */
static void look(struct sup *s)
{
	if (s->qmp)
		qmp_send(s->qmp, "query-status", NULL, CTL_QMP_TIMEOUT_MS, 0, status_cb, s);
}

void postmigrate_check(struct sup *s)
{
	look(s);
}
