/* What a protected VM (lifecycle.protected) refuses through the proxy: whatever ends its
 * run, restarts it or throws its running state away, as `vmm stop`, `kill` and `reset`
 * are refused, and every HMP command but the read-only `info` ones (HMP can do all of
 * that and more). Pausing stays allowed, as `vmm pause` does, and so do hot-unplugging
 * (the guest takes part) and keys sent to the guest (the guest decides what they do). */
#include <string.h>

#include "vmm/supervisor/proxy-int.h"

/* QMP commands a protected VM refuses, besides those its policy lists. */
static const char *const protected_commands[] = {
	"quit", "system_reset", "system_powerdown", /* as vmm stop, kill and reset */
	"migrate",                                  /* the VM stops here once it moved */
	"snapshot-load",                            /* the running state is replaced */
	"inject-nmi",                               /* many guests crash on it (Windows does) */
	NULL,
};

/* The `info` subcommands a protected VM's HMP allows: they only show things. */
static const char *const hmp_info[] = {
	"balloon", "block", "block-jobs", "blockstats", "chardev", "cpus", "dump", "hotpluggable-cpus",
	"iothreads", "kvm", "memdev", "memory-devices", "memory_size_summary", "mice", "migrate",
	"migrate_capabilities", "migrate_parameters", "mtree", "name", "network", "numa", "pci",
	"qom-tree", "qtree", "registers", "roms", "snapshots", "spice", "status", "tpm", "usb", "uuid",
	"version", "vnc", NULL,
};

/* Why a protected VM refuses an HMP command line. */
static const char hmp_why[] = "the VM is protected (lifecycle.protected): HMP allows only read-only 'info' commands";

/* True when name is in the NULL-terminated list (which may be NULL). */
static bool listed(const char *const *list, const char *name, size_t len)
{
	for (; list && *list; list++)
		if (strlen(*list) == len && !memcmp(*list, name, len))
			return true;
	return false;
}

/* Where the word at s ends (QEMU's HMP separates words with isspace's bytes). */
static const char *word_end(const char *s)
{
	while (*s && !strchr(" \t\n\v\f\r", *s))
		s++;
	return s;
}

/* Where the spaces at s end. */
static const char *skip_spaces(const char *s)
{
	while (*s && strchr(" \t\n\v\f\r", *s))
		s++;
	return s;
}

/* True when the HMP command line of a human-monitor-command is "info", one of hmp_info,
 * then whatever arguments that takes. */
static bool hmp_read_only(struct json_object *cmd)
{
	struct json_object *args, *line;
	const char *s, *end;

	if (!json_object_object_get_ex(cmd, "arguments", &args) ||
	    !json_object_object_get_ex(args, "command-line", &line) || !json_object_is_type(line, json_type_string))
		return false;
	s = skip_spaces(json_object_get_string(line));
	if (strlen(s) + (size_t)(s - json_object_get_string(line)) != (size_t)json_object_get_string_len(line))
		return false; /* a NUL inside: not what it seems */
	end = word_end(s);
	if (end - s != 4 || memcmp(s, "info", 4))
		return false;
	s = skip_spaces(end);
	return listed(hmp_info, s, (size_t)(word_end(s) - s));
}

const char *proxy_refusal(const struct proxy_policy *policy, const char *name, struct json_object *cmd)
{
	if (!policy || !policy->refused)
		return NULL;
	if (listed(policy->refused, name, strlen(name)) || listed(protected_commands, name, strlen(name)))
		return policy->why;
	if (!strcmp(name, "human-monitor-command") && !hmp_read_only(cmd))
		return hmp_why;
	return NULL;
}
