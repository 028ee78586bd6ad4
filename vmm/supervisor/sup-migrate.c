#include "vmm/supervisor/sup-migrate.h"

#include <signal.h>
#include <string.h>

#include "vmm/supervisor/incoming.h"
#include "vmm/supervisor/move-record.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/sup-control.h"
#include "vmm/supervisor/sup-grants.h"
#include "vmm/supervisor/sup.h"

/* The VM's QEMU here quit after the VM moved; one that did not is killed (the VM runs at the
 * destination: this one holds a stale copy). The verdict follows its end. */
static void quit_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct sup *s = arg;

	(void)c;
	if ((r->failure == QMP_ERR_COMMAND || r->failure == QMP_ERR_TIMEOUT) && !s->reaped) {
		say(&s->vm, "QEMU did not quit after the VM moved (%s): killing it", r->desc);
		kill(s->vm.pid, SIGKILL);
	}
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
		storage_mirror_abort(s->storage);
		sup_give_back_for(s, GRANT_FOR_MIGRATION);
		move_record_remove(&s->rd);
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
	if (s->migration || s->migrate_conn)
		return xasprintf("VM '%s' is already migrating", s->vm.name);
	if (s->upgrade)
		return xasprintf("VM '%s' is being saved or upgraded", s->vm.name);
	if (storage_mirror_busy(s->storage))
		return xasprintf("VM '%s' is still undoing the disk mirrors of its last migration", s->vm.name);
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

/* The guest is paused before the switch-over: the mirrors complete, then the migration goes on. */
static void mirrors_done_cb(const char *error, void *arg)
{
	struct sup *s = arg;

	if (error) {
		say(&s->vm, "%s: cancelling the migration", error);
		migration_cancel(s->migration);
	} else
		migration_continue(s->migration);
}

/* The switch-over is due: complete the disk mirrors first. */
static void switchover_hook(void *arg)
{
	struct sup *s = arg;

	storage_mirror_finish(s->storage, mirrors_done_cb, s);
}

/* Starts the RAM migration of the request s->migrate_args (its disks in sync, if mirrored). */
static void start_migration(struct sup *s)
{
	static const struct migrate_hooks hooks = { .done = done_hook, .switchover = switchover_hook };
	struct json_object *args = s->migrate_args, *v;
	const char *uri = arg_string(args, CTL_ARG_URI), *dest = arg_string(args, CTL_ARG_DEST);
	struct migrate_settings set = { .tls_dir = arg_string(args, CTL_ARG_TLS), .pause_before_switchover = s->storage,
					.multifd = migrate_multifd_safe(identity_machine_type(&s->plan->identity)) };

	if (json_object_object_get_ex(args, CTL_ARG_BANDWIDTH, &v))
		set.bandwidth = (uint64_t)json_object_get_int64(v);
	if (json_object_object_get_ex(args, CTL_ARG_POSTCOPY, &v)) {
		set.postcopy = true;
		set.postcopy_passes = (unsigned)json_object_get_int(v);
	} else if (s->plan->config.postcopy == POSTCOPY_AUTO) {
		set.postcopy = true;
		set.postcopy_passes = s->plan->config.postcopy_passes;
	}
	{
		_cleanup_verr_ struct verr err = { 0 };

		if ((set.tls_dir && qemu_user_grant_tls(s->plan, &s->rd, set.tls_dir, &err) < 0) ||
		    qemu_user_grant_uri(s->plan, &s->rd, uri, false, &err) < 0 ||
		    move_record_write(s, dest ? dest : uri, &err) < 0) {
			json_object_put(steal_ptr(s->migrate_args));
			done_hook(NULL, err.lines[0], s);
			return;
		}
	}
	say(&s->vm, "migrating to %s (%s)", dest ? dest : uri, uri);
	s->migration = migration_start(s->base, &s->qmp, uri, -1, dest ? dest : uri, &set, &hooks, s);
	json_object_put(steal_ptr(s->migrate_args));
}

void sup_migrate_follow(struct sup *s, const char *dest)
{
	static const struct migrate_hooks hooks = { .done = done_hook };

	say(&s->vm, "following the migration to %s", dest);
	json_object_put(steal_ptr(s->migrate_last));
	s->migration = migration_follow(s->base, &s->qmp, dest, &hooks, s);
}

/* The disks are in sync (the migration starts), or could not be mirrored (it fails), or a
 * mirror failed while the RAM migrates (it is cancelled). */
static void mirrors_cb(const char *error, void *arg)
{
	struct sup *s = arg;
	_cleanup_free_ char *why = NULL;

	if (!error) {
		say(&s->vm, "the disks are in sync with the destination's");
		start_migration(s);
		return;
	}
	if (s->migration) {
		say(&s->vm, "%s: cancelling the migration", error);
		migration_cancel(s->migration);
		return;
	}
	storage_mirror_abort(s->storage);
	why = xasprintf("migration to %s failed before the RAM moved: %s: the VM runs on here",
			arg_string(s->migrate_args, CTL_ARG_DEST), error);
	say(&s->vm, "%s", why);
	json_object_put(steal_ptr(s->migrate_args));
	if (s->migrate_conn)
		control_fail(steal_ptr(s->migrate_conn), "%s", why);
}

/* migrate: mirrors the disks when asked, then starts the migration; answered when it ends. */
static void request_migrate(struct sup *s, struct control_conn *conn, struct json_object *args)
{
	_cleanup_free_ char *why = refusal(s);
	const char *uri = arg_string(args, CTL_ARG_URI), *dest = arg_string(args, CTL_ARG_DEST);
	struct json_object *v, *nbd;

	if (why) {
		control_fail(conn, "%s", why);
		return;
	}
	if (!uri || !dest || !(nbd = migrate_nbd_address(uri))) {
		control_fail(conn, CTL_ARG_URI ": expected tcp:HOST:PORT or unix:PATH, and " CTL_ARG_DEST);
		return;
	}
	json_object_put(nbd);
	control_hold(conn);
	s->migrate_conn = conn;
	json_object_put(steal_ptr(s->migrate_last));
	s->migrate_args = json_object_get(args);
	storage_mirror_free(steal_ptr(s->storage));
	if (!json_object_object_get_ex(args, CTL_ARG_COPY_STORAGE, &v) || !json_object_get_boolean(v)) {
		start_migration(s);
		return;
	}
	say(&s->vm, "mirroring the writable disks to %s first", dest);
	s->storage = storage_mirror_start(&s->qmp, &s->plan->config, uri, mirrors_cb, s);
}

/* The reading of a migration whose disks are being mirrored before the RAM moves. */
static struct json_object *mirroring_reading(const struct sup *s)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, MIG_KEY_STATUS, json_object_new_string("mirroring-disks"));
	json_object_object_add(o, MIG_KEY_DEST, json_object_new_string(arg_string(s->migrate_args, CTL_ARG_DEST)));
	return o;
}

void sup_migrate_request(struct sup *s, struct control_conn *conn, const char *request, struct json_object *args)
{
	if (!strcmp(request, CTL_REQ_MIGRATE))
		request_migrate(s, conn, args);
	else if (!strcmp(request, CTL_REQ_MIGRATION) && s->migration)
		control_reply(conn, migration_progress(s->migration));
	else if (!strcmp(request, CTL_REQ_MIGRATION) && s->migrate_last)
		control_reply(conn, json_object_get(s->migrate_last));
	else if (!strcmp(request, CTL_REQ_MIGRATION) && s->migrate_args)
		control_reply(conn, mirroring_reading(s));
	else if (!strcmp(request, CTL_REQ_MIGRATION))
		control_fail(conn, "VM '%s' has not migrated since its supervisor started", s->vm.name);
	else if (migration_cancel(s->migration)) {
		say(&s->vm, "cancelling the migration (migrate_cancel)");
		control_reply(conn, NULL);
	} else if (s->migrate_args) {
		control_reply(conn, NULL);
		mirrors_cb("cancelled while the disks were mirrored", s);
	} else
		control_fail(conn, "VM '%s' is not migrating", s->vm.name);
}

void sup_migrate_event(struct sup *s, const char *name, struct json_object *msg)
{
	migration_event(s->migration, name, msg);
	storage_mirror_event(s->storage, name, msg);
	incoming_event(s, name, msg);
}

void sup_migrate_reset(struct sup *s)
{
	migration_lost(s->migration);
	if (s->migrate_args)
		mirrors_cb("QEMU ended", s);
	storage_mirror_free(steal_ptr(s->storage));
	json_object_put(steal_ptr(s->migrate_last));
}
