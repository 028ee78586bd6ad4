#include "profiles/resolve.h"

#include <ctype.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profiles/jsonread.h"
#include "profiles/profile.h"
#include "vmm/base/host.h"
#include "vmm/base/strict.h"

/* How deep includes may nest. */
#define MAX_DEPTH 16

/* Where relative paths may appear ("[]" stands for any list index). */
static const char *const path_keys[] = { "boot.kernel", "boot.initrd", "disks[].file", "passthrough[].rom",
					 "cloud_init.user_data", "cloud_init.network_config", NULL };

/* Where a value comes from: the file named in origins and errors ("--set" for --set values),
 * and the folder its relative paths are relative to. */
struct source {
	const char *file;
	const char *dir;
};

/* The state of one resolution. */
struct resolver {
	struct verr *err;
	struct json_object *origins;
	char *cache_dir, *data_dir; /* what ${VMM_CACHE_DIR} and ${VMM_DATA_DIR} stand for */
	struct json_object *files;  /* real path -> parsed profile, of each file read so far */
	char *stack[MAX_DEPTH];     /* the files being loaded, outermost first */
	size_t depth;
};

/* True when a JSON path names a file path value ("disks[2].file" matches "disks[].file"). */
static bool is_path_key(const char *path)
{
	_cleanup_free_ char *shape = xmalloc(strlen(path) + 1);
	char *o = shape;

	for (const char *p = path; *p; p++) {
		*o++ = *p;
		if (*p == '[')
			while (p[1] && p[1] != ']')
				p++;
	}
	*o = '\0';
	for (size_t i = 0; path_keys[i]; i++)
		if (!strcmp(shape, path_keys[i]))
			return true;
	return false;
}

/* Records that file set the value at path, forgetting what was recorded below it. */
static void set_origin(struct json_object *origins, const char *path, const char *file)
{
	size_t n = strlen(path);
	struct strv stale = { 0 };

	json_object_object_foreach(origins, key, val) {
		(void)val;
		if (!strncmp(key, path, n) && (key[n] == '.' || key[n] == '['))
			strv_push(&stale, key);
	}
	for (size_t i = 0; i < stale.n; i++)
		json_object_object_del(origins, stale.v[i]);
	strv_free(&stale);
	json_object_object_add(origins, path, json_object_new_string(file));
}

/* What variable name (n bytes) stands for in a path written by a file in dir; NULL when unknown. */
static const char *path_variable(const struct resolver *r, const char *name, size_t n, const char *dir)
{
	static const char *const names[] = { "PROFILE_DIR", "VMM_CACHE_DIR", "VMM_DATA_DIR" };
	const char *const values[] = { dir, r->cache_dir, r->data_dir };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && !strncmp(name, names[i], n))
			return values[i];
	return NULL;
}

/* The one place profile paths are expanded: ${PROFILE_DIR} (dir, the folder of the file that
 * wrote the value), ${VMM_CACHE_DIR} and ${VMM_DATA_DIR} anywhere in s, then a relative result
 * made absolute against dir. Returns NULL with *why for a variable that is unknown or unterminated. */
static char *expand_path(const struct resolver *r, const char *s, const char *dir, char **why)
{
	char *out = xstrdup(""), *longer;
	const char *p = s, *var;

	while ((var = strstr(p, "${"))) {
		size_t n = strcspn(var + 2, "}");
		const char *value = path_variable(r, var + 2, n, dir);

		if (var[2 + n] != '}' || !value) {
			*why = var[2 + n] != '}' ? xasprintf("unterminated '${' in '%s'", s)
						 : xasprintf("unknown variable '${%.*s}' (expected VMM_CACHE_DIR, "
							     "VMM_DATA_DIR or PROFILE_DIR)", (int)n, var + 2);
			free(out);
			return NULL;
		}
		longer = xasprintf("%s%.*s%s", out, (int)(var - p), p, value);
		free(out);
		out = longer;
		p = var + 3 + n;
	}
	longer = xasprintf("%s%s", out, p);
	free(out);
	if (longer[0] == '/')
		return longer;
	out = xasprintf("%s/%s", dir, longer);
	free(longer);
	return out;
}

/* A path value (at path) expanded; other values shared. Reports what cannot be expanded and
 * keeps the value as written. */
static struct json_object *expand_value(struct resolver *r, struct json_object *v, const char *path,
					const struct source *from)
{
	_cleanup_free_ char *abs = NULL, *why = NULL;

	if (!json_object_is_type(v, json_type_string) || !json_object_get_string_len(v))
		return json_object_get(v);
	abs = expand_path(r, json_object_get_string(v), from->dir, &why);
	if (!abs) {
		verr_set(r->err, 0, "%s: %s: %s", from->file, path, why);
		return json_object_get(v);
	}
	return json_object_new_string(abs);
}

/* A deep copy of v (at path) with its path values expanded. */
static struct json_object *copy_value(struct resolver *r, struct json_object *v, const char *path,
				      const struct source *from)
{
	struct json_object *out;

	if (is_path_key(path))
		return expand_value(r, v, path, from);
	if (json_object_is_type(v, json_type_object)) {
		out = json_object_new_object();
		json_object_object_foreach(v, key, val) {
			_cleanup_free_ char *p = json_path_key(path, key);
			json_object_object_add(out, key, copy_value(r, val, p, from));
		}
		return out;
	}
	if (json_object_is_type(v, json_type_array)) {
		out = json_object_new_array();
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			_cleanup_free_ char *p = json_path_index(path, i);
			json_object_array_add(out, copy_value(r, json_object_array_get_idx(v, i), p, from));
		}
		return out;
	}
	return json_object_get(v);
}

/* The "id" of a list element, or NULL. */
static const char *element_id(struct json_object *e)
{
	struct json_object *id;

	if (json_object_is_type(e, json_type_object) && json_object_object_get_ex(e, "id", &id) &&
	    json_object_is_type(id, json_type_string))
		return json_object_get_string(id);
	return NULL;
}

/* True when every element of a non-empty list is an object with an "id". */
static bool is_id_list(struct json_object *a)
{
	size_t n = json_object_array_length(a);

	for (size_t i = 0; i < n; i++)
		if (!element_id(json_object_array_get_idx(a, i)))
			return false;
	return n > 0;
}

/* The index of the element with this id, or -1. */
static ssize_t find_id(struct json_object *a, const char *id)
{
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		const char *e = element_id(json_object_array_get_idx(a, i));
		if (e && !strcmp(e, id))
			return (ssize_t)i;
	}
	return -1;
}

static void merge_object(struct resolver *r, struct json_object *dst, struct json_object *src, const char *prefix,
			 const struct source *from);

/* Merges a list of objects with ids into dst, element by element. */
static void merge_list(struct resolver *r, struct json_object *dst, struct json_object *src, const char *path,
		       const struct source *from)
{
	for (size_t i = 0; i < json_object_array_length(src); i++) {
		struct json_object *e = json_object_array_get_idx(src, i);
		ssize_t k = find_id(dst, element_id(e));
		_cleanup_free_ char *p = NULL;

		if (k >= 0) {
			p = json_path_index(path, (size_t)k);
			merge_object(r, json_object_array_get_idx(dst, (size_t)k), e, p, from);
		} else {
			p = json_path_index(path, json_object_array_length(dst));
			json_object_array_add(dst, copy_value(r, e, p, from));
			set_origin(r->origins, p, from->file);
		}
	}
}

/* Merges src into dst at prefix. */
static void merge_object(struct resolver *r, struct json_object *dst, struct json_object *src, const char *prefix,
			 const struct source *from)
{
	json_object_object_foreach(src, key, val) {
		_cleanup_free_ char *path = json_path_key(prefix, key);
		struct json_object *cur = NULL;

		if (!*prefix && !strcmp(key, "include"))
			continue;
		json_object_object_get_ex(dst, key, &cur);
		if (!val) {
			json_object_object_del(dst, key);
			set_origin(r->origins, path, from->file);
		} else if (json_object_is_type(val, json_type_object) && json_object_is_type(cur, json_type_object))
			merge_object(r, cur, val, path, from);
		else if (json_object_is_type(val, json_type_array) && json_object_is_type(cur, json_type_array) &&
			 is_id_list(val) && is_id_list(cur))
			merge_list(r, cur, val, path, from);
		else {
			json_object_object_add(dst, key, copy_value(r, val, path, from));
			set_origin(r->origins, path, from->file);
		}
	}
}

/* The directory of a file, absolute. */
static char *dir_of(const char *file)
{
	_cleanup_free_ char *real = realpath(file, NULL), *copy = xstrdup(real ? real : file);
	return xstrdup(dirname(copy));
}

/* Finds an include: a path (relative to the including file's dir), or a name: first
 * NAME.json next to the including file (bundled profiles find each other), then the search path. */
static char *find_include(const char *name, const char *dir, struct verr *err)
{
	size_t len = strlen(name);
	char *path, *real;

	if (!strchr(name, '/') && !(len > 5 && !strcmp(name + len - 5, ".json"))) {
		path = xasprintf("%s/%s.json", dir, name);
		if (name[0] != '.' && access(path, F_OK) == 0)
			return path;
		free(path);
		return profile_find(name, err);
	}
	path = name[0] == '/' ? xstrdup(name) : xasprintf("%s/%s", dir, name);
	if (access(path, F_OK) < 0) {
		verr_set(err, 0, "no profile file '%s'", path);
		free(path);
		return NULL;
	}
	real = realpath(path, NULL);
	if (real) {
		free(path);
		path = real;
	}
	return path;
}

/* Says "a.json -> b.json -> a.json" for an include cycle. */
static char *cycle_text(struct resolver *r, size_t from, const char *again)
{
	size_t len = strlen(again) + 1;
	char *s;

	for (size_t i = from; i < r->depth; i++)
		len += strlen(r->stack[i]) + 4;
	s = xzalloc(len);
	for (size_t i = from; i < r->depth; i++) {
		strcat(s, r->stack[i]);
		strcat(s, " -> ");
	}
	strcat(s, again);
	return s;
}

static int load(struct resolver *r, const char *file, bool include, struct json_object *dst);

/* Loads the includes of json (read from file) into dst, in order. */
static int load_includes(struct resolver *r, const char *file, struct json_object *json, struct json_object *dst)
{
	_cleanup_free_ char *dir = dir_of(file);
	struct json_object *inc;
	int ret = 0;

	if (!json_object_object_get_ex(json, "include", &inc))
		return 0;
	if (!json_object_is_type(inc, json_type_array))
		return verr_set(r->err, 0, "%s: include: expected a list of profile names or paths", file);
	for (size_t i = 0; i < json_object_array_length(inc); i++) {
		struct json_object *e = json_object_array_get_idx(inc, i);
		_cleanup_verr_ struct verr why = { 0 };
		_cleanup_free_ char *found = NULL;

		if (!json_object_is_type(e, json_type_string)) {
			ret = verr_set(r->err, 0, "%s: include[%zu]: expected a profile name or path", file, i);
			continue;
		}
		found = find_include(json_object_get_string(e), dir, &why);
		if (!found) {
			verr_wrap(&why, "%s: include[%zu]", file, i);
			ret = verr_append(r->err, &why);
			continue;
		}
		if (load(r, found, true, dst) < 0)
			ret = -1;
	}
	return ret;
}

/* The profile file (known as key, its real path) parsed, read only the first time it is asked for. */
static struct json_object *read_once(struct resolver *r, const char *file, const char *key)
{
	struct json_object *json;

	if (json_object_object_get_ex(r->files, key, &json))
		return json;
	json = profile_read(file, r->err);
	if (json)
		json_object_object_add(r->files, key, json);
	return json;
}

/* Loads one profile file (its includes first) and merges it into dst. An include of a file
 * this resolution has loaded already is skipped: each is applied once, at its first place. */
static int load(struct resolver *r, const char *file, bool include, struct json_object *dst)
{
	_cleanup_free_ char *real = realpath(file, NULL), *dir = dir_of(file);
	const char *key = real ? real : file;
	struct source from = { .file = file, .dir = dir };
	struct json_object *json;
	size_t before = r->err->n;
	int ret;

	for (size_t i = 0; i < r->depth; i++) {
		if (!strcmp(r->stack[i], key)) {
			_cleanup_free_ char *cycle = cycle_text(r, i, key);
			return verr_set(r->err, 0, "%s: include cycle: %s", r->stack[r->depth - 1], cycle);
		}
	}
	if (include && json_object_object_get_ex(r->files, key, NULL))
		return 0;
	if (r->depth == MAX_DEPTH)
		return verr_set(r->err, 0, "%s: includes nest deeper than %d profiles", file, MAX_DEPTH);
	json = read_once(r, file, key);
	if (!json)
		return -1;
	r->stack[r->depth++] = xstrdup(key);
	ret = load_includes(r, file, json, dst);
	if (ret == 0)
		merge_object(r, dst, json, "", &from);
	if (r->err->n > before)
		ret = -1;
	free(r->stack[--r->depth]);
	return ret;
}

/* Types a command-line word as JSON, else as a string. */
struct json_object *json_from_word(const char *s)
{
	struct json_tokener *tok = json_tokener_new();
	size_t len = strlen(s);
	struct json_object *v;

	/* Strict JSON, the whole word and nothing around it: json-c alone takes "0-3" and "0x4" for
	 * the number 0, "[1] 2" for [1], " 4" for 4 and "01" for 1. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	v = json_tokener_parse_ex(tok, s, (int)len + 1);
	if (json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != len ||
	    isspace((unsigned char)s[0]) || (len && isspace((unsigned char)s[len - 1]))) {
		json_object_put(v);
		v = json_object_new_string(s);
	}
	json_tokener_free(tok);
	return v;
}

/* Steps into list element "[N]" or "[ID]" of cur; NULL when there is none. */
static struct json_object *step_index(struct json_object *cur, const char *sel, char **path)
{
	uint64_t n;
	ssize_t k;
	char *p;

	if (!json_object_is_type(cur, json_type_array))
		return NULL;
	/* Only digits are an index: " 1" and "+1" are ids (of no element). */
	if (parse_uint(sel, 0, UINT64_MAX, &n) == 0)
		k = n < json_object_array_length(cur) ? (ssize_t)n : -1;
	else
		k = find_id(cur, sel);
	if (k < 0)
		return NULL;
	p = json_path_index(*path, (size_t)k);
	free(*path);
	*path = p;
	return json_object_array_get_idx(cur, (size_t)k);
}

/* Applies one --set KEY=VALUE to the merged profile. */
static int apply_set(struct resolver *r, struct json_object *root, const char *set)
{
	const char *eq = strchr(set, '=');
	_cleanup_free_ char *key = eq ? strndup(set, (size_t)(eq - set)) : NULL, *path = xstrdup("");
	_cleanup_free_ char *cwd = getcwd(NULL, 0);
	struct source from = { .file = "--set", .dir = cwd ? cwd : "." };
	struct json_object *cur = root;
	char *tok, *save = NULL;

	if (!key || !*key)
		return verr_set(r->err, 0, "--set %s: expected KEY=VALUE, such as memory.size=8G", set);
	for (tok = strtok_r(key, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
		char *sel = strchr(tok, '['), *next_tok;
		struct json_object *next = NULL;
		_cleanup_free_ char *p = NULL;

		if (sel)
			*sel++ = '\0';
		next_tok = save && *save ? save : NULL;
		p = json_path_key(path, tok);
		if (!*tok || !json_object_is_type(cur, json_type_object))
			return verr_set(r->err, 0, "--set %s: '%s' is not an object", set, *path ? path : "the profile");
		free(path);
		path = steal_ptr(p);
		if (!sel && !next_tok) {
			struct json_object *v = json_from_word(eq + 1);
			size_t before = r->err->n;
			json_object_object_add(cur, tok, copy_value(r, v, path, &from));
			json_object_put(v);
			set_origin(r->origins, path, from.file);
			return r->err->n > before ? -1 : 0;
		}
		if (!json_object_object_get_ex(cur, tok, &next)) {
			if (sel)
				return verr_set(r->err, 0, "--set %s: the profile has no '%s'", set, path);
			next = json_object_new_object();
			json_object_object_add(cur, tok, next);
		}
		cur = next;
		if (sel) {
			char *close = strchr(sel, ']');
			if (!close || close[1])
				return verr_set(r->err, 0, "--set %s: expected NAME[ID] or NAME[N] in '%s'", set, tok);
			*close = '\0';
			cur = step_index(cur, sel, &path);
			if (!cur)
				return verr_set(r->err, 0, "--set %s: '%s' has no element '%s'", set, tok, sel);
			if (!next_tok)
				return verr_set(r->err, 0, "--set %s: expected a key after '[%s]'", set, sel);
		}
	}
	return 0;
}

/* Composes a profile, its layers and --set overrides into one object. */
int profile_resolve(const char *arg, const struct strv *layers, const struct strv *sets, struct resolved *out,
		    struct verr *err)
{
	struct resolver r = { .err = err, .origins = json_object_new_object(), .cache_dir = cache_dir(),
			      .data_dir = data_dir(), .files = json_object_new_object() };
	struct json_object *json = json_object_new_object();
	char *path = profile_find(arg, err);
	int ret = path ? load(&r, path, false, json) : -1;

	for (size_t i = 0; ret == 0 && layers && i < layers->n; i++) {
		_cleanup_free_ char *layer = profile_find(layers->v[i], err);
		if (!layer || load(&r, layer, false, json) < 0)
			ret = -1;
	}
	for (size_t i = 0; ret == 0 && sets && i < sets->n; i++)
		if (apply_set(&r, json, sets->v[i]) < 0)
			ret = -1;
	free(r.cache_dir);
	free(r.data_dir);
	json_object_put(r.files);
	if (ret < 0) {
		json_object_put(json);
		json_object_put(r.origins);
		free(path);
		return -1;
	}
	*out = (struct resolved){ .path = path, .json = json, .origins = r.origins };
	return 0;
}

int profile_apply_layer(struct resolved *r, const char *file, struct verr *err)
{
	struct resolver res = { .err = err, .origins = r->origins, .cache_dir = cache_dir(), .data_dir = data_dir(),
				.files = json_object_new_object() };
	int ret = load(&res, file, false, r->json);

	free(res.cache_dir);
	free(res.data_dir);
	json_object_put(res.files);
	return ret;
}

/* Frees a resolved profile. */
void resolved_free(struct resolved *r)
{
	free(r->path);
	json_object_put(r->json);
	json_object_put(r->origins);
	*r = (struct resolved){ 0 };
}
