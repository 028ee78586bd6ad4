#include "vmm/supervisor/sup-grants.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <json-c/json.h>

#include "vmm/base/acl.h"
#include "vmm/base/strict.h"
#include "vmm/base/util.h"

/* The record of what was changed, in the run directory. */
#define GRANTS_FILE "grants.json"

/* Serialises grants and give-backs of all VMs (they read each other's records). */
#define GRANTS_LOCK ".grants.lock"

/* Takes the lock beside the VMs' run directories; returns its fd, or -1 with err. */
static int lock_all(struct rundir *rd, struct verr *err)
{
	_cleanup_free_ char *dir = xstrdup(rd->path), *lock = NULL;
	int fd;

	lock = xasprintf("%s/%s", dirname(dir), GRANTS_LOCK);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		verr_set(err, errno, "cannot lock '%s'", lock);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Reads the record at dir fd's GRANTS_FILE (an empty list when there is none). */
static struct json_object *read_record(int dir_fd)
{
	_cleanup_close_ int fd = openat(dir_fd, GRANTS_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct json_object *list = fd >= 0 ? json_object_from_fd(fd) : NULL;

	if (json_object_is_type(list, json_type_array))
		return list;
	json_object_put(list);
	return json_object_new_array();
}

/* The entry of path in list, or NULL. */
static struct json_object *entry_of(struct json_object *list, const char *path)
{
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i), *p;
		if (json_object_object_get_ex(e, "path", &p) && !strcmp(json_object_get_string(p), path))
			return e;
	}
	return NULL;
}

/* The entry of path in the record of another VM than rd's (a new reference), or NULL. */
static struct json_object *others_entry(struct rundir *rd, const char *path)
{
	_cleanup_free_ char *copy = xstrdup(rd->path), *own = xstrdup(rd->path);
	const char *base = dirname(copy), *name = basename(own);
	DIR *d = opendir(base);
	struct dirent *de;
	struct json_object *found = NULL;

	while (d && !found && (de = readdir(d))) {
		_cleanup_close_ int fd = -1;
		struct json_object *list;

		if (de->d_name[0] == '.' || !strcmp(de->d_name, name))
			continue;
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		list = read_record(fd);
		found = json_object_get(entry_of(list, path));
		json_object_put(list);
	}
	if (d)
		closedir(d);
	return found;
}

/* Writes the record. */
static int save(struct rundir *rd, struct json_object *list, struct verr *err)
{
	return rundir_write(rd, GRANTS_FILE, json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN), false,
			    err);
}

/* Whether entry e is kept for purpose (its "for": one purpose, as 643a11c wrote it, or a list). */
static bool kept_for(struct json_object *e, const char *purpose)
{
	struct json_object *v;

	if (!json_object_object_get_ex(e, "for", &v))
		return false;
	if (json_object_is_type(v, json_type_string))
		return !strcmp(json_object_get_string(v), purpose);
	for (size_t i = 0; i < json_object_array_length(v); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(v, i)), purpose))
			return true;
	return false;
}

/* Marks e as needed for purpose too; NULL: for the VM's life, which outlasts every purpose (no
 * "for"). An entry already the VM's life's stays so, unless fresh (just made for purpose).
 * Returns whether e changed. */
static bool mark_for(struct json_object *e, const char *purpose, bool fresh)
{
	struct json_object *v, *list;

	if (!json_object_object_get_ex(e, "for", &v)) {
		if (!purpose || !fresh)
			return false;
		v = NULL;
	} else if (!purpose) {
		json_object_object_del(e, "for");
		return true;
	} else if (kept_for(e, purpose))
		return false;
	list = json_object_new_array();
	if (v && json_object_is_type(v, json_type_string))
		json_object_array_add(list, json_object_get(v));
	for (size_t i = 0; v && json_object_is_type(v, json_type_array) && i < json_object_array_length(v); i++)
		json_object_array_add(list, json_object_get(json_object_array_get_idx(v, i)));
	json_object_array_add(list, json_object_new_string(purpose));
	json_object_object_add(e, "for", list);
	return true;
}

/* Takes purpose off e's "for"; returns whether another purpose keeps it. */
static bool unmark_for(struct json_object *e, const char *purpose)
{
	struct json_object *v, *list;

	if (!json_object_object_get_ex(e, "for", &v) || !json_object_is_type(v, json_type_array))
		return false;
	list = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(v); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(v, i)), purpose))
			json_object_array_add(list, json_object_get(json_object_array_get_idx(v, i)));
	if (!json_object_array_length(list)) {
		json_object_put(list);
		return false;
	}
	json_object_object_add(e, "for", list);
	return true;
}

/* Gives u perms on one path: recorded first (the original state: its own, or the one
 * another VM's record holds), then the ACL entry; nothing when u has them already. The entry
 * is marked as needed for purpose (NULL: the VM's life) for qemu_user_give_back_for(). */
static int grant_one(const struct qemu_user *u, struct rundir *rd, struct json_object *list, const char *path,
		     unsigned perms, const char *purpose, struct verr *err)
{
	struct json_object *e = entry_of(list, path), *other = NULL;
	struct acl_state st = { 0 };
	int64_t had;
	bool fresh = false;
	int have;

	if (e && json_int_member(e, "perms", 0, 7, &had) && ((unsigned)had & perms) == perms) {
		/* What else needs it now: it is put back when the last of them is over. */
		if (mark_for(e, purpose, false) && save(rd, list, err) < 0)
			return -1;
		/* On record, but the path may be a new file since (a VFIO group's node is made again
		 * when its device comes back to vfio-pci): its ACL entry again where it is gone. */
		have = acl_user_perms(path, u->uid, u->groups, u->n_groups, err);
		if (have < 0)
			return -1;
		return ((unsigned)have & perms) == perms ? 0 : acl_add_user(path, u->uid, (unsigned)had, err);
	}
	if (!e && !(other = others_entry(rd, path))) {
		have = acl_user_perms(path, u->uid, u->groups, u->n_groups, err);
		if (have < 0)
			return -1;
		if (((unsigned)have & perms) == perms)
			return 0;
		if (acl_state_read(path, &st, err) < 0)
			return -1;
		e = json_object_new_object();
		json_object_object_add(e, "path", json_object_new_string(path));
		json_object_object_add(e, "mode", json_object_new_int((int)st.mode));
		json_object_object_add(e, "acl", st.acl_hex ? json_object_new_string(st.acl_hex) : NULL);
		json_object_array_add(list, e);
		acl_state_free(&st);
		fresh = true;
	} else if (!e) {
		json_object_deep_copy(other, &e, NULL);
		json_object_object_del(e, "for");
		json_object_array_add(list, e);
		json_object_put(other);
		fresh = true;
	}
	mark_for(e, purpose, fresh);
	if (json_int_member(e, "perms", 0, 7, &had))
		perms |= (unsigned)had;
	json_object_object_add(e, "perms", json_object_new_int((int)perms));
	/* On record before the change: whoever ends the VM puts back what is recorded. */
	if (save(rd, list, err) < 0)
		return -1;
	return acl_add_user(path, u->uid, perms, err);
}

/* Grants search on each directory above path, then perms on path itself, for purpose: a
 * directory that something else needs too is put back once they all are over (one granted for
 * the VM's life stays so, and one a path granted for the VM's life is in becomes so). */
static int grant_path(const struct qemu_user *u, struct rundir *rd, struct json_object *list, const char *path,
		      unsigned perms, const char *purpose, struct verr *err)
{
	_cleanup_free_ char *real = realpath(path, NULL);
	const char *paths[2] = { path, real };

	if (path[0] != '/')
		return verr_set(err, 0, "'%s' is not an absolute path", path);
	for (size_t k = 0; k < 2 && paths[k]; k++) {
		_cleanup_free_ char *dir = xstrdup(paths[k]);
		for (char *slash = strchr(dir + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
			*slash = '\0';
			if (grant_one(u, rd, list, dir, ACL_X, purpose, err) < 0)
				return -1;
			*slash = '/';
		}
	}
	/* Recorded by its real name: the same file by another (a symlink) is the same entry. */
	if (grant_one(u, rd, list, real ? real : path, perms, purpose, err) < 0) {
		verr_wrap(err, "cannot let QEMU's user '%s' reach '%s'", u->name, path);
		return -1;
	}
	return 0;
}

/* Grants each of the n paths under the lock of all VMs' records, for purpose (NULL: the VM's life). */
static int grant_paths(const struct plan *p, struct rundir *rd, const struct qemu_path *paths, size_t n,
		       const char *purpose, struct verr *err)
{
	_cleanup_close_ int lock = -1;
	struct json_object *list;
	int ret = 0;

	if (!p->qemu_user.name || (lock = lock_all(rd, err)) < 0)
		return p->qemu_user.name ? -1 : 0;
	list = read_record(rd->dir_fd);
	/* A path that is not there is left for QEMU to report, as it would as root. */
	for (size_t i = 0; i < n && ret == 0; i++)
		if (access(paths[i].path, F_OK) == 0 || errno != ENOENT)
			ret = grant_path(&p->qemu_user, rd, list, paths[i].path, paths[i].perms, purpose, err);
	json_object_put(list);
	return ret;
}

int qemu_user_grant(const struct plan *p, struct rundir *rd, const char *path, unsigned perms, struct verr *err)
{
	struct qemu_path one = { (char *)path, perms };

	return grant_paths(p, rd, &one, 1, NULL, err);
}

/* The filename of a blockdev-add's node or of its "file" child, and whether it is read-only. */
static const char *blockdev_file(struct json_object *args, bool *readonly)
{
	struct json_object *file, *name, *ro;

	*readonly = json_object_object_get_ex(args, "read-only", &ro) && json_object_get_boolean(ro);
	if (json_object_object_get_ex(args, "filename", &name) && json_object_is_type(name, json_type_string))
		return json_object_get_string(name);
	if (!json_object_object_get_ex(args, "file", &file) || !json_object_is_type(file, json_type_object) ||
	    !json_object_object_get_ex(file, "filename", &name) || !json_object_is_type(name, json_type_string))
		return NULL;
	*readonly |= json_object_object_get_ex(file, "read-only", &ro) && json_object_get_boolean(ro);
	return json_object_get_string(name);
}

int qemu_user_grant_blockdevs(const struct plan *p, struct rundir *rd, struct json_object *commands,
			      struct verr *err)
{
	/* Not a list of commands: blockops_request() refuses it. */
	if (!json_object_is_type(commands, json_type_array))
		return 0;
	for (size_t i = 0; p->qemu_user.name && i < json_object_array_length(commands); i++) {
		struct json_object *cmd = json_object_array_get_idx(commands, i), *name, *args, *node;
		_cleanup_free_ char *purpose = NULL;
		struct qemu_path image;
		bool readonly;

		if (!json_object_object_get_ex(cmd, "execute", &name) || !json_object_is_type(name, json_type_string) ||
		    strcmp(json_object_get_string(name), "blockdev-add") ||
		    !json_object_object_get_ex(cmd, "arguments", &args) ||
		    !(image.path = (char *)blockdev_file(args, &readonly)) || image.path[0] != '/')
			continue;
		image.perms = readonly ? ACL_R : qemu_user_writable(image.path);
		if (json_object_object_get_ex(args, "node-name", &node) && json_object_is_type(node, json_type_string))
			purpose = grant_for_node(json_object_get_string(node));
		if (grant_paths(p, rd, &image, 1, purpose, err) < 0)
			return -1;
	}
	return 0;
}

int qemu_user_grant_tls(const struct plan *p, struct rundir *rd, const char *dir, struct verr *err)
{
	static const char *const files[] = { "ca-cert.pem", "server-cert.pem", "server-key.pem", "client-cert.pem",
					     "client-key.pem" };
	struct qemu_path paths[1 + sizeof(files) / sizeof(*files)] = { { (char *)dir, ACL_R | ACL_X } };
	int ret;

	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++)
		paths[i + 1] = (struct qemu_path){ xasprintf("%s/%s", dir, files[i]), ACL_R };
	ret = grant_paths(p, rd, paths, sizeof(paths) / sizeof(*paths), GRANT_FOR_MIGRATION, err);
	for (size_t i = 1; i < sizeof(paths) / sizeof(*paths); i++)
		free(paths[i].path);
	return ret;
}

int qemu_user_grant_uri(const struct plan *p, struct rundir *rd, const char *uri, bool listen, struct verr *err)
{
	_cleanup_free_ char *path = NULL;
	struct qemu_path one;
	char *slash;

	if (strncmp(uri, "unix:", 5))
		return 0;
	path = xstrdup(uri + 5);
	if (listen && (slash = strrchr(path, '/')))
		*(slash == path ? slash + 1 : slash) = '\0';
	one = (struct qemu_path){ path, listen ? ACL_R | ACL_W | ACL_X : ACL_R | ACL_W };
	return grant_paths(p, rd, &one, 1, GRANT_FOR_MIGRATION, err);
}

int qemu_user_grant_plan(const struct plan *p, struct rundir *rd, struct verr *err)
{
	struct qemu_paths paths;
	int ret;

	if (!p->qemu_user.name)
		return 0;
	if (qemu_user_paths(p, &paths, err) < 0)
		return -1;
	ret = grant_paths(p, rd, paths.v, paths.n, NULL, err);
	qemu_paths_free(&paths);
	return ret;
}

/* Puts back the state entry e of list records, unless another VM's record holds its path
 * (that VM puts it back when it ends). Returns 1 when put back, 0 when left, -1 with err. */
static int give_back_entry(struct rundir *rd, struct json_object *e, size_t i, struct verr *err)
{
	struct json_object *path, *acl, *other;
	struct acl_state st;
	int64_t mode;

	/* The record is a file: a mode of another type ("0644" read as 644) must not be set. */
	if (!json_object_object_get_ex(e, "path", &path) || !json_object_is_type(path, json_type_string) ||
	    !json_int_member(e, "mode", 0, 07777, &mode))
		return verr_set(err, 0, GRANTS_FILE ": entry %zu is not {path, mode, acl, perms}", i);
	if ((other = others_entry(rd, json_object_get_string(path)))) {
		json_object_put(other);
		return 0;
	}
	if (access(json_object_get_string(path), F_OK) < 0 && errno == ENOENT)
		return 0; /* gone (a failed job's file removed): nothing to put back */
	json_object_object_get_ex(e, "acl", &acl);
	st = (struct acl_state){ .mode = (mode_t)mode,
				 .acl_hex = acl ? (char *)json_object_get_string(acl) : NULL };
	return acl_state_restore(json_object_get_string(path), &st, err) == 0 ? 1 : -1;
}

char *grant_for_node(const char *node)
{
	return xasprintf("node %s", node);
}

long qemu_user_give_back_for(struct rundir *rd, const char *purpose, struct verr *err)
{
	_cleanup_close_ int lock = lock_all(rd, err);
	struct json_object *list, *kept;
	bool changed = false;
	long n = 0;
	int ret = 0;

	if (lock < 0)
		return -1;
	list = read_record(rd->dir_fd);
	kept = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		int r;
		if (!kept_for(e, purpose)) {
			json_object_array_add(kept, json_object_get(e));
			continue;
		}
		changed = true;
		if (unmark_for(e, purpose)) { /* still needed for something else */
			json_object_array_add(kept, json_object_get(e));
			continue;
		}
		/* One that cannot be put back stays on record (the VM's end tries again); the others go on. */
		if ((r = give_back_entry(rd, e, i, err)) < 0) {
			json_object_array_add(kept, json_object_get(e));
			ret = -1;
		} else
			n += r;
	}
	if (changed && save(rd, kept, err) < 0)
		ret = -1;
	json_object_put(kept);
	json_object_put(list);
	return ret < 0 ? -1 : n;
}

long qemu_user_give_back(struct rundir *rd, struct verr *err)
{
	_cleanup_close_ int fd = rundir_open_file(rd, GRANTS_FILE, O_RDONLY | O_CLOEXEC, 0), lock = -1;
	struct json_object *list;
	long n = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : verr_set(err, errno, "cannot read " GRANTS_FILE);
	if ((lock = lock_all(rd, err)) < 0)
		return -1;
	list = read_record(rd->dir_fd);
	/* Last granted first: a file before the directories above it. */
	for (size_t i = json_object_array_length(list); i-- > 0;)
		if (give_back_entry(rd, json_object_array_get_idx(list, i), i, err) == 1)
			n++;
	json_object_put(list);
	rundir_unlink(rd, GRANTS_FILE);
	return n;
}
