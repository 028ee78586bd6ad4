/* vmm probe [BINARY [BINARY2]] [--json]: what a QEMU binary can do (probe.h), from its cache
 * when the binary has not changed since it was last probed; with two binaries, both side by
 * side and what moving from the first to the second changes (machines, machines deprecated,
 * device and object types, QMP commands, added and removed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/cli/cmd.h"
#include "vmm/base/host.h"
#include "vmm/launch/probe.h"
#include "vmm/base/util.h"

/* The lists of the probe that an upgrade adds to and removes from: key, and how it is shown. */
static const struct {
	const char *key, *row, *heading;
} compared[] = {
	{ "machines", "machines", "machines" },
	{ "deprecated_machines", "deprecated", "deprecated machines" },
	{ "types", "types", "types" },
	{ "commands", "commands", "commands" },
	{ NULL, NULL, NULL },
};

/* Finds and probes binary (a name on $PATH or a path) into caps; the path it found in *path. */
static int probe_one(const char *binary, char **path, struct qemu_caps *caps, struct verr *err)
{
	*path = find_program(binary, err);
	if (!*path || probe_qemu(*path, caps, err) < 0)
		return -1;
	json_object_object_add(caps->json, "from_cache", json_object_new_boolean(caps->from_cache));
	return 0;
}

/* QEMU's version as "7.2.22". */
static char *version_text(const struct qemu_caps *caps)
{
	struct json_object *v = json_object_object_get(caps->json, "version");

	return xasprintf("%d.%d.%d", json_object_get_int(json_object_object_get(v, "major")),
			 json_object_get_int(json_object_object_get(v, "minor")),
			 json_object_get_int(json_object_object_get(v, "micro")));
}

/* The number of entries of the probe's list key, as text. */
static char *count_text(const struct qemu_caps *caps, const char *key)
{
	return xasprintf("%zu", json_object_array_length(json_object_object_get(caps->json, key)));
}

/* The aio modes, space-separated. */
static char *aio_text(const struct qemu_caps *caps)
{
	struct json_object *aio = json_object_object_get(caps->json, "aio");
	char *s = xstrdup(""), *longer;

	for (size_t i = 0; i < json_object_array_length(aio); i++, s = longer) {
		longer = xasprintf("%s%s%s", s, i ? " " : "", json_object_get_string(json_object_array_get_idx(aio, i)));
		free(s);
	}
	return s;
}

/* Prints what one probe says. */
static void print_one(const char *path, const struct qemu_caps *caps)
{
	_cleanup_free_ char *version = version_text(caps), *aio = aio_text(caps);

	printf("binary:   %s\n", path);
	printf("version:  %s\n", version);
	printf("machines: %zu\n", json_object_array_length(json_object_object_get(caps->json, "machines")));
	printf("types:    %zu\n", json_object_array_length(json_object_object_get(caps->json, "types")));
	printf("commands: %zu\n", json_object_array_length(json_object_object_get(caps->json, "commands")));
	printf("aio:      %s\n", aio);
	printf("sandbox:  %s\n", caps_has_sandbox(caps) ? "yes" : "no");
	printf("probed:   %s\n", caps->from_cache ? "earlier (cached)" : "now");
}

/* True when the string array list holds s. */
static bool holds(struct json_object *list, const char *s)
{
	for (size_t i = 0; i < json_object_array_length(list); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(list, i)), s))
			return true;
	return false;
}

/* Orders two JSON strings as versions sort ("pc-q35-9.2" before "pc-q35-10.0"). */
static int by_version(const void *a, const void *b)
{
	return strverscmp(json_object_get_string(*(struct json_object *const *)a),
			  json_object_get_string(*(struct json_object *const *)b));
}

/* The strings of list from that list against lacks, in version order (a new array). */
static struct json_object *missing_from(struct json_object *from, struct json_object *against)
{
	struct json_object *out = json_object_new_array();

	for (size_t i = 0; i < json_object_array_length(from); i++) {
		struct json_object *s = json_object_array_get_idx(from, i);
		if (!holds(against, json_object_get_string(s)))
			json_object_array_add(out, json_object_get(s));
	}
	json_object_array_sort(out, by_version);
	return out;
}

/* {"added": {"machines": [...], ...}, "removed": {...}}: what moving from probe a to b changes. */
static struct json_object *changes(const struct qemu_caps *a, const struct qemu_caps *b)
{
	struct json_object *out = json_object_new_object(), *added = json_object_new_object();
	struct json_object *removed = json_object_new_object();

	for (size_t i = 0; compared[i].key; i++) {
		struct json_object *la = json_object_object_get(a->json, compared[i].key);
		struct json_object *lb = json_object_object_get(b->json, compared[i].key);
		json_object_object_add(added, compared[i].key, missing_from(lb, la));
		json_object_object_add(removed, compared[i].key, missing_from(la, lb));
	}
	json_object_object_add(out, "added", added);
	json_object_object_add(out, "removed", removed);
	return out;
}

/* Prints one row of the side-by-side table (consumes both values). */
static void row(const char *label, char *a, char *b, int width)
{
	printf("%-10s %-*s  %s\n", label, width, a ? a : "-", b ? b : "-");
	free(a);
	free(b);
}

/* Prints "WHAT CHANGE (N):" and the names of list, wrapped at about 100 columns. */
static void print_names(const char *what, const char *change, struct json_object *list)
{
	size_t n = json_object_array_length(list), col;

	col = (size_t)printf("%s %s (%zu)%s", what, change, n, n ? ":" : "");
	for (size_t i = 0; i < n; i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(list, i));
		if (col + 1 + strlen(s) > 100)
			col = (size_t)printf("\n   ") - 1;
		col += (size_t)printf(" %s", s);
	}
	putchar('\n');
}

/* Prints two probes side by side, then what moving from the first to the second changes. */
static void print_two(char *const path[2], const struct qemu_caps caps[2], struct json_object *diff)
{
	struct json_object *aliases = json_object_new_object();
	int width = (int)strlen(path[0]);

	for (int i = 0; i < 2; i++) {
		json_object_object_foreach(json_object_object_get(caps[i].json, "machine_aliases"), alias, name)
			json_object_object_add(aliases, alias, json_object_get(name));
	}
	row("binary", xstrdup(path[0]), xstrdup(path[1]), width);
	row("version", version_text(&caps[0]), version_text(&caps[1]), width);
	json_object_object_foreach(aliases, alias, unused) {
		const char *a = caps_machine_version(&caps[0], alias), *b = caps_machine_version(&caps[1], alias);
		(void)unused;
		row(alias, a ? xstrdup(a) : NULL, b ? xstrdup(b) : NULL, width);
	}
	for (size_t i = 0; compared[i].key; i++)
		row(compared[i].row, count_text(&caps[0], compared[i].key), count_text(&caps[1], compared[i].key), width);
	row("aio", aio_text(&caps[0]), aio_text(&caps[1]), width);
	row("sandbox", xstrdup(caps_has_sandbox(&caps[0]) ? "yes" : "no"),
	    xstrdup(caps_has_sandbox(&caps[1]) ? "yes" : "no"), width);
	row("probed", xstrdup(caps[0].from_cache ? "earlier (cached)" : "now"),
	    xstrdup(caps[1].from_cache ? "earlier (cached)" : "now"), width);
	json_object_put(aliases);
	putchar('\n');
	for (size_t i = 0; compared[i].key; i++) {
		print_names(compared[i].heading, "added",
			    json_object_object_get(json_object_object_get(diff, "added"), compared[i].key));
		print_names(compared[i].heading, "removed",
			    json_object_object_get(json_object_object_get(diff, "removed"), compared[i].key));
	}
}

/* The verb's handler. */
static int cmd_probe(const struct cmd_args *args, struct verr *err)
{
	char *path[2] = { NULL, NULL };
	struct qemu_caps caps[2] = { { 0 }, { 0 } };
	struct json_object *out;
	int n = args->argc > 1 ? 2 : 1, ret = -1;

	for (int i = 0; i < n; i++)
		if (probe_one(args->argc ? args->argv[i] : default_qemu(), &path[i], &caps[i], err) < 0)
			goto out;
	if (n == 1 && args->json)
		cmd_print_json(caps[0].json, JSON_PRETTY);
	else if (n == 1)
		print_one(path[0], &caps[0]);
	else {
		out = changes(&caps[0], &caps[1]);
		if (args->json) {
			json_object_object_add(out, "a", json_object_get(caps[0].json));
			json_object_object_add(out, "b", json_object_get(caps[1].json));
			cmd_print_json(out, JSON_PRETTY);
		} else
			print_two(path, caps, out);
		json_object_put(out);
	}
	ret = 0;
out:
	for (int i = 0; i < 2; i++) {
		free(path[i]);
		qemu_caps_free(&caps[i]);
	}
	return ret;
}

const struct cmd_entry cmd_probe_entry = {
	.name = "probe",
	.usage = "[BINARY [BINARY2]] [--json]",
	.help = "show what a QEMU binary can do (probed once per binary, then cached); with two, "
		"side by side and what moving from the first to the second adds and removes",
	.args = { .lower = 0, .upper = 2 },
	.flags = CMD_JSON,
	.exec = cmd_probe,
};
