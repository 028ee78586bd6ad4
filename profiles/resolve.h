/* Profile composition: a profile's "include" list (applied in order, the file itself
 * last), then the CLI's extra profiles (-p), then its --set overrides, merged into one
 * JSON object. Each file is read once per resolution, and an included file is applied
 * once, at its first place: including it again (two profiles that both include
 * q35-ovmf) changes nothing. Merging: objects merge key by key; lists of objects with an "id" merge
 * element by element by that id (new ids are appended); any other value, list included,
 * replaces what was there; null removes a key.
 * This is the one place profile paths (boot.kernel, boot.initrd, disks[].file,
 * passthrough[].rom) are expanded: ${PROFILE_DIR}, ${VMM_CACHE_DIR} and ${VMM_DATA_DIR}
 * (host.h's directories) anywhere in them, and a relative path made absolute against the
 * folder of the file that wrote it (the working directory for --set); the merged profile
 * holds only absolute paths.
 * Each value remembers the file it came from, so errors can name it. */
#ifndef VMM_RESOLVE_H
#define VMM_RESOLVE_H

#include <json-c/json.h>

#include "vmm/base/error.h"
#include "vmm/base/util.h"

struct resolved {
	char *path;                  /* the top profile's file */
	struct json_object *json;    /* the merged profile, without "include" */
	struct json_object *origins; /* JSON path ("disks[1].cache") -> the file that set it */
};

/* Resolves profile arg (a path or a name on the search path) with extra profiles
 * layered on top and key=value overrides ("memory.size=8G", "disks[root].cache=none").
 * Every problem is reported; returns 0 or -1. */
int profile_resolve(const char *arg, const struct strv *layers, const struct strv *sets, struct resolved *out,
		    struct verr *err);

void resolved_free(struct resolved *r);

/* Merges one more profile file on top of a resolved profile, as a -p layer is (its values
 * remember that file). Returns 0, or -1 with err. */
int profile_apply_layer(struct resolved *r, const char *file, struct verr *err);

/* A word typed like qmp-shell (--set values, vmm qmp arguments): JSON when the whole word
 * is JSON (numbers, booleans, objects, lists, quoted strings), else the word as a string. */
struct json_object *json_from_word(const char *s);

#endif
