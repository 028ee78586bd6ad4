#include "vmm/cli/blockvm.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/base/rundir.h"
#include "vmm/cli/vmref.h"
#include "vmm/launch/tool.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/state.h"

/* Milliseconds between two looks at running jobs. */
#define POLL_MS 100

struct json_object *qmp_command(const char *execute, struct json_object *arguments)
{
	struct json_object *c = json_object_new_object();

	json_object_object_add(c, "execute", json_object_new_string(execute));
	if (arguments)
		json_object_object_add(c, "arguments", arguments);
	return c;
}

int block_run(const char *name, struct json_object *commands, bool freeze, struct json_object **ret, struct verr *err)
{
	struct json_object *req = json_object_new_object();
	unsigned timeout = (unsigned)json_object_array_length(commands) * CTL_QMP_TIMEOUT_MS +
			   2 * (CTL_QMP_TIMEOUT_MS + CTL_AGENT_SYNC_MS + CTL_FREEZE_TIMEOUT_MS) + 2000;

	json_object_object_add(req, CTL_ARG_COMMANDS, commands);
	json_object_object_add(req, CTL_ARG_FREEZE, json_object_new_boolean(freeze));
	return vm_request(name, CTL_REQ_BLOCK, req, timeout, ret, err) < 0 ? -1 : 0;
}

int block_call(const char *name, const char *execute, struct json_object *arguments, struct json_object **ret,
	       struct verr *err)
{
	struct json_object *commands = json_object_new_array(), *r;

	json_object_array_add(commands, qmp_command(execute, arguments));
	if (block_run(name, commands, false, &r, err) < 0)
		return -1;
	if (ret)
		*ret = json_object_get(json_object_array_get_idx(json_object_object_get(r, BLOCK_KEY_RETURNS), 0));
	json_object_put(r);
	return 0;
}

char *block_node(const char *name, const char *file, uint64_t *size, struct verr *err)
{
	struct json_object *args = json_object_new_object(), *nodes;
	char *found = NULL;

	json_object_object_add(args, "flat", json_object_new_boolean(true));
	if (block_call(name, "query-named-block-nodes", args, &nodes, err) < 0)
		return NULL;
	for (size_t i = 0; i < json_object_array_length(nodes) && !found; i++) {
		struct json_object *n = json_object_array_get_idx(nodes, i);
		const char *drv = json_object_get_string(json_object_object_get(n, "drv"));
		if (strcmp(json_object_get_string(json_object_object_get(n, "file")), file) ||
		    (strcmp(drv, "qcow2") && strcmp(drv, "raw")))
			continue;
		found = xstrdup(json_object_get_string(json_object_object_get(n, "node-name")));
		if (size)
			*size = (uint64_t)json_object_get_int64(
				json_object_object_get(json_object_object_get(n, "image"), "virtual-size"));
	}
	json_object_put(nodes);
	if (!found)
		verr_set(err, 0, "VM '%s': QEMU has no block node for '%s'", name, file);
	return found;
}

/* The job of query-jobs' answer whose id is id, or NULL. */
static struct json_object *job_of(struct json_object *jobs, const char *id)
{
	for (size_t i = 0; i < json_object_array_length(jobs); i++) {
		struct json_object *j = json_object_array_get_idx(jobs, i);
		if (!strcmp(json_object_get_string(json_object_object_get(j, "id")), id))
			return j;
	}
	return NULL;
}

/* Dismisses the jobs that have concluded (the others are gone or never were). */
static void dismiss(const char *name, const struct strv *ids)
{
	_cleanup_verr_ struct verr ignored = { 0 };
	struct json_object *jobs;

	if (block_call(name, "query-jobs", NULL, &jobs, &ignored) < 0)
		return;
	for (size_t i = 0; i < ids->n; i++) {
		struct json_object *j = job_of(jobs, ids->v[i]), *a;
		if (!j || strcmp(json_object_get_string(json_object_object_get(j, "status")), "concluded"))
			continue;
		a = json_object_new_object();
		json_object_object_add(a, "id", json_object_new_string(ids->v[i]));
		block_call(name, "job-dismiss", a, NULL, &ignored);
	}
	json_object_put(jobs);
}

/* One look at the jobs: completes the ready ones, sums their progress. Returns 1 when all have
 * concluded, 0 when some run, -1 with err when one failed or is missing. */
static int look(const char *name, const struct strv *ids, int64_t *done, int64_t *total, struct verr *err)
{
	struct json_object *jobs;
	int concluded = 0, ret = 0;

	if (block_call(name, "query-jobs", NULL, &jobs, err) < 0)
		return -1;
	*done = *total = 0;
	for (size_t i = 0; i < ids->n && ret == 0; i++) {
		struct json_object *j = job_of(jobs, ids->v[i]), *e;
		const char *status = j ? json_object_get_string(json_object_object_get(j, "status")) : "";
		if (!j) {
			ret = verr_set(err, 0, "VM '%s': job '%s' is gone (cancelled?)", name, ids->v[i]);
			break;
		}
		*done += json_object_get_int64(json_object_object_get(j, "current-progress"));
		*total += json_object_get_int64(json_object_object_get(j, "total-progress"));
		if (!strcmp(status, "concluded") && json_object_object_get_ex(j, "error", &e))
			ret = verr_set(err, 0, "VM '%s': job '%s' failed: %s", name, ids->v[i], json_object_get_string(e));
		else if (!strcmp(status, "concluded"))
			concluded++;
		else if (!strcmp(status, "ready")) {
			struct json_object *a = json_object_new_object();
			json_object_object_add(a, "id", json_object_new_string(ids->v[i]));
			if (block_call(name, "job-complete", a, NULL, err) < 0)
				ret = -1;
		}
	}
	json_object_put(jobs);
	return ret < 0 ? -1 : concluded == (int)ids->n;
}

int block_jobs_wait(const char *name, const struct strv *ids, const char *what, int64_t *bytes, struct verr *err)
{
	bool tty = isatty(STDERR_FILENO);
	int last = -1, r;
	int64_t done = 0, total = 0;

	while ((r = look(name, ids, &done, &total, err)) == 0) {
		int pct = total > 0 ? (int)(done * 100 / total) : 0;
		struct timespec ts = { 0, POLL_MS * 1000000L };
		if (pct != last && (tty || pct / 25 != last / 25))
			fprintf(stderr, tty ? "\rvmm: %s: %s: %d%%\033[K" : "vmm: %s: %s: %d%%\n", name, what, pct);
		last = pct;
		nanosleep(&ts, NULL);
	}
	if (tty && last >= 0)
		fprintf(stderr, "\r\033[K");
	if (bytes)
		*bytes = total;
	dismiss(name, ids);
	return r < 0 ? -1 : 0;
}

int qemu_img(const char *const *args, char **out, struct verr *err)
{
	const char *env = getenv("VMM_QEMU_IMG");
	_cleanup_free_ char *what = xasprintf("qemu-img %s", args[0]);
	size_t len;

	return tool_run(env && *env ? env : "qemu-img", args, out, &len, what, err);
}

bool vm_running(const char *name)
{
	_cleanup_verr_ struct verr ignored = { 0 };
	struct json_object *r;

	if (vm_request(name, CTL_REQ_STATUS, NULL, VM_ANSWER_TIMEOUT_MS, &r, &ignored) < 0)
		return false;
	json_object_put(r);
	return true;
}

int vm_plan(const char *name, struct plan *p, struct verr *err)
{
	_cleanup_free_ char *dir = NULL, *path = NULL;
	struct json_object *profile, *status;

	if (vm_request(name, CTL_REQ_STATUS, NULL, VM_ANSWER_TIMEOUT_MS, &status, err) < 0)
		return -1;
	json_object_put(status);
	if (!(dir = rundir_path(name, err)) || state_profile(dir, &path, &profile, err) < 0)
		return -1;
	return plan_from_json(path, profile, NULL, NULL, false, p, err) < 0 ? -1 : 0;
}

char *bytes_text(uint64_t bytes)
{
	if (bytes >= 1u << 30)
		return xasprintf("%.1f GiB", (double)bytes / (1u << 30));
	if (bytes >= 1u << 20)
		return xasprintf("%.1f MiB", (double)bytes / (1u << 20));
	return xasprintf("%.1f KiB", (double)bytes / 1024);
}
