#include "vmm/supervisor/move-record.h"

#include <fcntl.h>
#include <string.h>

#include "vmm/base/util.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/sup-migrate.h"
#include "vmm/supervisor/sup.h"

/* The record's keys. */
#define KEY_QEMU_PID "qemu_pid"
#define KEY_DEST "dest"
#define KEY_WAS_RUNNING "was_running"

int move_record_write(struct sup *s, const char *dest, struct verr *err)
{
	struct json_object *o = json_object_new_object();
	int r;

	json_object_object_add(o, KEY_QEMU_PID, json_object_new_int(s->vm.pid));
	json_object_object_add(o, KEY_DEST, json_object_new_string(dest));
	json_object_object_add(o, KEY_WAS_RUNNING, json_object_new_boolean(!strcmp(s->vm.runstate, "running")));
	r = rundir_write(&s->rd, MOVE_RECORD_FILE, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY), true, err);
	json_object_put(o);
	if (r < 0)
		verr_wrap(err, "cannot record the migration in the run directory");
	return r;
}

void move_record_remove(struct rundir *rd)
{
	rundir_unlink(rd, MOVE_RECORD_FILE);
}

/* What the resumed migration's first look needs. */
struct resume {
	struct sup *s;
	char *dest;
	bool was_running;
};

/* A reply that only matters when it failed (cont). */
static void cont_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct sup *s = arg;

	(void)c;
	if (r->failure != QMP_OK && r->failure != QMP_ERR_CLOSED)
		say(&s->vm, "cont after the migration failed: %s", r->desc);
}

/* query-migrate of the QEMU whose migration a killed supervisor left: finish it as it would have. */
static void resumed_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct resume *res = arg;
	struct sup *s = res->s;
	struct json_object *status;
	const char *st;

	if (r->failure != QMP_OK || c != s->qmp || s->migration || s->migrate_conn) {
		if (r->failure != QMP_ERR_CLOSED && c == s->qmp && !s->migration)
			move_record_remove(&s->rd);
		free(res->dest);
		free(res);
		return;
	}
	st = json_object_object_get_ex(r->ret, "status", &status) ? json_object_get_string(status) : "none";
	say(&s->vm, "the migration to %s its supervisor left is %s in QEMU (status %s)", res->dest, st,
	    s->vm.runstate);
	if ((!strcmp(st, "completed") && !strcmp(s->vm.runstate, "postmigrate")) ||
	    (strcmp(st, "completed") && strcmp(st, "none") && strcmp(st, "failed") && strcmp(st, "cancelled"))) {
		sup_migrate_follow(s, res->dest);
		if (!strcmp(st, "pre-switchover")) { /* the disks' mirrors were the killed supervisor's */
			say(&s->vm, "the migration waits before its switch-over for disk mirrors: cancelling it");
			migration_cancel(s->migration);
		}
	} else {
		/* Failed, cancelled, or never begun (a "completed" of the migration that brought the
		 * VM here, the guest not migrated out): the guest runs on here. */
		move_record_remove(&s->rd);
		if (res->was_running && (!strcmp(s->vm.runstate, "paused") || !strcmp(s->vm.runstate, "postmigrate")) &&
		    strcmp(st, "completed"))
			qmp_send(s->qmp, "cont", NULL, CTL_QMP_TIMEOUT_MS, 0, cont_cb, s);
	}
	free(res->dest);
	free(res);
}

void move_record_resume(struct sup *s)
{
	_cleanup_close_ int fd = rundir_open_file(&s->rd, MOVE_RECORD_FILE, O_RDONLY | O_CLOEXEC, 0);
	struct json_object *o = fd < 0 ? NULL : json_object_from_fd(fd), *pid, *dest, *was;
	struct resume *res;

	if (!o)
		return;
	rundir_adopt(&s->rd, MOVE_RECORD_FILE);
	if (!json_object_object_get_ex(o, KEY_DEST, &dest) || !json_object_is_type(dest, json_type_string) ||
	    !json_object_object_get_ex(o, KEY_QEMU_PID, &pid) || json_object_get_int(pid) != s->vm.pid || !s->qmp) {
		json_object_put(o);
		move_record_remove(&s->rd);
		return;
	}
	json_object_object_get_ex(o, KEY_WAS_RUNNING, &was);
	res = xzalloc(sizeof(*res));
	*res = (struct resume){ .s = s, .dest = xstrdup(json_object_get_string(dest)),
				.was_running = json_object_get_boolean(was) };
	json_object_put(o);
	qmp_send(s->qmp, "query-migrate", NULL, CTL_QMP_TIMEOUT_MS, 0, resumed_cb, res);
}
