/* vmm cmdline PROFILE [--json]: prints the QEMU command line a profile produces. */
#include <stdio.h>

#include <json-c/json.h>

#include "vmm/cli/cmd.h"
#include "vmm/launch/plan.h"
#include "vmm/base/util.h"

/* Prints argv shell-quoted on one line after the NAME=VALUE strings of env QEMU gets in its
 * environment (a QEMU unpacked into a directory), or argv alone as a JSON array of strings. */
static void print_argv(const struct strv *env, const struct strv *argv, bool json)
{
	if (json) {
		struct json_object *arr = json_object_new_array();
		for (size_t i = 0; i < argv->n; i++)
			json_object_array_add(arr, json_object_new_string(argv->v[i]));
		cmd_print_json(arr, JSON_LINE);
		json_object_put(arr);
		return;
	}
	for (size_t i = 0; i < env->n; i++) {
		_cleanup_free_ char *q = shell_quote(env->v[i]);
		printf("%s ", q);
	}
	for (size_t i = 0; i < argv->n; i++) {
		_cleanup_free_ char *q = shell_quote(argv->v[i]);
		printf("%s%s", i ? " " : "", q);
	}
	putchar('\n');
}

/* The verb's handler. */
static int cmd_cmdline(const struct cmd_args *args, struct verr *err)
{
	struct plan plan;

	if (cmd_load_plan(args, false, &plan, err) < 0)
		return -1;
	if (plan.kvm_missing)
		fprintf(stderr, "vmm: %s: warning: KVM is not usable here (/dev/kvm), using TCG (slow)\n", plan.config.name);
	for (size_t i = 0; i < plan.warnings.n; i++)
		fprintf(stderr, "vmm: %s: warning: %s\n", plan.config.name, plan.warnings.v[i]);
	print_argv(&plan.prefix.env, &plan.argv, args->json);
	plan_free(&plan);
	return 0;
}

const struct cmd_entry cmd_cmdline_entry = {
	.name = "cmdline",
	.usage = "PROFILE [--json] " PLAN_USAGE,
	.help = "print the QEMU command line of a profile",
	.args = { .lower = 1, .upper = 1 },
	.flags = CMD_JSON | CMD_PLAN,
	.exec = cmd_cmdline,
};
