/* Finding and reading profile files: JSON with comments, syntax errors as
 * FILE:LINE:COLUMN. */
#ifndef VMM_PROFILE_H
#define VMM_PROFILE_H

#include <json-c/json.h>

#include "vmm/base/error.h"

/* Finds a profile by path (contains '/' or ends in ".json") or by name on the
 * search path: $VMM_PROFILE_PATH (colon-separated), ~/.config/vmm/profiles,
 * /etc/vmm/profiles, then the installed profiles. The profile vmm wrote for a VM it made (a
 * clone), VMM_DATA_DIR/NAME/profile.json, comes first. Returns a malloc'd path. */
char *profile_find(const char *arg, struct verr *err);

/* Parses a profile text of len bytes followed by a NUL (text[len] == 0); `file`
 * names it in errors. Returns a new object or NULL. */
struct json_object *profile_parse(const char *text, size_t len, const char *file, struct verr *err);

/* Reads and parses a profile file. Returns a new object or NULL. */
struct json_object *profile_read(const char *path, struct verr *err);

#endif
