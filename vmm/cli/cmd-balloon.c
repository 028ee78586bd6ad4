/* vmm balloon NAME [SIZE] [--wait] [--stats] [--timeout S] [--json]: shows the memory the
 * guest has, or gives it a new target (the supervisor's balloon, vmm/supervisor/balloon.h);
 * --wait follows the guest's BALLOON_CHANGE events until it reaches the target, a progress
 * line on stderr, and gives up when the guest stops moving; --stats adds the memory
 * statistics the guest reports. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/base/util.h"
#include "vmm/cli/cmd.h"
#include "vmm/cli/vmref.h"
#include "vmm/supervisor/protocol.h"

/* Seconds --wait lets the guest stay where it is before giving up, unless --timeout says. */
#define STALL_SECONDS 10

/* A member of o as an integer (-1 when absent). */
static int64_t num(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

/* Bytes for a person: "200M", "1.5G". */
static char *size_text(int64_t bytes)
{
	if (bytes >= 1 << 30 && bytes % (1 << 30) == 0)
		return xasprintf("%" PRId64 "G", bytes >> 30);
	if (bytes >= 1 << 30)
		return xasprintf("%.1fG", (double)bytes / (1 << 30));
	if (bytes % (1 << 20) == 0)
		return xasprintf("%" PRId64 "M", bytes >> 20);
	return xasprintf("%.1fM", (double)bytes / (1 << 20));
}

/* One line: what the guest has, of how much, toward which target. */
static char *balloon_line(struct json_object *r)
{
	_cleanup_free_ char *actual = size_text(num(r, BALLOON_KEY_ACTUAL)), *memory = size_text(num(r, BALLOON_KEY_MEMORY));
	_cleanup_free_ char *target = num(r, BALLOON_KEY_TARGET) >= 0 ? size_text(num(r, BALLOON_KEY_TARGET)) : NULL;

	return xasprintf("the guest has %s of %s%s%s%s", actual, memory, target ? " (target " : " (no target set)",
			 target ? target : "", target ? ")" : "");
}

/* Prints the statistics the guest reported (a value it did not report is -1 and left out). */
static void print_stats(struct json_object *r)
{
	static const struct {
		const char *key, *label;
		bool bytes;
	} rows[] = {
		{ "stat-total-memory", "total", true },         { "stat-free-memory", "free", true },
		{ "stat-available-memory", "available", true }, { "stat-disk-caches", "disk caches", true },
		{ "stat-major-faults", "major faults", false }, { "stat-minor-faults", "minor faults", false },
		{ "stat-swap-in", "swapped in", true },         { "stat-swap-out", "swapped out", true },
	};
	struct json_object *all, *stats;
	int64_t updated;

	if (!json_object_object_get_ex(r, BALLOON_KEY_STATS, &all) || !json_object_object_get_ex(all, "stats", &stats))
		return;
	updated = num(all, "last-update");
	if (updated <= 0) {
		printf("stats:        none yet (the guest's balloon driver has not reported)\n");
		return;
	}
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int64_t v = num(stats, rows[i].key);
		_cleanup_free_ char *text = rows[i].bytes && v >= 0 ? size_text(v) : xasprintf("%" PRId64, v);
		if (v >= 0)
			printf("%-13s %s\n", rows[i].label, text);
	}
	printf("%-13s %" PRId64 " s ago\n", "reported", (int64_t)time(NULL) - updated);
}

/* Sends one balloon request (args consumed). */
static int ask(const char *name, struct json_object *args, struct json_object **r, struct verr *err)
{
	return vm_request(name, CTL_REQ_BALLOON, args, 3 * CTL_QMP_TIMEOUT_MS + CTL_BALLOON_WAIT_MS, r, err);
}

/* Follows the guest's balloon from answer *r until it has the target, a progress line on
 * stderr, or until it has not moved for stall seconds. Returns 0 or -1 with err; *r is the
 * last answer either way. */
static int follow(const char *name, unsigned stall, struct json_object **r, struct verr *err)
{
	int64_t last = -1, moved = now_ms();
	bool tty = isatty(STDERR_FILENO);

	while (num(*r, BALLOON_KEY_ACTUAL) != num(*r, BALLOON_KEY_TARGET)) {
		struct json_object *args, *next;

		if (num(*r, BALLOON_KEY_ACTUAL) != last) {
			_cleanup_free_ char *line = balloon_line(*r);
			fprintf(stderr, tty ? "\rvmm: %s: %s\033[K" : "vmm: %s: %s\n", name, line);
			last = num(*r, BALLOON_KEY_ACTUAL);
			moved = now_ms();
		}
		if (now_ms() - moved > (int64_t)stall * 1000) {
			if (tty)
				fputc('\n', stderr);
			return verr_set(err, 0, "VM '%s': the guest stopped short of its target: it has not moved for %u s "
					"(does it need the memory, or has it no balloon driver?)", name, stall);
		}
		args = json_object_new_object();
		json_object_object_add(args, CTL_ARG_WAIT, json_object_new_int64(num(*r, BALLOON_KEY_CHANGES)));
		if (ask(name, args, &next, err) < 0)
			return -1;
		json_object_put(*r);
		*r = next;
	}
	if (tty)
		fprintf(stderr, "\r\033[K");
	return 0;
}

/* The verb's handler. */
static int cmd_balloon(const struct cmd_args *args, struct verr *err)
{
	const char *name = args->argv[0], *t = args_get(args, "timeout");
	struct json_object *req, *r;
	unsigned stall = STALL_SECONDS;
	uint64_t target;

	if (args->argc > 1 && parse_size(args->argv[1], &target) < 0)
		return verr_set(err, 0, "'%s' is not a size (expected one like 512M or 2G)", args->argv[1]);
	if ((args_has(args, "wait") && args->argc < 2) || (t && !args_has(args, "wait")))
		return cmd_usage_error(args->entry, err);
	if (args_uint(args, "timeout", "seconds", 1, 3600, &stall, err) < 0)
		return -1;
	req = json_object_new_object();
	if (args->argc > 1)
		json_object_object_add(req, CTL_ARG_TARGET, json_object_new_int64((int64_t)target));
	if (ask(name, req, &r, err) < 0)
		return -1;
	if (args_has(args, "wait") && follow(name, stall, &r, err) < 0) {
		json_object_put(r);
		return -1;
	}
	if (args_has(args, "stats")) {
		json_object_put(r);
		req = json_object_new_object();
		json_object_object_add(req, CTL_ARG_STATS, json_object_new_boolean(true));
		if (ask(name, req, &r, err) < 0)
			return -1;
	}
	if (args->json)
		cmd_print_json(r, JSON_PRETTY);
	else {
		_cleanup_free_ char *line = balloon_line(r);
		printf("%s\n", line);
		print_stats(r);
	}
	json_object_put(r);
	return 0;
}

const struct cmd_entry cmd_balloon_entry = {
	.name = "balloon",
	.usage = "NAME [SIZE] [--wait [--timeout S]] [--stats] [--json]",
	.help = "show the guest's memory, or set its balloon's target (--wait: until the guest reaches it)",
	.args = { .options = "wait,stats,timeout:", .lower = 1, .upper = 2 },
	.flags = CMD_JSON,
	.exec = cmd_balloon,
};
