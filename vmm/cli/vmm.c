/* vmm: launches QEMU from VM profiles and supervises it over QMP. The CLI entry point. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "vmm/cli/cmd.h"
#include "vmm/launch/plan.h"
#include "vmm/supervisor/supervisor.h"

#ifndef VMM_VERSION
#define VMM_VERSION "0"
#endif

static const struct cmd_entry *const cmd_table[] = {
	&cmd_cmdline_entry,
	&cmd_lint_entry,
	&cmd_probe_entry,
	&cmd_run_entry,
	&cmd_start_entry,
	&cmd_attach_entry,
	&cmd_list_entry,
	&cmd_status_entry,
	&cmd_stop_entry,
	&cmd_kill_entry,
	&cmd_pause_entry,
	&cmd_resume_entry,
	&cmd_reset_entry,
	&cmd_qmp_entry,
	&cmd_events_entry,
	&cmd_console_entry,
	&cmd_logs_entry,
	&cmd_vfio_entry,
	NULL,
};

/* Prints the list of verbs, generated from the table. */
static void usage(FILE *out)
{
	fprintf(out, "usage: vmm VERB [ARGS]\n\nverbs:\n");
	for (size_t i = 0; cmd_table[i]; i++)
		fprintf(out, "  %s %s\n      %s\n", cmd_table[i]->name, cmd_table[i]->usage, cmd_table[i]->help);
	fprintf(out, "  help\n      show this list\n  version\n      show the version of vmm\n");
}

/* Takes one of the PLAN_LONGOPTS into o; returns false when c is not one of them. */
static bool plan_option(int c, const char *arg, struct plan_options *o)
{
	switch (c) {
	case 'p':
		for (const char *p = arg; *p;) {
			size_t n = strcspn(p, ",");
			if (n)
				strv_pushf(&o->layers, "%.*s", (int)n, p);
			p += n + (p[n] == ',');
		}
		return true;
	case 's':
		strv_push(&o->sets, arg);
		return true;
	case 'n':
		o->name = arg;
		return true;
	default:
		return false;
	}
}

int cmd_load_profile(const struct cmd_entry *cmd, int argc, char **argv, bool *json, bool start, struct plan *plan,
		     struct verr *err)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' }, PLAN_LONGOPTS, { 0 } };
	struct plan_options po = { .start = start };
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, PLAN_SHORTOPTS, opts, NULL)) != -1) {
		if (plan_option(c, optarg, &po))
			continue;
		if (c != 'j' || !json) {
			plan_options_free(&po);
			return cmd_usage_error(cmd, err);
		}
		*json = true;
	}
	if (optind != argc - 1) {
		plan_options_free(&po);
		return cmd_usage_error(cmd, err);
	}
	r = plan_load(argv[optind], &po, plan, err);
	plan_options_free(&po);
	if (r == PLAN_ERR_HOST && start)
		err->status = VM_START_FAILED;
	return r < 0 ? -1 : 0;
}

int cmd_usage_error(const struct cmd_entry *cmd, struct verr *err)
{
	return verr_set(err, 0, "usage: vmm %s %s", cmd->name, cmd->usage);
}

/* Finds a verb by exact name or unambiguous prefix. */
static const struct cmd_entry *find_cmd(const char *name, struct verr *err)
{
	const struct cmd_entry *found = NULL;
	size_t n = strlen(name);

	for (size_t i = 0; cmd_table[i]; i++) {
		if (!strcmp(cmd_table[i]->name, name))
			return cmd_table[i];
		if (n && !strncmp(cmd_table[i]->name, name, n)) {
			if (found) {
				verr_set(err, 0, "'%s' is ambiguous: %s or %s", name, found->name, cmd_table[i]->name);
				return NULL;
			}
			found = cmd_table[i];
		}
	}
	if (!found)
		verr_set(err, 0, "unknown verb '%s' (see 'vmm help')", name);
	return found;
}

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
	int ret;

	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("vmm %s\n", VMM_VERSION);
		return 0;
	}
	opterr = 0; /* a bad option becomes the verb's usage line, not getopt's message */
	/* A closed socket or pipe is an error to report (EPIPE), not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	cmd = find_cmd(argv[1], &err);
	if (!cmd) {
		print_error(&err);
		return 1;
	}
	ret = cmd->exec(argc - 1, argv + 1, &err);
	if (ret < 0) {
		print_error(&err);
		return err.status ? err.status : 1;
	}
	return ret;
}
