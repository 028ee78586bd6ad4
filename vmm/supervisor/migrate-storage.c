#include "vmm/supervisor/migrate-storage.h"

#include <stdio.h>
#include <string.h>

#include "vmm/base/util.h"
#include "vmm/supervisor/migrate.h"

/* Milliseconds QEMU has to answer one command of the mirror. */
#define STORAGE_QMP_TIMEOUT_MS 5000

struct storage_mirror;

/* One disk's mirror: the NBD client node it writes to and its job (both named "vmm-mig-ID"). */
struct job {
	struct storage_mirror *sm;
	char *disk;       /* the disk's id: the destination's export */
	char *source;     /* the disk's format node ("ID-fmt", as the builder names it) */
	char *name;       /* the target node's name, and the job's id */
	bool added;       /* the target node exists */
	bool started;     /* the job exists */
	bool ready, ended;
};

enum phase { SYNCING, READY, FINISHING, DONE, ABORTED };

struct storage_mirror {
	struct qmp_client *const *qmp;
	struct job *jobs;
	size_t n;
	storage_fn fn;
	void *arg;
	enum phase phase;
	unsigned pending; /* commands whose answers are still to come */
};

/* Sends a command of the mirror (args consumed). */
static void send_cmd(struct storage_mirror *sm, const char *command, struct json_object *args, qmp_reply_fn fn,
		     struct job *j)
{
	if (!*sm->qmp) {
		json_object_put(args);
		return;
	}
	sm->pending++;
	qmp_send(*sm->qmp, command, args, STORAGE_QMP_TIMEOUT_MS, 0, fn, j);
}

/* An object with one string member. */
static struct json_object *with(const char *key, const char *value)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, key, json_object_new_string(value));
	return o;
}

/* The target node of a job is gone (or could not be removed: nothing more to do). */
static void deleted_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct job *j = arg;

	(void)c;
	(void)r;
	j->sm->pending--;
	j->added = false;
}

/* A command whose answer changes nothing (the job's events tell). */
static void answered_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	(void)c;
	(void)r;
	((struct job *)arg)->sm->pending--;
}

/* Removes the target nodes whose jobs have ended (or never started). */
static void remove_nodes(struct storage_mirror *sm)
{
	for (size_t i = 0; i < sm->n; i++) {
		struct job *j = &sm->jobs[i];
		if (j->added && (!j->started || j->ended)) {
			j->started = false;
			send_cmd(sm, "blockdev-del", with("node-name", j->name), deleted_cb, j);
		}
	}
}

/* A failure: undoes (cancels the jobs, removes the nodes) and reports it, once. */
static void fail(struct storage_mirror *sm, const char *why)
{
	if (sm->phase == ABORTED || sm->phase == DONE)
		return;
	storage_mirror_abort(sm);
	sm->fn(why, sm->arg);
}

/* A command whose answer matters only when it failed. */
static void step_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct job *j = arg;
	_cleanup_free_ char *why = NULL;

	(void)c;
	j->sm->pending--;
	if (r->failure == QMP_OK)
		return;
	why = xasprintf("mirroring disk '%s' to the destination: %s", j->disk, r->desc ? r->desc : "no answer");
	fail(j->sm, why);
}

/* The mirror job could not start: it does not exist. */
static void mirror_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct job *j = arg;

	if (r->failure != QMP_OK)
		j->started = false;
	step_cb(c, r, arg);
}

/* The target node exists: start the mirror job. */
static void added_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct job *j = arg;
	struct storage_mirror *sm = j->sm;
	struct json_object *args;

	if (r->failure == QMP_OK)
		j->added = true;
	if (r->failure != QMP_OK || sm->phase != SYNCING) {
		step_cb(c, r, arg);
		remove_nodes(sm);
		return;
	}
	sm->pending--;
	args = with("job-id", j->name);
	json_object_object_add(args, "device", json_object_new_string(j->source));
	json_object_object_add(args, "target", json_object_new_string(j->name));
	json_object_object_add(args, "sync", json_object_new_string("full"));
	j->started = true;
	send_cmd(sm, "blockdev-mirror", args, mirror_cb, j);
}

struct storage_mirror *storage_mirror_start(struct qmp_client *const *qmp, const struct vm_config *c, const char *uri,
					    storage_fn fn, void *arg)
{
	struct storage_mirror *sm = xzalloc(sizeof(*sm));
	struct json_object *server = migrate_nbd_address(uri);

	*sm = (struct storage_mirror){ .qmp = qmp, .fn = fn, .arg = arg, .phase = SYNCING };
	sm->jobs = xzalloc((c->n_disks + 1) * sizeof(*sm->jobs));
	for (size_t i = 0; i < c->n_disks; i++) {
		struct json_object *args, *data;
		struct job *j;
		if (c->disks[i].readonly)
			continue;
		j = &sm->jobs[sm->n++];
		*j = (struct job){ .sm = sm, .disk = xstrdup(c->disks[i].id) };
		j->source = xasprintf("%s-fmt", j->disk);
		j->name = xasprintf("vmm-mig-%s", j->disk);
		args = with("driver", "nbd");
		json_object_object_add(args, "node-name", json_object_new_string(j->name));
		/* The server as BlockdevOptionsNbd takes it: the address's members beside its type. */
		data = json_object_new_object();
		json_object_object_add(data, "type", json_object_get(json_object_object_get(server, "type")));
		json_object_object_foreach(json_object_object_get(server, "data"), key, value)
			json_object_object_add(data, key, json_object_get(value));
		json_object_object_add(args, "server", data);
		json_object_object_add(args, "export", json_object_new_string(j->disk));
		send_cmd(sm, "blockdev-add", args, added_cb, j);
	}
	json_object_put(server);
	return sm;
}

/* The job named name, or NULL. */
static struct job *job_named(struct storage_mirror *sm, const char *name)
{
	for (size_t i = 0; name && i < sm->n; i++)
		if (!strcmp(sm->jobs[i].name, name))
			return &sm->jobs[i];
	return NULL;
}

/* True when every job is (ready: ready; else: ended). */
static bool all(const struct storage_mirror *sm, bool ready)
{
	for (size_t i = 0; i < sm->n; i++)
		if (ready ? !sm->jobs[i].ready : !sm->jobs[i].ended)
			return false;
	return true;
}

void storage_mirror_event(struct storage_mirror *sm, const char *name, struct json_object *msg)
{
	struct json_object *data = NULL, *error = NULL;
	struct job *j;
	_cleanup_free_ char *why = NULL;

	if (!sm || strncmp(name, "BLOCK_JOB_", 10) || !json_object_object_get_ex(msg, "data", &data) ||
	    !(j = job_named(sm, json_object_get_string(json_object_object_get(data, "device")))))
		return;
	if (!strcmp(name, "BLOCK_JOB_READY")) {
		j->ready = true;
		if (sm->phase == SYNCING && all(sm, true)) {
			sm->phase = READY;
			sm->fn(NULL, sm->arg);
		}
		return;
	}
	if (strcmp(name, "BLOCK_JOB_COMPLETED") && strcmp(name, "BLOCK_JOB_CANCELLED"))
		return;
	j->ended = true;
	json_object_object_get_ex(data, "error", &error);
	if (sm->phase == ABORTED) {
		remove_nodes(sm);
		return;
	}
	if (error || !strcmp(name, "BLOCK_JOB_CANCELLED") || sm->phase != FINISHING) {
		why = xasprintf("mirroring disk '%s' to the destination %s%s%s", j->disk,
				error ? "failed: " : "stopped", error ? json_object_get_string(error) : "",
				error ? "" : " before the switch-over");
		fail(sm, why);
		return;
	}
	if (all(sm, false)) {
		sm->phase = DONE;
		remove_nodes(sm);
		sm->fn(NULL, sm->arg);
	}
}

void storage_mirror_finish(struct storage_mirror *sm, storage_fn fn, void *arg)
{
	sm->fn = fn;
	sm->arg = arg;
	sm->phase = FINISHING;
	if (!sm->n) {
		sm->phase = DONE;
		fn(NULL, arg);
		return;
	}
	/* A ready mirror cancelled completes without pivoting: the destination has every write. */
	for (size_t i = 0; i < sm->n; i++)
		send_cmd(sm, "block-job-cancel", with("device", sm->jobs[i].name), step_cb, &sm->jobs[i]);
}

void storage_mirror_abort(struct storage_mirror *sm)
{
	if (!sm || sm->phase == ABORTED)
		return;
	sm->phase = ABORTED;
	for (size_t i = 0; i < sm->n; i++) {
		struct json_object *args;
		if (!sm->jobs[i].started || sm->jobs[i].ended)
			continue;
		args = with("device", sm->jobs[i].name);
		json_object_object_add(args, "force", json_object_new_boolean(true));
		send_cmd(sm, "block-job-cancel", args, answered_cb, &sm->jobs[i]);
	}
	remove_nodes(sm);
}

bool storage_mirror_busy(const struct storage_mirror *sm)
{
	if (sm && sm->pending)
		return true;
	for (size_t i = 0; sm && i < sm->n; i++)
		if (sm->jobs[i].added || (sm->jobs[i].started && !sm->jobs[i].ended))
			return true;
	return false;
}

void storage_mirror_free(struct storage_mirror *sm)
{
	if (!sm)
		return;
	for (size_t i = 0; i < sm->n; i++) {
		free(sm->jobs[i].disk);
		free(sm->jobs[i].source);
		free(sm->jobs[i].name);
	}
	free(sm->jobs);
	free(sm);
}
