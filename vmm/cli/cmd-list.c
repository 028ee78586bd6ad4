/* vmm list: every VM with a run directory, asked through its supervisor; a QEMU
 * whose supervisor is gone is listed as "no-supervisor". */
#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/cli/cmd.h"
#include "profiles/config.h"
#include "vmm/base/host.h"
#include "vmm/base/util.h"
#include "vmm/cli/vmref.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/state.h"

/* The status of one VM, or NULL when nothing of it runs. */
static struct json_object *probe(const char *base, const char *name)
{
	_cleanup_verr_ struct verr ignored = { 0 };
	_cleanup_free_ char *dir = xasprintf("%s/%s", base, name);
	struct json_object *st;
	pid_t orphan;

	if (vm_request(name, CTL_REQ_STATUS, NULL, 2000, &st, &ignored) == 0)
		return st;
	orphan = state_orphan(dir, name);
	if (!orphan)
		return NULL;
	st = json_object_new_object();
	json_object_object_add(st, VM_KEY_NAME, json_object_new_string(name));
	json_object_object_add(st, VM_KEY_STATE, json_object_new_string("no-supervisor"));
	json_object_object_add(st, VM_KEY_QEMU_PID, json_object_new_int(orphan));
	return st;
}

/* Sorts by name. */
static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads a member as a string ("-" when absent). */
static const char *field(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "-";
}

/* The verb's handler. */
static int cmd_list(int argc, char **argv, struct verr *err)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' }, { 0 } };
	_cleanup_free_ char *base = NULL;
	struct json_object *all = json_object_new_array();
	struct strv names = { 0 };
	struct dirent *d;
	bool json = false;
	DIR *dir;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j') {
			json_object_put(all);
			return cmd_usage_error(&cmd_list_entry, err);
		}
		json = true;
	}
	if (optind != argc) {
		json_object_put(all);
		return cmd_usage_error(&cmd_list_entry, err);
	}
	base = run_base_dir(err);
	if (!base) {
		json_object_put(all);
		return -1;
	}
	dir = opendir(base);
	while (dir && (d = readdir(dir)))
		if (vm_name_valid(d->d_name))
			strv_push(&names, d->d_name);
	if (dir)
		closedir(dir);
	if (names.n)
		qsort(names.v, names.n, sizeof(*names.v), by_name);
	for (size_t i = 0; i < names.n; i++) {
		struct json_object *st = probe(base, names.v[i]);
		if (st)
			json_object_array_add(all, st);
	}
	strv_free(&names);
	if (json)
		puts(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
	else {
		printf("%-20s %-14s %-8s %-6s %s\n", "NAME", "STATE", "PID", "ACCEL", "UPTIME");
		for (size_t i = 0; i < json_object_array_length(all); i++) {
			struct json_object *st = json_object_array_get_idx(all, i);
			printf("%-20s %-14s %-8s %-6s %s\n", field(st, VM_KEY_NAME), field(st, VM_KEY_STATE),
			       field(st, VM_KEY_QEMU_PID), field(st, VM_KEY_ACCEL), field(st, VM_KEY_UPTIME));
		}
	}
	json_object_put(all);
	return 0;
}

const struct cmd_entry cmd_list_entry = {
	.name = "list",
	.usage = "[--json]",
	.help = "list the VMs (also those whose supervisor is gone)",
	.exec = cmd_list,
};
