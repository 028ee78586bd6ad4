/* What a bench's manifests say (bench.h): the host (kernel, CPU, governor, SMT, THP, huge
 * pages), the storage under an image, QEMU's threads and their CPUs, and per target the
 * profile, argv, QEMU, disk modes, fio and times. Facts that cannot be read are "unknown". */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

#include "vmm/base/host.h"
#include "vmm/base/util.h"
#include "vmm/cli/bench.h"
#include "vmm/launch/probe.h"

/* The first line of a file (owned, without its newline), or NULL. */
static char *first_line(const char *path)
{
	char buf[512];
	FILE *f = fopen(path, "re");

	if (!f)
		return NULL;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return xstrdup(buf);
}

/* Adds a file's first line as key of o ("unknown" when unreadable). */
static void add_file(struct json_object *o, const char *key, const char *path)
{
	_cleanup_free_ char *v = first_line(path);

	json_object_object_add(o, key, json_object_new_string(v ? v : "unknown"));
}

/* The value after "key<spaces>: " in /proc/cpuinfo or "key: " in /proc/meminfo (owned), or NULL. */
static char *proc_field(const char *path, const char *key)
{
	char line[512];
	size_t n = strlen(key);
	FILE *f = fopen(path, "re");
	char *v = NULL;

	while (f && !v && fgets(line, sizeof(line), f)) {
		char *p = line + n;
		if (strncmp(line, key, n) || (*p != ' ' && *p != '\t' && *p != ':'))
			continue;
		p += strspn(p, " \t:");
		p[strcspn(p, "\n")] = '\0';
		v = xstrdup(p);
	}
	if (f)
		fclose(f);
	return v;
}

/* The word in brackets of a sysfs choice ("always [madvise] never" -> "madvise"). */
static char *chosen(const char *path)
{
	_cleanup_free_ char *line = first_line(path);
	char *l = line ? strchr(line, '[') : NULL, *r = l ? strchr(l, ']') : NULL;

	return r ? xasprintf("%.*s", (int)(r - l - 1), l + 1) : xstrdup(line ? line : "unknown");
}

struct json_object *bench_host_facts(void)
{
	struct json_object *o = json_object_new_object(), *hp = json_object_new_object();
	static const char *const mem_keys[] = { "HugePages_Total", "HugePages_Free", "Hugepagesize", NULL };
	_cleanup_free_ char *model = proc_field("/proc/cpuinfo", "model name"), *thp = NULL;
	struct utsname u;

	uname(&u);
	json_object_object_add(o, "kernel", json_object_new_string(u.release));
	json_object_object_add(o, "kernel_version", json_object_new_string(u.version));
	json_object_object_add(o, "cpu_model", json_object_new_string(model ? model : "unknown"));
	json_object_object_add(o, "cpus", json_object_new_int64(host_cpu_count()));
	add_file(o, "governor", "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
	add_file(o, "smt", "/sys/devices/system/cpu/smt/control");
	add_file(o, "smt_active", "/sys/devices/system/cpu/smt/active");
	thp = chosen("/sys/kernel/mm/transparent_hugepage/enabled");
	json_object_object_add(o, "thp", json_object_new_string(thp));
	for (size_t i = 0; mem_keys[i]; i++) {
		_cleanup_free_ char *v = proc_field("/proc/meminfo", mem_keys[i]);
		json_object_object_add(hp, mem_keys[i], json_object_new_string(v ? v : "unknown"));
	}
	json_object_object_add(o, "hugepages", hp);
	return o;
}

struct json_object *bench_storage_facts(const char *path)
{
	struct json_object *o = json_object_new_object();
	char dev[512], mnt[512], type[64], best_dev[512] = "unknown", best_mnt[512] = "unknown", best_type[64] = "unknown";
	_cleanup_free_ char *real = realpath(path, NULL);
	size_t best = 0;
	FILE *f = fopen("/proc/self/mounts", "re");

	/* The mount with the longest path that holds the file. */
	while (real && f && fscanf(f, "%511s %511s %63s %*[^\n]", dev, mnt, type) == 3) {
		size_t n = strlen(mnt);
		if ((!strncmp(real, mnt, n) && (real[n] == '/' || real[n] == '\0' || n == 1)) && n >= best) {
			best = n;
			strcpy(best_dev, dev);
			strcpy(best_mnt, mnt);
			strcpy(best_type, type);
		}
	}
	if (f)
		fclose(f);
	json_object_object_add(o, "path", json_object_new_string(real ? real : path));
	json_object_object_add(o, "filesystem", json_object_new_string(best_type));
	json_object_object_add(o, "device", json_object_new_string(best_dev));
	json_object_object_add(o, "mount", json_object_new_string(best_mnt));
	return o;
}

struct json_object *bench_cpu_map(pid_t qemu)
{
	struct json_object *list = json_object_new_array();
	_cleanup_free_ char *dir = xasprintf("/proc/%d/task", (int)qemu);
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		_cleanup_free_ char *comm_path = NULL, *status_path = NULL, *comm = NULL, *cpus = NULL;
		struct json_object *t;

		if (e->d_name[0] == '.')
			continue;
		comm_path = xasprintf("%s/%s/comm", dir, e->d_name);
		status_path = xasprintf("%s/%s/status", dir, e->d_name);
		comm = first_line(comm_path);
		cpus = proc_field(status_path, "Cpus_allowed_list");
		t = json_object_new_object();
		json_object_object_add(t, "tid", json_object_new_int(atoi(e->d_name)));
		json_object_object_add(t, "thread", json_object_new_string(comm ? comm : "?"));
		json_object_object_add(t, "host_cpus", json_object_new_string(cpus ? cpus : "?"));
		json_object_array_add(list, t);
	}
	if (d)
		closedir(d);
	return list;
}

/* An ISO 8601 UTC time of ms since the epoch (owned). */
static char *iso_time(int64_t ms)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char buf[40];

	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", gmtime_r(&s, &tm));
	return xasprintf("%s.%03dZ", buf, (int)(ms % 1000));
}

/* The argv as a JSON list. */
static struct json_object *argv_json(const struct strv *argv)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < argv->n; i++)
		json_object_array_add(a, json_object_new_string(argv->v[i]));
	return a;
}

/* The disk's modes (bus, format, cache, aio, iothread and its pinning). */
static struct json_object *disk_json(const struct bench_target *t)
{
	struct json_object *o = json_object_new_object();

	for (size_t i = 0; i < t->plan.config.n_disks; i++) {
		const struct disk_config *d = &t->plan.config.disks[i];
		if (strcmp(d->id, t->disk))
			continue;
		json_object_object_add(o, "id", json_object_new_string(d->id));
		json_object_object_add(o, "file", json_object_new_string(d->file));
		json_object_object_add(o, "format", json_object_new_string(format_names[d->format].profile));
		json_object_object_add(o, "cache", json_object_new_string(cache_names[d->cache]));
		json_object_object_add(o, "aio", json_object_new_string(aio_names[d->aio].profile));
		json_object_object_add(o, "iothread", json_object_new_boolean(d->iothread));
		json_object_object_add(o, "size", json_object_new_int64((int64_t)t->size));
	}
	return o;
}

/* The pinning the profile asks for: vCPUs, emulator, and what vmm kept itself off. */
static struct json_object *pinning_json(const struct bench_target *t)
{
	struct json_object *o = json_object_new_object(), *keep = json_object_new_array();

	for (size_t i = 0; i < t->keep_off.n; i++)
		json_object_array_add(keep, json_object_new_int((int)t->keep_off.cpus[i]));
	json_object_object_add(o, "vmm_kept_off", keep);
	json_object_object_add(o, "vcpu_pins", json_object_new_int((int)t->plan.config.pin.n));
	return o;
}

struct json_object *bench_manifest(const struct bench *b, const struct bench_target *t)
{
	struct json_object *o = json_object_new_object(), *fio = json_object_new_object(), *runs = json_object_new_array();

	json_object_object_add(o, "id", json_object_new_string(t->id));
	json_object_object_add(o, "label", json_object_new_string(t->label));
	json_object_object_add(o, "kind", json_object_new_string(t->host ? "host" : "variant"));
	if (t->vm_name)
		json_object_object_add(o, "vm_name", json_object_new_string(t->vm_name));
	json_object_object_add(o, "host", bench_host_facts());
	if (t->image) {
		struct json_object *img = bench_storage_facts(t->image);
		json_object_object_add(img, "block_device", json_object_new_boolean(t->block_device));
		json_object_object_add(o, "image", img);
	}
	if (!t->host && t->planned) {
		static const char *const maps[] = { "cpu_map", "supervisor_cpu_map", "bench_cpu_map" };
		struct json_object *qemu = json_object_new_object(), *v;
		struct qemu_caps caps = { 0 };
		_cleanup_verr_ struct verr err = { 0 };
		struct json_object *sets = json_object_new_array();

		for (size_t i = 0; i < t->sets.n; i++)
			json_object_array_add(sets, json_object_new_string(t->sets.v[i]));
		json_object_object_add(o, "sets", sets);
		json_object_object_add(o, "profile", json_object_get(t->plan.profile));
		json_object_object_add(o, "argv", argv_json(&t->plan.argv));
		json_object_object_add(qemu, "binary", json_object_new_string(t->plan.qemu_path));
		if (t->facts && json_object_object_get_ex(t->facts, "qemu_version", &v))
			json_object_object_add(qemu, "version", json_object_get(v));
		if (probe_qemu(t->plan.qemu_path, &caps, &err) == 0) {
			json_object_object_add(qemu, "probe", json_object_get(caps.json));
			qemu_caps_free(&caps);
		}
		json_object_object_add(qemu, "accel", json_object_new_string(t->plan.kvm_missing || t->plan.config.accel == ACCEL_TCG ? "tcg" : "kvm"));
		json_object_object_add(o, "qemu", qemu);
		json_object_object_add(o, "disk", disk_json(t));
		json_object_object_add(o, "pinning", pinning_json(t));
		for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
			json_object_object_add(o, maps[i], t->facts && json_object_object_get_ex(t->facts, maps[i], &v)
								   ? json_object_get(v)
								   : json_object_new_array());
	}
	json_object_object_add(fio, "version", json_object_new_string(t->fio_version ? t->fio_version : "unknown"));
	json_object_object_add(fio, "job_name", json_object_new_string(b->job_name));
	json_object_object_add(fio, "job", json_object_new_string(t->job ? t->job : b->job));
	json_object_object_add(o, "fio", fio);
	for (unsigned r = 0; r < b->repeats; r++) {
		const struct bench_run *run = &t->runs[r];
		struct json_object *one = json_object_new_object();
		_cleanup_free_ char *s = iso_time(run->started), *e = iso_time(run->ended);
		json_object_object_add(one, "started", json_object_new_string(s));
		json_object_object_add(one, "ended", json_object_new_string(e));
		json_object_array_add(runs, one);
	}
	json_object_object_add(o, "times", runs);
	return o;
}
