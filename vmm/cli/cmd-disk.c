/* vmm disk create|info|resize: images through qemu-img (vmm/launch/qemuimg.h), and a running
 * VM's disk grown live (QMP block_resize through the VM's proxy, which its supervisor serves). */
#include <stdio.h>
#include <string.h>

#include "qmp/qmp-sync.h"
#include "vmm/base/util.h"
#include "vmm/cli/cmd.h"
#include "vmm/cli/vmref.h"
#include "vmm/launch/qemuimg.h"

/* vmm disk create FILE SIZE [--format F] [--backing BASE]. */
static int disk_create(const struct cmd_args *args, struct verr *err)
{
	const char *file = args->argv[1], *format = args_get(args, "format"), *backing = args_get(args, "backing");
	_cleanup_free_ char *real = backing ? realpath(backing, NULL) : NULL;
	struct image_chain base = { 0 };
	uint64_t size = 0;
	int r;

	if (args->argc != 3)
		return cmd_usage_error(args->entry, err);
	if (!format)
		format = "qcow2";
	if (strcmp(format, "qcow2") && strcmp(format, "raw"))
		return verr_set(err, 0, "--format: expected qcow2 or raw, not '%s'", format);
	if (backing && strcmp(format, "qcow2"))
		return verr_set(err, 0, "--backing: only a qcow2 image has a backing file (--format qcow2)");
	if (image_size_parse(args->argv[2], &size, err) < 0)
		return -1;
	if (access(file, F_OK) == 0)
		return verr_set(err, 0, "'%s' exists: vmm never overwrites a file", file);
	/* Its full path: the overlay may be in another directory than the working one. */
	if (backing && real)
		backing = real;
	if (backing && qemuimg_info(backing, &base, err) < 0)
		return -1;
	if (backing && size < base.v[0].virtual_size) {
		verr_set(err, 0, "%s is smaller than the backing image '%s' (%llu bytes)", args->argv[2], backing,
			 (unsigned long long)base.v[0].virtual_size);
		image_chain_free(&base);
		return -1;
	}
	r = qemuimg_create(file, format, size, backing, backing ? base.v[0].format : NULL, err);
	image_chain_free(&base);
	return r;
}

/* Prints a chain for a person: each image, its format and sizes, indented under the one it backs. */
static void print_chain(const struct image_chain *c)
{
	for (size_t i = 0; i < c->n; i++) {
		const struct image_info *img = &c->v[i];
		printf("%*s%s\n", (int)(2 * i), "", img->filename);
		printf("%*s  format     %s\n", (int)(2 * i), "", img->format);
		printf("%*s  virtual    %llu bytes (%.1f GiB)\n", (int)(2 * i), "", (unsigned long long)img->virtual_size,
		       (double)img->virtual_size / (1 << 30));
		printf("%*s  allocated  %llu bytes\n", (int)(2 * i), "", (unsigned long long)img->actual_size);
		if (img->backing)
			printf("%*s  backing    %s (%s)\n", (int)(2 * i), "", img->backing,
			       img->backing_format ? img->backing_format : "format not recorded");
	}
}

/* The chain as JSON: a list of images, top first. */
static struct json_object *chain_json(const struct image_chain *c)
{
	struct json_object *list = json_object_new_array();

	for (size_t i = 0; i < c->n; i++) {
		const struct image_info *img = &c->v[i];
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "file", json_object_new_string(img->filename));
		json_object_object_add(o, "format", json_object_new_string(img->format));
		json_object_object_add(o, "virtual_size", json_object_new_int64((int64_t)img->virtual_size));
		json_object_object_add(o, "allocated_size", json_object_new_int64((int64_t)img->actual_size));
		json_object_object_add(o, "backing", img->backing ? json_object_new_string(img->backing) : NULL);
		json_object_object_add(o, "backing_format",
				       img->backing_format ? json_object_new_string(img->backing_format) : NULL);
		json_object_array_add(list, o);
	}
	return list;
}

/* vmm disk info FILE [--json]. */
static int disk_info(const struct cmd_args *args, struct verr *err)
{
	struct image_chain c;

	if (args->argc != 2)
		return cmd_usage_error(args->entry, err);
	if (qemuimg_info(args->argv[1], &c, err) < 0)
		return -1;
	if (args->json) {
		struct json_object *o = chain_json(&c);
		cmd_print_json(o, JSON_PRETTY);
		json_object_put(o);
	} else
		print_chain(&c);
	image_chain_free(&c);
	return 0;
}

/* Sends one command (consumed) through the VM's proxy; its return in *ret (owned). */
static int proxy_call(const char *name, struct json_object *cmd, struct json_object **ret, struct verr *err)
{
	int fd = vm_connect(name, "qmp.sock", VM_CONNECT_TIMEOUT_MS, err);
	char why[256], *cls = NULL;
	struct qmp_sync *s;
	enum qmp_failure f;

	if (fd < 0) {
		json_object_put(cmd);
		return -1;
	}
	s = qmp_sync_open(fd, VM_ANSWER_TIMEOUT_MS, why, sizeof(why));
	if (!s) {
		json_object_put(cmd);
		return verr_set(err, 0, "VM '%s': %s", name, why);
	}
	f = qmp_sync_call(s, cmd, 30000, ret, &cls, why, sizeof(why));
	qmp_sync_close(s);
	free(cls);
	if (f != QMP_OK)
		return verr_set(err, 0, "VM '%s': %s", name, why);
	return 0;
}

/* A QMP command without arguments, or with args (consumed). */
static struct json_object *command(const char *execute, struct json_object *args)
{
	struct json_object *cmd = json_object_new_object();

	json_object_object_add(cmd, "execute", json_object_new_string(execute));
	if (args)
		json_object_object_add(cmd, "arguments", args);
	return cmd;
}

/* True when the qdev path QEMU gives a block device ("ID", or "/machine/peripheral/ID/...") is disk id's. */
static bool is_device(const char *qdev, const char *id)
{
	size_t n = strlen(id);
	const char *p = "/machine/peripheral/";

	if (!strcmp(qdev, id))
		return true;
	return !strncmp(qdev, p, strlen(p)) && !strncmp(qdev + strlen(p), id, n) &&
	       (qdev[strlen(p) + n] == '/' || !qdev[strlen(p) + n]);
}

/* Finds disk id in query-block's list: its top node (the active layer, also after a snapshot)
 * and its size. */
static int find_disk(struct json_object *blocks, const char *name, const char *id, char **node, uint64_t *size,
		     struct verr *err)
{
	for (size_t i = 0; i < json_object_array_length(blocks); i++) {
		struct json_object *b = json_object_array_get_idx(blocks, i), *qdev, *ins, *n, *img, *vs;
		if (!json_object_object_get_ex(b, "qdev", &qdev) || !is_device(json_object_get_string(qdev), id))
			continue;
		if (!json_object_object_get_ex(b, "inserted", &ins) || !json_object_object_get_ex(ins, "node-name", &n) ||
		    !json_object_object_get_ex(ins, "image", &img) || !json_object_object_get_ex(img, "virtual-size", &vs))
			return verr_set(err, 0, "VM '%s': disk '%s' has no image", name, id);
		*node = xstrdup(json_object_get_string(n));
		*size = (uint64_t)json_object_get_int64(vs);
		return 0;
	}
	return verr_set(err, 0, "VM '%s' has no disk '%s' (vmm devices %s lists them)", name, id, name);
}

/* vmm disk resize NAME ID SIZE: grows a running VM's disk; the guest sees the new size at once. */
static int disk_resize(const struct cmd_args *args, struct verr *err)
{
	const char *name = args->argv[1], *id = args->argv[2];
	_cleanup_free_ char *node = NULL;
	struct json_object *blocks = NULL, *ret = NULL, *a;
	uint64_t size, now = 0;

	if (args->argc != 4)
		return cmd_usage_error(args->entry, err);
	if (image_size_parse(args->argv[3], &size, err) < 0)
		return -1;
	if (proxy_call(name, command("query-block", NULL), &blocks, err) < 0)
		return -1;
	if (find_disk(blocks, name, id, &node, &now, err) < 0) {
		json_object_put(blocks);
		return -1;
	}
	json_object_put(blocks);
	if (size < now)
		return verr_set(err, 0, "disk '%s' of VM '%s' has %llu bytes: %s would cut off what the guest wrote "
				"there (vmm only grows a disk)", id, name, (unsigned long long)now, args->argv[3]);
	if (size == now)
		return 0;
	a = json_object_new_object();
	json_object_object_add(a, "node-name", json_object_new_string(node));
	json_object_object_add(a, "size", json_object_new_int64((int64_t)size));
	if (proxy_call(name, command("block_resize", a), &ret, err) < 0)
		return verr_wrap(err, "disk '%s'", id), -1;
	json_object_put(ret);
	printf("%s: disk '%s' grew from %llu to %llu bytes\n", name, id, (unsigned long long)now,
	       (unsigned long long)size);
	return 0;
}

/* The verb's handler: its subcommand. */
static int cmd_disk(const struct cmd_args *args, struct verr *err)
{
	const char *sub = args->argv[0];

	if (!strcmp(sub, "create"))
		return disk_create(args, err);
	if (!strcmp(sub, "info"))
		return disk_info(args, err);
	if (!strcmp(sub, "resize"))
		return disk_resize(args, err);
	return cmd_usage_error(args->entry, err);
}

const struct cmd_entry cmd_disk_entry = {
	.name = "disk",
	.usage = "create FILE SIZE [--format qcow2|raw] [--backing BASE] | info FILE [--json] | resize NAME ID SIZE",
	.help = "make an image (never over a file), show its backing chain, grow a running VM's disk",
	.args = { .options = "format:,backing:", .lower = 2, .upper = 4 },
	.flags = CMD_JSON,
	.exec = cmd_disk,
};
