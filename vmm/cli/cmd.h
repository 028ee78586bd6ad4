/* The verb table: each verb is one entry (name, usage, help, handler) in its
 * own cmd-*.c file; vmm.c collects them and generates usage from them. */
#ifndef VMM_CMD_H
#define VMM_CMD_H

#include <getopt.h>
#include <stdbool.h>

#include "vmm/base/error.h"

struct cmd_entry {
	const char *name;
	const char *usage; /* arguments after the verb */
	const char *help;  /* one line */
	/* Runs the verb; argv[0] is the verb. Returns the exit status, or -1 with err. */
	int (*exec)(int argc, char **argv, struct verr *err);
};

extern const struct cmd_entry cmd_cmdline_entry;
extern const struct cmd_entry cmd_lint_entry;
extern const struct cmd_entry cmd_probe_entry;
extern const struct cmd_entry cmd_run_entry;
extern const struct cmd_entry cmd_start_entry;
extern const struct cmd_entry cmd_attach_entry;
extern const struct cmd_entry cmd_list_entry;
extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_stop_entry;
extern const struct cmd_entry cmd_kill_entry;
extern const struct cmd_entry cmd_pause_entry;
extern const struct cmd_entry cmd_resume_entry;
extern const struct cmd_entry cmd_reset_entry;
extern const struct cmd_entry cmd_qmp_entry;
extern const struct cmd_entry cmd_events_entry;
extern const struct cmd_entry cmd_console_entry;
extern const struct cmd_entry cmd_logs_entry;
extern const struct cmd_entry cmd_vfio_entry;

/* The options of every verb that takes a PROFILE: -p A,B (more profiles on top),
 * --set KEY=VALUE (one value), --name NAME. For a verb's getopt_long tables. */
#define PLAN_SHORTOPTS "p:"
#define PLAN_LONGOPTS                                                                                   \
	{ "profile", required_argument, NULL, 'p' }, { "set", required_argument, NULL, 's' },           \
	{ "name", required_argument, NULL, 'n' }
#define PLAN_USAGE "[-p PROFILE,...] [--set KEY=VALUE ...] [--name NAME]"

struct plan;

/* Parses "PROFILE [--json] [plan options]" (--json only when json is not NULL) and loads
 * the plan; start: to start the VM (a host that cannot run it is a failed start, exit 2).
 * Returns 0, or -1 with err. */
int cmd_load_profile(const struct cmd_entry *cmd, int argc, char **argv, bool *json, bool start, struct plan *plan,
		     struct verr *err);

/* Reports a usage error for a verb (for its handler's getopt failures); returns -1. */
int cmd_usage_error(const struct cmd_entry *cmd, struct verr *err);

#endif
