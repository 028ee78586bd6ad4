/* vmm jobs NAME [--json] [--cancel ID]: the block jobs running in a VM's QEMU (query-jobs:
 * commits, streams, backups, snapshot saves) with their progress, or one of them cancelled
 * (job-cancel). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmm/cli/blockvm.h"
#include "vmm/cli/cmd.h"

/* An integer member of o. */
static int64_t num(struct json_object *o, const char *key)
{
	return json_object_get_int64(json_object_object_get(o, key));
}

/* The verb's handler. */
static int cmd_jobs(const struct cmd_args *args, struct verr *err)
{
	const char *name = args->argv[0], *cancel = args_get(args, "cancel");
	struct json_object *jobs;

	if (block_call(name, "query-jobs", NULL, &jobs, err) < 0)
		return -1;
	if (cancel) {
		struct json_object *a;
		bool found = false;
		for (size_t i = 0; i < json_object_array_length(jobs); i++)
			found |= !strcmp(json_object_get_string(json_object_object_get(json_object_array_get_idx(jobs, i), "id")),
					 cancel);
		json_object_put(jobs);
		if (!found)
			return verr_set(err, 0, "VM '%s' has no job '%s' (vmm jobs %s lists them)", name, cancel, name);
		a = json_object_new_object();
		json_object_object_add(a, "id", json_object_new_string(cancel));
		if (block_call(name, "job-cancel", a, NULL, err) < 0)
			return -1;
		if (!args->json)
			printf("job '%s' of VM '%s' cancelled\n", cancel, name);
		return 0;
	}
	if (args->json) {
		cmd_print_json(jobs, JSON_PRETTY);
	} else {
		printf("%-24s %-16s %-10s %s\n", "ID", "TYPE", "STATUS", "PROGRESS");
		for (size_t i = 0; i < json_object_array_length(jobs); i++) {
			struct json_object *j = json_object_array_get_idx(jobs, i), *e;
			int64_t done = num(j, "current-progress"), total = num(j, "total-progress");
			_cleanup_free_ char *d = bytes_text((uint64_t)done), *t = bytes_text((uint64_t)total);
			printf("%-24s %-16s %-10s %3d%% (%s of %s)%s%s\n", json_object_get_string(json_object_object_get(j, "id")),
			       json_object_get_string(json_object_object_get(j, "type")),
			       json_object_get_string(json_object_object_get(j, "status")),
			       total > 0 ? (int)(done * 100 / total) : 0, d, t,
			       json_object_object_get_ex(j, "error", &e) ? ": " : "",
			       json_object_object_get_ex(j, "error", &e) ? json_object_get_string(e) : "");
		}
	}
	json_object_put(jobs);
	return 0;
}

const struct cmd_entry cmd_jobs_entry = {
	.name = "jobs",
	.usage = "NAME [--cancel ID] [--json]",
	.help = "list the block jobs running in a VM with their progress, or cancel one",
	.args = { .options = "cancel:", .lower = 1, .upper = 1 },
	.flags = CMD_JSON,
	.exec = cmd_jobs,
};
