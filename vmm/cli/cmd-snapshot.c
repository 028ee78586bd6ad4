/* vmm snapshot NAME create|list|revert|delete [TAG] [--disk-only] [--json]: snapshots of a VM's
 * disks, kept in the chain of vmm/launch/chain.h.
 * - create --disk-only (live): a new qcow2 overlay on each writable disk's active layer,
 *   all switched to at once by one `transaction` of blockdev-snapshot, the guest's filesystems
 *   frozen through its agent around it (and said when they could not be);
 * - create (live, every writable disk qcow2, QEMU with snapshot-save): the RAM and the disks,
 *   a snapshot-save job (internal snapshots inside the active layers, the RAM in the first);
 * - revert: a full snapshot live (snapshot-load); a disk-only one with the VM stopped: the layers
 *   above the snapshotted image are deleted and a new empty overlay put on it;
 * - delete: a full snapshot's internal snapshots go (snapshot-delete, or qemu-img when stopped);
 *   a disk-only one's overlay is merged into the image below it: block-commit jobs while it runs
 *   (an active commit pivots back to that image), qemu-img commit (and rebase of the layer above)
 *   when stopped.
 * With --json, create prints what the guest felt (BLOCK_KEY_*), list, revert and delete the
 * snapshots (left). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/base/host.h"
#include "vmm/base/rundir.h"
#include "vmm/base/util.h"
#include "vmm/cli/blockvm.h"
#include "vmm/cli/cmd.h"
#include "vmm/cli/interrupt.h"
#include "vmm/launch/chain.h"
#include "vmm/launch/probe.h"
#include "vmm/supervisor/protocol.h"

/* The longest tag (it goes into file names and QEMU's snapshot names). */
#define TAG_MAX 32

/* What every action works on. */
struct snap {
	const char *name, *tag;
	struct json_object *chain;
	bool json;
};

/* A string member of o. */
static const char *str(struct json_object *o, const char *key)
{
	return json_object_get_string(json_object_object_get(o, key));
}

/* The layers of disk id in the chain (created empty when it has none). */
static struct json_object *layers_of(struct json_object *chain, const char *id)
{
	struct json_object *disks = json_object_object_get(chain, "disks"), *d;

	if (!json_object_object_get_ex(disks, id, &d)) {
		d = json_object_new_object();
		json_object_object_add(d, "layers", json_object_new_array());
		json_object_object_add(disks, id, d);
	}
	return json_object_object_get(d, "layers");
}

/* The index of file in the array of strings a, or -1. */
static int index_of(struct json_object *a, const char *file)
{
	for (size_t i = 0; i < json_object_array_length(a); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(a, i)), file))
			return (int)i;
	return -1;
}

/* A new array of the strings of a from index from to before index to. */
static struct json_object *slice(struct json_object *a, size_t from, size_t to)
{
	struct json_object *out = json_object_new_array();

	for (size_t i = from; i < to; i++)
		json_object_array_add(out, json_object_get(json_object_array_get_idx(a, i)));
	return out;
}

/* Adds a snapshot record to the chain: tag, kind, now, disks (consumed). */
static void record(struct snap *s, const char *kind, struct json_object *disks)
{
	struct json_object *r = json_object_new_object();

	json_object_object_add(r, "tag", json_object_new_string(s->tag));
	json_object_object_add(r, "kind", json_object_new_string(kind));
	json_object_object_add(r, "time", json_object_new_int64((int64_t)time(NULL)));
	json_object_object_add(r, "disks", disks);
	json_object_array_add(json_object_object_get(s->chain, "snapshots"), r);
}

/* Removes the snapshot record r from the chain. */
static void unrecord(struct snap *s, struct json_object *r)
{
	struct json_object *all = json_object_object_get(s->chain, "snapshots");

	for (size_t i = 0; i < json_object_array_length(all); i++)
		if (json_object_array_get_idx(all, i) == r) {
			json_object_array_del_idx(all, i, 1);
			return;
		}
}

/* The disks a snapshot covers: those the guest writes to. */
static bool covered(const struct disk_config *d)
{
	return !d->readonly;
}

/* Prints "snapshot ... made" with the pause the guest felt. */
static void print_made(struct snap *s, const char *kind, struct json_object *r, const char *disks)
{
	struct json_object *v;

	if (s->json) {
		json_object_object_add(r, "tag", json_object_new_string(s->tag));
		json_object_object_add(r, "kind", json_object_new_string(kind));
		cmd_print_json(r, JSON_PRETTY);
		return;
	}
	printf("snapshot '%s' of VM '%s' made (%s): %s\n", s->tag, s->name, kind, disks);
	if (json_object_object_get_ex(r, BLOCK_KEY_QMP_US, &v))
		printf("disks' I/O paused for %.1f ms\n", json_object_get_int64(v) / 1000.0);
	if (json_object_object_get_ex(r, BLOCK_KEY_FROZEN_US, &v))
		printf("the guest's filesystems frozen (%d) for %.1f ms\n",
		       json_object_get_int(json_object_object_get(r, BLOCK_KEY_FROZEN)), json_object_get_int64(v) / 1000.0);
	if (json_object_object_get_ex(r, BLOCK_KEY_FREEZE_ERROR, &v))
		printf("the guest's filesystems were not frozen: %s\n", json_object_get_string(v));
}

/* Deletes the nodes added for a snapshot that did not happen, and their files. */
static void undo_overlays(const char *name, const struct strv *nodes, const struct strv *files)
{
	_cleanup_verr_ struct verr ignored = { 0 };

	for (size_t i = 0; i < nodes->n; i++) {
		struct json_object *a = json_object_new_object();
		json_object_object_add(a, "node-name", json_object_new_string(nodes->v[i]));
		block_call(name, "blockdev-del", a, NULL, &ignored);
	}
	for (size_t i = 0; i < files->n; i++)
		unlink(files->v[i]);
}

/* The cache options of a disk's protocol node, as the builder gives them from the profile. */
static struct json_object *cache_of(const struct disk_config *d)
{
	struct json_object *cache = json_object_new_object();

	json_object_object_add(cache, "direct", json_object_new_boolean(d->cache == CACHE_NONE || d->cache == CACHE_DIRECTSYNC));
	json_object_object_add(cache, "no-flush", json_object_new_boolean(d->cache == CACHE_UNSAFE));
	return cache;
}

/* create --disk-only: an overlay per disk, all switched to in one transaction, the guest frozen. */
static int create_disk_only(struct snap *s, const struct plan *p, struct verr *err)
{
	_cleanup_free_ char *data = data_dir();
	struct json_object *adds = json_object_new_array(), *actions = json_object_new_array(), *disks, *r, *t;
	struct strv nodes = { 0 }, files = { 0 }, ids = { 0 };
	bool taken = false;
	int ret = -1;

	for (size_t i = 0; i < p->config.n_disks; i++) {
		const struct disk_config *d = &p->config.disks[i];
		_cleanup_free_ char *node = NULL, *overlay = NULL, *size = NULL, *ov_node = NULL;
		struct json_object *add, *file, *act, *data_o;
		uint64_t bytes;
		if (!covered(d))
			continue;
		if (!(node = block_node(s->name, d->file, &bytes, err)))
			goto out;
		overlay = xasprintf("%s/%s/%s.%s.qcow2", data, s->name, d->id, s->tag);
		if (access(overlay, F_OK) == 0) {
			verr_set(err, 0, "'%s' exists already (left by an earlier snapshot?): remove it first", overlay);
			goto out;
		}
		size = xasprintf("%" PRIu64, bytes);
		if (qemu_img((const char *const[]){ "create", "-q", "-f", "qcow2", "-F", d->format == FORMAT_QCOW2 ? "qcow2" : "raw",
						    "-b", d->file, "-u", overlay, size, NULL },
			     NULL, err) < 0)
			goto out;
		strv_push(&files, overlay);
		ov_node = xasprintf("snap%zu-%" PRId64, i, now_ms() % 1000000000);
		add = json_object_new_object();
		file = json_object_new_object();
		json_object_object_add(file, "driver", json_object_new_string("file"));
		json_object_object_add(file, "filename", json_object_new_string(overlay));
		json_object_object_add(file, "cache", cache_of(d));
		json_object_object_add(add, "driver", json_object_new_string("qcow2"));
		json_object_object_add(add, "node-name", json_object_new_string(ov_node));
		json_object_object_add(add, "file", file);
		json_object_object_add(add, "backing", NULL);
		json_object_array_add(adds, qmp_command("blockdev-add", add));
		strv_push(&nodes, ov_node);
		strv_push(&ids, d->id);
		act = json_object_new_object();
		data_o = json_object_new_object();
		json_object_object_add(data_o, "node", json_object_new_string(node));
		json_object_object_add(data_o, "overlay", json_object_new_string(ov_node));
		json_object_object_add(act, "type", json_object_new_string("blockdev-snapshot"));
		json_object_object_add(act, "data", data_o);
		json_object_array_add(actions, act);
	}
	if (!nodes.n) {
		verr_set(err, 0, "VM '%s' has no disk the guest writes to: nothing to snapshot", s->name);
		goto out;
	}
	if (interrupt_guard_hit()) {
		verr_set(err, 0, "snapshot '%s' of VM '%s' was interrupted: nothing of it is left", s->tag, s->name);
		goto out;
	}
	if (block_run(s->name, steal_ptr(adds), false, &r, err) < 0)
		goto out;
	json_object_put(r);
	t = json_object_new_object();
	json_object_object_add(t, "actions", steal_ptr(actions));
	adds = json_object_new_array();
	json_object_array_add(adds, qmp_command("transaction", t));
	if (block_run(s->name, steal_ptr(adds), true, &r, err) < 0)
		goto out;
	disks = json_object_new_array();
	for (size_t i = 0, k = 0; i < p->config.n_disks; i++) {
		const struct disk_config *d = &p->config.disks[i];
		struct json_object *o;
		if (!covered(d))
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(d->id));
		json_object_object_add(o, "image", json_object_new_string(d->file));
		json_object_object_add(o, "format", json_object_new_string(d->format == FORMAT_QCOW2 ? "qcow2" : "raw"));
		json_object_object_add(o, "overlay", json_object_new_string(files.v[k]));
		json_object_array_add(disks, o);
		json_object_array_add(layers_of(s->chain, d->id), json_object_new_string(files.v[k++]));
	}
	record(s, "disk", disks);
	taken = true;
	if (chain_save(s->name, s->chain, err) < 0) {
		verr_wrap(err, "snapshot '%s' was taken, but not recorded: QEMU writes to its layers, which the next start "
			  "would not open", s->tag);
		json_object_put(r);
		goto out;
	}
	{
		_cleanup_free_ char *list = NULL;
		for (size_t i = 0; i < ids.n; i++) {
			char *next = xasprintf("%s%s%s", list ? list : "", list ? ", " : "", ids.v[i]);
			free(list);
			list = next;
		}
		print_made(s, "disk only", r, list);
	}
	json_object_put(r);
	strv_free(&files);
	ret = 0;
out:
	if (ret < 0 && !taken)
		undo_overlays(s->name, &nodes, &files);
	json_object_put(adds);
	json_object_put(actions);
	strv_free(&nodes);
	strv_free(&files);
	strv_free(&ids);
	return ret;
}

/* Checks that the VM's QEMU has command (a snapshot-* job): from its probe. */
static int need_command(const struct plan *p, const char *command, struct verr *err)
{
	struct qemu_caps caps;
	bool has;

	if (probe_qemu(p->qemu_path, &caps, err) < 0)
		return -1;
	has = caps_has_command(&caps, command);
	qemu_caps_free(&caps);
	return has ? 0 : verr_set(err, 0, "QEMU '%s' has no %s (full snapshots need QEMU 6.0 or later): use --disk-only",
				  p->qemu_path, command);
}

/* Runs a snapshot-save/load/delete job on the nodes of files (the first also holds the RAM). */
static int internal_job(struct snap *s, const char *command, const struct strv *files, const char *what,
			struct verr *err)
{
	struct json_object *a = json_object_new_object(), *devices = json_object_new_array();
	struct strv ids = { 0 };
	int ret = -1;

	for (size_t i = 0; i < files->n; i++) {
		char *node = block_node(s->name, files->v[i], NULL, err);
		if (!node) {
			json_object_put(devices);
			json_object_put(a);
			return -1;
		}
		if (i == 0 && strcmp(command, "snapshot-delete"))
			json_object_object_add(a, "vmstate", json_object_new_string(node));
		json_object_array_add(devices, json_object_new_string(node));
		free(node);
	}
	json_object_object_add(a, "job-id", json_object_new_string("vmm-snapshot"));
	json_object_object_add(a, "tag", json_object_new_string(s->tag));
	json_object_object_add(a, "devices", devices);
	strv_push(&ids, "vmm-snapshot");
	if (block_call(s->name, command, a, NULL, err) == 0 && block_jobs_wait(s->name, &ids, what, NULL, err) == 0)
		ret = 0;
	strv_free(&ids);
	return ret;
}

/* create (full): the RAM and every writable disk (all qcow2), one snapshot-save job. */
static int create_full(struct snap *s, const struct plan *p, struct verr *err)
{
	struct json_object *disks = json_object_new_array(), *r;
	struct strv files = { 0 };
	int ret = -1;

	for (size_t i = 0; i < p->config.n_disks; i++) {
		const struct disk_config *d = &p->config.disks[i];
		struct json_object *o;
		if (!covered(d))
			continue;
		if (d->format != FORMAT_QCOW2) {
			verr_set(err, 0, "a full snapshot (with RAM) needs qcow2 disks: disk '%s' of VM '%s' is raw ('%s'); "
				 "--disk-only snapshots any disk", d->id, s->name, d->file);
			goto out;
		}
		strv_push(&files, d->file);
		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(d->id));
		json_object_object_add(o, "image", json_object_new_string(d->file));
		json_object_object_add(o, "format", json_object_new_string("qcow2"));
		json_object_array_add(disks, o);
	}
	if (!files.n) {
		verr_set(err, 0, "VM '%s' has no disk the guest writes to: a full snapshot needs one for its RAM", s->name);
		goto out;
	}
	if (need_command(p, "snapshot-save", err) < 0 ||
	    internal_job(s, "snapshot-save", &files, "saving the snapshot", err) < 0)
		goto out;
	record(s, "full", steal_ptr(disks));
	if (chain_save(s->name, s->chain, err) < 0) {
		verr_wrap(err, "snapshot '%s' was taken, but not recorded", s->tag);
		goto out;
	}
	r = json_object_new_object();
	print_made(s, "with RAM", r, files.v[0]);
	json_object_put(r);
	ret = 0;
out:
	json_object_put(disks);
	strv_free(&files);
	return ret;
}

/* vmm snapshot NAME create TAG. */
static int create(struct snap *s, bool disk_only, struct verr *err)
{
	struct interrupt_guard guard;
	struct plan p;
	int ret;

	if (!id_valid(s->tag, TAG_MAX))
		return verr_set(err, 0, "'%s' is not a snapshot tag (expected a letter, then up to %d letters, digits, '-', "
				"'_' or '.')", s->tag, TAG_MAX - 1);
	if (chain_snapshot(s->chain, s->tag))
		return verr_set(err, 0, "VM '%s' has a snapshot '%s' already (vmm snapshot %s delete %s removes it)",
				s->name, s->tag, s->name, s->tag);
	if (vm_plan(s->name, &p, err) < 0)
		return -1;
	/* Ctrl-C: undone before QEMU takes the snapshot, recorded once it has (never half-made). */
	interrupt_guard_begin(&guard);
	ret = disk_only ? create_disk_only(s, &p, err) : create_full(s, &p, err);
	interrupt_guard_end(&guard);
	plan_free(&p);
	return ret;
}

/* The image files of a snapshot's disks. */
static void images_of(struct json_object *snapshot, struct strv *files)
{
	struct json_object *disks = json_object_object_get(snapshot, "disks");

	for (size_t i = 0; i < json_object_array_length(disks); i++)
		strv_push(files, str(json_object_array_get_idx(disks, i), "image"));
}

/* revert of a full snapshot: live, when each disk's active layer still holds it. */
static int revert_full(struct snap *s, struct json_object *snapshot, struct verr *err)
{
	struct json_object *disks = json_object_object_get(snapshot, "disks");
	struct strv files = { 0 };
	struct plan p;
	int ret = -1;

	if (!vm_running(s->name))
		return verr_set(err, 0, "VM '%s' is not running: a snapshot with RAM is reverted to while it runs (start it "
				"first)", s->name);
	if (vm_plan(s->name, &p, err) < 0)
		return -1;
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		struct json_object *d = json_object_array_get_idx(disks, i);
		for (size_t j = 0; j < p.config.n_disks; j++)
			if (!strcmp(p.config.disks[j].id, str(d, "id")) && strcmp(p.config.disks[j].file, str(d, "image"))) {
				verr_set(err, 0, "disk '%s' of VM '%s' has layers on top of the image holding snapshot '%s' "
					 "(disk-only snapshots made after it): revert or delete those first", str(d, "id"),
					 s->name, s->tag);
				goto out;
			}
	}
	images_of(snapshot, &files);
	if (internal_job(s, "snapshot-load", &files, "loading the snapshot", err) < 0)
		goto out;
	if (!s->json)
		printf("VM '%s' reverted to snapshot '%s' (with RAM)\n", s->name, s->tag);
	ret = 0;
out:
	plan_free(&p);
	strv_free(&files);
	return ret;
}

/* revert of a disk-only snapshot, the VM stopped: each disk's layers from the snapshot's
 * overlay up are deleted and an empty overlay made again on the snapshotted image; snapshots
 * made after it whose images went go too. */
static int revert_disk(struct snap *s, struct json_object *snapshot, struct verr *err)
{
	struct json_object *disks = json_object_object_get(snapshot, "disks"), *all;
	struct strv fresh = { 0 }, gone = { 0 }, dropped = { 0 };
	int ret = -1;

	if (vm_running(s->name))
		return verr_set(err, 0, "VM '%s' runs: a disk-only snapshot is reverted to while the VM is stopped (vmm stop "
				"%s first)", s->name, s->name);
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		struct json_object *d = json_object_array_get_idx(disks, i), *layers = layers_of(s->chain, str(d, "id"));
		int j = index_of(layers, str(d, "overlay"));
		_cleanup_free_ char *tmp = xasprintf("%s.new", str(d, "overlay"));
		if (j < 0) {
			_cleanup_free_ char *file = chain_file(s->name);
			verr_set(err, 0, "'%s': disk '%s' has no layer '%s' (the chain is not as snapshot '%s' left it)",
				 file, str(d, "id"), str(d, "overlay"), s->tag);
			goto out;
		}
		if (qemu_img((const char *const[]){ "create", "-q", "-f", "qcow2", "-F", str(d, "format"), "-b",
						    str(d, "image"), tmp, NULL },
			     NULL, err) < 0)
			goto out;
		strv_push(&fresh, tmp);
		for (size_t k = (size_t)j; k < json_object_array_length(layers); k++)
			strv_push(&gone, json_object_get_string(json_object_array_get_idx(layers, k)));
	}
	/* Everything is made: now the old layers go and the new ones take their place. */
	for (size_t i = 0; i < gone.n; i++)
		unlink(gone.v[i]);
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		struct json_object *d = json_object_array_get_idx(disks, i), *layers = layers_of(s->chain, str(d, "id"));
		struct json_object *kept = slice(layers, 0, (size_t)index_of(layers, str(d, "overlay")));
		rename(fresh.v[i], str(d, "overlay"));
		json_object_array_add(kept, json_object_new_string(str(d, "overlay")));
		json_object_object_add(json_object_object_get(json_object_object_get(s->chain, "disks"), str(d, "id")),
				       "layers", kept);
	}
	strv_free(&fresh);
	all = json_object_object_get(s->chain, "snapshots");
	for (size_t i = json_object_array_length(all); i-- > 0;) {
		struct json_object *r = json_object_array_get_idx(all, i), *rd = json_object_object_get(r, "disks");
		for (size_t k = 0; k < json_object_array_length(rd); k++) {
			const char *image = str(json_object_array_get_idx(rd, k), "image");
			bool lost = false;
			for (size_t g = 0; g < gone.n; g++)
				lost |= !strcmp(gone.v[g], image);
			if (lost && r != snapshot) {
				strv_push(&dropped, str(r, "tag"));
				json_object_array_del_idx(all, i, 1);
				break;
			}
		}
	}
	if (chain_save(s->name, s->chain, err) < 0)
		goto out;
	if (!s->json) {
		printf("VM '%s' reverted to snapshot '%s' (disk only): it starts from there\n", s->name, s->tag);
		for (size_t i = 0; i < dropped.n; i++)
			printf("snapshot '%s', made after it, is gone with the layers it was in\n", dropped.v[i]);
	}
	ret = 0;
out:
	for (size_t i = 0; i < fresh.n; i++)
		unlink(fresh.v[i]);
	strv_free(&fresh);
	strv_free(&gone);
	strv_free(&dropped);
	return ret;
}

/* Deletes the node of a merged layer that the monitor still holds (added by a snapshot, or
 * by the command line with its protocol node); the others went with the merge. */
static void drop_node(const char *name, const char *node)
{
	_cleanup_verr_ struct verr ignored = { 0 };
	size_t n = strlen(node);
	struct json_object *a;

	if (node[0] == '#')
		return;
	a = json_object_new_object();
	json_object_object_add(a, "node-name", json_object_new_string(node));
	block_call(name, "blockdev-del", a, NULL, &ignored);
	if (n > 4 && !strcmp(node + n - 4, "-fmt")) {
		_cleanup_free_ char *file_node = xasprintf("%.*s-file", (int)n - 4, node);
		a = json_object_new_object();
		json_object_object_add(a, "node-name", json_object_new_string(file_node));
		block_call(name, "blockdev-del", a, NULL, &ignored);
	}
}

/* Merges each disk's overlay of a disk-only snapshot into the image below it while the VM runs:
 * block-commit jobs, all started at once, followed to their end. */
static int merge_live(struct snap *s, struct json_object *disks, struct verr *err)
{
	struct json_object *commands = json_object_new_array(), *r;
	struct strv jobs = { 0 }, top_nodes = { 0 };
	int ret = -1;

	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		struct json_object *d = json_object_array_get_idx(disks, i), *layers = layers_of(s->chain, str(d, "id"));
		const char *active = json_object_get_string(json_object_array_get_idx(layers, json_object_array_length(layers) - 1));
		_cleanup_free_ char *ov = block_node(s->name, str(d, "overlay"), NULL, err), *base = NULL, *top = NULL;
		struct json_object *a;
		if (!ov || !(base = block_node(s->name, str(d, "image"), NULL, err)) ||
		    !(top = block_node(s->name, active, NULL, err)))
			goto out;
		a = json_object_new_object();
		strv_pushf(&jobs, "vmm-commit-%s", str(d, "id"));
		json_object_object_add(a, "job-id", json_object_new_string(jobs.v[jobs.n - 1]));
		json_object_object_add(a, "device", json_object_new_string(top));
		if (strcmp(active, str(d, "overlay")))
			json_object_object_add(a, "top-node", json_object_new_string(ov));
		json_object_object_add(a, "base-node", json_object_new_string(base));
		json_object_object_add(a, "auto-dismiss", json_object_new_boolean(false));
		json_object_array_add(commands, qmp_command("block-commit", a));
		strv_push(&top_nodes, ov);
	}
	if (block_run(s->name, steal_ptr(commands), false, &r, err) < 0)
		goto out;
	json_object_put(r);
	if (block_jobs_wait(s->name, &jobs, "merging the snapshot's layer", NULL, err) < 0)
		goto out;
	for (size_t i = 0; i < top_nodes.n; i++)
		drop_node(s->name, top_nodes.v[i]);
	ret = 0;
out:
	json_object_put(commands);
	strv_free(&jobs);
	strv_free(&top_nodes);
	return ret;
}

/* Merges each disk's overlay of a disk-only snapshot into the image below it, the VM stopped:
 * qemu-img commit, and the layer above (if any) rebased onto that image. */
static int merge_stopped(struct snap *s, struct json_object *disks, struct verr *err)
{
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		struct json_object *d = json_object_array_get_idx(disks, i), *layers = layers_of(s->chain, str(d, "id"));
		int j = index_of(layers, str(d, "overlay"));
		if (qemu_img((const char *const[]){ "commit", "-q", str(d, "overlay"), NULL }, NULL, err) < 0)
			return -1;
		if (j >= 0 && (size_t)j + 1 < json_object_array_length(layers) &&
		    qemu_img((const char *const[]){ "rebase", "-u", "-F", str(d, "format"), "-b", str(d, "image"),
						    json_object_get_string(json_object_array_get_idx(layers, (size_t)j + 1)),
						    NULL },
			     NULL, err) < 0)
			return -1;
	}
	return 0;
}

/* delete of a disk-only snapshot: its overlays merged down, the chain without them. */
static int delete_disk(struct snap *s, struct json_object *snapshot, struct verr *err)
{
	struct json_object *disks = json_object_object_get(snapshot, "disks"), *all;

	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		struct json_object *d = json_object_array_get_idx(disks, i);
		_cleanup_free_ char *file = chain_file(s->name);
		if (index_of(layers_of(s->chain, str(d, "id")), str(d, "overlay")) < 0)
			return verr_set(err, 0, "'%s': disk '%s' has no layer '%s' (the chain is not as snapshot '%s' left it)",
					file, str(d, "id"), str(d, "overlay"), s->tag);
	}
	if ((vm_running(s->name) ? merge_live(s, disks, err) : merge_stopped(s, disks, err)) < 0)
		return -1;
	all = json_object_object_get(s->chain, "snapshots");
	for (size_t i = 0; i < json_object_array_length(disks); i++) {
		struct json_object *d = json_object_array_get_idx(disks, i), *layers = layers_of(s->chain, str(d, "id"));
		int j = index_of(layers, str(d, "overlay"));
		json_object_array_del_idx(layers, (size_t)j, 1);
		unlink(str(d, "overlay"));
		/* What was made on the merged layer now lives in the image below it. */
		for (size_t k = 0; k < json_object_array_length(all); k++) {
			struct json_object *rd = json_object_object_get(json_object_array_get_idx(all, k), "disks");
			for (size_t m = 0; m < json_object_array_length(rd); m++) {
				struct json_object *x = json_object_array_get_idx(rd, m);
				if (!strcmp(str(x, "image"), str(d, "overlay"))) {
					json_object_object_add(x, "image", json_object_new_string(str(d, "image")));
					json_object_object_add(x, "format", json_object_new_string(str(d, "format")));
				}
			}
		}
	}
	unrecord(s, snapshot);
	return chain_save(s->name, s->chain, err);
}

/* delete of a full snapshot: its internal snapshots removed from the images. */
static int delete_full(struct snap *s, struct json_object *snapshot, struct verr *err)
{
	struct strv files = { 0 };
	int ret = 0;

	images_of(snapshot, &files);
	if (vm_running(s->name))
		ret = internal_job(s, "snapshot-delete", &files, "deleting the snapshot", err);
	else
		for (size_t i = 0; i < files.n && ret == 0; i++)
			ret = qemu_img((const char *const[]){ "snapshot", "-d", s->tag, files.v[i], NULL }, NULL, err);
	strv_free(&files);
	if (ret < 0)
		return -1;
	unrecord(s, snapshot);
	return chain_save(s->name, s->chain, err);
}

/* vmm snapshot NAME list. */
static int list(struct snap *s)
{
	struct json_object *all = json_object_object_get(s->chain, "snapshots");

	if (s->json) {
		cmd_print_json(all, JSON_PRETTY);
		return 0;
	}
	printf("%-16s %-6s %-20s %s\n", "TAG", "KIND", "TIME", "DISKS");
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		struct json_object *r = json_object_array_get_idx(all, i), *disks = json_object_object_get(r, "disks");
		time_t t = (time_t)json_object_get_int64(json_object_object_get(r, "time"));
		char when[32];
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&t));
		printf("%-16s %-6s %-20s", str(r, "tag"), str(r, "kind"), when);
		for (size_t k = 0; k < json_object_array_length(disks); k++)
			printf("%s%s", k ? "," : " ", str(json_object_array_get_idx(disks, k), "id"));
		printf("\n");
	}
	return 0;
}

/* The verb's handler. */
static int cmd_snapshot(const struct cmd_args *args, struct verr *err)
{
	struct snap s = { .name = args->argv[0], .tag = args->argc > 2 ? args->argv[2] : NULL, .json = args->json };
	const char *action = args->argv[1];
	_cleanup_close_ int lock = -1;
	struct json_object *snapshot;
	int ret;

	if (vm_name_check(s.name, err) < 0)
		return -1;
	if (strcmp(action, "list") && strcmp(action, "create") && strcmp(action, "revert") && strcmp(action, "delete"))
		return verr_set(err, 0, "'%s': expected create, list, revert or delete", action);
	if (!strcmp(action, "list") != !s.tag || (args_has(args, "disk-only") && strcmp(action, "create")))
		return cmd_usage_error(args->entry, err);
	if (strcmp(action, "list") && (lock = chain_lock(s.name, err)) < 0)
		return -1;
	if (chain_load(s.name, &s.chain, err) < 0)
		return -1;
	if (!strcmp(action, "list"))
		ret = list(&s);
	else if (!strcmp(action, "create"))
		ret = create(&s, args_has(args, "disk-only"), err);
	else if (!(snapshot = chain_snapshot(s.chain, s.tag)))
		ret = verr_set(err, 0, "VM '%s' has no snapshot '%s' (vmm snapshot %s list shows them)", s.name, s.tag, s.name);
	else if (!strcmp(action, "revert"))
		ret = !strcmp(str(snapshot, "kind"), "full") ? revert_full(&s, snapshot, err) : revert_disk(&s, snapshot, err);
	else {
		ret = !strcmp(str(snapshot, "kind"), "full") ? delete_full(&s, snapshot, err) : delete_disk(&s, snapshot, err);
		if (ret == 0 && !s.json)
			printf("snapshot '%s' of VM '%s' deleted\n", s.tag, s.name);
	}
	if (ret == 0 && s.json && (!strcmp(action, "revert") || !strcmp(action, "delete")))
		list(&s); /* the snapshots left */
	json_object_put(s.chain);
	return ret;
}

const struct cmd_entry cmd_snapshot_entry = {
	.name = "snapshot",
	.usage = "NAME create|list|revert|delete [TAG] [--disk-only] [--json]",
	.help = "snapshot a VM's disks (with its RAM unless --disk-only), list, revert to or delete snapshots",
	.args = { .options = "disk-only", .lower = 2, .upper = 3 },
	.flags = CMD_JSON,
	.exec = cmd_snapshot,
};
