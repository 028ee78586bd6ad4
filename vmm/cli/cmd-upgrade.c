/* vmm upgrade NAME [--qemu BINARY] [--json]: moves a running VM into a new QEMU process on
 * this host (the supervisor's upgrade, vmm/supervisor/upgrade.h) and says how long the guest
 * was paused. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/base/util.h"
#include "vmm/cli/cmd.h"
#include "vmm/cli/vmref.h"
#include "vmm/supervisor/protocol.h"

/* A member of o as an integer (0 when absent). */
static int64_t num(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

/* A string member of o ("" when absent). */
static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

/* The verb's handler. */
static int cmd_upgrade(const struct cmd_args *args, struct verr *err)
{
	const char *name = args->argv[0], *qemu = args_get(args, "qemu");
	struct json_object *req = json_object_new_object(), *r, *warnings;
	_cleanup_free_ char *abs = NULL;

	if (qemu && strchr(qemu, '/')) {
		/* The supervisor's working directory is not ours. */
		abs = realpath(qemu, NULL);
		if (!abs) {
			json_object_put(req);
			return verr_set(err, errno, "--qemu '%s'", qemu);
		}
		qemu = abs;
	}
	if (qemu)
		json_object_object_add(req, CTL_ARG_QEMU, json_object_new_string(qemu));
	if (vm_request(name, CTL_REQ_UPGRADE, req, CTL_UPGRADE_TIMEOUT_MS, &r, err) < 0)
		return -1;
	warnings = json_object_object_get(r, UPGRADE_KEY_WARNINGS);
	for (size_t i = 0; !args->json && i < json_object_array_length(warnings); i++)
		fprintf(stderr, "vmm: %s: warning: %s\n", name, json_object_get_string(json_object_array_get_idx(warnings, i)));
	if (args->json)
		cmd_print_json(r, JSON_PRETTY);
	else
		printf("VM '%s' moved from QEMU pid %" PRId64 " (%s) to pid %" PRId64 " (%s): total %" PRId64
		       " ms, downtime %" PRId64 " ms, %s\n",
		       name, num(r, UPGRADE_KEY_OLD_PID), str(r, UPGRADE_KEY_OLD_VERSION), num(r, UPGRADE_KEY_NEW_PID),
		       str(r, UPGRADE_KEY_QEMU), num(r, UPGRADE_KEY_TOTAL_MS), num(r, UPGRADE_KEY_DOWNTIME_MS),
		       json_object_get_boolean(json_object_object_get(r, UPGRADE_KEY_SHARED_RAM))
			       ? "guest RAM shared (not copied)"
			       : "guest RAM copied");
	json_object_put(r);
	return 0;
}

const struct cmd_entry cmd_upgrade_entry = {
	.name = "upgrade",
	.usage = "NAME [--qemu BINARY] [--json]",
	.help = "move a running VM into a new QEMU process (this one's binary, or BINARY) without stopping the guest",
	.args = { .options = "qemu:", .lower = 1, .upper = 1 },
	.flags = CMD_JSON,
	.exec = cmd_upgrade,
};
