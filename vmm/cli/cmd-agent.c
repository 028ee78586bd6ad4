/* vmm agent NAME ping|info|osinfo|exec CMD...|fsfreeze|fsthaw|time|shutdown, and
 * vmm agent NAME --raw JSON: commands run by the guest agent in the VM, through its
 * supervisor (vmm/supervisor/agent.h). Without --json each prints its answer for a person;
 * exec passes the command's output and exit status through. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/base/util.h"
#include "vmm/cli/cmd.h"
#include "vmm/cli/guest.h"

/* Seconds fsfreeze may take (the agent syncs every filesystem first). */
#define FREEZE_SECONDS 60
/* Seconds exec waits for the command to end unless --timeout says otherwise. */
#define EXEC_SECONDS 60
/* Milliseconds between two asks whether an exec'd command has ended. */
#define EXEC_POLL_MS 100

/* A member of o as a string ("" when absent), cleaned for a terminal: it comes from the guest. */
static char *member(struct json_object *o, const char *key)
{
	struct json_object *v;
	const char *s = json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";

	return text_clean(s, strlen(s));
}

/* Reads --timeout S (1 to 3600) into *seconds, which keeps its value when the option is absent. */
static int timeout_option(const struct cmd_args *args, unsigned *seconds, struct verr *err)
{
	return args_uint(args, "timeout", "seconds", 1, 3600, seconds, err);
}

/* Prints guest-info: the agent's version and the commands it has, enabled and not. */
static void print_info(struct json_object *r)
{
	_cleanup_free_ char *version = member(r, "version");
	struct json_object *list, *name, *enabled;

	printf("version   %s\n", version);
	if (!json_object_object_get_ex(r, "supported_commands", &list) || !json_object_is_type(list, json_type_array))
		return;
	for (int pass = 1; pass >= 0; pass--) {
		printf("%s", pass ? "enabled  " : "disabled ");
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			struct json_object *c = json_object_array_get_idx(list, i);
			if (json_object_object_get_ex(c, "name", &name) && json_object_object_get_ex(c, "enabled", &enabled) &&
			    json_object_get_boolean(enabled) == pass) {
				_cleanup_free_ char *n = member(c, "name");
				printf(" %s", n);
			}
		}
		printf("\n");
	}
}

/* Prints guest-get-osinfo, a line per field the agent gave. */
static void print_osinfo(struct json_object *r)
{
	static const char *const keys[] = { "pretty-name", "name", "id", "version", "version-id", "kernel-release",
					    "kernel-version", "machine", NULL };

	for (size_t i = 0; keys[i]; i++) {
		_cleanup_free_ char *v = member(r, keys[i]);
		if (*v)
			printf("%-15s %s\n", keys[i], v);
	}
}

/* Prints guest-get-time: the guest's clock, and how far it is from the host's. */
static void print_time(struct json_object *r)
{
	int64_t ns = json_object_get_int64(r);
	time_t sec = (time_t)(ns / 1000000000);
	struct timespec now;
	double ahead;
	struct tm tm;
	char when[32];

	clock_gettime(CLOCK_REALTIME, &now);
	ahead = (double)(sec - now.tv_sec) + (double)(ns % 1000000000 - now.tv_nsec) / 1e9;
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime_r(&sec, &tm));
	printf("%s.%03d UTC (%.3f s %s the host's clock)\n", when, (int)(ns / 1000000 % 1000),
	       ahead < 0 ? -ahead : ahead, ahead < 0 ? "behind" : "ahead of");
}

/* Writes a base64 member of an exec status (out-data, err-data) to fd as the command wrote it. */
static void write_output(struct json_object *st, const char *key, int fd)
{
	struct json_object *v;
	_cleanup_free_ char *bytes = NULL;
	size_t n;

	if (json_object_object_get_ex(st, key, &v) && base64_decode(json_object_get_string(v), &bytes, &n) == 0)
		(void)write_all(fd, bytes, n);
}

/* The exit status of vmm for an ended command: its own, or 128 + the signal that killed it;
 * -1 with err when the agent's answer says neither in integers. */
static int exec_status(const char *name, struct json_object *st, struct verr *err)
{
	struct json_object *v;
	int code = guest_exec_code(st);

	if (json_object_object_get_ex(st, "out-truncated", &v) && json_object_get_boolean(v))
		fprintf(stderr, "vmm: %s: the guest agent cut the command's output short\n", name);
	if (code < 0)
		return verr_set(err, 0, "VM '%s': the guest agent's guest-exec-status returned an exit code or signal "
				"that is no integer", name);
	if (json_object_object_get_ex(st, "signal", &v))
		fprintf(stderr, "vmm: %s: the command was killed by signal %d\n", name, code - 128);
	return code;
}

/* exec CMD ARGS...: runs it in the guest (guest-exec, output captured), waits for it to end
 * (guest-exec-status) and passes on its output and exit status. */
static int agent_exec(const struct cmd_args *args, struct verr *err)
{
	const char *name = args->argv[0];
	struct json_object *a = json_object_new_object(), *argv = json_object_new_array(), *r, *pid, *done;
	unsigned seconds = EXEC_SECONDS;
	int64_t deadline;
	int code;

	if (args->argc < 3) {
		json_object_put(a);
		json_object_put(argv);
		return verr_set(err, 0, "usage: vmm agent NAME exec COMMAND [ARG...]");
	}
	for (int i = 3; i < args->argc; i++)
		json_object_array_add(argv, json_object_new_string(args->argv[i]));
	json_object_object_add(a, "path", json_object_new_string(args->argv[2]));
	json_object_object_add(a, "arg", argv);
	json_object_object_add(a, "capture-output", json_object_new_boolean(true));
	if (timeout_option(args, &seconds, err) < 0 || guest_agent(name, "guest-exec", a, GUEST_AGENT_SECONDS, &r, err) < 0)
		return -1;
	if (!json_object_object_get_ex(r, "pid", &pid)) {
		json_object_put(r);
		return verr_set(err, 0, "VM '%s': the guest agent's guest-exec returned no pid", name);
	}
	pid = json_object_get(pid);
	json_object_put(steal_ptr(r));
	deadline = now_ms() + seconds * 1000;
	for (;;) {
		struct json_object *st = json_object_new_object();
		json_object_object_add(st, "pid", json_object_get(pid));
		if (guest_agent(name, "guest-exec-status", st, GUEST_AGENT_SECONDS, &r, err) < 0) {
			/* Said, so that a script does not run it again. */
			verr_wrap(err, "the command was started in the guest (pid %s); whether it ended is unknown",
				  json_object_get_string(pid));
			break;
		}
		if (json_object_object_get_ex(r, "exited", &done) && json_object_get_boolean(done))
			break;
		json_object_put(steal_ptr(r));
		if (now_ms() >= deadline) {
			verr_set(err, 0, "VM '%s': the command (pid %s in the guest) did not end within %u s; it runs on",
				 name, json_object_get_string(pid), seconds);
			break;
		}
		usleep(EXEC_POLL_MS * 1000);
	}
	json_object_put(pid);
	if (!r)
		return -1;
	if (args->json)
		cmd_print_json(r, JSON_PRETTY);
	else {
		fflush(stdout);
		write_output(r, "out-data", STDOUT_FILENO);
		write_output(r, "err-data", STDERR_FILENO);
	}
	code = exec_status(name, r, err);
	json_object_put(r);
	return code;
}

/* --raw JSON: one command as given ({"execute": NAME, "arguments": {...}}); prints what it returned. */
static int agent_raw(const struct cmd_args *args, struct verr *err)
{
	const char *text = args_get(args, "raw");
	struct json_object *cmd = json_tokener_parse(text), *name, *arguments = NULL, *r;
	unsigned seconds = GUEST_AGENT_SECONDS;

	if (args->argc != 1 || !json_object_object_get_ex(cmd, "execute", &name) ||
	    !json_object_is_type(name, json_type_string) ||
	    (json_object_object_get_ex(cmd, "arguments", &arguments) && !json_object_is_type(arguments, json_type_object)) ||
	    json_object_object_length(cmd) != 1 + (arguments != NULL)) {
		json_object_put(cmd);
		return verr_set(err, 0, "--raw: expected one JSON object {\"execute\": COMMAND, \"arguments\": {...}} "
				"and nothing after it, not '%s'", text);
	}
	if (timeout_option(args, &seconds, err) < 0 ||
	    guest_agent(args->argv[0], json_object_get_string(name), json_object_get(arguments), seconds, &r, err) < 0) {
		json_object_put(cmd);
		return -1;
	}
	json_object_put(cmd);
	if (r)
		cmd_print_json(r, JSON_PRETTY);
	else
		puts("null");
	json_object_put(r);
	return 0;
}

/* The subcommands that are one agent command each. */
static const struct {
	const char *name, *execute;
	unsigned seconds;
	void (*print)(struct json_object *r);
	const char *did; /* what the agent did, said when print is NULL ("frozen": that many filesystems) */
} simple[] = {
	{ "ping", "guest-ping", GUEST_AGENT_SECONDS, NULL, "answers" },
	{ "info", "guest-info", GUEST_AGENT_SECONDS, print_info, NULL },
	{ "osinfo", "guest-get-osinfo", GUEST_AGENT_SECONDS, print_osinfo, NULL },
	{ "time", "guest-get-time", GUEST_AGENT_SECONDS, print_time, NULL },
	{ "fsfreeze", "guest-fsfreeze-freeze", FREEZE_SECONDS, NULL, "frozen" },
	{ "fsthaw", "guest-fsfreeze-thaw", FREEZE_SECONDS, NULL, "thawed" },
	{ "shutdown", "guest-shutdown", GUEST_AGENT_SECONDS, NULL, "took guest-shutdown: the guest powers off" },
};

/* The verb's handler. */
static int cmd_agent(const struct cmd_args *args, struct verr *err)
{
	const char *what = args->argc > 1 ? args->argv[1] : NULL;
	struct json_object *r;

	if (args_has(args, "raw"))
		return agent_raw(args, err);
	if (what && !strcmp(what, "exec"))
		return agent_exec(args, err);
	for (size_t i = 0; what && args->argc == 2 && i < sizeof(simple) / sizeof(simple[0]); i++) {
		unsigned seconds = simple[i].seconds;
		if (strcmp(what, simple[i].name))
			continue;
		if (timeout_option(args, &seconds, err) < 0 ||
		    guest_agent(args->argv[0], simple[i].execute, NULL, seconds, &r, err) < 0)
			return -1;
		if (args->json && r)
			cmd_print_json(r, JSON_PRETTY);
		else if (args->json)
			puts("{}");
		else if (simple[i].print)
			simple[i].print(r);
		else if (json_object_is_type(r, json_type_int))
			printf("%" PRId64 " filesystem%s %s\n", json_object_get_int64(r),
			       json_object_get_int64(r) == 1 ? "" : "s", simple[i].did);
		else
			printf("the guest agent of VM '%s' %s\n", args->argv[0], simple[i].did);
		json_object_put(r);
		return 0;
	}
	return cmd_usage_error(args->entry, err);
}

const struct cmd_entry cmd_agent_entry = {
	.name = "agent",
	.usage = "NAME [--timeout S] [--json] ping|info|osinfo|time|fsfreeze|fsthaw|shutdown|exec CMD [ARG...], "
		 "or NAME --raw JSON",
	.help = "ask the guest agent in the VM (exec: run a command there, with its output and exit status)",
	/* exec's command takes every word after it, options included */
	.args = { .options = "raw:,timeout:", .lower = 1, .upper = -1, .options_until = 3 },
	.flags = CMD_JSON,
	.exec = cmd_agent,
};
