/* vmm list: every VM with a run directory or a running QEMU, asked through its supervisor;
 * a QEMU whose supervisor is gone is listed as "no-supervisor", one whose run directory is
 * gone as "no-run-dir", a supervisor that does not answer in time as "not-answering";
 * with --all also the VMs that ended, as the record they left says (how they ended). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmm/cli/cmd.h"
#include "vmm/base/host.h"
#include "vmm/base/util.h"
#include "vmm/cli/vmref.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/qemuproc.h"
#include "vmm/supervisor/state.h"

/* Milliseconds each VM's supervisor gets to answer, so that one wedged VM delays the list little. */
#define LIST_TIMEOUT_MS 2000

/* The status of one VM; when nothing of it runs, the record of how it ended (all) or NULL. */
static struct json_object *probe(const char *base, const char *name, bool all)
{
	_cleanup_verr_ struct verr why = { 0 };
	_cleanup_free_ char *dir = xasprintf("%s/%s", base, name);
	struct json_object *st;
	enum qemu_found found = QEMU_NONE;
	pid_t pid = 0;
	int r = vm_status(name, LIST_TIMEOUT_MS, &st, &why);

	if (r == 0)
		return st;
	if (r == -ESRCH && (found = state_find_qemu(dir, name, &pid)) == QEMU_NONE)
		return all ? state_ended(dir, name) : NULL;
	st = json_object_new_object();
	json_object_object_add(st, VM_KEY_NAME, json_object_new_string(name));
	if (found != QEMU_NONE) {
		json_object_object_add(st, VM_KEY_STATE,
				       json_object_new_string(found == QEMU_ORPHAN ? "no-supervisor" : "no-run-dir"));
		json_object_object_add(st, VM_KEY_QEMU_PID, json_object_new_int(pid));
	} else {
		json_object_object_add(st, VM_KEY_STATE, json_object_new_string("not-answering"));
		json_object_object_add(st, "error", json_object_new_string(why.lines[0]));
	}
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
static int cmd_list(const struct cmd_args *args, struct verr *err)
{
	_cleanup_free_ char *base = run_base_dir(err);
	struct json_object *all;
	struct strv names = { 0 };
	struct dirent *d;
	DIR *dir;

	if (!base)
		return -1;
	all = json_object_new_array();
	dir = opendir(base);
	while (dir && (d = readdir(dir)))
		if (vm_name_valid(d->d_name) && (d->d_type == DT_DIR || d->d_type == DT_UNKNOWN))
			strv_push(&names, d->d_name);
	if (dir)
		closedir(dir);
	/* A VM whose run directory was removed is found by its QEMU. */
	qemuproc_names(base, &names);
	if (names.n)
		qsort(names.v, names.n, sizeof(*names.v), by_name);
	for (size_t i = 0; i < names.n; i++) {
		struct json_object *st = probe(base, names.v[i], args_has(args, "all"));
		if (st)
			json_object_array_add(all, st);
	}
	strv_free(&names);
	if (args->json)
		cmd_print_json(all, JSON_PRETTY);
	else {
		printf("%-20s %-14s %-8s %-6s %s\n", "NAME", "STATE", "PID", "ACCEL", "UPTIME");
		for (size_t i = 0; i < json_object_array_length(all); i++) {
			struct json_object *st = json_object_array_get_idx(all, i);
			/* An ended VM shows how it ended, and no pid: its QEMU is gone. */
			bool ended = !strcmp(field(st, VM_KEY_STATE), VM_STATE_ENDED);
			printf("%-20s %-14s %-8s %-6s %s\n", field(st, VM_KEY_NAME),
			       field(st, ended ? VM_KEY_LAST_END : VM_KEY_STATE), ended ? "-" : field(st, VM_KEY_QEMU_PID),
			       field(st, VM_KEY_ACCEL), field(st, VM_KEY_UPTIME));
		}
	}
	json_object_put(all);
	return 0;
}

const struct cmd_entry cmd_list_entry = {
	.name = "list",
	.usage = "[--all] [--json]",
	.help = "list the VMs (also those whose supervisor is gone; --all: also those that ended)",
	.args = { .options = "all", .lower = 0, .upper = 0 },
	.flags = CMD_JSON,
	.exec = cmd_list,
};
