#include "vmm/supervisor/state.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/base/util.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/qemuproc.h"

/* The state file's name in the run directory. */
#define STATE_FILE "state.json"

void state_init(struct vm_state *st, const struct plan *p, struct rundir *rd)
{
	*st = (struct vm_state){ .plan = p, .name = p->config.name, .rd = rd, .end = -1 };
}

void state_free(struct vm_state *st)
{
	free(st->end_text);
	st->end_text = NULL;
}

void say(const struct vm_state *st, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vmm: %s: ", st->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void say_err(const struct vm_state *st, const struct verr *err)
{
	for (size_t i = 0; i < err->n; i++)
		say(st, "%s", err->lines[i]);
}

void state_set_runstate(struct vm_state *st, const char *runstate)
{
	snprintf(st->runstate, sizeof(st->runstate), "%s", runstate);
}

void state_set_end(struct vm_state *st, int end, const struct verr *why)
{
	size_t len = 1;
	char *p;

	for (size_t i = 0; i < why->n; i++)
		len += strlen(why->lines[i]) + 1;
	free(st->end_text);
	st->end_text = p = xzalloc(len);
	for (size_t i = 0; i < why->n; i++)
		p += sprintf(p, "%s%s", i ? "\n" : "", why->lines[i]);
	st->end = end;
}

const char *vm_end_name(int end)
{
	switch (end) {
	case VM_POWERED_OFF:
		return "powered-off";
	case VM_START_FAILED:
		return "start-failed";
	case VM_FORCED_OFF:
		return "forced-off";
	case VM_CRASHED:
		return "crashed";
	default:
		return "none";
	}
}

/* Adds a string member when the value is set. */
static void add_string(struct json_object *o, const char *key, const char *value)
{
	if (value && *value)
		json_object_object_add(o, key, json_object_new_string(value));
}

/* The facts both the status and the state file carry. */
static struct json_object *facts(const struct vm_state *st)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, VM_KEY_NAME, json_object_new_string(st->name));
	json_object_object_add(o, VM_KEY_SUPERVISOR_PID, json_object_new_int(getpid()));
	if (st->pid > 0)
		json_object_object_add(o, VM_KEY_QEMU_PID, json_object_new_int(st->pid));
	if (st->started)
		json_object_object_add(o, VM_KEY_STARTED, json_object_new_int64(st->started));
	add_string(o, VM_KEY_QEMU_VERSION, st->version);
	json_object_object_add(o, VM_KEY_ACCEL, json_object_new_string(accel_names[st->plan->launch.accel]));
	json_object_object_add(o, VM_KEY_PROFILE, json_object_new_string(st->plan->profile_path));
	json_object_object_add(o, VM_KEY_RUN_DIR, json_object_new_string(st->rd->path));
	return o;
}

struct json_object *state_status(const struct vm_state *st, unsigned qmp_clients)
{
	struct json_object *o = facts(st);
	const struct vm_config *c = &st->plan->config;

	json_object_object_add(o, VM_KEY_STATE, json_object_new_string(st->runstate));
	if (st->started && st->pid > 0)
		json_object_object_add(o, VM_KEY_UPTIME, json_object_new_int64(time(NULL) - st->started));
	json_object_object_add(o, VM_KEY_STOPPING, json_object_new_boolean(st->stopping));
	json_object_object_add(o, VM_KEY_RESTARTING, json_object_new_boolean(st->restarting));
	json_object_object_add(o, VM_KEY_RESTARTS, json_object_new_int(st->restarts));
	json_object_object_add(o, VM_KEY_PROTECTED, json_object_new_boolean(c->protected));
	json_object_object_add(o, VM_KEY_RESTART, json_object_new_string(restart_names[c->restart]));
	json_object_object_add(o, VM_KEY_PINNED, json_object_new_boolean(st->pinned));
	json_object_object_add(o, VM_KEY_QMP_CLIENTS, json_object_new_int(qmp_clients));
	if (st->end >= 0) {
		json_object_object_add(o, VM_KEY_LAST_END, json_object_new_string(vm_end_name(st->end)));
		json_object_object_add(o, VM_KEY_LAST_END_MESSAGE, json_object_new_string(st->end_text));
	}
	return o;
}

int state_save(const struct vm_state *st, struct verr *err)
{
	struct json_object *o = facts(st);
	int r;

	json_object_object_add(o, VM_KEY_RESOLVED_PROFILE, json_object_get(st->plan->profile));
	r = rundir_write(st->rd, STATE_FILE,
			 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED), true, err);
	json_object_put(o);
	/* A state file that does not say what runs must not stay: its pid would be an old QEMU's. */
	if (r < 0)
		rundir_unlink(st->rd, STATE_FILE);
	return r;
}

/* Reads the state file of run directory dir (never through a symbolic link); NULL when
 * there is none (or it is not JSON). */
static struct json_object *read_state(const char *dir)
{
	_cleanup_free_ char *path = xasprintf("%s/" STATE_FILE, dir);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? NULL : json_object_from_fd(fd);
}

pid_t state_orphan(const char *dir, const char *name)
{
	struct json_object *o = read_state(dir), *v;
	pid_t pid = 0;

	if (o && json_object_object_get_ex(o, VM_KEY_QEMU_PID, &v))
		pid = json_object_get_int(v);
	json_object_put(o);
	return pid > 0 && qemuproc_is(pid, dir, name) ? pid : 0;
}

enum qemu_found state_find_qemu(const char *dir, const char *name, pid_t *pid)
{
	pid_t orphan = state_orphan(dir, name);

	*pid = orphan ? orphan : qemuproc_find(dir, name);
	return orphan ? QEMU_ORPHAN : *pid ? QEMU_LOST : QEMU_NONE;
}

int state_qemu_error(enum qemu_found found, const char *name, const char *dir, pid_t pid, struct verr *err)
{
	if (found == QEMU_ORPHAN)
		return verr_set(err, 0, "VM '%s' has no supervisor (its QEMU, pid %d, still runs): 'vmm attach %s' "
				"reconnects to it", name, pid, name);
	return verr_set(err, 0, "VM '%s' runs (QEMU pid %d) but its run directory '%s' was removed or replaced: vmm "
			"cannot reach it (power the guest off from inside, or kill %d)", name, pid, dir, pid);
}

/* True when something accepts connections on the supervisor's socket in dir. */
static bool supervisor_listens(const char *dir)
{
	struct sockaddr_un sa;
	_cleanup_verr_ struct verr err = { 0 };
	_cleanup_close_ int fd = -1;

	if (rundir_socket_address(dir, "ctl.sock", &sa, &err) < 0)
		return false;
	/* Only a full backlog makes connect wait: a listener is there. */
	fd = unix_connect(&sa, 1000);
	return fd >= 0 || errno == EAGAIN;
}

int state_claim(struct rundir *rd, const char *dir, const char *name, pid_t *orphan, struct verr *err)
{
	enum qemu_found found;
	pid_t pid;

	if (rundir_open(rd, dir, err) < 0) {
		if (err->errnum == 0 && (pid = qemuproc_find(dir, name)))
			verr_set(err, 0, "VM '%s' runs as QEMU pid %d", name, pid);
		return -1;
	}
	/* A supervisor whose lock file was removed under it still answers. */
	if (supervisor_listens(dir)) {
		rundir_close(rd);
		return verr_set(err, 0, "VM '%s' is already running (its supervisor listens on '%s/ctl.sock')",
				name, dir);
	}
	found = state_find_qemu(dir, name, &pid);
	if (found == QEMU_LOST) {
		rundir_close(rd);
		return state_qemu_error(found, name, dir, pid, err);
	}
	*orphan = pid;
	return 0;
}

int state_check_no_qemu(const struct vm_state *st, struct verr *err)
{
	pid_t pid = qemuproc_find(st->rd->path, st->name);

	return pid ? verr_set(err, 0, "VM '%s' already runs as QEMU pid %d", st->name, pid) : 0;
}

time_t state_started(const char *dir)
{
	struct json_object *o = read_state(dir), *v;
	time_t started = json_object_object_get_ex(o, VM_KEY_STARTED, &v) ? json_object_get_int64(v) : time(NULL);

	json_object_put(o);
	return started;
}

int state_profile(const char *dir, char **path, struct json_object **profile, struct verr *err)
{
	struct json_object *o = read_state(dir), *pr, *pa;

	if (!json_object_object_get_ex(o, VM_KEY_RESOLVED_PROFILE, &pr) ||
	    !json_object_object_get_ex(o, VM_KEY_PROFILE, &pa)) {
		json_object_put(o);
		return verr_set(err, 0, "'%s/" STATE_FILE "' does not record the VM's profile", dir);
	}
	*path = xstrdup(json_object_get_string(pa));
	*profile = json_object_get(pr);
	json_object_put(o);
	return 0;
}
