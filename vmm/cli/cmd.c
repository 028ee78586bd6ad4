/* The verb table and the one parser of every verb's command line (cmd.h). */
#include "vmm/cli/cmd.h"

#include <getopt.h>
#include <string.h>

#include "vmm/base/strict.h"
#include "vmm/supervisor/supervisor.h"

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
	&cmd_identity_entry,
	&cmd_vfio_entry,
	&cmd_add_entry,
	&cmd_remove_entry,
	&cmd_devices_entry,
	&cmd_set_entry,
	&cmd_agent_entry,
	&cmd_ip_entry,
	&cmd_wait_entry,
	&cmd_balloon_entry,
	&cmd_migrate_entry,
	&cmd_hmp_entry,
	&cmd_disk_entry,
	&cmd_template_entry,
	&cmd_clone_entry,
	&cmd_destroy_entry,
	&cmd_usb_entry,
	&cmd_input_entry,
	&cmd_bench_entry,
	&cmd_snapshot_entry,
	&cmd_jobs_entry,
	&cmd_backup_entry,
	&cmd_upgrade_entry,
	&cmd_save_entry,
	&cmd_restore_entry,
	NULL,
};

/* The options CMD_JSON and CMD_PLAN stand for, declared like a verb's own. */
#define JSON_OPTIONS "json"
#define PLAN_OPTIONS "p|profile:,set:,name:"

/* One option a verb takes, and the values it was given ("" each time for one without a value). */
struct cmd_option {
	char *name;
	char letter; /* its short form, or 0 */
	bool has_value;
	struct strv values;
};

const struct cmd_entry *cmd_find(const char *name, struct verr *err)
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

void cmd_print_help(FILE *out)
{
	fprintf(out, "usage: vmm VERB [ARGS]\n\nverbs:\n");
	for (size_t i = 0; cmd_table[i]; i++)
		fprintf(out, "  %s %s\n      %s\n", cmd_table[i]->name, cmd_table[i]->usage, cmd_table[i]->help);
	fprintf(out, "  help\n      show this list\n  version\n      show the version of vmm\n");
}

/* Appends the non-empty comma-separated parts of s to out. */
static void split_commas(const char *s, struct strv *out)
{
	while (s && *s) {
		size_t n = strcspn(s, ",");
		if (n)
			strv_pushf(out, "%.*s", (int)n, s);
		s += n + (s[n] == ',');
	}
}

/* Adds the options of a declaration ("x|name:,other") to those the verb takes. */
static void declare(struct cmd_args *a, const char *spec)
{
	struct strv parts = { 0 };

	split_commas(spec, &parts);
	a->options = xrealloc(a->options, (a->n_options + parts.n) * sizeof(*a->options));
	for (size_t i = 0; i < parts.n; i++) {
		const char *p = parts.v[i];
		struct cmd_option *o = &a->options[a->n_options++];
		size_t n;

		*o = (struct cmd_option){ 0 };
		if (p[0] && p[1] == '|') {
			o->letter = p[0];
			p += 2;
		}
		n = strlen(p);
		o->has_value = n && p[n - 1] == ':';
		o->name = xasprintf("%.*s", (int)(n - o->has_value), p);
	}
	strv_free(&parts);
}

/* The option getopt_long returned as c (the short letter, or 256 + its index). */
static struct cmd_option *option_of(struct cmd_args *a, int c)
{
	if (c >= 256 && (size_t)(c - 256) < a->n_options)
		return &a->options[c - 256];
	for (size_t i = 0; c > 0 && c < 256 && i < a->n_options; i++)
		if (a->options[i].letter == c)
			return &a->options[i];
	return NULL;
}

/* Runs getopt_long over argv[start..] (argv[start] stands for the program name) with the
 * tables built from a's options; returns the index of the first operand, or -1 on a bad option. */
static int take_options(struct cmd_args *a, int argc, char **argv, int start, const char *shortopts,
			const struct option *longopts)
{
	int c;

	optind = 0; /* glibc: start afresh, reading shortopts' '+' again */
	while ((c = getopt_long(argc - start, argv + start, shortopts, longopts, NULL)) != -1) {
		struct cmd_option *o = option_of(a, c);
		if (!o)
			return -1;
		strv_push(&o->values, o->has_value ? optarg : "");
	}
	return start + optind;
}

/* Fills args->json and args->plan from the options the flags declared. */
static void take_flags(struct cmd_args *a, int flags)
{
	if (flags & CMD_JSON)
		a->json = args_has(a, "json");
	if (flags & CMD_PLAN) {
		const struct strv *layers = args_values(a, "profile"), *sets = args_values(a, "set");
		for (size_t i = 0; i < layers->n; i++)
			split_commas(layers->v[i], &a->plan.layers);
		for (size_t i = 0; i < sets->n; i++)
			strv_push(&a->plan.sets, sets->v[i]);
		a->plan.name = args_get(a, "name");
	}
}

int cmd_parse(const struct cmd_entry *entry, int argc, char **argv, struct cmd_args *args, struct verr *err)
{
	const struct cmd_spec *spec = &entry->args;
	struct cmd_args a = { .entry = entry, .argv = xmalloc((size_t)argc * sizeof(char *)) };
	_cleanup_free_ struct option *longopts = NULL;
	_cleanup_free_ char *shortopts = NULL;
	char *s;
	int next;

	if (entry->flags & CMD_JSON)
		declare(&a, JSON_OPTIONS);
	if (entry->flags & CMD_PLAN)
		declare(&a, PLAN_OPTIONS);
	declare(&a, spec->options);
	longopts = xzalloc((a.n_options + 1) * sizeof(*longopts));
	s = shortopts = xzalloc(2 * a.n_options + 2);
	if (spec->options_until)
		*s++ = '+';
	for (size_t i = 0; i < a.n_options; i++) {
		const struct cmd_option *o = &a.options[i];
		longopts[i] = (struct option){ o->name, o->has_value ? required_argument : no_argument, NULL,
					       o->letter ? o->letter : 256 + (int)i };
		if (o->letter) {
			*s++ = o->letter;
			if (o->has_value)
				*s++ = ':';
		}
	}

	opterr = 0; /* a bad option becomes the verb's usage line, not getopt's message */
	/* With options_until, the options end at that operand: each operand before it plays the
	 * program name for a new getopt pass over what follows it. */
	next = take_options(&a, argc, argv, 0, shortopts, longopts);
	while (next >= 0 && spec->options_until && a.argc + 1 < spec->options_until && next < argc) {
		a.argv[a.argc++] = argv[next];
		next = take_options(&a, argc, argv, next, shortopts, longopts);
	}
	while (next >= 0 && next < argc)
		a.argv[a.argc++] = argv[next++];
	if (next < 0 || a.argc < spec->lower || (spec->upper >= 0 && a.argc > spec->upper)) {
		cmd_args_free(&a);
		return cmd_usage_error(entry, err);
	}
	take_flags(&a, entry->flags);
	*args = a;
	return 0;
}

void cmd_args_free(struct cmd_args *args)
{
	for (size_t i = 0; i < args->n_options; i++) {
		free(args->options[i].name);
		strv_free(&args->options[i].values);
	}
	free(args->options);
	free(args->argv);
	plan_options_free(&args->plan);
	*args = (struct cmd_args){ 0 };
}

/* The option NAME the verb declared; a name it did not declare is a bug in the verb. */
static const struct cmd_option *declared(const struct cmd_args *args, const char *name)
{
	for (size_t i = 0; i < args->n_options; i++)
		if (!strcmp(args->options[i].name, name))
			return &args->options[i];
	fprintf(stderr, "vmm: bug: verb '%s' asks for option '--%s' it does not declare\n", args->entry->name, name);
	abort();
}

bool args_has(const struct cmd_args *args, const char *name)
{
	return declared(args, name)->values.n > 0;
}

const char *args_get(const struct cmd_args *args, const char *name)
{
	const struct strv *v = &declared(args, name)->values;
	return v->n ? v->v[v->n - 1] : NULL;
}

const struct strv *args_values(const struct cmd_args *args, const char *name)
{
	return &declared(args, name)->values;
}

int args_uint(const struct cmd_args *args, const char *name, const char *what, unsigned lo, unsigned hi,
	      unsigned *v, struct verr *err)
{
	const char *s = args_get(args, name);
	uint64_t n;

	if (!s)
		return 0;
	if (parse_uint(s, lo, hi, &n) < 0)
		return verr_set(err, 0, "--%s: expected %s from %u to %u, not '%s'", name, what, lo, hi, s);
	*v = (unsigned)n;
	return 0;
}

const char *cmd_json_text(struct json_object *o, enum json_layout layout)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE;

	flags |= layout == JSON_PRETTY ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN;
	return json_object_to_json_string_ext(o, flags);
}

void cmd_print_json(struct json_object *o, enum json_layout layout)
{
	puts(cmd_json_text(o, layout));
}

int cmd_usage_error(const struct cmd_entry *cmd, struct verr *err)
{
	return verr_set(err, 0, "usage: vmm %s %s", cmd->name, cmd->usage);
}

int cmd_load_plan(const struct cmd_args *args, bool start, struct plan *p, struct verr *err)
{
	struct plan_options o = args->plan;
	int r;

	o.start = start;
	r = plan_load(args->argv[0], &o, p, err);
	if (r == PLAN_ERR_HOST && start)
		err->status = VM_START_FAILED;
	return r < 0 ? -1 : 0;
}
