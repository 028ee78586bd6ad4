/* A typed reader of JSON documents that reports every problem in one pass. A caller asks for
 * members with the type it expects; the reader builds the JSON path of each ("disks[1].cache"),
 * and turns each problem into one line "FILE: PATH: what was expected", FILE being the file
 * that set the value there (an origins map, see resolve.h) or else the document's own file.
 * It knows nothing about what the document describes: that is the caller's schema.
 * The readers of optional members leave *out alone when the member is absent or wrong. */
#ifndef VMM_JSONREAD_H
#define VMM_JSONREAD_H

#include <stdbool.h>

#include <json-c/json.h>

#include "vmm/base/error.h"

struct jreader {
	struct verr *err;            /* where the problems go */
	const char *file;            /* the document's file, named when origins names none */
	struct json_object *origins; /* JSON path -> the file that set the value there; may be NULL */
};

/* The path of member key below parent: "cpu" + "pin" = "cpu.pin", "" + "name" = "name". */
char *json_path_key(const char *parent, const char *key);

/* The path of element i below parent: "disks" + 2 = "disks[2]". */
char *json_path_index(const char *parent, size_t i);

/* The file that set the value at path (or its nearest parent) according to origins, else fallback. */
const char *origin_of(struct json_object *origins, const char *path, const char *fallback);

/* Records one problem at path's member key (key NULL: at path itself). */
void jr_problem(struct jreader *r, const char *path, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Reports every member of obj (at path) that is not in allowed, with "did you mean" when one is close. */
void jr_check_keys(struct jreader *r, struct json_object *obj, const char *path, const char *const allowed[]);

/* The member key of obj (at path; obj may be NULL) when it is of type; NULL when absent, and
 * when of another type after reporting "expected <expected>". */
struct json_object *jr_member(struct jreader *r, struct json_object *obj, const char *path, const char *key,
			      enum json_type type, const char *expected);

/* The object member key of obj (at path), its members checked against allowed; NULL when absent or wrong. */
struct json_object *jr_object(struct jreader *r, struct json_object *obj, const char *path, const char *key,
			      const char *const allowed[]);

/* True when the list element v (at path) is an object, its members checked against allowed. */
bool jr_element(struct jreader *r, struct json_object *v, const char *path, const char *const allowed[]);

/* Reads an optional string member into *out (a new copy; the old one is freed). */
void jr_string(struct jreader *r, struct json_object *obj, const char *path, const char *key, char **out);

/* Reads an optional boolean member. */
void jr_bool(struct jreader *r, struct json_object *obj, const char *path, const char *key, bool *out);

/* Reads an optional integer member that must lie in [min, max]. */
void jr_uint(struct jreader *r, struct json_object *obj, const char *path, const char *key, unsigned min,
	     unsigned max, unsigned *out);

/* Reads an optional string member that must be one of names (NULL-terminated) as its index. */
void jr_oneof(struct jreader *r, struct json_object *obj, const char *path, const char *key,
	      const char *const names[], int *out);

#endif
