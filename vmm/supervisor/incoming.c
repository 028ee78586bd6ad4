#include "vmm/supervisor/incoming.h"

#include <signal.h>
#include <string.h>

#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/sup.h"

void incoming_argv(const struct sup *s, struct strv *argv)
{
	for (size_t i = 0; i < s->plan->argv.n; i++)
		strv_push(argv, s->plan->argv.v[i]);
	if (s->opt.incoming) {
		strv_push(argv, "-incoming");
		strv_push(argv, "defer");
	}
}

/* The start failed on the way: every line of why, and QEMU killed (its end tells the rest). */
static void fail(struct sup *s, const char *what, const char *why)
{
	verr_set(&s->start_error, 0, "incoming migration on %s: %s: %s", s->opt.incoming, what, why ? why : "no answer");
	if (!s->reaped)
		kill(s->vm.pid, SIGKILL);
}

/* migrate-incoming was taken: QEMU listens. */
static void incoming_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct sup *s = arg;

	(void)c;
	if (r->failure != QMP_OK) {
		fail(s, "migrate-incoming", r->desc);
		return;
	}
	say(&s->vm, "waiting for an incoming migration on %s", s->opt.incoming);
	s->incoming_then(s);
}

/* The settings are applied: listen. */
static void setup_cb(struct json_object *chosen, const char *error, void *arg)
{
	struct sup *s = arg;
	struct json_object *args;

	if (error) {
		fail(s, "setting up", error);
		return;
	}
	say(&s->vm, "incoming migration settings: %s", json_object_to_json_string_ext(chosen, JSON_C_TO_STRING_PLAIN));
	json_object_put(chosen);
	if (!s->qmp) {
		fail(s, "migrate-incoming", "QEMU's QMP connection is gone");
		return;
	}
	args = json_object_new_object();
	json_object_object_add(args, "uri", json_object_new_string(s->opt.incoming));
	qmp_send(s->qmp, "migrate-incoming", args, CTL_QMP_TIMEOUT_MS, 0, incoming_cb, s);
}

void incoming_start(struct sup *s, void (*then)(struct sup *s))
{
	s->incoming_then = then;
	s->incoming = true;
	migrate_setup(s->qmp, MIGRATE_DESTINATION, &s->opt.incoming_settings, setup_cb, s);
}

/* The failed incoming migration's QEMU quit (or had exited on it already, as it does). */
static void quit_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	(void)c;
	if (r->failure == QMP_ERR_TIMEOUT)
		kill(((struct sup *)arg)->vm.pid, SIGKILL);
}

void incoming_event(struct sup *s, const char *name, struct json_object *msg)
{
	struct json_object *data, *status;
	const char *st;

	if (!s->incoming || strcmp(name, "MIGRATION") || !json_object_object_get_ex(msg, "data", &data) ||
	    !json_object_object_get_ex(data, "status", &status))
		return;
	st = json_object_get_string(status);
	if (!strcmp(st, "completed")) {
		s->incoming = false;
		say(&s->vm, "incoming migration completed: the VM runs here");
	} else if (!strcmp(st, "failed") || !strcmp(st, "cancelled")) {
		s->vm.stopping = true;
		say(&s->vm, "incoming migration %s: QEMU ends", st);
		if (s->qmp)
			qmp_send(s->qmp, "quit", NULL, CTL_QMP_TIMEOUT_MS, 0, quit_cb, s);
	}
}
