/* vmm run PROFILE: runs a VM in the foreground until it ends; the exit status tells how. */
#define _GNU_SOURCE
#include <getopt.h>

#include "cmd.h"
#include "supervisor.h"

/* The verb's handler. */
static int cmd_run(int argc, char **argv, struct verr *err)
{
	struct plan plan;
	int ret;

	optind = 1;
	if (getopt_long(argc, argv, "+", (const struct option[]){ { 0 } }, NULL) != -1 || optind != argc - 1)
		return cmd_usage_error(&cmd_run_entry, err);
	if (plan_load(argv[optind], &plan, err) < 0)
		return -1;
	ret = supervise(&plan, err);
	plan_free(&plan);
	return ret;
}

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.usage = "PROFILE",
	.help = "run a VM in the foreground, console on stdout",
	.exec = cmd_run,
};
