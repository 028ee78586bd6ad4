#include "vmm/supervisor/sup-migrate.h"

#include <string.h>

#include "vmm/supervisor/incoming.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/sup.h"

/* The VM's QEMU quit after it moved (or did not: nothing more to do, the verdict follows its end). */
static void quit_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct sup *s = arg;

	(void)c;
	if (r->failure == QMP_ERR_COMMAND || r->failure == QMP_ERR_TIMEOUT)
		say(&s->vm, "quit after the migration failed: %s", r->desc);
}

/* The migration ended: answers the migrate request; a completed one hands the VM over. */
static void done_hook(struct json_object *result, const char *error, void *arg)
{
	struct sup *s = arg;
	struct json_object *dest = NULL;

	json_object_put(s->migrate_last);
	s->migrate_last = json_object_get(result);
	migration_free(steal_ptr(s->migration));
	if (error) {
		say(&s->vm, "%s", error);
		if (s->migrate_conn)
			control_fail(steal_ptr(s->migrate_conn), "%s", error);
		return;
	}
	json_object_object_get_ex(result, MIG_KEY_DEST, &dest);
	s->migrated_to = xstrdup(json_object_get_string(dest));
	s->vm.stopping = true;
	say(&s->vm, "migrated to %s in %lld ms (downtime %lld ms): the VM runs there; its QEMU here quits",
	    s->migrated_to, (long long)json_object_get_int64(json_object_object_get(result, MIG_KEY_TOTAL_TIME)),
	    (long long)json_object_get_int64(json_object_object_get(result, MIG_KEY_DOWNTIME)));
	if (s->migrate_conn)
		control_reply(steal_ptr(s->migrate_conn), json_object_get(result));
	if (s->qmp)
		qmp_send(s->qmp, "quit", NULL, CTL_QMP_TIMEOUT_MS, 0, quit_cb, s);
}

/* Why this VM cannot migrate, NULL when it can. */
static char *refusal(const struct sup *s)
{
	if (s->plan->config.n_passthrough)
		return xasprintf("migrate refused: VM '%s' has passthrough devices (passthrough in '%s'): a device "
				 "given to vfio-pci cannot move to another host", s->vm.name, s->plan->profile_path);
	if (!s->ready || !s->qmp)
		return xasprintf("QEMU is not running (state %s)", s->vm.runstate);
	if (s->incoming)
		return xasprintf("VM '%s' is still waiting for its own incoming migration", s->vm.name);
	if (s->migration)
		return xasprintf("VM '%s' is already migrating", s->vm.name);
	if (s->migrated_to)
		return xasprintf("VM '%s' has moved to %s", s->vm.name, s->migrated_to);
	return NULL;
}

/* A string argument; NULL when absent. */
static const char *arg_string(struct json_object *args, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(args, key, &v) && json_object_is_type(v, json_type_string) ?
		       json_object_get_string(v) : NULL;
}

/* migrate: starts the migration; answered when it ends. */
static void request_migrate(struct sup *s, struct control_conn *conn, struct json_object *args)
{
	static const struct migrate_hooks hooks = { .done = done_hook };
	_cleanup_free_ char *why = refusal(s);
	const char *uri = arg_string(args, CTL_ARG_URI), *dest = arg_string(args, CTL_ARG_DEST);
	struct migrate_settings set = { .tls_dir = arg_string(args, CTL_ARG_TLS) };
	struct json_object *v;

	if (why) {
		control_fail(conn, "%s", why);
		return;
	}
	if (!uri || (strncmp(uri, "tcp:", 4) && strncmp(uri, "unix:", 5))) {
		control_fail(conn, CTL_ARG_URI ": expected tcp:HOST:PORT or unix:PATH");
		return;
	}
	if (json_object_object_get_ex(args, CTL_ARG_BANDWIDTH, &v))
		set.bandwidth = (uint64_t)json_object_get_int64(v);
	if (json_object_object_get_ex(args, CTL_ARG_POSTCOPY, &v)) {
		set.postcopy = true;
		set.postcopy_passes = (unsigned)json_object_get_int(v);
	}
	control_hold(conn);
	s->migrate_conn = conn;
	json_object_put(steal_ptr(s->migrate_last));
	say(&s->vm, "migrating to %s (%s)", dest ? dest : uri, uri);
	s->migration = migration_start(s->base, &s->qmp, uri, -1, dest ? dest : uri, &set, &hooks, s);
}

void sup_migrate_request(struct sup *s, struct control_conn *conn, const char *request, struct json_object *args)
{
	if (!strcmp(request, CTL_REQ_MIGRATE))
		request_migrate(s, conn, args);
	else if (!strcmp(request, CTL_REQ_MIGRATION) && s->migration)
		control_reply(conn, migration_progress(s->migration));
	else if (!strcmp(request, CTL_REQ_MIGRATION) && s->migrate_last)
		control_reply(conn, json_object_get(s->migrate_last));
	else if (!strcmp(request, CTL_REQ_MIGRATION))
		control_fail(conn, "VM '%s' has not migrated since its supervisor started", s->vm.name);
	else if (migration_cancel(s->migration)) {
		say(&s->vm, "cancelling the migration (migrate_cancel)");
		control_reply(conn, NULL);
	} else
		control_fail(conn, "VM '%s' is not migrating", s->vm.name);
}

void sup_migrate_event(struct sup *s, const char *name, struct json_object *msg)
{
	migration_event(s->migration, name, msg);
	incoming_event(s, name, msg);
}

void sup_migrate_reset(struct sup *s)
{
	migration_lost(s->migration);
	json_object_put(steal_ptr(s->migrate_last));
}
