#include "vmm/launch/chain.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "vmm/base/host.h"
#include "vmm/base/util.h"

char *chain_file(const char *name)
{
	_cleanup_free_ char *data = data_dir();

	return xasprintf("%s/%s/" CHAIN_FILE, data, name);
}

int chain_lock(const char *name, struct verr *err)
{
	_cleanup_free_ char *data = data_dir(), *dir = xasprintf("%s/%s", data, name);
	_cleanup_free_ char *file = xasprintf("%s/" CHAIN_LOCK, dir);
	int fd;

	if (mkdir_parents(dir, 0700) < 0)
		return verr_set(err, errno, "cannot create the VM's data directory '%s'", dir);
	fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return verr_set(err, errno, "cannot open '%s'", file);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		return e == EWOULDBLOCK ? verr_set(err, 0, "another vmm is changing the snapshots of VM '%s' (it holds '%s')",
						  name, file)
					: verr_set(err, e, "cannot lock '%s'", file);
	}
	return fd;
}

/* True when o is a string holding an absolute path. */
static bool is_path(struct json_object *o)
{
	return json_object_is_type(o, json_type_string) && json_object_get_string(o)[0] == '/';
}

/* Checks one snapshot (snapshots[i]); -1 with err when it is not as chain.h says. */
static int check_snapshot(const char *file, size_t i, struct json_object *s, struct verr *err)
{
	struct json_object *tag, *kind, *time, *disks;

	if (!json_object_object_get_ex(s, "tag", &tag) || !json_object_is_type(tag, json_type_string) ||
	    !json_object_object_get_ex(s, "kind", &kind) || !json_object_is_type(kind, json_type_string) ||
	    (strcmp(json_object_get_string(kind), "disk") && strcmp(json_object_get_string(kind), "full")) ||
	    !json_object_object_get_ex(s, "time", &time) || !json_object_is_type(time, json_type_int) ||
	    !json_object_object_get_ex(s, "disks", &disks) || !json_object_is_type(disks, json_type_array))
		return verr_set(err, 0, "'%s': snapshots[%zu]: expected {\"tag\": T, \"kind\": \"disk\" or \"full\", "
				"\"time\": SECONDS, \"disks\": [...]}", file, i);
	for (size_t j = 0; j < json_object_array_length(disks); j++) {
		struct json_object *d = json_object_array_get_idx(disks, j), *id, *image, *overlay;
		bool disk_only = !strcmp(json_object_get_string(kind), "disk");
		if (!json_object_object_get_ex(d, "id", &id) || !json_object_is_type(id, json_type_string) ||
		    !json_object_object_get_ex(d, "image", &image) || !is_path(image) ||
		    (disk_only && (!json_object_object_get_ex(d, "overlay", &overlay) || !is_path(overlay))))
			return verr_set(err, 0, "'%s': snapshots[%zu].disks[%zu]: expected {\"id\": ID, \"image\": "
					"ABSOLUTE PATH%s}", file, i, j, disk_only ? ", \"overlay\": ABSOLUTE PATH" : "");
	}
	return 0;
}

int chain_check(const char *file, struct json_object *chain, struct verr *err)
{
	struct json_object *disks, *snapshots;

	if (!json_object_is_type(chain, json_type_object) || !json_object_object_get_ex(chain, "disks", &disks) ||
	    !json_object_is_type(disks, json_type_object) || !json_object_object_get_ex(chain, "snapshots", &snapshots) ||
	    !json_object_is_type(snapshots, json_type_array))
		return verr_set(err, 0, "'%s': expected {\"disks\": {...}, \"snapshots\": [...]}", file);
	json_object_object_foreach(disks, id, d) {
		struct json_object *layers;
		if (!json_object_object_get_ex(d, "layers", &layers) || !json_object_is_type(layers, json_type_array))
			return verr_set(err, 0, "'%s': disks.%s: expected {\"layers\": [ABSOLUTE PATH, ...]}", file, id);
		for (size_t i = 0; i < json_object_array_length(layers); i++)
			if (!is_path(json_object_array_get_idx(layers, i)))
				return verr_set(err, 0, "'%s': disks.%s.layers[%zu]: expected an absolute path", file, id, i);
	}
	for (size_t i = 0; i < json_object_array_length(snapshots); i++)
		if (check_snapshot(file, i, json_object_array_get_idx(snapshots, i), err) < 0)
			return -1;
	return 0;
}

int chain_load(const char *name, struct json_object **chain, struct verr *err)
{
	_cleanup_free_ char *file = chain_file(name);
	struct json_object *o;

	if (access(file, F_OK) < 0 && errno == ENOENT) {
		*chain = json_object_new_object();
		json_object_object_add(*chain, "disks", json_object_new_object());
		json_object_object_add(*chain, "snapshots", json_object_new_array());
		return 0;
	}
	o = json_object_from_file(file);
	if (!o)
		return verr_set(err, 0, "'%s': cannot read it as JSON: %s", file, json_util_get_last_err());
	if (chain_check(file, o, err) < 0) {
		json_object_put(o);
		return -1;
	}
	*chain = o;
	return 0;
}

int chain_save(const char *name, struct json_object *chain, struct verr *err)
{
	_cleanup_free_ char *file = chain_file(name), *tmp = xasprintf("%s.tmp", file), *dir = xstrdup(file);
	const char *text = json_object_to_json_string_ext(chain, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	_cleanup_close_ int fd = -1;

	*strrchr(dir, '/') = '\0';
	if (mkdir_parents(dir, 0700) < 0)
		return verr_set(err, errno, "cannot create the VM's data directory '%s'", dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || write_all(fd, "\n", 1) < 0 || fsync(fd) < 0 ||
	    rename(tmp, file) < 0) {
		int e = errno;
		unlink(tmp);
		return verr_set(err, e, "cannot write '%s'", file);
	}
	return 0;
}

const char *chain_active(struct json_object *chain, const char *id)
{
	struct json_object *d, *layers;
	size_t n;

	if (!json_object_object_get_ex(json_object_object_get(chain, "disks"), id, &d) ||
	    !json_object_object_get_ex(d, "layers", &layers) || (n = json_object_array_length(layers)) == 0)
		return NULL;
	return json_object_get_string(json_object_array_get_idx(layers, n - 1));
}

struct json_object *chain_snapshot(struct json_object *chain, const char *tag)
{
	struct json_object *snapshots = json_object_object_get(chain, "snapshots");

	for (size_t i = 0; i < json_object_array_length(snapshots); i++) {
		struct json_object *s = json_object_array_get_idx(snapshots, i);
		if (!strcmp(json_object_get_string(json_object_object_get(s, "tag")), tag))
			return s;
	}
	return NULL;
}

int chain_apply(struct vm_config *c, struct verr *err)
{
	struct json_object *chain;

	if (chain_load(c->name, &chain, err) < 0)
		return -1;
	for (size_t i = 0; i < c->n_disks; i++) {
		const char *active = chain_active(chain, c->disks[i].id);
		if (!active)
			continue;
		free(c->disks[i].file);
		c->disks[i].file = xstrdup(active);
		c->disks[i].format = FORMAT_QCOW2;
	}
	json_object_put(chain);
	return 0;
}
