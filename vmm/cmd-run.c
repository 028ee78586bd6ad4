/* vmm run PROFILE: runs a VM in the foreground until it ends; the exit status tells how. */
#define _GNU_SOURCE
#include <getopt.h>

#include "cmd.h"
#include "supervisor.h"

/* The verb's handler. */
static int cmd_run(int argc, char **argv, struct verr *err)
{
	static const struct option longopts[] = { { "name", required_argument, NULL, 'n' }, { 0 } };
	const struct sup_options opt = { .attach = ATTACH_NEVER };
	const char *name = NULL;
	struct plan plan;
	int c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
		if (c != 'n')
			return cmd_usage_error(&cmd_run_entry, err);
		name = optarg;
	}
	if (optind != argc - 1)
		return cmd_usage_error(&cmd_run_entry, err);
	if (plan_load(argv[optind], name, &plan, err) < 0)
		return -1;
	ret = supervise(&plan, &opt, err);
	plan_free(&plan);
	return ret;
}

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.usage = "PROFILE [--name NAME]",
	.help = "run a VM in the foreground, console on stdout",
	.exec = cmd_run,
};
