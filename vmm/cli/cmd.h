/* The verb table: each verb is one const struct cmd_entry in its own cmd-*.c file that
 * declares its options and operands; cmd.c parses the command line by that declaration
 * once (tmux's cmd_entry and args), hands the verb the result, and generates `vmm help`. */
#ifndef VMM_CMD_H
#define VMM_CMD_H

#include <stdbool.h>
#include <stdio.h>

#include <json-c/json.h>

#include "vmm/base/error.h"
#include "vmm/base/util.h"
#include "vmm/launch/plan.h"
#include "vmm/supervisor/supervisor.h"

/* Options shared by many verbs, declared once in cmd.c; a verb asks for them in its flags. */
#define CMD_JSON 0x1 /* --json: args->json */
#define CMD_PLAN 0x2 /* -p/--profile A,B (more profiles on top), --set KEY=VALUE, --name NAME: args->plan */

/* The usage of the CMD_PLAN options, for the usage lines of the verbs that take them. */
#define PLAN_USAGE "[-p PROFILE,...] [--set KEY=VALUE ...] [--name NAME]"

/* What a verb takes on its command line besides the flags' options. */
struct cmd_spec {
	/* Its own long options, comma-separated: "force", "timeout:" (takes a value), "p|profile:"
	 * (also -p). Any of them may be given more than once. NULL: none. */
	const char *options;
	int lower, upper; /* how many operands: at least lower, at most upper (-1: no limit) */
	int options_until; /* options end at this operand, counted from 1 (0: they may follow any) */
};

struct cmd_option;

/* A verb's command line, parsed by its declaration. */
struct cmd_args {
	const struct cmd_entry *entry;
	int argc; /* the operands, in order */
	char **argv;
	bool json;                 /* --json (CMD_JSON) */
	struct plan_options plan;  /* -p, --set, --name (CMD_PLAN) */
	size_t n_options;          /* every option the verb takes, with the values given */
	struct cmd_option *options;
};

struct cmd_entry {
	const char *name;
	const char *usage; /* arguments after the verb */
	const char *help;  /* one line */
	struct cmd_spec args;
	int flags; /* CMD_JSON, CMD_PLAN */
	/* Runs the verb. Returns the exit status, or -1 with err. */
	int (*exec)(const struct cmd_args *args, struct verr *err);
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
extern const struct cmd_entry cmd_identity_entry;
extern const struct cmd_entry cmd_vfio_entry;
extern const struct cmd_entry cmd_usb_entry;
extern const struct cmd_entry cmd_input_entry;
extern const struct cmd_entry cmd_add_entry;
extern const struct cmd_entry cmd_remove_entry;
extern const struct cmd_entry cmd_devices_entry;
extern const struct cmd_entry cmd_set_entry;
extern const struct cmd_entry cmd_agent_entry;
extern const struct cmd_entry cmd_ip_entry;
extern const struct cmd_entry cmd_wait_entry;
extern const struct cmd_entry cmd_balloon_entry;
extern const struct cmd_entry cmd_migrate_entry;
extern const struct cmd_entry cmd_hmp_entry;
extern const struct cmd_entry cmd_disk_entry;
extern const struct cmd_entry cmd_template_entry;
extern const struct cmd_entry cmd_clone_entry;
extern const struct cmd_entry cmd_destroy_entry;
extern const struct cmd_entry cmd_bench_entry;
extern const struct cmd_entry cmd_snapshot_entry;
extern const struct cmd_entry cmd_jobs_entry;
extern const struct cmd_entry cmd_backup_entry;
extern const struct cmd_entry cmd_upgrade_entry;
extern const struct cmd_entry cmd_save_entry;
extern const struct cmd_entry cmd_restore_entry;

/* Finds a verb by exact name or unambiguous prefix; NULL with err when there is none. */
const struct cmd_entry *cmd_find(const char *name, struct verr *err);

/* Prints the list of verbs with their usage and help, generated from the table. */
void cmd_print_help(FILE *out);

/* Parses a verb's command line (argv[0] is the verb) by its declaration into args. Returns 0,
 * or -1 with the verb's usage line in err (args then holds nothing to free). */
int cmd_parse(const struct cmd_entry *entry, int argc, char **argv, struct cmd_args *args, struct verr *err);

/* Frees what cmd_parse filled in. */
void cmd_args_free(struct cmd_args *args);

/* True when the verb's option NAME (as declared, without "x|" or ':') was given. */
bool args_has(const struct cmd_args *args, const char *name);

/* The value the option NAME was given last, or NULL when it was not given. */
const char *args_get(const struct cmd_args *args, const char *name);

/* Every value the option NAME was given, in order. */
const struct strv *args_values(const struct cmd_args *args, const char *name);

/* Reads the option NAME, only decimal digits from lo to hi, into *v (left alone when it was not
 * given). Returns 0, or -1 with "--NAME: expected WHAT from LO to HI, not 'VALUE'" in err. */
int args_uint(const struct cmd_args *args, const char *name, const char *what, unsigned lo, unsigned hi,
	      unsigned *v, struct verr *err);

/* How JSON is laid out: indented for a reader, or one value per line for a script. */
enum json_layout { JSON_PRETTY, JSON_LINE };

/* A JSON value as vmm prints it (slashes as they are, not "\\/"); the text lives as long as o. */
const char *cmd_json_text(struct json_object *o, enum json_layout layout);

/* Prints a JSON value and a newline on stdout: the one way every verb prints JSON. */
void cmd_print_json(struct json_object *o, enum json_layout layout);

/* Loads the plan of the verb's PROFILE operand with its plan options; start: to start the VM
 * (a host that cannot run it is then a failed start, exit status 2). Returns 0, or -1 with err. */
int cmd_load_plan(const struct cmd_args *args, bool start, struct plan *p, struct verr *err);

/* Forks a detached supervisor for the plan with opt (start: detached, ATTACH_ORPHAN; restore:
 * the save file the first QEMU loads) and relays
 * what it says on stderr until the guest runs (0) or it gives up (its exit status); the plan
 * stays the caller's. */
int cmd_start_detached(struct plan *plan, const struct sup_options *opt, struct verr *err);



/* Reports a usage error for a verb (for what its declaration cannot say); returns -1. */
int cmd_usage_error(const struct cmd_entry *cmd, struct verr *err);

#endif
