/* vmm qmp NAME COMMAND [key=value ...] and vmm events NAME: scripted QMP through the
 * VM's proxy (qmp.sock), JSON out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp/qmp-sync.h"
#include "vmm/cli/cmd.h"
#include "profiles/resolve.h"
#include "vmm/base/strict.h"
#include "vmm/base/util.h"
#include "vmm/cli/vmref.h"

/* Parses "--timeout S" into milliseconds. */
static int parse_timeout(const char *s, unsigned *ms, struct verr *err)
{
	uint64_t t;

	if (parse_seconds_ms(s, 1, 86400 * 1000, &t) < 0)
		return verr_set(err, 0, "--timeout: expected seconds (more than 0, at most 86400, such as 5 or 0.5), "
				"not '%s'", s);
	*ms = (unsigned)t;
	return 0;
}

/* Builds {"execute": COMMAND, "arguments": {key: value...}} from the command line. */
static struct json_object *command_from_args(char **words, int n, struct verr *err)
{
	struct json_object *cmd = json_object_new_object(), *args = json_object_new_object();

	json_object_object_add(cmd, "execute", json_object_new_string(words[0]));
	for (int i = 1; i < n; i++) {
		char *eq = strchr(words[i], '=');
		_cleanup_free_ char *key = NULL;
		if (!eq || eq == words[i]) {
			json_object_put(cmd);
			json_object_put(args);
			verr_set(err, 0, "argument '%s': expected key=value", words[i]);
			return NULL;
		}
		key = strndup(words[i], (size_t)(eq - words[i]));
		json_object_object_add(args, key, json_from_word(eq + 1));
	}
	json_object_object_add(cmd, "arguments", args);
	return cmd;
}

/* Parses --raw's text into a command object. */
static struct json_object *command_from_raw(const char *text, struct verr *err)
{
	struct json_object *cmd = json_tokener_parse(text);

	if (!json_object_is_type(cmd, json_type_object)) {
		json_object_put(cmd);
		verr_set(err, 0, "--raw: expected a JSON object such as '{\"execute\": \"query-status\"}'");
		return NULL;
	}
	return cmd;
}

/* Sends the command and prints its return; a QMP error becomes err. */
static int call(const char *name, struct json_object *cmd, unsigned timeout, struct verr *err)
{
	struct json_object *ret;

	if (vm_qmp_call(name, cmd, timeout, &ret, err) < 0)
		return -1;
	cmd_print_json(ret, JSON_PRETTY);
	json_object_put(ret);
	return 0;
}

/* vmm qmp's handler. */
static int cmd_qmp(const struct cmd_args *args, struct verr *err)
{
	const char *raw = args_get(args, "raw"), *t = args_get(args, "timeout");
	unsigned timeout = 30000;
	struct json_object *cmd;
	int rest = args->argc - 1;

	if (t && parse_timeout(t, &timeout, err) < 0)
		return -1;
	if (raw ? rest != 0 : rest < 1)
		return cmd_usage_error(&cmd_qmp_entry, err);
	cmd = raw ? command_from_raw(raw, err) : command_from_args(args->argv + 1, rest, err);
	return cmd ? call(args->argv[0], cmd, timeout, err) : -1;
}

/* True when an event has the name wanted and every --match key=value of its data. */
static bool matches(struct json_object *ev, const char *want, const struct strv *match)
{
	struct json_object *v, *data = NULL;

	if (!want)
		return true;
	if (!json_object_object_get_ex(ev, "event", &v) || strcmp(json_object_get_string(v), want))
		return false;
	json_object_object_get_ex(ev, "data", &data);
	for (size_t i = 0; i < match->n; i++) {
		char *eq = strchr(match->v[i], '=');
		_cleanup_free_ char *key = strndup(match->v[i], (size_t)(eq - match->v[i]));
		if (!json_object_object_get_ex(data, key, &v) || strcmp(json_object_get_string(v), eq + 1))
			return false;
	}
	return true;
}

/* vmm events's handler: a stream of JSON lines, or the one event waited for. */
static int cmd_events(const struct cmd_args *args, struct verr *err)
{
	const char *want = args_get(args, "wait"), *t = args_get(args, "timeout"), *name = args->argv[0];
	const struct strv *match = args_values(args, "match");
	unsigned timeout = 0;
	struct qmp_sync *s;
	int64_t deadline;
	int ret = -1;

	for (size_t i = 0; i < match->n; i++)
		if (!strchr(match->v[i], '=') || match->v[i][0] == '=')
			return cmd_usage_error(&cmd_events_entry, err);
	if (match->n && !want)
		return cmd_usage_error(&cmd_events_entry, err);
	if (t && parse_timeout(t, &timeout, err) < 0)
		return -1;
	s = vm_qmp_open(name, err);
	if (!s)
		return -1;
	deadline = now_ms() + timeout;
	for (;;) {
		int64_t left = deadline - now_ms();
		struct json_object *ev;
		char why[256];
		enum qmp_failure f;

		if (timeout && left <= 0) {
			f = QMP_ERR_TIMEOUT;
		} else
			f = qmp_sync_event(s, timeout ? (unsigned)left : 0, &ev, why, sizeof(why));
		if (f == QMP_ERR_TIMEOUT) {
			ret = want ? verr_set(err, 0, "VM '%s': no %s event within %u ms", name, want, timeout) : 0;
			break;
		}
		if (f != QMP_OK) {
			ret = verr_set(err, 0, "VM '%s': %s", name, why);
			break;
		}
		if (matches(ev, want, match)) {
			cmd_print_json(ev, JSON_LINE);
			if (fflush(stdout) != 0) { /* the reader went away (`vmm events | head -1`) */
				json_object_put(ev);
				ret = 0;
				break;
			}
			if (want) {
				json_object_put(ev);
				ret = 0;
				break;
			}
		}
		json_object_put(ev);
	}
	qmp_sync_close(s);
	return ret;
}

const struct cmd_entry cmd_qmp_entry = {
	.name = "qmp",
	.usage = "NAME [--timeout S] (COMMAND [KEY=VALUE ...] | --raw JSON)",
	.help = "send one QMP command, print its return as JSON",
	/* Options end at COMMAND, so that an argument like "-1" stays an argument. */
	.args = { .options = "raw:,timeout:", .lower = 1, .upper = -1, .options_until = 2 },
	.exec = cmd_qmp,
};

const struct cmd_entry cmd_events_entry = {
	.name = "events",
	.usage = "NAME [--wait EVENT [--match KEY=VALUE ...]] [--timeout S]",
	.help = "print QMP events as JSON lines, or wait for one",
	.args = { .options = "wait:,match:,timeout:", .lower = 1, .upper = 1 },
	.exec = cmd_events,
};
