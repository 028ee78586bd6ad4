/* vmm lint PROFILE [--json]: the classic mistakes in a profile (lint.h). Exit 0 when
 * there is no finding, 1 when there is any (or the profile is invalid). */
#include <stdio.h>

#include "vmm/cli/cmd.h"
#include "profiles/lint.h"
#include "vmm/launch/lint-macs.h"
#include "vmm/launch/plan.h"

/* Reads a member as a string. */
static const char *str(struct json_object *o, const char *key)
{
	return json_object_get_string(json_object_object_get(o, key));
}

/* The verb's handler. */
static int cmd_lint(const struct cmd_args *args, struct verr *err)
{
	struct json_object *findings;
	struct host_facts host;
	struct plan plan;
	size_t n;

	if (cmd_load_plan(args, false, &plan, err) < 0)
		return -1;
	host_facts_read(&host);
	findings = lint(&plan.config, plan.profile_path, plan.origins, &host);
	lint_mac_collisions(&plan, findings);
	n = json_object_array_length(findings);
	if (args->json)
		cmd_print_json(findings, JSON_PRETTY);
	else {
		for (size_t i = 0; i < n; i++) {
			struct json_object *f = json_object_array_get_idx(findings, i);
			printf("%s: %s: %s: %s\n    fix: %s\n", str(f, "severity"), str(f, "file"), str(f, "path"),
			       str(f, "why"), str(f, "fix"));
		}
		printf("%zu finding%s\n", n, n == 1 ? "" : "s");
	}
	json_object_put(findings);
	plan_free(&plan);
	return n ? 1 : 0;
}

const struct cmd_entry cmd_lint_entry = {
	.name = "lint",
	.usage = "PROFILE [--json] " PLAN_USAGE,
	.help = "check a profile for the classic mistakes (exit 1 when there are findings)",
	.args = { .lower = 1, .upper = 1 },
	.flags = CMD_JSON | CMD_PLAN,
	.exec = cmd_lint,
};
