#include "vmm/supervisor/state.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm/base/util.h"
#include "vmm/supervisor/protocol.h"

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

void state_save(const struct vm_state *st)
{
	struct json_object *o = facts(st);
	_cleanup_verr_ struct verr err = { 0 };

	json_object_object_add(o, VM_KEY_RESOLVED_PROFILE, json_object_get(st->plan->profile));
	if (rundir_write(st->rd, STATE_FILE,
			 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED), true,
			 &err) < 0)
		say_err(st, &err);
	json_object_put(o);
}

/* Reads the state file of run directory dir; NULL when there is none (or it is not JSON). */
static struct json_object *read_state(const char *dir)
{
	_cleanup_free_ char *path = xasprintf("%s/" STATE_FILE, dir);

	return json_object_from_file(path);
}

/* True when process pid runs a QEMU of VM name (its command line has "guest=NAME,"). */
static bool is_qemu_of(pid_t pid, const char *name)
{
	_cleanup_free_ char *proc = xasprintf("/proc/%d/cmdline", pid), *needle = NULL;
	char cmdline[8192];
	ssize_t n;
	int fd;

	fd = open(proc, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, cmdline, sizeof(cmdline) - 1);
	close(fd);
	if (n <= 0)
		return false;
	cmdline[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if (!cmdline[i])
			cmdline[i] = '\n';
	needle = xasprintf("\nguest=%s,", name);
	return strstr(cmdline, needle) != NULL;
}

pid_t state_orphan(const char *dir, const char *name)
{
	struct json_object *o = read_state(dir), *v;
	pid_t pid = 0;

	if (o && json_object_object_get_ex(o, VM_KEY_QEMU_PID, &v))
		pid = json_object_get_int(v);
	json_object_put(o);
	if (pid <= 0 || kill(pid, 0) < 0)
		return 0;
	return is_qemu_of(pid, name) ? pid : 0;
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

int state_orphan_error(const char *name, pid_t pid, struct verr *err)
{
	return verr_set(err, 0, "VM '%s' has no supervisor (its QEMU, pid %d, still runs): 'vmm attach %s' "
			"reconnects to it", name, pid, name);
}
