/* vmm probe [BINARY] [--json]: what a QEMU binary can do (probe.h), from its cache when
 * the binary has not changed since it was last probed. */
#include <stdio.h>

#include "vmm/cli/cmd.h"
#include "vmm/base/host.h"
#include "vmm/launch/probe.h"
#include "vmm/base/util.h"

/* The verb's handler. */
static int cmd_probe(const struct cmd_args *args, struct verr *err)
{
	_cleanup_free_ char *path = NULL;
	struct json_object *v, *version;
	struct qemu_caps caps;

	path = find_program(args->argc ? args->argv[0] : default_qemu(), err);
	if (!path || probe_qemu(path, &caps, err) < 0)
		return -1;
	json_object_object_add(caps.json, "from_cache", json_object_new_boolean(caps.from_cache));
	if (args->json)
		cmd_print_json(caps.json, JSON_PRETTY);
	else {
		version = json_object_object_get(caps.json, "version");
		printf("binary:   %s\n", path);
		printf("version:  %d.%d.%d\n", json_object_get_int(json_object_object_get(version, "major")),
		       json_object_get_int(json_object_object_get(version, "minor")),
		       json_object_get_int(json_object_object_get(version, "micro")));
		printf("machines: %zu\n", json_object_array_length(json_object_object_get(caps.json, "machines")));
		printf("types:    %zu\n", json_object_array_length(json_object_object_get(caps.json, "types")));
		printf("commands: %zu\n", json_object_array_length(json_object_object_get(caps.json, "commands")));
		v = json_object_object_get(caps.json, "aio");
		printf("aio:      %s\n", cmd_json_text(v, JSON_LINE));
		printf("sandbox:  %s\n", caps_has_sandbox(&caps) ? "yes" : "no");
		printf("probed:   %s\n", caps.from_cache ? "earlier (cached)" : "now");
	}
	qemu_caps_free(&caps);
	return 0;
}

const struct cmd_entry cmd_probe_entry = {
	.name = "probe",
	.usage = "[BINARY] [--json]",
	.help = "show what a QEMU binary can do (probed once per binary, then cached)",
	.args = { .lower = 0, .upper = 1 },
	.flags = CMD_JSON,
	.exec = cmd_probe,
};
