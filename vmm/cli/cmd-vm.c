/* The verbs that ask a VM's supervisor to do one thing: status, stop, kill, pause,
 * resume, reset. Each is a request on the VM's control socket. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cli/cmd.h"
#include "vmm/base/util.h"
#include "vmm/cli/vmref.h"
#include "vmm/supervisor/protocol.h"

/* Milliseconds a status may take; stop and kill wait as long as the VM needs. */
#define STATUS_TIMEOUT_MS 5000
#define COMMAND_TIMEOUT_MS 10000

/* Prints one JSON value on stdout. */
static void print_json(struct json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
}

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

/* Parses "NAME [--json] [--timeout S]" for the verb entry. */
static int parse(const struct cmd_entry *entry, int argc, char **argv, bool *json, int *timeout,
		 struct verr *err)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "timeout", required_argument, NULL, 't' }, { 0 } };
	char *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j')
			*json = true;
		else if (c == 't' && timeout) {
			long t = strtol(optarg, &end, 10);
			if (*end || end == optarg || t < 0 || t > 3600)
				return verr_set(err, 0, "--timeout: expected seconds from 0 to 3600, not '%s'", optarg);
			*timeout = (int)t;
		} else
			return cmd_usage_error(entry, err);
	}
	return optind == argc - 1 ? 0 : cmd_usage_error(entry, err);
}

/* vmm status NAME. */
static int cmd_status(int argc, char **argv, struct verr *err)
{
	struct json_object *st;
	bool json = false;

	if (parse(&cmd_status_entry, argc, argv, &json, NULL, err) < 0 ||
	    vm_request(argv[optind], CTL_REQ_STATUS, NULL, STATUS_TIMEOUT_MS, &st, err) < 0)
		return -1;
	if (json)
		print_json(st);
	else
		print_status(st);
	json_object_put(st);
	return 0;
}

/* vmm stop and vmm kill: wait until the VM has ended and tell how. */
static int end_vm(const struct cmd_entry *entry, int argc, char **argv, struct verr *err)
{
	bool json = false, is_stop = entry == &cmd_stop_entry;
	struct json_object *args = json_object_new_object(), *r;
	int timeout = -1, code;

	if (parse(entry, argc, argv, &json, is_stop ? &timeout : NULL, err) < 0) {
		json_object_put(args);
		return -1;
	}
	if (timeout >= 0)
		json_object_object_add(args, CTL_ARG_TIMEOUT, json_object_new_int(timeout));
	if (vm_request(argv[optind], is_stop ? CTL_REQ_STOP : CTL_REQ_KILL, args, 0, &r, err) < 0)
		return -1;
	if (json)
		print_json(r);
	else
		fprintf(stderr, "vmm: %s: %s\n", argv[optind], str(r, CTL_END_MESSAGE));
	code = (int)num(r, CTL_END_CODE);
	json_object_put(r);
	/* stop tells how the guest ended (0 powered off, 3 forced); kill succeeded once it is gone. */
	return is_stop ? code : 0;
}

/* vmm stop NAME. */
static int cmd_stop(int argc, char **argv, struct verr *err)
{
	return end_vm(&cmd_stop_entry, argc, argv, err);
}

/* vmm kill NAME. */
static int cmd_kill(int argc, char **argv, struct verr *err)
{
	return end_vm(&cmd_kill_entry, argc, argv, err);
}

/* pause, resume, reset: one request, silent on success. */
static int simple(const struct cmd_entry *entry, const char *request, int argc, char **argv, struct verr *err)
{
	struct json_object *r;
	bool json = false;

	if (parse(entry, argc, argv, &json, NULL, err) < 0 ||
	    vm_request(argv[optind], request, NULL, COMMAND_TIMEOUT_MS, &r, err) < 0)
		return -1;
	if (json)
		print_json(r);
	json_object_put(r);
	return 0;
}

/* vmm pause NAME. */
static int cmd_pause(int argc, char **argv, struct verr *err)
{
	return simple(&cmd_pause_entry, CTL_REQ_PAUSE, argc, argv, err);
}

/* vmm resume NAME. */
static int cmd_resume(int argc, char **argv, struct verr *err)
{
	return simple(&cmd_resume_entry, CTL_REQ_RESUME, argc, argv, err);
}

/* vmm reset NAME. */
static int cmd_reset(int argc, char **argv, struct verr *err)
{
	return simple(&cmd_reset_entry, CTL_REQ_RESET, argc, argv, err);
}

const struct cmd_entry cmd_status_entry = { .name = "status", .usage = "NAME [--json]",
					    .help = "show a VM's state, pids and uptime", .exec = cmd_status };
const struct cmd_entry cmd_stop_entry = { .name = "stop", .usage = "NAME [--timeout S] [--json]",
					  .help = "power the guest off (then quit, then kill)", .exec = cmd_stop };
const struct cmd_entry cmd_kill_entry = { .name = "kill", .usage = "NAME [--json]",
					  .help = "kill QEMU at once", .exec = cmd_kill };
const struct cmd_entry cmd_pause_entry = { .name = "pause", .usage = "NAME [--json]",
					   .help = "pause the guest's vCPUs", .exec = cmd_pause };
const struct cmd_entry cmd_resume_entry = { .name = "resume", .usage = "NAME [--json]",
					    .help = "resume a paused guest", .exec = cmd_resume };
const struct cmd_entry cmd_reset_entry = { .name = "reset", .usage = "NAME [--json]",
					   .help = "hard-reset the guest", .exec = cmd_reset };
