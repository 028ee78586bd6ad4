#include "profiles/config-walk.h"

#include <ctype.h>
#include <string.h>

/* The profile names of an enum table, NULL-terminated, in a new array (of the table's strings). */
const char **cfg_enum_names(const struct enum_name *table)
{
	size_t n = 0;
	const char **names;

	while (table[n].profile)
		n++;
	names = xzalloc((n + 1) * sizeof(*names));
	for (size_t i = 0; i < n; i++)
		names[i] = table[i].profile;
	return names;
}

/* Reads an optional path member (the resolver has expanded it). */
void cfg_get_path(struct walk *w, struct json_object *obj, const char *path, const char *key, char **out)
{
	_cleanup_free_ char *value = NULL;

	jr_string(&w->jr, obj, path, key, &value);
	if (value && !*value)
		jr_problem(&w->jr, path, key, "expected a file name, not an empty string");
	else if (value) {
		free(*out);
		*out = steal_ptr(value);
	}
}

/* True when s is a name QEMU takes whole: 1 to max letters, digits, '-', '_' or '.'. */
bool cfg_valid_name(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

/* Reports the first member of a list at or above limit ("CPU 9 does not exist (the host has 8: 0-7)"). */
void cfg_check_cpus(struct walk *w, const char *path, const struct cpulist *l, long limit, const char *what,
		    const char *owner)
{
	for (size_t i = 0; i < l->n; i++)
		if ((long)l->cpus[i] >= limit) {
			jr_problem(&w->jr, path, NULL, "%s %u does not exist (%s has %ld: 0-%ld)", what, l->cpus[i], owner,
				   limit, limit - 1);
			return;
		}
}

/* Reads an optional cpulist string member of host CPUs. */
void cfg_get_host_cpus(struct walk *w, struct json_object *obj, const char *path, const char *key,
		       struct cpulist *out)
{
	struct json_object *v = jr_member(&w->jr, obj, path, key, json_type_string,
					  "a list of host CPUs such as \"2-3\"");
	_cleanup_free_ char *kpath = json_path_key(path, key);

	if (!v)
		return;
	if (cpulist_parse(json_object_get_string(v), out) < 0)
		jr_problem(&w->jr, kpath, NULL, "'%s' is not a CPU list (expected numbers and ranges such as \"0-3,8\")",
			   json_object_get_string(v));
}

/* The unit of a size that is a number and a unit parse_size() does not know ("1P": "P"), else
 * NULL ("1.5G" and "0x10M" are no number with a unit). */
static const char *unknown_unit(const char *s)
{
	size_t digits = strspn(s, "0123456789");
	const char *unit = s + digits;

	for (const char *c = unit; *c; c++)
		if (!isalpha((unsigned char)*c))
			return NULL;
	return digits && *unit && !strchr("KMGTkmgt", *unit) ? unit : NULL;
}

/* Reads an optional size member ("8G") into *out; min is the smallest accepted. */
void cfg_get_size(struct walk *w, struct json_object *obj, const char *path, const char *key, uint64_t min,
		  uint64_t *out)
{
	struct json_object *v = jr_member(&w->jr, obj, path, key, json_type_string,
					  "a size with a unit, such as \"512M\" or \"8G\"");
	uint64_t bytes;

	if (!v)
		return;
	if (parse_size(json_object_get_string(v), &bytes) < 0 && unknown_unit(json_object_get_string(v)))
		jr_problem(&w->jr, path, key, "'%s': unknown unit '%s' (expected K, M, G or T, such as \"512M\" or \"8G\")",
			   json_object_get_string(v), unknown_unit(json_object_get_string(v)));
	else if (parse_size(json_object_get_string(v), &bytes) < 0)
		jr_problem(&w->jr, path, key, "'%s' is not a size (expected a number with a unit, such as \"512M\" or "
			   "\"8G\")", json_object_get_string(v));
	else if (bytes < min || bytes % MIB)
		jr_problem(&w->jr, path, key, "'%s' must be a whole number of MiB, at least %lluM",
			   json_object_get_string(v), (unsigned long long)(min / MIB));
	else
		*out = bytes;
}
