#include "profiles/jsonread.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "vmm/base/util.h"

/* Names longer than this are never suggested for a misspelled key. */
#define SUGGEST_MAX_LEN 63
/* The most edits a misspelled key may be from the key it is taken for. */
#define SUGGEST_MAX_EDITS 2

/* Builds the path of a member. */
char *json_path_key(const char *parent, const char *key)
{
	return *parent ? xasprintf("%s.%s", parent, key) : xstrdup(key);
}

/* Builds the path of a list element. */
char *json_path_index(const char *parent, size_t i)
{
	return xasprintf("%s[%zu]", parent, i);
}

/* Finds the file that set a value, walking up to its parents. */
const char *origin_of(struct json_object *origins, const char *path, const char *fallback)
{
	_cleanup_free_ char *p = xstrdup(path);
	struct json_object *v;

	for (;;) {
		char *cut;
		if (origins && json_object_object_get_ex(origins, p, &v))
			return json_object_get_string(v);
		cut = strrchr(p, '.');
		if (!cut || (strrchr(p, '[') && strrchr(p, '[') > cut))
			cut = strrchr(p, '[');
		if (!cut || cut == p)
			return fallback;
		*cut = '\0';
	}
}

/* Records one problem as "FILE: PATH: message". */
void jr_problem(struct jreader *r, const char *path, const char *key, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL, *at = key ? json_path_key(path, key) : xstrdup(path);
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	verr_set(r->err, 0, "%s: %s: %s", origin_of(r->origins, at, r->file), at, msg);
}

/* Edit distance between a and b, ignoring case; SIZE_MAX when b is too long to compare. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[SUGGEST_MAX_LEN + 1];

	if (lb > SUGGEST_MAX_LEN)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		d[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = d[0];
		d[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = d[j];
			size_t best = prev + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
			if (d[j] + 1 < best)
				best = d[j] + 1;
			if (d[j - 1] + 1 < best)
				best = d[j - 1] + 1;
			d[j] = best;
			prev = cur;
		}
	}
	return d[lb];
}

/* "a, b, c" from a NULL-terminated list, in a new string. */
static char *join_names(const char *const names[])
{
	size_t n = 1;
	char *s;

	for (size_t i = 0; names[i]; i++)
		n += strlen(names[i]) + 2;
	s = xzalloc(n);
	for (size_t i = 0; names[i]; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, names[i]);
	}
	return s;
}

/* The entry of allowed closest to key, when it is close enough to be a misspelling; else NULL. */
static const char *closest(const char *key, const char *const allowed[])
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;

	for (size_t i = 0; allowed[i]; i++) {
		size_t d = distance(key, allowed[i]);
		if (d < best_d) {
			best_d = d;
			best = allowed[i];
		}
	}
	return best && best_d <= SUGGEST_MAX_EDITS && best_d < strlen(key) ? best : NULL;
}

/* True when key is in the NULL-terminated list names. */
static bool listed(const char *key, const char *const names[])
{
	for (size_t i = 0; names[i]; i++)
		if (!strcmp(key, names[i]))
			return true;
	return false;
}

/* Reports unknown members, with "did you mean". */
void jr_check_keys(struct jreader *r, struct json_object *obj, const char *path, const char *const allowed[])
{
	json_object_object_foreach(obj, key, val) {
		const char *best;

		(void)val;
		if (listed(key, allowed))
			continue;
		best = closest(key, allowed);
		if (best)
			jr_problem(r, path, key, "unknown key (did you mean '%s'?)", best);
		else {
			_cleanup_free_ char *all = join_names(allowed);
			jr_problem(r, path, key, "unknown key (expected one of %s)", all);
		}
	}
}

/* Looks up a member of the expected type. */
struct json_object *jr_member(struct jreader *r, struct json_object *obj, const char *path, const char *key,
			      enum json_type type, const char *expected)
{
	struct json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v))
		return NULL;
	if (json_object_is_type(v, type))
		return v;
	jr_problem(r, path, key, "expected %s", expected);
	return NULL;
}

/* Looks up an object member and checks its keys. */
struct json_object *jr_object(struct jreader *r, struct json_object *obj, const char *path, const char *key,
			      const char *const allowed[])
{
	struct json_object *v = jr_member(r, obj, path, key, json_type_object, "an object");
	_cleanup_free_ char *at = NULL;

	if (!v)
		return NULL;
	at = json_path_key(path, key);
	jr_check_keys(r, v, at, allowed);
	return v;
}

/* Checks that a list element is an object with known keys. */
bool jr_element(struct jreader *r, struct json_object *v, const char *path, const char *const allowed[])
{
	if (!json_object_is_type(v, json_type_object)) {
		jr_problem(r, path, NULL, "expected an object");
		return false;
	}
	jr_check_keys(r, v, path, allowed);
	return true;
}

/* Reads an optional string member. */
void jr_string(struct jreader *r, struct json_object *obj, const char *path, const char *key, char **out)
{
	struct json_object *v = jr_member(r, obj, path, key, json_type_string, "a string");

	if (v) {
		free(*out);
		*out = xstrdup(json_object_get_string(v));
	}
}

/* Reads an optional boolean member. */
void jr_bool(struct jreader *r, struct json_object *obj, const char *path, const char *key, bool *out)
{
	struct json_object *v = jr_member(r, obj, path, key, json_type_boolean, "true or false");

	if (v)
		*out = json_object_get_boolean(v);
}

/* Reads an optional integer member within a range. */
void jr_uint(struct jreader *r, struct json_object *obj, const char *path, const char *key, unsigned min,
	     unsigned max, unsigned *out)
{
	_cleanup_free_ char *expected = xasprintf("an integer from %u to %u", min, max);
	struct json_object *v = jr_member(r, obj, path, key, json_type_int, expected);
	int64_t n;

	if (!v)
		return;
	n = json_object_get_int64(v);
	if (n == INT64_MAX) /* json-c's reading of every number past INT64_MAX, even past 64 bits */
		jr_problem(r, path, key, "the number is too large (expected %s)", expected);
	else if (n < min || n > max)
		jr_problem(r, path, key, "%" PRId64 " is out of range (expected %s)", n, expected);
	else
		*out = (unsigned)n;
}

/* Reads an optional string member that names one of a list. */
void jr_oneof(struct jreader *r, struct json_object *obj, const char *path, const char *key,
	      const char *const names[], int *out)
{
	_cleanup_free_ char *all = join_names(names), *expected = xasprintf("one of %s", all);
	struct json_object *v = jr_member(r, obj, path, key, json_type_string, expected);
	const char *s;

	if (!v)
		return;
	s = json_object_get_string(v);
	for (int i = 0; names[i]; i++) {
		if (!strcmp(s, names[i])) {
			*out = i;
			return;
		}
	}
	jr_problem(r, path, key, "'%s' is not one of %s", s, all);
}
