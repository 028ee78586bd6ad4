#include "vmm/supervisor/sup-isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "vmm/base/host.h"
#include "vmm/base/isolate.h"
#include "vmm/base/util.h"
#include "vmm/launch/tool.h"

/* The journal and its lock, in the run base directory. */
#define JOURNAL "isolate.json"
#define JOURNAL_LOCK "isolate.lock"
/* The cgroup (under the cgroup2 mount) holding each isolating VM's QEMU. */
#define VMM_SLICE "vmm.slice"

/* The cgroups of the host's other tasks, as systemd names them. */
static const char *const slices[] = { "system.slice", "user.slice", "init.scope" };

/* The path of the journal, malloc'd; NULL with err. */
static char *journal_path(struct verr *err)
{
	_cleanup_free_ char *base = run_base_dir(err);

	return base ? xasprintf("%s/" JOURNAL, base) : NULL;
}

/* The journal, or NULL (and err empty) when there is none. */
static struct json_object *journal_load(struct verr *err)
{
	_cleanup_free_ char *path = journal_path(err);
	_cleanup_close_ int fd = path ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
	struct json_object *j;

	if (fd < 0) {
		if (path && errno != ENOENT)
			verr_set(err, errno, "cannot read '%s'", path);
		return NULL;
	}
	j = json_object_from_fd(fd);
	if (!json_object_is_type(j, json_type_object)) {
		json_object_put(j);
		verr_set(err, 0, "'%s' is not the journal of cpu.isolate: nothing restored from it", path);
		return NULL;
	}
	return j;
}

/* Replaces the journal atomically (a temporary file, fsync, rename). */
static int journal_save(struct json_object *j, struct verr *err)
{
	_cleanup_free_ char *path = journal_path(err), *tmp = NULL;
	const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY);
	_cleanup_close_ int fd = -1;

	if (!path)
		return -1;
	tmp = xasprintf("%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0) {
		verr_set(err, errno, "cannot write '%s'", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The string member KEY of j ("" when missing). */
static const char *str_of(struct json_object *j, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(j, key, &v) ? json_object_get_string(v) : "";
}

/* The object member KEY of j, made when missing. */
static struct json_object *obj_of(struct json_object *j, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(j, key, &v)) {
		v = json_object_new_object();
		json_object_object_add(j, key, v);
	}
	return v;
}

/* True when systemd runs as PID 1 (sd_booted's test). */
static bool systemd_booted(void)
{
	return access("/run/systemd/system", F_OK) == 0;
}

/* systemctl set-property --runtime UNIT AllowedCPUs=CPUS. */
static int systemd_allowed_cpus(const char *unit, const char *cpus, struct verr *err)
{
	_cleanup_free_ char *prop = xasprintf("AllowedCPUs=%s", cpus);
	const char *args[] = { "set-property", "--runtime", unit, prop, NULL };

	return tool_run("systemctl", args, NULL, NULL, "systemctl set-property", err);
}

/* The contents of DIR/FILE, malloc'd; NULL with err. */
static char *read_in(const char *dir, const char *file, struct verr *err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, file);

	return kfile_read(path, err);
}

/* Writes value to DIR/FILE. */
static int write_in(const char *dir, const char *file, const char *value, struct verr *err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, file);

	return kfile_write(path, value, err);
}

/* The journal before any change: the mode, the slices' CPUs, the IRQs' affinities. */
static struct json_object *snapshot(struct verr *err)
{
	_cleanup_free_ char *cg = cgroup2_mount(err), *subtree = NULL, *dflt = NULL;
	struct json_object *j, *old;
	struct strv irqs = { 0 };
	bool systemd = systemd_booted();

	if (!cg)
		return NULL;
	subtree = read_in(cg, "cgroup.subtree_control", err);
	dflt = kfile_read("/proc/irq/default_smp_affinity", err);
	if (!subtree || !dflt || irq_affinity_files(&irqs, err) < 0) {
		strv_free(&irqs);
		return NULL;
	}
	j = json_object_new_object();
	json_object_object_add(j, "mode", json_object_new_string(systemd ? "systemd" : "cgroup"));
	json_object_object_add(j, "cgroup", json_object_new_string(cg));
	json_object_object_add(j, "cpuset_was_on", json_object_new_boolean(strstr(subtree, "cpuset") != NULL));
	json_object_object_add(j, "default_smp_affinity", json_object_new_string(dflt));
	old = obj_of(j, "slices");
	for (size_t i = 0; i < sizeof(slices) / sizeof(*slices); i++) {
		_cleanup_free_ char *dir = xasprintf("%s/%s", cg, slices[i]), *out = NULL;
		const char *args[] = { "show", "--property=AllowedCPUs", "--value", slices[i], NULL };
		size_t len;

		if (access(dir, F_OK) < 0)
			continue;
		if (systemd) {
			if (tool_run("systemctl", args, &out, &len, "systemctl show", err) < 0)
				goto fail;
			while (len && out[len - 1] == '\n')
				out[--len] = '\0';
		} else if (strstr(subtree, "cpuset")) {
			if (!(out = read_in(dir, "cpuset.cpus", err)))
				goto fail;
		} else {
			/* No cpuset.cpus before the controller is on: the slice has every CPU. */
			out = xstrdup("");
		}
		json_object_object_add(old, slices[i], json_object_new_string(out));
	}
	if (json_object_object_length(old) == 0) {
		verr_set(err, 0, "none of system.slice, user.slice, init.scope is in the cgroup tree at '%s': the host's "
			    "tasks cannot be confined", cg);
		goto fail;
	}
	old = obj_of(j, "irqs");
	for (size_t i = 0; i < irqs.n; i++) {
		_cleanup_verr_ struct verr gone = { 0 };
		_cleanup_free_ char *aff = kfile_read(irqs.v[i], &gone);

		if (aff)
			json_object_object_add(old, irqs.v[i], json_object_new_string(aff));
	}
	strv_free(&irqs);
	return j;
fail:
	strv_free(&irqs);
	json_object_put(j);
	return NULL;
}

/* The host CPUs the profile pins any of the VM's threads to. */
static void vm_cpus(const struct vm_config *c, struct cpubits *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < c->pin.n; i++)
		cpubits_add(out, c->pin.cpus[i]);
	for (size_t i = 0; i < c->emulator_pin.n; i++)
		cpubits_add(out, c->emulator_pin.cpus[i]);
	for (size_t d = 0; d < c->n_disks; d++)
		for (size_t i = 0; i < c->disks[d].iothread_pin.n; i++)
			cpubits_add(out, c->disks[d].iothread_pin.cpus[i]);
}

/* The host's CPUs that no VM of the journal holds; -1 with err when none is left. */
static int host_cpus(struct json_object *j, struct cpubits *host, struct verr *err)
{
	struct cpubits vms = { 0 };

	if (host_online_cpus(host, err) < 0)
		return -1;
	json_object_object_foreach(obj_of(j, "holders"), name, cpus)
	{
		struct cpubits one;

		(void)name;
		if (cpubits_parse(json_object_get_string(cpus), &one) == 0)
			for (size_t w = 0; w < CPUBITS_MAX / 64; w++)
				vms.w[w] |= one.w[w];
	}
	for (size_t w = 0; w < CPUBITS_MAX / 64; w++)
		host->w[w] &= ~vms.w[w];
	if (cpubits_empty(host)) {
		_cleanup_free_ char *list = cpubits_list(&vms);

		return verr_set(err, 0, "the isolated VMs hold every online CPU (%s): none would be left to the host", list);
	}
	return 0;
}

/* Checks that the kernel keeps the cgroup dir on the CPUs host (systemd on a host whose
 * cpuset controller is cgroup v1's accepts AllowedCPUs and changes nothing). */
static int confined(const char *dir, const struct cpubits *host, struct verr *err)
{
	_cleanup_free_ char *eff = read_in(dir, "cpuset.cpus.effective", err);
	struct cpubits now;

	if (!eff)
		return -1;
	if (cpubits_parse(eff, &now) < 0)
		return verr_set(err, 0, "%s/cpuset.cpus.effective: '%s' is not a CPU list", dir, eff);
	for (size_t w = 0; w < CPUBITS_MAX / 64; w++)
		if (now.w[w] & ~host->w[w])
			return verr_set(err, 0, "%s still runs on CPUs %s", dir, eff);
	return 0;
}

/* Gives the host's other tasks and IRQs the CPUs host; counts the IRQs moved and refused. */
static int apply(struct json_object *j, const struct cpubits *host, int *moved, int *refused, struct verr *err)
{
	_cleanup_free_ char *list = cpubits_list(host), *mask = cpubits_mask(host);
	const char *cg = str_of(j, "cgroup");
	bool systemd = strcmp(str_of(j, "mode"), "systemd") == 0;

	*moved = *refused = 0;
	if (!systemd) {
		_cleanup_free_ char *subtree = read_in(cg, "cgroup.subtree_control", err);

		if (!subtree || (!strstr(subtree, "cpuset") && write_in(cg, "cgroup.subtree_control", "+cpuset", err) < 0))
			return -1;
	}
	json_object_object_foreach(obj_of(j, "slices"), slice, old)
	{
		_cleanup_free_ char *dir = xasprintf("%s/%s", cg, slice);

		(void)old;
		if ((systemd ? systemd_allowed_cpus(slice, list, err) : write_in(dir, "cpuset.cpus", list, err)) < 0 ||
		    confined(dir, host, err) < 0)
			return -1;
	}
	json_object_object_foreach(obj_of(j, "irqs"), irq, was)
	{
		_cleanup_verr_ struct verr no = { 0 };

		(void)was;
		if (kfile_write(irq, list, &no) == 0)
			(*moved)++;
		else if (no.errnum != ENOENT)
			(*refused)++; /* managed or per-CPU interrupts: the kernel keeps them where they are */
	}
	return kfile_write("/proc/irq/default_smp_affinity", mask, err);
}

/* Puts back every old value of the journal; what fails is added to err. */
static void restore(struct json_object *j, struct verr *err)
{
	_cleanup_free_ char *every = NULL;
	struct cpubits all;
	const char *cg = str_of(j, "cgroup");
	bool systemd = strcmp(str_of(j, "mode"), "systemd") == 0;
	int stuck = 0;

	if (host_online_cpus(&all, err) == 0)
		every = cpubits_list(&all);
	json_object_object_foreach(obj_of(j, "slices"), slice, old)
	{
		_cleanup_free_ char *dir = xasprintf("%s/%s", cg, slice);
		const char *was = json_object_get_string(old);
		_cleanup_verr_ struct verr busy = { 0 };

		/* The kernel refuses an empty cpuset.cpus (every CPU, the parent's) to a cgroup with
		 * tasks (ENOSPC), so every CPU is given first; the empty value is then kept where it
		 * is taken (systemd: its property reset, the kernel keeping every CPU). */
		if (!*was && every &&
		    (systemd ? systemd_allowed_cpus(slice, every, err) : write_in(dir, "cpuset.cpus", every, err)) < 0)
			continue;
		if (systemd)
			systemd_allowed_cpus(slice, was, err);
		else
			write_in(dir, "cpuset.cpus", was, *was ? err : &busy);
	}
	if (!systemd && !json_object_get_boolean(json_object_object_get(j, "cpuset_was_on"))) {
		_cleanup_verr_ struct verr busy = { 0 };

		/* Fails while a cgroup below uses the controller: then it stays on, harmlessly. */
		write_in(cg, "cgroup.subtree_control", "-cpuset", &busy);
	}
	json_object_object_foreach(obj_of(j, "irqs"), irq, was)
	{
		_cleanup_verr_ struct verr no = { 0 };
		_cleanup_free_ char *now = kfile_read(irq, &no);

		/* An IRQ that refused the change, or went away, keeps what it has. */
		if (now && strcmp(now, json_object_get_string(was)) != 0 &&
		    kfile_write(irq, json_object_get_string(was), &no) < 0)
			stuck++;
	}
	if (stuck)
		verr_set(err, 0, "%d IRQ%s could not be given %s old affinity back", stuck, stuck == 1 ? "" : "s",
			 stuck == 1 ? "its" : "their");
	kfile_write("/proc/irq/default_smp_affinity", str_of(j, "default_smp_affinity"), err);
}

/* Removes the VM's own cgroup (and vmm.slice when no other VM's is left), once empty. */
static void remove_qemu_cgroup(struct json_object *j, const char *name)
{
	_cleanup_free_ char *dir = xasprintf("%s/" VMM_SLICE "/%s", str_of(j, "cgroup"), name);

	rmdir(dir);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

/* Drops NAME from the journal j (held under the lock) and applies what is left. */
static int drop(struct json_object *j, const char *name, struct verr *err)
{
	_cleanup_free_ char *path = journal_path(err);
	struct cpubits host;
	size_t before = err->n;
	int moved, refused;

	json_object_object_del(obj_of(j, "holders"), name);
	remove_qemu_cgroup(j, name);
	if (json_object_object_length(obj_of(j, "holders")) == 0) {
		restore(j, err);
		if (path)
			unlink(path);
		return err->n > before ? -1 : 0;
	}
	if (journal_save(j, err) < 0 || host_cpus(j, &host, err) < 0)
		return -1;
	return apply(j, &host, &moved, &refused, err);
}

int isolate_take(const struct vm_config *c, char **said, struct verr *err)
{
	_cleanup_close_ int lock = -1;
	_cleanup_free_ char *mine = NULL, *list = NULL;
	struct json_object *j;
	struct cpubits cpus, host;
	size_t before = err->n;
	int moved, refused;

	*said = NULL;
	if (!c->isolate)
		return 0;
	if ((lock = run_base_lock(JOURNAL_LOCK, err)) < 0)
		return -1;
	j = journal_load(err);
	if (!j && (err->n > before || !(j = snapshot(err)))) {
		verr_wrap(err, "cpu.isolate");
		return -1;
	}
	vm_cpus(c, &cpus);
	mine = cpubits_list(&cpus);
	json_object_object_add(obj_of(j, "holders"), c->name, json_object_new_string(mine));
	if (host_cpus(j, &host, err) < 0) {
		json_object_object_del(obj_of(j, "holders"), c->name);
		json_object_put(j);
		verr_wrap(err, "cpu.isolate");
		return -1;
	}
	/* On record before anything changes: whoever ends the VM restores what is recorded. */
	if (journal_save(j, err) < 0 || apply(j, &host, &moved, &refused, err) < 0) {
		struct verr undo = { 0 };

		drop(j, c->name, &undo);
		verr_append(err, &undo);
		json_object_put(j);
		verr_wrap(err, "cpu.isolate");
		return -1;
	}
	list = cpubits_list(&host);
	*said = xasprintf("isolated CPUs %s: the host's tasks on %s, %d IRQ%s moved there, %d refused by the kernel "
			  "(managed or per-CPU, left as they were)",
			  mine, list, moved, moved == 1 ? "" : "s", refused);
	json_object_put(j);
	return 0;
}

int isolate_qemu(const struct vm_config *c, pid_t pid, struct verr *err)
{
	_cleanup_free_ char *cg = NULL, *dir = NULL;

	if (!c->isolate)
		return 0;
	if (!(cg = cgroup2_mount(err)))
		return -1;
	dir = xasprintf("%s/" VMM_SLICE "/%s", cg, c->name);
	if (cgroup_move(dir, pid, err) < 0) {
		verr_wrap(err, "cpu.isolate: QEMU in a cgroup of its own");
		return -1;
	}
	return 0;
}

int isolate_give_back(const char *name, struct verr *err)
{
	_cleanup_free_ char *path = journal_path(err);
	_cleanup_close_ int lock = -1;
	struct json_object *j;
	size_t before = err->n;
	int ret;

	/* No journal: this VM holds nothing (a holder's journal stays until it drops out). */
	if (!path)
		return -1;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	if ((lock = run_base_lock(JOURNAL_LOCK, err)) < 0)
		return -1;
	j = journal_load(err);
	if (!j)
		return err->n > before ? -1 : 0;
	if (!json_object_object_get_ex(obj_of(j, "holders"), name, NULL)) {
		json_object_put(j);
		return 0;
	}
	ret = drop(j, name, err) < 0 ? -1 : 1;
	json_object_put(j);
	return ret;
}
