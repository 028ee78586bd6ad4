/* vmm run PROFILE: runs a VM in the foreground until it ends; the exit status tells how. */
#include "vmm/cli/cmd.h"
#include "vmm/supervisor/supervisor.h"

/* The verb's handler. */
static int cmd_run(const struct cmd_args *args, struct verr *err)
{
	const struct sup_options opt = { .attach = ATTACH_NEVER };
	struct plan plan;
	int ret;

	if (cmd_load_plan(args, true, &plan, err) < 0)
		return -1;
	plan.reset_nvram = args_has(args, "reset-nvram");
	ret = supervise(&plan, &opt, err);
	plan_free(&plan);
	return ret;
}

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.usage = "PROFILE [--reset-nvram] " PLAN_USAGE,
	.help = "run a VM in the foreground, console on stdout",
	.args = { .options = "reset-nvram", .lower = 1, .upper = 1 },
	.flags = CMD_PLAN,
	.exec = cmd_run,
};
