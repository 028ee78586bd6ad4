#include "vmm/launch/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "qmp/qmp-sync.h"
#include "vmm/base/host.h"
#include "vmm/launch/qemu-prefix.h"
#include "vmm/launch/spawn.h"
#include "vmm/base/util.h"

/* Milliseconds the probe may take, all queries included. */
#define PROBE_TIMEOUT_MS 20000
/* Bumped when the cached format changes, so old caches are probed again. */
#define PROBE_FORMAT 6

/* The cache file of a binary: its path with '/' as '_'. */
static char *cache_path(const char *binary)
{
	_cleanup_free_ char *dir = cache_dir(), *name = xstrdup(binary);

	for (char *p = name; *p; p++)
		if (*p == '/')
			*p = '_';
	return xasprintf("%s/qemu-caps/%s.json", dir, name);
}

/* The identity of a binary file: size and mtime, as the cache records them. */
static struct json_object *identity(const char *binary, const struct stat *st)
{
	struct json_object *id = json_object_new_object();

	json_object_object_add(id, "binary", json_object_new_string(binary));
	json_object_object_add(id, "size", json_object_new_int64(st->st_size));
	json_object_object_add(id, "mtime_ns",
			       json_object_new_int64((int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec));
	json_object_object_add(id, "format", json_object_new_int(PROBE_FORMAT));
	return id;
}

/* True when a cached probe was made of this very file. */
static bool cache_matches(struct json_object *cached, struct json_object *id)
{
	struct json_object *v;

	json_object_object_foreach(id, key, want) {
		if (!json_object_object_get_ex(cached, key, &v) || !json_object_equal(v, want))
			return false;
	}
	return true;
}

/* Runs one query; returns its return value (owned) or NULL with err. */
static struct json_object *ask(struct qmp_sync *s, const char *command, struct json_object *args, struct verr *err)
{
	struct json_object *cmd = json_object_new_object(), *ret;
	char *cls, why[256];

	json_object_object_add(cmd, "execute", json_object_new_string(command));
	if (args)
		json_object_object_add(cmd, "arguments", args);
	if (qmp_sync_call(s, cmd, PROBE_TIMEOUT_MS, &ret, &cls, why, sizeof(why)) != QMP_OK) {
		verr_set(err, 0, "probing QEMU: %s failed: %s", command, why);
		free(cls);
		return NULL;
	}
	free(cls);
	return ret;
}

/* Collects member key of each element of list into a new array of strings. */
static struct json_object *names(struct json_object *list, const char *key, const char *also)
{
	struct json_object *out = json_object_new_array(), *v;

	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i);
		if (json_object_object_get_ex(e, key, &v))
			json_object_array_add(out, json_object_get(v));
		if (also && json_object_object_get_ex(e, also, &v))
			json_object_array_add(out, json_object_get(v));
	}
	return out;
}

/* The machine each alias stands for: {"q35": "pc-q35-7.2", "pc": "pc-i440fx-7.2"}. */
static struct json_object *machine_aliases(struct json_object *machines)
{
	struct json_object *out = json_object_new_object(), *alias, *name;

	for (size_t i = 0; i < json_object_array_length(machines); i++) {
		struct json_object *m = json_object_array_get_idx(machines, i);
		if (json_object_object_get_ex(m, "alias", &alias) && json_object_object_get_ex(m, "name", &name))
			json_object_object_add(out, json_object_get_string(alias), json_object_get(name));
	}
	return out;
}

/* The machines QEMU marks deprecated (to be removed in a later QEMU), by name. */
static struct json_object *deprecated_machines(struct json_object *machines)
{
	struct json_object *out = json_object_new_array(), *name;

	for (size_t i = 0; i < json_object_array_length(machines); i++) {
		struct json_object *m = json_object_array_get_idx(machines, i);
		if (json_object_get_boolean(json_object_object_get(m, "deprecated")) &&
		    json_object_object_get_ex(m, "name", &name))
			json_object_array_add(out, json_object_get(name));
	}
	return out;
}

/* The names of a QMP schema enum: its "members" (QEMU 6.2 on), else the older "values" (which
 * QEMU deprecated in 6.2); a new array, empty when e is no enum. */
static struct json_object *enum_names(struct json_object *e)
{
	struct json_object *list;

	if (json_object_object_get_ex(e, "members", &list))
		return names(list, "name", NULL);
	if (json_object_object_get_ex(e, "values", &list))
		return json_object_get(list);
	return json_object_new_array();
}

/* The names of the QMP schema's enum that lists both a and b (the schema names its types
 * by number, so an enum is known by members it always has); a new array, empty when none does. */
static struct json_object *enum_with(struct json_object *schema, const char *a, const char *b)
{
	for (size_t i = 0; i < json_object_array_length(schema); i++) {
		struct json_object *values = enum_names(json_object_array_get_idx(schema, i));
		bool has_a = false, has_b = false;
		for (size_t j = 0; j < json_object_array_length(values); j++) {
			const char *v = json_object_get_string(json_object_array_get_idx(values, j));
			has_a |= !strcmp(v, a);
			has_b |= !strcmp(v, b);
		}
		if (has_a && has_b)
			return values;
		json_object_put(values);
	}
	return json_object_new_array();
}

/* The property names of the QOM types whose properties decide the argv (the CPU's Hyper-V
 * enlightenments, the machines' hpet, a root port's hotplug, virtio-blk's iothread-vq-mapping), by type: {"max-x86_64-cpu":
 * [...], "pc-q35-7.2-machine": [...]}; a type QEMU lacks is left out. */
static struct json_object *type_properties(struct qmp_sync *s, struct json_object *aliases)
{
	const char *fixed[] = { "max-x86_64-cpu", "pcie-root-port", "virtio-blk-pci" }, *alias[] = { "q35", "pc" };
	struct json_object *out = json_object_new_object(), *machine;
	struct strv types = { 0 };

	for (size_t i = 0; i < sizeof(fixed) / sizeof(*fixed); i++)
		strv_push(&types, fixed[i]);
	for (size_t i = 0; i < sizeof(alias) / sizeof(*alias); i++)
		if (json_object_object_get_ex(aliases, alias[i], &machine))
			strv_pushf(&types, "%s-machine", json_object_get_string(machine));
	for (size_t i = 0; i < types.n; i++) {
		struct json_object *args = json_object_new_object(), *r;
		_cleanup_verr_ struct verr ignored = { 0 };
		json_object_object_add(args, "typename", json_object_new_string(types.v[i]));
		if ((r = ask(s, "qom-list-properties", args, &ignored))) {
			json_object_object_add(out, types.v[i], names(r, "name", NULL));
			json_object_put(r);
		}
	}
	strv_free(&types);
	return out;
}

/* Asks a running QEMU everything the probe records into caps (an object). */
static int query_all(struct qmp_sync *s, struct json_object *caps, struct verr *err)
{
	struct json_object *args = json_object_new_object(), *r, *sandbox, *cmd;
	char *cls, why[256];

	if (!(r = ask(s, "query-version", NULL, err)))
		return -1;
	json_object_object_add(caps, "version", json_object_get(json_object_object_get(r, "qemu")));
	json_object_put(r);
	if (!(r = ask(s, "query-machines", NULL, err)))
		return -1;
	json_object_object_add(caps, "machines", names(r, "name", "alias"));
	json_object_object_add(caps, "machine_aliases", machine_aliases(r));
	json_object_object_add(caps, "deprecated_machines", deprecated_machines(r));
	json_object_put(r);
	json_object_object_add(caps, "properties", type_properties(s, json_object_object_get(caps, "machine_aliases")));
	json_object_object_add(args, "abstract", json_object_new_boolean(false));
	if (!(r = ask(s, "qom-list-types", args, err)))
		return -1;
	json_object_object_add(caps, "types", names(r, "name", NULL));
	json_object_put(r);
	if (!(r = ask(s, "query-commands", NULL, err)))
		return -1;
	json_object_object_add(caps, "commands", names(r, "name", NULL));
	json_object_put(r);
	if (!(r = ask(s, "query-qmp-schema", NULL, err)))
		return -1;
	/* -blockdev's aio modes; -audiodev's drivers, which the schema shows from QEMU 8.2 on
	 * (query-audiodevs); QEMU may still lack a driver's module: then it says so when it starts. */
	json_object_object_add(caps, "aio", enum_with(r, "threads", "native"));
	json_object_object_add(caps, "audio", enum_with(r, "wav", "none"));
	json_object_put(r);
	/* -sandbox exists only in QEMUs built with seccomp: asking for it fails otherwise. */
	cmd = json_object_new_object();
	args = json_object_new_object();
	json_object_object_add(cmd, "execute", json_object_new_string("query-command-line-options"));
	json_object_object_add(args, "option", json_object_new_string("sandbox"));
	json_object_object_add(cmd, "arguments", args);
	json_object_object_add(caps, "sandbox", json_object_new_boolean(
		qmp_sync_call(s, cmd, PROBE_TIMEOUT_MS, &sandbox, &cls, why, sizeof(why)) == QMP_OK));
	json_object_put(sandbox);
	free(cls);
	return 0;
}

/* The last line QEMU printed (its reason to exit), else NULL. Reads what is there without
 * waiting: a child the binary left behind may hold the pipe open and print nothing. */
static const char *last_line(int fd)
{
	static char buf[4096];
	ssize_t n = fcntl(fd, F_SETFL, O_NONBLOCK) < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	char *line;

	while (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	line = strrchr(buf, '\n');
	return line ? line + 1 : buf;
}

/* How a probed QEMU ended (wait status) and the last line it printed, as "it exited with
 * status 1: LINE" in buf; empty when it printed nothing and ended by the probe's SIGKILL. */
static void ending(int status, int output_fd, char *buf, size_t size)
{
	const char *said = last_line(output_fd);
	int n = 0;

	if (WIFEXITED(status))
		n = snprintf(buf, size, "it exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
		n = snprintf(buf, size, "it died of signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	snprintf(buf + n, size - (size_t)n, "%s%s", said && n ? ": " : "", said ? said : "");
}

/* Runs the binary with -machine none and QMP on a socket pair (its own modules when it was
 * unpacked into a directory), and records what it says. */
static int run_probe(const char *binary, struct json_object *caps, struct verr *err)
{
	char *const argv[] = { (char *)binary, "-machine", "none", "-nodefaults", "-display", "none", "-chardev",
			       "socket,id=qmp,fd=3,server=off", "-mon", "chardev=qmp,mode=control", NULL };
	struct qemu_prefix prefix;
	struct spawned child;
	struct qmp_sync *s;
	char why[256], how[4200];
	int sv[2], ret = -1, status = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return verr_set(err, errno, "cannot create a socket pair");
	qemu_prefix_find(binary, &prefix);
	if (spawn_tied(binary, argv, prefix.env.v, &sv[1], 1, &child, err) < 0) {
		qemu_prefix_free(&prefix);
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	qemu_prefix_free(&prefix);
	close(sv[1]);
	s = qmp_sync_open(sv[0], PROBE_TIMEOUT_MS, why, sizeof(why));
	if (s)
		ret = query_all(s, caps, err);
	qmp_sync_close(s);
	kill(child.pid, SIGKILL);
	waitpid(child.pid, &status, 0);
	if (ret < 0)
		ending(status, child.output_fd, how, sizeof(how));
	if (!s)
		verr_set(err, 0, "'%s' did not start as a QEMU (no QMP greeting): %s", binary, *how ? how : why);
	else if (ret < 0 && *how)
		verr_set(err, 0, "'%s': %s", binary, how);
	close(child.output_fd);
	return ret;
}

int probe_qemu(const char *binary, struct qemu_caps *caps, struct verr *err)
{
	_cleanup_free_ char *path = cache_path(binary), *dir = NULL, *tmp = NULL;
	struct json_object *id, *cached;
	struct stat st;

	*caps = (struct qemu_caps){ 0 };
	if (stat(binary, &st) < 0)
		return verr_set(err, errno, "cannot probe '%s'", binary);
	id = identity(binary, &st);
	cached = json_object_from_file(path);
	if (cached && cache_matches(cached, id)) {
		json_object_put(id);
		caps->json = cached;
		caps->from_cache = true;
		return 0;
	}
	json_object_put(cached);
	if (run_probe(binary, id, err) < 0) {
		json_object_put(id);
		return -1;
	}
	json_object_object_add(id, "probed_at", json_object_new_int64(time(NULL)));
	/* A cache that cannot be written only costs another probe next time. */
	dir = xstrdup(path);
	*strrchr(dir, '/') = '\0';
	tmp = xasprintf("%s.%d.tmp", path, getpid());
	if (mkdir_parents(dir, 0700) == 0 && json_object_to_file_ext(tmp, id, JSON_C_TO_STRING_PLAIN) == 0)
		rename(tmp, path);
	unlink(tmp);
	caps->json = id;
	return 0;
}

int probe_load(const char *file, struct qemu_caps *caps, struct verr *err)
{
	*caps = (struct qemu_caps){ .json = json_object_from_file(file), .from_cache = true };
	if (!json_object_is_type(caps->json, json_type_object)) {
		qemu_caps_free(caps);
		return verr_set(err, 0, "'%s' is not a recorded QEMU probe (JSON object)", file);
	}
	return 0;
}

/* True when the string list member key of the probe contains value. */
static bool listed(const struct qemu_caps *caps, const char *key, const char *value)
{
	struct json_object *list = json_object_object_get(caps->json, key);

	for (size_t i = 0; i < json_object_array_length(list); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(list, i)), value))
			return true;
	return false;
}

bool caps_has_type(const struct qemu_caps *caps, const char *type)
{
	return listed(caps, "types", type);
}

bool caps_has_command(const struct qemu_caps *caps, const char *command)
{
	return listed(caps, "commands", command);
}

bool caps_has_property(const struct qemu_caps *caps, const char *type, const char *property)
{
	struct json_object *list;

	if (!json_object_object_get_ex(json_object_object_get(caps->json, "properties"), type, &list))
		return false;
	for (size_t i = 0; i < json_object_array_length(list); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(list, i)), property))
			return true;
	return false;
}

bool caps_has_machine(const struct qemu_caps *caps, const char *machine)
{
	return listed(caps, "machines", machine);
}

bool caps_machine_deprecated(const struct qemu_caps *caps, const char *machine)
{
	return listed(caps, "deprecated_machines", machine);
}

const char *caps_machine_version(const struct qemu_caps *caps, const char *alias)
{
	struct json_object *name;

	if (!json_object_object_get_ex(json_object_object_get(caps->json, "machine_aliases"), alias, &name))
		return NULL;
	return json_object_get_string(name);
}

bool caps_version_at_least(const struct qemu_caps *caps, int major, int minor)
{
	struct json_object *v = json_object_object_get(caps->json, "version");
	int have_major = json_object_get_int(json_object_object_get(v, "major"));

	return have_major > major || (have_major == major && json_object_get_int(json_object_object_get(v, "minor")) >= minor);
}

bool caps_has_sandbox(const struct qemu_caps *caps)
{
	return json_object_get_boolean(json_object_object_get(caps->json, "sandbox"));
}

/* Records one missing capability. */
static void need(const struct qemu_caps *caps, const char *type, const char *what, struct verr *err)
{
	if (!caps_has_type(caps, type))
		verr_set(err, 0, "this QEMU has no %s (device type '%s'), which %s needs", type, type, what);
}

int caps_check(const struct qemu_caps *caps, const struct vm_config *c, struct verr *err)
{
	size_t before = err->n;

	if (!caps_has_machine(caps, machine_names[c->machine]))
		verr_set(err, 0, "this QEMU has no machine type '%s' (machine.type)", machine_names[c->machine]);
	for (size_t i = 0; i < c->n_disks; i++) {
		const struct disk_config *d = &c->disks[i];
		const char *aio = aio_names[d->aio].qemu;
		if (!listed(caps, "aio", aio))
			verr_set(err, 0, "this QEMU cannot do aio '%s' (disks[%zu].aio): it was built without it", aio, i);
		if (d->bus == BUS_SCSI)
			need(caps, "virtio-scsi-pci", "a scsi disk", err);
		if (d->bus == BUS_NVME)
			need(caps, "nvme", "an nvme disk", err);
		if (d->iothread)
			need(caps, "iothread", "a disk's iothread", err);
	}
	for (size_t i = 0; i < c->n_nics; i++)
		need(caps, nic_model_names[c->nics[i].model].qemu, "a NIC", err);
	if (c->root_ports)
		need(caps, "pcie-root-port", "hotplug.root_ports", err);
	if (c->hugepages)
		need(caps, "memory-backend-memfd", "memory.hugepages", err);
	if (c->agent)
		need(caps, "virtio-serial-pci", "agent", err);
	if (c->looking_glass)
		need(caps, "ivshmem-plain", "looking_glass", err);
	if (c->audio != AUDIO_NONE && json_object_array_length(json_object_object_get(caps->json, "audio")) &&
	    !listed(caps, "audio", audio_names[c->audio].qemu))
		verr_set(err, 0, "this QEMU has no audio driver '%s' (audio: \"%s\")", audio_names[c->audio].qemu,
			 audio_names[c->audio].profile);
	return err->n > before ? -1 : 0;
}

void qemu_caps_free(struct qemu_caps *caps)
{
	json_object_put(caps->json);
	*caps = (struct qemu_caps){ 0 };
}
