#include "vmm/supervisor/state.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/base/strict.h"
#include "vmm/base/util.h"
#include "vmm/supervisor/notify.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/qemuproc.h"
#include "vmm/supervisor/upgrade-leftover.h"

/* The state file's name in the run directory, and the record's of an ended VM. */
#define STATE_FILE "state.json"
#define ENDED_FILE "ended.json"

void state_init(struct vm_state *st, const struct plan *p, struct rundir *rd)
{
	*st = (struct vm_state){ .plan = p, .name = p->config.name, .rd = rd, .end = -1, .wstatus = -1 };
}

/* Puts a line (n bytes, made safe to show) in the ring, unless it is empty. */
static void lines_put(struct last_lines *l, const char *text, size_t n)
{
	char *clean = text_clean(text, n), **slot = &l->line[l->n % STATE_OUTPUT_LINES];

	if (!*clean) {
		free(clean);
		return;
	}
	free(*slot);
	*slot = clean;
	l->n++;
}

/* The lines of the ring, oldest first, as a JSON array. */
static struct json_object *lines_json(const struct last_lines *l)
{
	struct json_object *a = json_object_new_array();

	for (unsigned i = l->n > STATE_OUTPUT_LINES ? l->n - STATE_OUTPUT_LINES : 0; i < l->n; i++)
		json_object_array_add(a, json_object_new_string(l->line[i % STATE_OUTPUT_LINES]));
	return a;
}

/* Empties the ring. */
static void lines_clear(struct last_lines *l)
{
	for (size_t i = 0; i < STATE_OUTPUT_LINES; i++)
		free(l->line[i]);
	*l = (struct last_lines){ 0 };
}

void state_free(struct vm_state *st)
{
	free(st->end_text);
	st->end_text = NULL;
	lines_clear(&st->output);
}

void state_new_qemu(struct vm_state *st, pid_t pid)
{
	st->pid = pid;
	st->started = time(NULL);
	st->wstatus = -1;
	lines_clear(&st->output);
}

void state_output_line(struct vm_state *st, const char *line)
{
	lines_put(&st->output, line, strlen(line));
}

void state_output_lines(const struct vm_state *st, struct verr *out)
{
	const struct last_lines *l = &st->output;

	for (unsigned i = l->n > STATE_OUTPUT_LINES ? l->n - STATE_OUTPUT_LINES : 0; i < l->n; i++)
		verr_set(out, 0, "%s", l->line[i % STATE_OUTPUT_LINES]);
}

void say(const struct vm_state *st, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vmm: %s: %s\n", st->name, line);
	notify_send("STATUS=%s", line);
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
	case VM_MIGRATED:
		return "migrated";
	case VM_SAVED:
		return "saved";
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
	else
		rundir_unlink(st->rd, ENDED_FILE);
	return r;
}

/* The last STATE_OUTPUT_LINES non-empty lines of the console log, as a JSON array. */
static struct json_object *console_tail(const struct vm_state *st)
{
	_cleanup_close_ int fd = rundir_open_file(st->rd, "console.log", O_RDONLY, 0);
	struct last_lines tail = { 0 };
	struct json_object *a;
	char buf[8192], *p = buf, *end = buf, *nl;
	off_t size = fd < 0 ? 0 : lseek(fd, 0, SEEK_END), from = size > (off_t)sizeof(buf) ? size - (off_t)sizeof(buf) : 0;
	ssize_t got = size > 0 ? pread(fd, buf, sizeof(buf), from) : 0;

	if (got > 0)
		end += got;
	/* What was read may start in the middle of a line: that part is left out. */
	if (from > 0 && (nl = memchr(buf, '\n', (size_t)(end - buf))))
		p = nl + 1;
	for (; p < end; p = nl + 1) {
		if (!(nl = memchr(p, '\n', (size_t)(end - p))))
			nl = end;
		lines_put(&tail, p, (size_t)(nl - p));
	}
	a = lines_json(&tail);
	lines_clear(&tail);
	return a;
}

void state_save_end(const struct vm_state *st)
{
	struct json_object *o = facts(st);
	_cleanup_verr_ struct verr err = { 0 };

	json_object_object_del(o, VM_KEY_SUPERVISOR_PID);
	json_object_object_add(o, VM_KEY_STATE, json_object_new_string(VM_STATE_ENDED));
	json_object_object_add(o, VM_KEY_LAST_END, json_object_new_string(vm_end_name(st->end)));
	json_object_object_add(o, VM_KEY_LAST_END_MESSAGE, json_object_new_string(st->end_text ? st->end_text : ""));
	json_object_object_add(o, VM_KEY_ENDED, json_object_new_int64(time(NULL)));
	json_object_object_add(o, VM_KEY_RESTARTS, json_object_new_int(st->restarts));
	if (st->wstatus >= 0 && WIFEXITED(st->wstatus))
		json_object_object_add(o, VM_KEY_EXIT_CODE, json_object_new_int(WEXITSTATUS(st->wstatus)));
	if (st->wstatus >= 0 && WIFSIGNALED(st->wstatus))
		json_object_object_add(o, VM_KEY_SIGNAL, json_object_new_int(WTERMSIG(st->wstatus)));
	json_object_object_add(o, VM_KEY_CONSOLE, console_tail(st));
	json_object_object_add(o, VM_KEY_QEMU_OUTPUT, lines_json(&st->output));
	if (rundir_write(st->rd, ENDED_FILE, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY), false,
			 &err) < 0)
		say_err(st, &err);
	json_object_put(o);
}

/* Reads the JSON file NAME of run directory dir (never through a symbolic link); NULL when
 * there is none (or it is not JSON). */
static struct json_object *read_json(const char *dir, const char *file)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? NULL : json_object_from_fd(fd);
}

/* Reads the state file of run directory dir; NULL when there is none. */
static struct json_object *read_state(const char *dir)
{
	return read_json(dir, STATE_FILE);
}

struct json_object *state_ended(const char *dir, const char *name)
{
	pid_t pid;

	return state_find_qemu(dir, name, &pid) == QEMU_NONE ? read_json(dir, ENDED_FILE) : NULL;
}

/* The pid of the QEMU that the state file in run directory dir names, when it still runs
 * as VM name's QEMU, else 0. */
static pid_t state_orphan(const char *dir, const char *name)
{
	struct json_object *o = read_state(dir);
	int64_t pid = 0;

	if (o && !json_int_member(o, VM_KEY_QEMU_PID, 1, INT32_MAX, &pid))
		pid = 0;
	json_object_put(o);
	return pid > 0 && qemuproc_is((pid_t)pid, dir, name) ? (pid_t)pid : 0;
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
	upgrade_leftover_clear(rd); /* a new QEMU left by an upgrade whose supervisor died is none of the VM's */
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
	struct json_object *o = read_state(dir);
	int64_t n;
	time_t started = json_int_member(o, VM_KEY_STARTED, 0, INT64_MAX, &n) ? (time_t)n : time(NULL);

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
