/* vmm backup NAME DIR [--incremental] [--json], vmm backup NAME --verify DIR, vmm backup
 * restore DIR NEW: backups of a running VM's writable disks into DIR, one point in time for all
 * of them (the blockdev-backup jobs start in one transaction, the guest's filesystems frozen
 * around it when its agent answers). The first backup is full and puts a persistent dirty
 * bitmap (BITMAP) in each disk's qcow2 image in the same transaction; an incremental one copies
 * what the bitmap marks (QEMU clears it when the job succeeds) into a qcow2 file backed by the
 * previous backup of that disk. DIR/manifest.json lists the backups (MANIFEST_* keys: time,
 * disks, bitmap, sizes, sha256 of each file) and the VM's resolved profile; --verify checks
 * each file (qemu-img check, checksum); restore writes VMM_DATA_DIR/NEW/ID.qcow2 (the chain
 * flattened by qemu-img convert) and VMM_DATA_DIR/NEW/profile.json (the profile with those
 * disks and NEW as its name). Nothing is left in DIR or in the images when a backup fails. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "vmm/base/host.h"
#include "vmm/base/rundir.h"
#include "vmm/base/sha256.h"
#include "vmm/base/util.h"
#include "vmm/cli/blockvm.h"
#include "vmm/cli/cmd.h"
#include "vmm/cli/interrupt.h"
#include "vmm/launch/manifest.h"
#include "vmm/launch/qemuimg.h"
#include "vmm/supervisor/protocol.h"


/* One disk being backed up. */
struct target {
	const struct disk_config *d;
	char *node, *file, *path, *tnode; /* the disk's active node; the backup file (in DIR), its node */
	uint64_t size;                    /* virtual */
	bool bitmap;                      /* the disk's node has BITMAP */
	uint64_t dirty;                   /* bytes BITMAP marks */
};

/* A string member of o. */
static const char *str(struct json_object *o, const char *key)
{
	return json_object_get_string(json_object_object_get(o, key));
}

/* The hex SHA-256 of file's contents. */
static char *file_sha256(const char *file, struct verr *err)
{
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
	uint8_t h[SHA256_SIZE];
	char *hex;

	if (fd < 0 || sha256_fd(fd, h) < 0) {
		verr_set(err, errno, "cannot read '%s'", file);
		return NULL;
	}
	hex = xmalloc(2 * SHA256_SIZE + 1);
	for (size_t i = 0; i < SHA256_SIZE; i++)
		sprintf(hex + 2 * i, "%02x", h[i]);
	return hex;
}

/* Bytes a node's image and its backing images hold on the host (at most its virtual size). */
static uint64_t allocated(struct json_object *image)
{
	uint64_t sum = 0, virt = (uint64_t)json_object_get_int64(json_object_object_get(image, "virtual-size"));

	for (struct json_object *i = image; i; i = json_object_object_get(i, "backing-image"))
		sum += (uint64_t)json_object_get_int64(json_object_object_get(i, "actual-size"));
	return sum < virt ? sum : virt;
}

/* Fills in each target's node, size and bitmap from QEMU (query-named-block-nodes); *need is what
 * the backup may write. */
static int look_up(const char *name, struct target *t, size_t n, bool incremental, uint64_t *need, struct verr *err)
{
	struct json_object *a = json_object_new_object(), *nodes;

	json_object_object_add(a, "flat", json_object_new_boolean(true));
	if (block_call(name, "query-named-block-nodes", a, &nodes, err) < 0)
		return -1;
	*need = 0;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < json_object_array_length(nodes) && !t[i].node; k++) {
			struct json_object *x = json_object_array_get_idx(nodes, k), *bitmaps;
			const char *drv = str(x, "drv");
			if (strcmp(str(x, "file"), t[i].d->file) || (strcmp(drv, "qcow2") && strcmp(drv, "raw")))
				continue;
			t[i].node = xstrdup(str(x, "node-name"));
			t[i].size = (uint64_t)json_object_get_int64(json_object_object_get(json_object_object_get(x, "image"),
											   "virtual-size"));
			bitmaps = json_object_object_get(x, "dirty-bitmaps");
			for (size_t b = 0; bitmaps && b < json_object_array_length(bitmaps); b++)
				if (!strcmp(str(json_object_array_get_idx(bitmaps, b), "name"), BITMAP)) {
					t[i].bitmap = true;
					t[i].dirty = (uint64_t)json_object_get_int64(
						json_object_object_get(json_object_array_get_idx(bitmaps, b), "count"));
				}
			*need += incremental ? t[i].dirty : allocated(json_object_object_get(x, "image"));
		}
		if (!t[i].node) {
			json_object_put(nodes);
			return verr_set(err, 0, "VM '%s': QEMU has no block node for '%s'", name, t[i].d->file);
		}
	}
	json_object_put(nodes);
	return 0;
}

/* Refuses what an incremental backup cannot build on: raw disks, disks without the bitmap (no full
 * backup here since, or a snapshot moved the disk to a new layer), a manifest of other disks. */
static int check_incremental(const char *name, struct target *t, size_t n, struct json_object *last, struct verr *err)
{
	struct json_object *disks;

	for (size_t i = 0; i < n; i++)
		if (t[i].d->format != FORMAT_QCOW2)
			return verr_set(err, 0, "incremental backups need qcow2 disks (their dirty bitmap lives in the "
					"image): disk '%s' of VM '%s' is raw ('%s')", t[i].d->id, name, t[i].d->file);
	if (!last)
		return verr_set(err, 0, "no full backup of VM '%s' in this directory yet (vmm backup %s DIR without "
				"--incremental makes one)", name, name);
	disks = json_object_object_get(last, "disks");
	for (size_t i = 0; i < n; i++) {
		bool known = false;
		if (!t[i].bitmap)
			return verr_set(err, 0, "disk '%s' of VM '%s' has no dirty bitmap '" BITMAP "' in '%s' (a snapshot since "
					"the last full backup?): make a full backup", t[i].d->id, name, t[i].d->file);
		for (size_t k = 0; k < json_object_array_length(disks); k++)
			known |= !strcmp(str(json_object_array_get_idx(disks, k), "id"), t[i].d->id);
		if (!known)
			return verr_set(err, 0, "disk '%s' of VM '%s' is not in the last backup: make a full backup", t[i].d->id,
					name);
	}
	return 0;
}

/* The previous backup file of disk id in the last backup. */
static const char *previous(struct json_object *last, const char *id)
{
	struct json_object *disks = json_object_object_get(last, "disks");

	for (size_t k = 0; k < json_object_array_length(disks); k++)
		if (!strcmp(str(json_object_array_get_idx(disks, k), "id"), id))
			return str(json_object_array_get_idx(disks, k), "file");
	return NULL;
}

/* Deletes the target nodes (QEMU lets go of the files). */
static void drop_targets(const char *name, struct target *t, size_t n)
{
	_cleanup_verr_ struct verr ignored = { 0 };

	for (size_t i = 0; i < n; i++) {
		struct json_object *a;
		if (!t[i].tnode)
			continue;
		a = json_object_new_object();
		json_object_object_add(a, "node-name", json_object_new_string(t[i].tnode));
		block_call(name, "blockdev-del", a, NULL, &ignored);
	}
}

/* The actions of the backup's transaction: per disk the bitmap (full: made, or emptied) and the job. */
static struct json_object *actions(struct target *t, size_t n, bool incremental)
{
	struct json_object *list = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		struct json_object *act, *data;
		if (!incremental && t[i].d->format == FORMAT_QCOW2) {
			act = json_object_new_object();
			data = json_object_new_object();
			json_object_object_add(data, "node", json_object_new_string(t[i].node));
			json_object_object_add(data, "name", json_object_new_string(BITMAP));
			if (!t[i].bitmap)
				json_object_object_add(data, "persistent", json_object_new_boolean(true));
			json_object_object_add(act, "type", json_object_new_string(t[i].bitmap ? "block-dirty-bitmap-clear"
												: "block-dirty-bitmap-add"));
			json_object_object_add(act, "data", data);
			json_object_array_add(list, act);
		}
		act = json_object_new_object();
		data = json_object_new_object();
		json_object_object_add(data, "job-id", json_object_new_string(t[i].tnode));
		json_object_object_add(data, "device", json_object_new_string(t[i].node));
		json_object_object_add(data, "target", json_object_new_string(t[i].tnode));
		json_object_object_add(data, "sync", json_object_new_string(incremental ? "incremental" : "full"));
		if (incremental)
			json_object_object_add(data, "bitmap", json_object_new_string(BITMAP));
		json_object_object_add(data, "auto-dismiss", json_object_new_boolean(false));
		json_object_object_add(act, "type", json_object_new_string("blockdev-backup"));
		json_object_object_add(act, "data", data);
		json_object_array_add(list, act);
	}
	return list;
}

/* A full backup that failed leaves no bitmap: the next incremental one would miss what it marked. */
static void drop_bitmaps(const char *name, struct target *t, size_t n)
{
	_cleanup_verr_ struct verr ignored = { 0 };

	for (size_t i = 0; i < n; i++) {
		struct json_object *a;
		if (t[i].d->format != FORMAT_QCOW2)
			continue;
		a = json_object_new_object();
		json_object_object_add(a, "node", json_object_new_string(t[i].node));
		json_object_object_add(a, "name", json_object_new_string(BITMAP));
		block_call(name, "block-dirty-bitmap-remove", a, NULL, &ignored);
	}
}

/* Creates the target files and adds their nodes: full ones empty, incremental ones backed by the
 * previous backup (by a name relative to DIR, so that DIR may move). */
static int make_targets(const char *name, const char *dir, struct target *t, size_t n, size_t seq,
			struct json_object *last, struct verr *err)
{
	struct json_object *adds = json_object_new_array(), *r;

	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *size = xasprintf("%" PRIu64, t[i].size);
		struct json_object *add = json_object_new_object(), *file = json_object_new_object();
		const char *prev = last ? previous(last, t[i].d->id) : NULL;
		int rc;
		t[i].file = xasprintf("%s.%03zu.qcow2", t[i].d->id, seq);
		t[i].path = xasprintf("%s/%s", dir, t[i].file);
		if (access(t[i].path, F_OK) == 0) {
			json_object_put(adds);
			json_object_put(add);
			json_object_put(file);
			free(steal_ptr(t[i].path));
			return verr_set(err, 0, "'%s/%s' exists already, but the manifest does not list it", dir, t[i].file);
		}
		if (prev)
			rc = qemu_img((const char *const[]){ "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", prev, "-u",
							     t[i].path, size, NULL }, NULL, err);
		else
			rc = qemu_img((const char *const[]){ "create", "-q", "-f", "qcow2", t[i].path, size, NULL }, NULL, err);
		if (rc < 0) {
			json_object_put(adds);
			json_object_put(add);
			json_object_put(file);
			free(steal_ptr(t[i].path));
			return -1;
		}
		t[i].tnode = xasprintf("vmm-backup-%zu", i);
		json_object_object_add(file, "driver", json_object_new_string("file"));
		json_object_object_add(file, "filename", json_object_new_string(t[i].path));
		json_object_object_add(add, "driver", json_object_new_string("qcow2"));
		json_object_object_add(add, "node-name", json_object_new_string(t[i].tnode));
		json_object_object_add(add, "file", file);
		json_object_object_add(add, "backing", NULL);
		json_object_array_add(adds, qmp_command("blockdev-add", add));
	}
	if (block_run(name, adds, false, &r, err) < 0)
		return -1;
	json_object_put(r);
	return 0;
}

/* The manifest's entry of a backup that succeeded: per disk its file, backing, sizes, checksum. */
static struct json_object *entry(struct target *t, size_t n, bool incremental, int64_t copied, struct json_object *last,
				 struct verr *err)
{
	struct json_object *e = json_object_new_object(), *disks = json_object_new_array();

	json_object_object_add(e, "time", json_object_new_int64((int64_t)time(NULL)));
	json_object_object_add(e, "kind", json_object_new_string(incremental ? "incremental" : "full"));
	json_object_object_add(e, "copied", json_object_new_int64(copied));
	json_object_object_add(e, "disks", disks);
	for (size_t i = 0; i < n; i++) {
		struct json_object *d = json_object_new_object();
		char *sum = file_sha256(t[i].path, err);
		struct stat st;
		if (!sum || stat(t[i].path, &st) < 0) {
			free(sum);
			json_object_put(e);
			return NULL;
		}
		json_object_object_add(d, "id", json_object_new_string(t[i].d->id));
		json_object_object_add(d, "file", json_object_new_string(t[i].file));
		if (incremental)
			json_object_object_add(d, "backing", json_object_new_string(previous(last, t[i].d->id)));
		json_object_object_add(d, "virtual_size", json_object_new_int64((int64_t)t[i].size));
		json_object_object_add(d, "allocated", json_object_new_int64((int64_t)st.st_blocks * 512));
		json_object_object_add(d, "sha256", json_object_new_string(sum));
		json_object_array_add(disks, d);
		free(sum);
	}
	return e;
}

/* Refuses a directory the backup cannot go into: not writable, or without room for need bytes. */
static int check_dir(const char *dir, uint64_t need, struct verr *err)
{
	struct statvfs vfs;
	uint64_t room;

	if (access(dir, W_OK) < 0)
		return verr_set(err, errno, "cannot write to the backup directory '%s'", dir);
	if (statvfs(dir, &vfs) < 0)
		return verr_set(err, errno, "cannot look at '%s'", dir);
	if (vfs.f_flag & ST_RDONLY)
		return verr_set(err, EROFS, "cannot write to the backup directory '%s'", dir);
	room = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	if (room < need + (1u << 20)) {
		_cleanup_free_ char *r = bytes_text(room), *n = bytes_text(need);
		return verr_set(err, ENOSPC, "the backup directory '%s' has %s free, the backup needs up to %s", dir, r, n);
	}
	return 0;
}

/* vmm backup NAME DIR [--incremental]. */
static int backup(const char *name, const char *dir_arg, bool incremental, bool json, struct verr *err)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int lock = -1;
	struct json_object *m = NULL, *backups, *last, *r = NULL, *e;
	struct target *t = NULL;
	struct strv jobs = { 0 };
	struct plan p;
	size_t n = 0;
	uint64_t need;
	int64_t copied = 0;
	int ret = -1;
	bool started = false, made = access(dir_arg, F_OK) < 0; /* a refused backup removes the directory it made */

	if (vm_plan(name, &p, err) < 0)
		return -1;
	t = xzalloc((p.config.n_disks + 1) * sizeof(*t));
	for (size_t i = 0; i < p.config.n_disks; i++)
		if (!p.config.disks[i].readonly)
			t[n++].d = &p.config.disks[i];
	if (!n) {
		verr_set(err, 0, "VM '%s' has no disk the guest writes to: nothing to back up", name);
		goto out;
	}
	if (mkdir_parents(dir_arg, 0700) < 0 && errno != EEXIST) {
		verr_set(err, errno, "cannot create the backup directory '%s'", dir_arg);
		goto out;
	}
	dir = realpath(dir_arg, NULL);
	if (!dir) {
		verr_set(err, errno, "cannot create the backup directory '%s'", dir_arg);
		goto out;
	}
	if ((lock = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || flock(lock, LOCK_EX | LOCK_NB) < 0) {
		verr_set(err, errno == EWOULDBLOCK ? 0 : errno, errno == EWOULDBLOCK ? "another vmm backup writes to '%s'"
						   : "cannot lock '%s'", dir);
		made = false; /* the one holding the lock may have made it */
		goto out;
	}
	if (manifest_load(dir, name, &m, err) < 0)
		goto out;
	backups = json_object_object_get(m, MANIFEST_BACKUPS);
	last = json_object_array_length(backups) ? json_object_array_get_idx(backups, json_object_array_length(backups) - 1)
						  : NULL;
	if (look_up(name, t, n, incremental, &need, err) < 0 ||
	    (incremental && check_incremental(name, t, n, last, err) < 0) || check_dir(dir, need, err) < 0 ||
	    make_targets(name, dir, t, n, json_object_array_length(backups), incremental ? last : NULL, err) < 0)
		goto out;
	{
		struct json_object *commands = json_object_new_array(), *tr = json_object_new_object();
		json_object_object_add(tr, "actions", actions(t, n, incremental));
		json_object_array_add(commands, qmp_command("transaction", tr));
		if (block_run(name, commands, true, &r, err) < 0)
			goto out;
	}
	started = true;
	for (size_t i = 0; i < n; i++)
		strv_push(&jobs, t[i].tnode);
	if (block_jobs_wait(name, &jobs, incremental ? "incremental backup" : "full backup", &copied, err) < 0)
		goto out;
	drop_targets(name, t, n);
	if (!(e = entry(t, n, incremental, copied, last, err)))
		goto out;
	if (!json_object_object_get_ex(m, MANIFEST_PROFILE, NULL))
		json_object_object_add(m, MANIFEST_PROFILE, json_object_get(p.profile));
	json_object_array_add(backups, e);
	if (manifest_save(dir, m, err) < 0) {
		json_object_array_del_idx(backups, json_object_array_length(backups) - 1, 1);
		goto out;
	}
	if (json) {
		cmd_print_json(e, JSON_PRETTY);
	} else {
		_cleanup_free_ char *c = bytes_text((uint64_t)copied);
		printf("backup %zu of VM '%s' (%s) in '%s': %s %s\n", json_object_array_length(backups) - 1, name,
		       incremental ? "incremental" : "full", dir, c, incremental ? "copied" : "read");
		for (size_t i = 0; i < n; i++) {
			_cleanup_free_ char *a = NULL;
			struct stat st;
			stat(t[i].path, &st);
			a = bytes_text((uint64_t)st.st_blocks * 512);
			printf("  %s: %s (%s)\n", t[i].d->id, t[i].file, a);
		}
		if (json_object_object_get_ex(r, BLOCK_KEY_FREEZE_ERROR, &e))
			printf("the guest's filesystems were not frozen: %s\n", json_object_get_string(e));
	}
	ret = 0;
out:
	if (ret < 0) {
		drop_targets(name, t, n);
		if (started && !incremental)
			drop_bitmaps(name, t, n);
		for (size_t i = 0; i < n; i++)
			if (t[i].path)
				unlink(t[i].path);
		if (made && dir)
			rmdir(dir);
	}
	for (size_t i = 0; i < n; i++) {
		free(t[i].node);
		free(t[i].file);
		free(t[i].path);
		free(t[i].tnode);
	}
	free(t);
	strv_free(&jobs);
	json_object_put(r);
	json_object_put(m);
	plan_free(&p);
	return ret;
}

/* vmm backup NAME --verify DIR: each file of the chain is a sound qcow2 with the manifest's checksum. */
static int verify(const char *name, const char *dir, bool json, struct verr *err)
{
	struct json_object *m, *backups;
	size_t files = 0;

	if (manifest_load(dir, name, &m, err) < 0)
		return -1;
	backups = json_object_object_get(m, MANIFEST_BACKUPS);
	if (!json_object_array_length(backups)) {
		json_object_put(m);
		return verr_set(err, 0, "'%s' holds no backup of VM '%s'", dir, name);
	}
	for (size_t b = 0; b < json_object_array_length(backups); b++) {
		struct json_object *disks = json_object_object_get(json_object_array_get_idx(backups, b), "disks");
		for (size_t i = 0; i < json_object_array_length(disks); i++) {
			struct json_object *d = json_object_array_get_idx(disks, i);
			_cleanup_free_ char *path = xasprintf("%s/%s", dir, str(d, "file"));
			_cleanup_free_ char *sum = file_sha256(path, err);
			if (!sum || qemu_img((const char *const[]){ "check", "-q", path, NULL }, NULL, err) < 0) {
				json_object_put(m);
				return -1;
			}
			if (strcmp(sum, str(d, "sha256"))) {
				json_object_put(m);
				return verr_set(err, 0, "'%s': its checksum is not the manifest's (sha256 %s, expected %s): the "
						"file changed after the backup", path, sum, str(d, "sha256"));
			}
			files++;
		}
	}
	if (json)
		cmd_print_json(backups, JSON_PRETTY);
	else
		printf("the backups of VM '%s' in '%s' are sound: %zu backups, %zu files checked\n", name, dir,
		       json_object_array_length(backups), files);
	json_object_put(m);
	return 0;
}

/* vmm backup restore DIR NEW: VMM_DATA_DIR/NEW with the last backup's disks flattened and a profile. */
static int restore(const char *dir, const char *new_name, bool json, struct verr *err)
{
	_cleanup_free_ char *data = data_dir(), *vmdir = NULL, *profile_file = NULL;
	struct json_object *m, *backups, *last, *profile, *disks;
	struct strv made = { 0 };
	struct interrupt_guard guard;
	bool guarded = false;
	int ret = -1;

	if (vm_name_check(new_name, err) < 0 || manifest_load(dir, NULL, &m, err) < 0)
		return -1;
	backups = json_object_object_get(m, MANIFEST_BACKUPS);
	if (!json_object_array_length(backups) || !json_object_object_get_ex(m, MANIFEST_PROFILE, &profile)) {
		json_object_put(m);
		return verr_set(err, 0, "'%s' holds no backup to restore", dir);
	}
	last = json_object_array_get_idx(backups, json_object_array_length(backups) - 1);
	vmdir = xasprintf("%s/%s", data, new_name);
	if (access(vmdir, F_OK) == 0) {
		json_object_put(m);
		return verr_set(err, EEXIST, "VM '%s' exists already ('%s')", new_name, vmdir);
	}
	if (mkdir_parents(vmdir, 0700) < 0) {
		verr_set(err, errno, "cannot create '%s'", vmdir);
		goto out;
	}
	interrupt_guard_begin(&guard); /* Ctrl-C undoes the restore */
	guarded = true;
	profile = json_object_get(profile);
	json_object_object_add(profile, "name", json_object_new_string(new_name));
	disks = json_object_object_get(profile, "disks");
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		struct json_object *pd = json_object_array_get_idx(disks, i), *bd = json_object_object_get(last, "disks");
		for (size_t k = 0; k < json_object_array_length(bd); k++) {
			struct json_object *x = json_object_array_get_idx(bd, k);
			_cleanup_free_ char *from = NULL, *to = NULL;
			if (strcmp(str(x, "id"), str(pd, "id")))
				continue;
			from = xasprintf("%s/%s", dir, str(x, "file"));
			to = xasprintf("%s/%s.qcow2", vmdir, str(x, "id"));
			strv_push(&made, to); /* qemu-img leaves what it wrote when it fails */
			if (qemuimg_convert(from, "qcow2", to, "qcow2", err) < 0 || interrupt_guard_hit()) {
				if (interrupt_guard_hit()) {
					verr_clear(err);
					verr_set(err, 0, "the restore of '%s' was interrupted: nothing of it is left", new_name);
				}
				json_object_put(profile);
				goto out;
			}
			json_object_object_add(pd, "file", json_object_new_string(to));
			json_object_object_add(pd, "format", json_object_new_string("qcow2"));
		}
	}
	profile_file = xasprintf("%s/profile.json", vmdir);
	if (json_object_to_file_ext(profile_file, profile, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) < 0) {
		verr_set(err, errno, "cannot write '%s'", profile_file);
		json_object_put(profile);
		goto out;
	}
	json_object_put(profile);
	if (json) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "profile", json_object_new_string(profile_file));
		cmd_print_json(o, JSON_PRETTY);
		json_object_put(o);
	} else {
		printf("VM '%s' restored from '%s' (backup of %s): its profile is '%s'\n", new_name, dir,
		       str(m, MANIFEST_VM), profile_file);
	}
	ret = 0;
out:
	if (ret < 0) {
		for (size_t i = 0; i < made.n; i++)
			unlink(made.v[i]);
		rmdir(vmdir);
	}
	if (guarded)
		interrupt_guard_end(&guard);
	strv_free(&made);
	json_object_put(m);
	return ret;
}

/* The verb's handler. */
static int cmd_backup(const struct cmd_args *args, struct verr *err)
{
	bool inc = args_has(args, "incremental"), ver = args_has(args, "verify");

	if (args->argc == 3 && !strcmp(args->argv[0], "restore") && !inc && !ver)
		return restore(args->argv[1], args->argv[2], args->json, err);
	if (args->argc != 2 || (inc && ver))
		return cmd_usage_error(args->entry, err);
	if (vm_name_check(args->argv[0], err) < 0)
		return -1;
	return ver ? verify(args->argv[0], args->argv[1], args->json, err)
		   : backup(args->argv[0], args->argv[1], inc, args->json, err);
}

const struct cmd_entry cmd_backup_entry = {
	.name = "backup",
	.usage = "NAME DIR [--incremental] [--json] | NAME --verify DIR | restore DIR NEW",
	.help = "back up a running VM's disks into DIR (full, then --incremental), verify a backup chain, or make "
		"a VM from one",
	.args = { .options = "incremental,verify", .lower = 2, .upper = 3 },
	.flags = CMD_JSON,
	.exec = cmd_backup,
};
