/* vmm run PROFILE: runs a VM in the foreground until it ends; the exit status tells how. */
#include <getopt.h>

#include "vmm/cli/cmd.h"
#include "vmm/supervisor/supervisor.h"

/* The verb's handler. */
static int cmd_run(int argc, char **argv, struct verr *err)
{
	const struct sup_options opt = { .attach = ATTACH_NEVER };
	struct plan plan;
	int ret;

	if (cmd_load_profile(&cmd_run_entry, argc, argv, NULL, true, &plan, err) < 0)
		return -1;
	ret = supervise(&plan, &opt, err);
	plan_free(&plan);
	return ret;
}

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.usage = "PROFILE " PLAN_USAGE,
	.help = "run a VM in the foreground, console on stdout",
	.exec = cmd_run,
};
