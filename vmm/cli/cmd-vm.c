/* The verbs that ask a VM's supervisor to do one thing: status, stop, kill, pause,
 * resume, reset. Each is a request on the VM's control socket; status of a VM that has
 * ended shows the record it left (state.h) instead. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/cli/cmd.h"
#include "vmm/base/util.h"
#include "vmm/cli/vmref.h"
#include "vmm/base/rundir.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/state.h"

/* The exit status of `vmm status` for a VM that has ended (its record is shown); 0 is a
 * running VM, 1 a VM vmm knows nothing of (or an error). */
#define STATUS_ENDED 3

/* Milliseconds pause, resume and reset may take (they wait for QEMU); stop and kill wait as
 * long as the VM needs. */
#define COMMAND_TIMEOUT_MS (CTL_QMP_TIMEOUT_MS + VM_ANSWER_TIMEOUT_MS)

/* Reads a member as a string ("" when absent). */
static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

/* Reads a member as an integer (0 when absent). */
static int64_t num(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

/* Prints a status for a person. */
static void print_status(struct json_object *st)
{
	printf("name:       %s\n", str(st, VM_KEY_NAME));
	printf("state:      %s%s%s\n", str(st, VM_KEY_STATE), num(st, VM_KEY_STOPPING) ? " (stopping)" : "",
	       num(st, VM_KEY_RESTARTING) ? " (restarting)" : "");
	if (num(st, VM_KEY_QEMU_PID))
		printf("qemu:       %s pid %" PRId64 " (%s), up %" PRId64 " s\n", str(st, VM_KEY_QEMU_VERSION),
		       num(st, VM_KEY_QEMU_PID), str(st, VM_KEY_ACCEL), num(st, VM_KEY_UPTIME));
	printf("supervisor: pid %" PRId64 ", %" PRId64 " QMP client(s), %" PRId64 " restart(s)\n",
	       num(st, VM_KEY_SUPERVISOR_PID), num(st, VM_KEY_QMP_CLIENTS), num(st, VM_KEY_RESTARTS));
	printf("lifecycle:  restart %s%s\n", str(st, VM_KEY_RESTART), num(st, VM_KEY_PROTECTED) ? ", protected" : "");
	if (*str(st, VM_KEY_LAST_END))
		printf("last end:   %s\n", str(st, VM_KEY_LAST_END_MESSAGE));
	printf("profile:    %s\n", str(st, VM_KEY_PROFILE));
	printf("run dir:    %s\n", str(st, VM_KEY_RUN_DIR));
}

/* Prints a label and a text of one or more lines, the next lines indented under the first. */
static void print_lines(const char *label, const char *text)
{
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");
		printf("%-12s%.*s\n", p == text ? label : "", (int)n, p);
		p += n + (p[n] == '\n');
	}
}

/* Prints an array of lines (console or QEMU output) under a heading, when there are any. */
static void print_tail(const char *heading, struct json_object *r, const char *key)
{
	struct json_object *a;
	size_t n = json_object_object_get_ex(r, key, &a) ? json_object_array_length(a) : 0;

	if (n)
		printf("%s\n", heading);
	for (size_t i = 0; i < n; i++)
		printf("  | %s\n", json_object_get_string(json_object_array_get_idx(a, i)));
}

/* Prints the record of how a VM ended for a person. */
static void print_ended(struct json_object *r)
{
	time_t ended = (time_t)num(r, VM_KEY_ENDED);
	struct json_object *v;
	char when[32];
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&ended, &tm));
	printf("name:       %s\n", str(r, VM_KEY_NAME));
	printf("state:      ended (%s) at %s, %" PRId64 " s ago\n", str(r, VM_KEY_LAST_END), when,
	       (int64_t)(time(NULL) - ended));
	print_lines("how:", str(r, VM_KEY_LAST_END_MESSAGE));
	if (num(r, VM_KEY_QEMU_PID))
		printf("qemu:       %s%spid %" PRId64 " (%s), ran %" PRId64 " s\n", str(r, VM_KEY_QEMU_VERSION),
		       *str(r, VM_KEY_QEMU_VERSION) ? " " : "", num(r, VM_KEY_QEMU_PID), str(r, VM_KEY_ACCEL),
		       (int64_t)ended - num(r, VM_KEY_STARTED));
	if (json_object_object_get_ex(r, VM_KEY_SIGNAL, &v))
		printf("exit:       killed by signal %d (SIG%s)\n", json_object_get_int(v),
		       sigabbrev_np(json_object_get_int(v)) ? sigabbrev_np(json_object_get_int(v)) : "?");
	else if (json_object_object_get_ex(r, VM_KEY_EXIT_CODE, &v))
		printf("exit:       status %d\n", json_object_get_int(v));
	printf("restarts:   %" PRId64 "\n", num(r, VM_KEY_RESTARTS));
	print_tail("console (last lines):", r, VM_KEY_CONSOLE);
	print_tail("qemu output (last lines):", r, VM_KEY_QEMU_OUTPUT);
	printf("profile:    %s\n", str(r, VM_KEY_PROFILE));
	printf("run dir:    %s\n", str(r, VM_KEY_RUN_DIR));
}

/* The record of how VM name ended, when it has ended (nothing of it runs); NULL otherwise. */
static struct json_object *ended_record(const char *name)
{
	_cleanup_verr_ struct verr err = { 0 };
	_cleanup_free_ char *dir = rundir_path(name, &err);

	return dir ? state_ended(dir, name) : NULL;
}

/* Adds stop's --timeout S (the seconds the guest gets to power off) to the request's args. */
static int add_timeout(const struct cmd_args *args, struct json_object *req, struct verr *err)
{
	unsigned t;

	if (args_uint(args, "timeout", "seconds", 0, 3600, &t, err) < 0)
		return -1;
	json_object_object_add(req, CTL_ARG_TIMEOUT, json_object_new_int((int)t));
	return 0;
}

/* vmm status NAME: from its supervisor, else the record of how it ended (exit STATUS_ENDED). */
static int cmd_status(const struct cmd_args *args, struct verr *err)
{
	struct json_object *st;
	int r = vm_status(args->argv[0], VM_ANSWER_TIMEOUT_MS, &st, err);

	if (r == -ESRCH && (st = ended_record(args->argv[0]))) {
		verr_clear(err);
		r = STATUS_ENDED;
	} else if (r < 0)
		return -1;
	if (args->json)
		cmd_print_json(st, JSON_PRETTY);
	else if (r == STATUS_ENDED)
		print_ended(st);
	else
		print_status(st);
	json_object_put(st);
	return r;
}

/* vmm stop and vmm kill: wait until the VM has ended and tell how. */
static int end_vm(const struct cmd_args *args, struct verr *err)
{
	bool is_stop = args->entry == &cmd_stop_entry;
	struct json_object *req = json_object_new_object(), *r;
	const char *name = args->argv[0];
	int code;

	/* The reply may take as long as the VM needs: first make sure the supervisor answers at all. */
	if ((is_stop && args_has(args, "timeout") && add_timeout(args, req, err) < 0) ||
	    vm_request(name, CTL_REQ_STATUS, NULL, VM_ANSWER_TIMEOUT_MS, &r, err) < 0) {
		json_object_put(req);
		return -1;
	}
	json_object_put(r);
	if (vm_request(name, is_stop ? CTL_REQ_STOP : CTL_REQ_KILL, req, 0, &r, err) < 0)
		return -1;
	if (args->json)
		cmd_print_json(r, JSON_PRETTY);
	else
		fprintf(stderr, "vmm: %s: %s\n", name, str(r, CTL_END_MESSAGE));
	code = (int)num(r, CTL_END_CODE);
	json_object_put(r);
	/* stop tells how the guest ended (0 powered off, 3 forced); kill succeeded once it is gone. */
	return is_stop ? code : 0;
}

/* pause, resume, reset: one request, silent on success. */
static int simple(const struct cmd_args *args, const char *request, struct verr *err)
{
	struct json_object *r;

	if (vm_request(args->argv[0], request, NULL, COMMAND_TIMEOUT_MS, &r, err) < 0)
		return -1;
	if (args->json)
		cmd_print_json(r, JSON_PRETTY);
	json_object_put(r);
	return 0;
}

/* vmm pause NAME. */
static int cmd_pause(const struct cmd_args *args, struct verr *err)
{
	return simple(args, CTL_REQ_PAUSE, err);
}

/* vmm resume NAME. */
static int cmd_resume(const struct cmd_args *args, struct verr *err)
{
	return simple(args, CTL_REQ_RESUME, err);
}

/* vmm reset NAME. */
static int cmd_reset(const struct cmd_args *args, struct verr *err)
{
	return simple(args, CTL_REQ_RESET, err);
}

const struct cmd_entry cmd_status_entry = { .name = "status", .usage = "NAME [--json]",
					    .help = "show a VM's state, pids and uptime, or how it ended", .args = { .lower = 1, .upper = 1 },
					    .flags = CMD_JSON, .exec = cmd_status };
const struct cmd_entry cmd_stop_entry = { .name = "stop", .usage = "NAME [--timeout S] [--json]",
					  .help = "power the guest off (then quit, then kill)",
					  .args = { .options = "timeout:", .lower = 1, .upper = 1 }, .flags = CMD_JSON, .exec = end_vm };
const struct cmd_entry cmd_kill_entry = { .name = "kill", .usage = "NAME [--json]", .help = "kill QEMU at once",
					  .args = { .lower = 1, .upper = 1 }, .flags = CMD_JSON, .exec = end_vm };
const struct cmd_entry cmd_pause_entry = { .name = "pause", .usage = "NAME [--json]",
					   .help = "pause the guest's vCPUs", .args = { .lower = 1, .upper = 1 },
					   .flags = CMD_JSON, .exec = cmd_pause };
const struct cmd_entry cmd_resume_entry = { .name = "resume", .usage = "NAME [--json]",
					    .help = "resume a paused guest", .args = { .lower = 1, .upper = 1 },
					    .flags = CMD_JSON, .exec = cmd_resume };
const struct cmd_entry cmd_reset_entry = { .name = "reset", .usage = "NAME [--json]",
					   .help = "hard-reset the guest", .args = { .lower = 1, .upper = 1 },
					   .flags = CMD_JSON, .exec = cmd_reset };
