/* vmm run PROFILE: runs a VM in the foreground until it ends; the exit status tells how. */
#define _GNU_SOURCE
#include <getopt.h>

#include "cmd.h"
#include "supervisor.h"

/* The verb's handler. */
static int cmd_run(int argc, char **argv, struct verr *err)
{
	static const struct option longopts[] = { PLAN_LONGOPTS, { 0 } };
	const struct sup_options opt = { .attach = ATTACH_NEVER };
	struct plan_options po = { 0 };
	struct plan plan;
	int c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, PLAN_SHORTOPTS, longopts, NULL)) != -1)
		if (!plan_option(c, optarg, &po))
			return plan_options_free(&po), cmd_usage_error(&cmd_run_entry, err);
	if (optind != argc - 1)
		return plan_options_free(&po), cmd_usage_error(&cmd_run_entry, err);
	c = plan_load(argv[optind], &po, &plan, err);
	plan_options_free(&po);
	if (c < 0)
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
