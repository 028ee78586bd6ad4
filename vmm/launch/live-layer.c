/* The live layer of a VM (live-layer.h): read as a profile layer, changed by whole-file
 * rewrites (a temporary file, fsync, rename), so a start never reads half of one. */
#include "vmm/launch/live-layer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "profiles/config.h"
#include "vmm/base/host.h"
#include "vmm/base/util.h"

/* The lists a live layer holds. */
static const char *const lists[] = { "disks", "nics", NULL };

char *live_layer_path(const char *name)
{
	_cleanup_free_ char *data = data_dir();

	return xasprintf("%s/%s/%s", data, name, LIVE_LAYER_FILE);
}

int live_layer_apply(struct resolved *r, const char *name, struct verr *err)
{
	struct json_object *v;
	_cleanup_free_ char *own = NULL, *path = NULL;

	if (!name && json_object_object_get_ex(r->json, "name", &v) && json_object_is_type(v, json_type_string))
		name = json_object_get_string(v);
	if (!name)
		name = own = config_file_name(r->path);
	/* A name that is no VM name fails the profile's checks; it has no layer. */
	if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	path = live_layer_path(name);
	if (access(path, F_OK) < 0)
		return 0;
	return profile_apply_layer(r, path, err);
}

/* Reads the live layer at path: an object with the lists, empty when there is no file. NULL
 * with err when the file is not such an object. */
static struct json_object *layer_read(const char *path, struct verr *err)
{
	struct json_object *o;

	if (access(path, F_OK) < 0)
		return json_object_new_object();
	o = json_object_from_file(path);
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		verr_set(err, 0, "%s: expected a JSON object with \"disks\" and \"nics\" lists", path);
		return NULL;
	}
	return o;
}

int live_layer_check(const char *name, struct verr *err)
{
	_cleanup_free_ char *path = live_layer_path(name);
	struct json_object *o = layer_read(path, err);

	json_object_put(o);
	return o ? 0 : -1;
}

/* Locks the directory of the live layer at path (made when missing) against another vmm's
 * change of the layer until the descriptor returned is closed; -1 with err. */
static int layer_lock(const char *path, struct verr *err)
{
	_cleanup_free_ char *dir = xstrdup(path);
	int fd;

	*strrchr(dir, '/') = '\0';
	if (mkdir_parents(dir, 0700) < 0)
		return verr_set(err, errno, "cannot create '%s'", dir);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return verr_set(err, errno, "cannot open '%s'", dir);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			verr_set(err, errno, "cannot lock '%s'", dir);
			close(fd);
			return -1;
		}
	return fd;
}

/* Writes the live layer at path whole (an empty one is removed). */
static int layer_write(const char *path, struct json_object *o, struct verr *err)
{
	_cleanup_free_ char *dir = xstrdup(path);
	const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);

	if (!json_object_object_length(o))
		return unlink(path) == 0 || errno == ENOENT ? 0 : verr_set(err, errno, "cannot remove '%s'", path);
	*strrchr(dir, '/') = '\0';
	if (mkdir_parents(dir, 0700) < 0)
		return verr_set(err, errno, "cannot create '%s'", dir);
	return write_text_file(path, text) < 0 ? verr_set(err, errno, "cannot write the live layer '%s'", path) : 0;
}

/* Removes the element with id from every list of layer o; true when one was there. */
static bool drop_id(struct json_object *o, const char *id)
{
	bool found = false;

	for (size_t k = 0; lists[k]; k++) {
		struct json_object *list;
		if (!json_object_object_get_ex(o, lists[k], &list) || !json_object_is_type(list, json_type_array))
			continue;
		for (size_t i = json_object_array_length(list); i-- > 0;) {
			struct json_object *e = json_object_array_get_idx(list, i), *v;
			if (json_object_object_get_ex(e, "id", &v) && json_object_is_type(v, json_type_string) &&
			    !strcmp(json_object_get_string(v), id)) {
				json_object_array_del_idx(list, i, 1);
				found = true;
			}
		}
		if (!json_object_array_length(list))
			json_object_object_del(o, lists[k]);
	}
	return found;
}

int live_layer_put(const char *name, const char *list, struct json_object *device, struct verr *err)
{
	_cleanup_free_ char *path = live_layer_path(name);
	_cleanup_close_ int lock = layer_lock(path, err);
	struct json_object *o = lock < 0 ? NULL : layer_read(path, err), *l, *id;
	int ret;

	if (!o)
		return -1;
	if (json_object_object_get_ex(device, "id", &id))
		drop_id(o, json_object_get_string(id));
	if (!json_object_object_get_ex(o, list, &l) || !json_object_is_type(l, json_type_array)) {
		l = json_object_new_array();
		json_object_object_add(o, list, l);
	}
	json_object_array_add(l, json_object_get(device));
	ret = layer_write(path, o, err);
	json_object_put(o);
	return ret;
}

int live_layer_drop(const char *name, const char *id, struct verr *err)
{
	_cleanup_free_ char *path = live_layer_path(name);
	_cleanup_close_ int lock = layer_lock(path, err);
	struct json_object *o = lock < 0 ? NULL : layer_read(path, err);
	int ret;

	if (!o)
		return -1;
	if (!drop_id(o, id)) {
		json_object_put(o);
		return 0;
	}
	ret = layer_write(path, o, err);
	json_object_put(o);
	return ret < 0 ? -1 : 1;
}
