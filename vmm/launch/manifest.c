#include "vmm/launch/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm/base/util.h"

/* A string member of o. */
static const char *str(struct json_object *o, const char *key)
{
	return json_object_get_string(json_object_object_get(o, key));
}

/* True when o is a string with a file name of DIR (no '/', not hidden). */
static bool is_name(struct json_object *o)
{
	const char *s = json_object_get_string(o);

	return json_object_is_type(o, json_type_string) && s[0] && s[0] != '.' && !strchr(s, '/');
}

/* True when member key of o is a string. */
static bool has_str(struct json_object *o, const char *key)
{
	return json_object_is_type(json_object_object_get(o, key), json_type_string);
}

int manifest_check(const char *file, struct json_object *o, struct verr *err)
{
	struct json_object *backups, *profile, *disks;

	if (!json_object_is_type(o, json_type_object) || !has_str(o, MANIFEST_VM) ||
	    !json_object_object_get_ex(o, MANIFEST_BACKUPS, &backups) || !json_object_is_type(backups, json_type_array))
		return verr_set(err, 0, "'%s': expected {\"vm\": NAME, \"backups\": [...], ...}", file);
	for (size_t b = 0; b < json_object_array_length(backups); b++) {
		struct json_object *e = json_object_array_get_idx(backups, b);
		if (!json_object_object_get_ex(e, "disks", &disks) || !json_object_is_type(disks, json_type_array))
			return verr_set(err, 0, "'%s': backups[%zu]: expected {\"disks\": [...], ...}", file, b);
		for (size_t i = 0; i < json_object_array_length(disks); i++) {
			struct json_object *d = json_object_array_get_idx(disks, i), *back;
			if (!has_str(d, "id") || !is_name(json_object_object_get(d, "file")) || !has_str(d, "sha256") ||
			    (json_object_object_get_ex(d, "backing", &back) && !is_name(back)))
				return verr_set(err, 0, "'%s': backups[%zu].disks[%zu]: expected {\"id\": ID, \"file\": a file "
						"name in the directory, \"sha256\": HEX, ...}", file, b, i);
		}
	}
	if (!json_object_object_get_ex(o, MANIFEST_PROFILE, &profile))
		return 0;
	if (!json_object_is_type(profile, json_type_object) ||
	    (json_object_object_get_ex(profile, "disks", &disks) && !json_object_is_type(disks, json_type_array)))
		return verr_set(err, 0, "'%s': profile: expected the VM's profile, an object", file);
	for (size_t i = 0; disks && i < json_object_array_length(disks); i++)
		if (!has_str(json_object_array_get_idx(disks, i), "id"))
			return verr_set(err, 0, "'%s': profile.disks[%zu]: expected {\"id\": ID, ...}", file, i);
	return 0;
}

int manifest_load(const char *dir, const char *name, struct json_object **m, struct verr *err)
{
	_cleanup_free_ char *file = xasprintf("%s/" MANIFEST, dir);
	struct json_object *o;

	if (access(file, F_OK) < 0) {
		*m = json_object_new_object();
		json_object_object_add(*m, MANIFEST_VM, json_object_new_string(name));
		json_object_object_add(*m, MANIFEST_BITMAP, json_object_new_string(BITMAP));
		json_object_object_add(*m, MANIFEST_BACKUPS, json_object_new_array());
		return 0;
	}
	if (!(o = json_object_from_file(file)))
		return verr_set(err, 0, "'%s': cannot read it as JSON: %s", file, json_util_get_last_err());
	if (manifest_check(file, o, err) < 0) {
		json_object_put(o);
		return -1;
	}
	if (name && strcmp(str(o, MANIFEST_VM), name)) {
		verr_set(err, 0, "'%s' holds backups of VM '%s', not of '%s'", file, str(o, MANIFEST_VM), name);
		json_object_put(o);
		return -1;
	}
	*m = o;
	return 0;
}

int manifest_save(const char *dir, struct json_object *m, struct verr *err)
{
	_cleanup_free_ char *file = xasprintf("%s/" MANIFEST, dir), *tmp = xasprintf("%s.tmp", file);
	const char *text = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || write_all(fd, "\n", 1) < 0 || fsync(fd) < 0 ||
	    rename(tmp, file) < 0) {
		int e = errno;
		unlink(tmp);
		return verr_set(err, e, "cannot write '%s'", file);
	}
	return 0;
}

