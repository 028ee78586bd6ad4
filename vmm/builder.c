#define _GNU_SOURCE
#include "builder.h"

#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

char *qemu_opt_escape(const char *value)
{
	size_t n = strlen(value) + 1;
	char *out, *o;

	for (const char *p = value; *p; p++)
		n += *p == ',';
	o = out = xmalloc(n);
	for (const char *p = value; *p; p++) {
		*o++ = *p;
		if (*p == ',')
			*o++ = ',';
	}
	*o = '\0';
	return out;
}

/* Appends `option` followed by obj in QEMU's JSON syntax; consumes obj. */
static void push_json(struct strv *argv, const char *option, struct json_object *obj)
{
	strv_push(argv, option);
	strv_push(argv, json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
}

/* Shorthands for building JSON objects. */
static void put_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void put_bool(struct json_object *o, const char *k, bool v)
{
	json_object_object_add(o, k, json_object_new_boolean(v));
}

/* The block node and device options for one disk: protocol node, format node, device. */
static void build_disk(const struct disk_config *d, struct strv *argv)
{
	static const char *const format_drivers[] = { [FORMAT_RAW] = "raw", [FORMAT_QCOW2] = "qcow2" };
	static const char *const aio_modes[] = { [AIO_THREADS] = "threads", [AIO_NATIVE] = "native",
						 [AIO_IO_URING] = "io_uring" };
	bool direct = d->cache == CACHE_NONE || d->cache == CACHE_DIRECTSYNC;
	bool write_through = d->cache == CACHE_WRITETHROUGH || d->cache == CACHE_DIRECTSYNC;
	_cleanup_free_ char *file_node = xasprintf("%s-file", d->id);
	_cleanup_free_ char *fmt_node = xasprintf("%s-fmt", d->id);
	struct json_object *file = json_object_new_object(), *fmt = json_object_new_object();
	struct json_object *cache = json_object_new_object(), *dev = json_object_new_object();
	struct stat st;

	put_str(file, "driver", stat(d->file, &st) == 0 && S_ISBLK(st.st_mode) ? "host_device" : "file");
	put_str(file, "node-name", file_node);
	put_str(file, "filename", d->file);
	put_str(file, "aio", aio_modes[d->aio]);
	put_bool(cache, "direct", direct);
	put_bool(cache, "no-flush", d->cache == CACHE_UNSAFE);
	json_object_object_add(file, "cache", cache);
	put_bool(file, "read-only", d->readonly);
	push_json(argv, "-blockdev", file);

	put_str(fmt, "driver", format_drivers[d->format]);
	put_str(fmt, "node-name", fmt_node);
	put_str(fmt, "file", file_node);
	put_bool(fmt, "read-only", d->readonly);
	push_json(argv, "-blockdev", fmt);

	if (d->bus == BUS_SCSI) {
		struct json_object *ctrl = json_object_new_object();
		_cleanup_free_ char *ctrl_id = xasprintf("%s-scsi", d->id), *bus = xasprintf("%s-scsi.0", d->id);
		put_str(ctrl, "driver", "virtio-scsi-pci");
		put_str(ctrl, "id", ctrl_id);
		push_json(argv, "-device", ctrl);
		put_str(dev, "driver", "scsi-hd");
		put_str(dev, "bus", bus);
	} else
		put_str(dev, "driver", "virtio-blk-pci");
	put_str(dev, "id", d->id);
	put_str(dev, "drive", fmt_node);
	put_str(dev, "write-cache", write_through ? "off" : "on");
	push_json(argv, "-device", dev);
}

void build_argv(const struct vm_config *c, const struct launch *l, struct strv *argv)
{
	_cleanup_free_ char *log = NULL, *log_escaped = NULL;

	strv_push(argv, l->binary);
	strv_pushf(argv, "-name");
	strv_pushf(argv, "guest=%s,debug-threads=on", c->name);
	strv_push(argv, "-no-user-config");
	strv_push(argv, "-nodefaults");
	strv_push(argv, "-machine");
	strv_push(argv, machine_names[c->machine]);
	strv_push(argv, "-accel");
	strv_push(argv, accel_names[l->accel]);
	strv_push(argv, "-cpu");
	strv_push(argv, c->cpu_model ? c->cpu_model : l->accel == ACCEL_KVM ? "host" : "max");
	strv_push(argv, "-smp");
	strv_pushf(argv, "%u,sockets=%u,cores=%u,threads=%u", c->sockets * c->cores * c->threads, c->sockets,
		   c->cores, c->threads);
	strv_push(argv, "-m");
	strv_pushf(argv, "%lluM", (unsigned long long)(c->memory >> 20));
	strv_push(argv, "-display");
	strv_push(argv, "none");

	strv_push(argv, "-chardev");
	strv_pushf(argv, "socket,id=monitor,fd=%d,server=on,wait=off", LAUNCH_MONITOR_FD);
	strv_push(argv, "-mon");
	strv_push(argv, "chardev=monitor,mode=control");
	log = xasprintf("%s/console.log", l->run_dir);
	log_escaped = qemu_opt_escape(log);
	strv_push(argv, "-chardev");
	strv_pushf(argv, "socket,id=console,fd=%d,server=on,wait=off,logfile=%s,logappend=on", LAUNCH_CONSOLE_FD,
		   log_escaped);
	strv_push(argv, "-serial");
	strv_push(argv, "chardev:console");

	if (c->kernel) {
		strv_push(argv, "-kernel");
		strv_push(argv, c->kernel);
	}
	if (c->initrd) {
		strv_push(argv, "-initrd");
		strv_push(argv, c->initrd);
	}
	if (c->append) {
		strv_push(argv, "-append");
		strv_push(argv, c->append);
	}
	for (size_t i = 0; i < c->n_disks; i++)
		build_disk(&c->disks[i], argv);
	for (size_t i = 0; c->extra_args && c->extra_args[i]; i++)
		strv_push(argv, c->extra_args[i]);
}
