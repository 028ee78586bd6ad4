/* vmm: launches QEMU from VM profiles and supervises it over QMP. The CLI entry point. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "vmm/cli/cmd.h"

#ifndef VMM_VERSION
#define VMM_VERSION "0"
#endif

/* Prints every line of an error report, "vmm: " first. */
static void print_error(const struct verr *err)
{
	for (size_t i = 0; i < err->n; i++)
		fprintf(stderr, "vmm: %s\n", err->lines[i]);
}

int main(int argc, char **argv)
{
	_cleanup_verr_ struct verr err = { 0 };
	const struct cmd_entry *cmd;
	struct cmd_args args;
	int ret;

	if (argc < 2) {
		cmd_print_help(stderr);
		return 1;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		cmd_print_help(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("vmm %s\n", VMM_VERSION);
		return 0;
	}
	/* A closed socket or pipe is an error to report (EPIPE), not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	cmd = cmd_find(argv[1], &err);
	if (!cmd || cmd_parse(cmd, argc - 1, argv + 1, &args, &err) < 0) {
		print_error(&err);
		return 1;
	}
	ret = cmd->exec(&args, &err);
	cmd_args_free(&args);
	if (ret < 0) {
		print_error(&err);
		return err.status ? err.status : 1;
	}
	return ret;
}
