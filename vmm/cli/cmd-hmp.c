/* vmm hmp NAME COMMAND...: one HMP command line ("info pci") through the VM's QMP proxy
 * (human-monitor-command), its text out (lines ending in LF; --json: the reply as QEMU gave it). A protected VM's proxy allows only the read-only
 * 'info' commands (vmm/supervisor/proxy-policy.c). */
#include <stdio.h>
#include <string.h>

#include "vmm/base/util.h"
#include "vmm/cli/cmd.h"
#include "vmm/cli/vmref.h"

/* Milliseconds an HMP command may take. */
#define HMP_TIMEOUT_MS 30000

/* The handler: the words after NAME joined by spaces are the command line. */
static int cmd_hmp(const struct cmd_args *args, struct verr *err)
{
	struct json_object *cmd = json_object_new_object(), *a = json_object_new_object(), *ret;
	_cleanup_free_ char *line = xstrdup(args->argv[1]);

	for (int i = 2; i < args->argc; i++) {
		char *longer = xasprintf("%s %s", line, args->argv[i]);
		free(line);
		line = longer;
	}
	json_object_object_add(cmd, "execute", json_object_new_string("human-monitor-command"));
	json_object_object_add(a, "command-line", json_object_new_string(line));
	json_object_object_add(cmd, "arguments", a);
	if (vm_qmp_call(args->argv[0], cmd, HMP_TIMEOUT_MS, &ret, err) < 0)
		return -1;
	if (args->json)
		cmd_print_json(ret, JSON_PRETTY);
	else
		for (const char *c = json_object_get_string(ret); c && *c; c++)
			if (*c != '\r') /* HMP ends its lines with CR LF */
				putchar(*c);
	json_object_put(ret);
	return 0;
}

const struct cmd_entry cmd_hmp_entry = {
	.name = "hmp",
	.usage = "NAME COMMAND... [--json]",
	.help = "run one human monitor command ('info pci'); a protected VM allows only read-only 'info' ones",
	.args = { .lower = 2, .upper = -1 },
	.flags = CMD_JSON,
	.exec = cmd_hmp,
};
