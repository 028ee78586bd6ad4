#include "passthrough/vfio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/base/host.h"
#include "vmm/base/util.h"
#include "passthrough/hostdev.h"
#include "passthrough/pci.h"
#include "passthrough/safety.h"

/* How long to wait for /dev/vfio/GROUP after a bind. */
#define DEV_WAIT_MS 5000

char *vfio_journal_path(struct verr *err)
{
	_cleanup_free_ char *base = run_base_dir(err);
	return base ? xasprintf("%s/vfio-journal.json", base) : NULL;
}

/* Adds one problem to a report. */
static void problem(struct json_object *report, const char *severity, const char *bdf, const char *why)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "severity", json_object_new_string(severity));
	json_object_object_add(p, "bdf", json_object_new_string(bdf));
	json_object_object_add(p, "why", json_object_new_string(why));
	json_object_array_add(json_object_object_get(report, "problems"), p);
	if (!strcmp(severity, "refuse"))
		json_object_object_add(report, "viable", json_object_new_boolean(false));
}

/* True when bdf is one of the requested devices. */
static bool requested(const char *const *bdfs, size_t n, const char *bdf)
{
	char norm[PCI_BDF_SIZE];

	for (size_t i = 0; i < n; i++)
		if (pci_address_parse(bdfs[i], norm) && !strcmp(norm, bdf))
			return true;
	return false;
}

/* Checks one IOMMU group: every endpoint must go (bridges may stay), none may be the host's. */
static void check_group(struct json_object *report, int g, const char *const *bdfs, size_t n, bool force,
			struct verr *err)
{
	struct json_object *group = json_object_new_object(), *devices = json_object_new_array();
	struct pci_dev *devs;
	size_t count;
	char why[256];

	if (pci_group(g, &devs, &count, err) < 0)
		return;
	json_object_object_add(group, "group", json_object_new_int(g));
	for (size_t i = 0; i < count; i++) {
		struct pci_dev *d = &devs[i];
		struct json_object *o = json_object_new_object();
		bool asked = requested(bdfs, n, d->bdf);
		enum hazard h;

		json_object_object_add(o, "bdf", json_object_new_string(d->bdf));
		json_object_object_add(o, "driver", json_object_new_string(d->driver));
		json_object_object_add(o, "class", json_object_new_int((int)d->class));
		json_object_object_add(o, "bridge", json_object_new_boolean(d->bridge));
		json_object_object_add(o, "requested", json_object_new_boolean(asked));
		json_object_array_add(devices, o);
		if (d->bridge)
			continue;
		if (!asked && strcmp(d->driver, "vfio-pci")) {
			snprintf(why, sizeof(why), "it shares IOMMU group %d with the devices asked for and still has "
				 "its driver (%s): the whole group must go to the VM together", g,
				 d->driver[0] ? d->driver : "none");
			problem(report, "refuse", d->bdf, why);
		}
		h = host_hazard(d, why, sizeof(why));
		if (h == HAZARD_NEVER)
			problem(report, "refuse", d->bdf, why);
		else if (h == HAZARD_FORCEABLE)
			problem(report, force ? "warning" : "refuse", d->bdf, why);
		if (device_warning(d, why, sizeof(why)))
			problem(report, "warning", d->bdf, why);
	}
	for (size_t i = 1; i < count; i++)
		if (!devs[i].bridge && !devs[0].bridge && !pci_same_slot(devs[i].bdf, devs[0].bdf)) {
			snprintf(why, sizeof(why), "IOMMU group %d spans %s and %s: the platform does not isolate them "
				 "(no ACS), so they can only go to a VM together", g, devs[0].bdf, devs[i].bdf);
			problem(report, "warning", devs[i].bdf, why);
			break;
		}
	json_object_object_add(group, "devices", devices);
	json_object_array_add(json_object_object_get(report, "groups"), group);
	free(devs);
}

struct json_object *vfio_check(const char *const *bdfs, size_t n, bool force, struct verr *err)
{
	struct json_object *report = json_object_new_object();
	_cleanup_free_ int *groups = xzalloc((n + 1) * sizeof(int));
	size_t n_groups = 0, before = err->n;
	struct pci_dev d;

	json_object_object_add(report, "viable", json_object_new_boolean(true));
	json_object_object_add(report, "groups", json_object_new_array());
	json_object_object_add(report, "problems", json_object_new_array());
	for (size_t i = 0; i < n; i++) {
		bool seen = false;
		if (pci_read(bdfs[i], &d, err) < 0)
			continue;
		if (d.group < 0) {
			verr_set(err, 0, "%s has no IOMMU group: the IOMMU is off (add intel_iommu=on or amd_iommu=on "
				 "to the kernel command line, and enable VT-d/AMD-Vi in the firmware)", d.bdf);
			continue;
		}
		for (size_t j = 0; j < n_groups; j++)
			seen |= groups[j] == d.group;
		if (!seen)
			groups[n_groups++] = d.group;
	}
	for (size_t j = 0; err->n == before && j < n_groups; j++)
		check_group(report, groups[j], bdfs, n, force, err);
	if (err->n > before) {
		json_object_put(report);
		return NULL;
	}
	return report;
}

/* Writes text to a sysfs file. */
static int sysfs_write(const char *path, const char *text, struct verr *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return verr_set(err, errno, "cannot open '%s'", path);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return verr_set(err, errno, "cannot write '%s' to '%s'", text, path);
	return 0;
}

/* Takes the journal's lock (vfio-journal.lock beside it, never removed) for a whole
 * read-modify-write, so binds and restores of several VMs never lose each other's
 * entries. Returns the locked fd, or -1 with err. */
static int journal_lock(const char *path, struct verr *err)
{
	_cleanup_free_ char *lock = xasprintf("%.*s.lock", (int)(strlen(path) - strlen(".json")), path);
	_cleanup_free_ char *dir = xstrdup(path);
	_cleanup_close_ int fd = -1;

	*strrchr(dir, '/') = '\0';
	if (mkdir_parents(dir, 0700) < 0)
		return verr_set(err, errno, "cannot create '%s'", dir);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return verr_set(err, errno, "cannot open the VFIO journal's lock '%s'", lock);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return verr_set(err, errno, "cannot lock '%s'", lock);
	return steal_fd(fd);
}

/* Reads the journal (an object with a "devices" list), empty when there is none. */
static struct json_object *journal_read(const char *path)
{
	struct json_object *j = json_object_from_file(path), *devices;

	if (!j || !json_object_object_get_ex(j, "devices", &devices) ||
	    !json_object_is_type(devices, json_type_array)) {
		json_object_put(j);
		j = json_object_new_object();
		json_object_object_add(j, "devices", json_object_new_array());
	}
	return j;
}

/* Writes the journal durably (a unique temp file, fsync, rename), under its lock; an
 * empty journal is removed. */
static int journal_write(const char *path, struct json_object *j, struct verr *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.XXXXXX", path);
	const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
	_cleanup_close_ int fd = -1;

	if (json_object_array_length(json_object_object_get(j, "devices")) == 0)
		return unlink(path) == 0 || errno == ENOENT ? 0 : verr_set(err, errno, "cannot remove '%s'", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return verr_set(err, e, "cannot write the VFIO journal '%s'", path);
	}
	return 0;
}

/* The index of bdf in the journal, or -1. */
static ssize_t journal_find(struct json_object *j, const char *bdf)
{
	struct json_object *devices = json_object_object_get(j, "devices");

	for (size_t i = 0; i < json_object_array_length(devices); i++)
		if (!strcmp(json_object_get_string(json_object_object_get(json_object_array_get_idx(devices, i), "bdf")),
			    bdf))
			return (ssize_t)i;
	return -1;
}

/* The VM the journal says holds the device at index k ("" for a bind by hand). */
static const char *journal_owner(struct json_object *j, ssize_t k)
{
	struct json_object *e = json_object_array_get_idx(json_object_object_get(j, "devices"), (size_t)k);
	const char *vm = json_object_get_string(json_object_object_get(e, "vm"));

	return vm ? vm : "";
}

/* Refuses devices the journal says another VM holds, naming that VM. */
static int check_owners(struct json_object *j, const struct pci_dev *devs, size_t count, const char *owner,
			struct verr *err)
{
	size_t before = err->n;

	for (size_t i = 0; i < count; i++) {
		ssize_t k = journal_find(j, devs[i].bdf);
		const char *holder = k >= 0 ? journal_owner(j, k) : "";
		if (*holder && strcmp(holder, owner ? owner : ""))
			verr_set(err, 0, "%s (IOMMU group %d) is held by VM '%s'", devs[i].bdf, devs[i].group, holder);
	}
	return err->n > before ? -1 : 0;
}

/* Loads vfio-pci when its driver is not there (modprobe, by execve). */
static int load_vfio_pci(struct verr *err)
{
	_cleanup_free_ char *drv = xasprintf("%s/bus/pci/drivers/vfio-pci", pci_sysfs_root());
	int status;
	pid_t pid;

	if (access(drv, F_OK) == 0)
		return 0;
	pid = fork();
	if (pid < 0)
		return verr_set(err, errno, "cannot fork modprobe");
	if (pid == 0) {
		execl("/sbin/modprobe", "modprobe", "vfio-pci", (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || access(drv, F_OK) < 0)
		return verr_set(err, 0, "the vfio-pci driver is not loaded and 'modprobe vfio-pci' failed");
	return 0;
}

/* Waits for /dev/vfio/GROUP ($VMM_DEV_ROOT, default /dev). */
static int wait_for_group(int group, struct verr *err)
{
	const char *root = getenv("VMM_DEV_ROOT");
	_cleanup_free_ char *path = xasprintf("%s/vfio/%d", root && *root ? root : "/dev", group);

	return hostdev_wait_node("vfio", path, DEV_WAIT_MS, err);
}

/* Moves one device to vfio-pci: driver_override, unbind, drivers_probe, then checks. */
static int bind_one(const struct pci_dev *d, struct verr *err)
{
	_cleanup_free_ char *dev = xasprintf("%s/bus/pci/devices/%s", pci_sysfs_root(), d->bdf);
	_cleanup_free_ char *override = xasprintf("%s/driver_override", dev), *unbind = xasprintf("%s/driver/unbind", dev);
	_cleanup_free_ char *probe = xasprintf("%s/bus/pci/drivers_probe", pci_sysfs_root());
	struct pci_dev now;

	if (!strcmp(d->driver, "vfio-pci"))
		return 0;
	if (sysfs_write(override, "vfio-pci", err) < 0 || (d->driver[0] && sysfs_write(unbind, d->bdf, err) < 0) ||
	    sysfs_write(probe, d->bdf, err) < 0 || pci_read(d->bdf, &now, err) < 0)
		return -1;
	if (strcmp(now.driver, "vfio-pci"))
		return verr_set(err, 0, "%s did not bind to vfio-pci (its driver is now %s)", d->bdf,
				now.driver[0] ? now.driver : "none");
	return 0;
}

/* Gives one device back to its original driver and clears driver_override. */
static int restore_one(const char *bdf, const char *original, struct verr *err)
{
	_cleanup_free_ char *dev = xasprintf("%s/bus/pci/devices/%s", pci_sysfs_root(), bdf);
	_cleanup_free_ char *override = xasprintf("%s/driver_override", dev), *unbind = xasprintf("%s/driver/unbind", dev);
	_cleanup_free_ char *bind = xasprintf("%s/bus/pci/drivers/%s/bind", pci_sysfs_root(), original);
	struct pci_dev now;

	if (pci_read(bdf, &now, err) < 0)
		return -1;
	if (!strcmp(now.driver, original))
		return sysfs_write(override, "\n", err);
	if ((now.driver[0] && sysfs_write(unbind, bdf, err) < 0) || sysfs_write(override, "\n", err) < 0 ||
	    (original[0] && sysfs_write(bind, bdf, err) < 0) || pci_read(bdf, &now, err) < 0)
		return -1;
	if (strcmp(now.driver, original))
		return verr_set(err, 0, "%s did not go back to %s (its driver is now %s)", bdf,
				original[0] ? original : "no driver", now.driver[0] ? now.driver : "none");
	return 0;
}

/* Lists the endpoints of the groups of the devices (what a bind or restore takes). */
static int endpoints(const char *const *bdfs, size_t n, struct pci_dev **out, size_t *count, struct verr *err)
{
	*out = NULL;
	*count = 0;
	for (size_t i = 0; i < n; i++) {
		struct pci_dev d, *group;
		size_t g = 1;
		if (pci_read(bdfs[i], &d, err) < 0)
			return -1;
		/* Without an IOMMU group (IOMMU off) a device stands alone. */
		if (d.group < 0)
			group = xmemdup(&d, sizeof(d));
		else if (pci_group(d.group, &group, &g, err) < 0)
			return -1;
		for (size_t k = 0; k < g; k++) {
			bool dup = group[k].bridge;
			for (size_t m = 0; m < *count && !dup; m++)
				dup = !strcmp((*out)[m].bdf, group[k].bdf);
			if (dup)
				continue;
			*out = xrealloc(*out, (*count + 1) * sizeof(**out));
			(*out)[(*count)++] = group[k];
		}
		free(group);
	}
	return 0;
}

/* Refuses a bind the check does not allow; its refusals become err lines. */
static int check_allows(const char *const *bdfs, size_t n, bool force, struct verr *err)
{
	struct json_object *report = vfio_check(bdfs, n, force, err), *problems;
	size_t before = err->n;

	if (!report)
		return -1;
	problems = json_object_object_get(report, "problems");
	for (size_t i = 0; i < json_object_array_length(problems); i++) {
		struct json_object *p = json_object_array_get_idx(problems, i);
		if (!strcmp(json_object_get_string(json_object_object_get(p, "severity")), "refuse"))
			verr_set(err, 0, "%s: %s", json_object_get_string(json_object_object_get(p, "bdf")),
				 json_object_get_string(json_object_object_get(p, "why")));
	}
	json_object_put(report);
	return err->n > before ? -1 : 0;
}

int vfio_group_endpoints(const char *const *bdfs, size_t n, struct strv *out, struct verr *err)
{
	struct pci_dev *devs;
	size_t count;

	if (endpoints(bdfs, n, &devs, &count, err) < 0)
		return -1;
	for (size_t i = 0; i < count; i++)
		strv_push(out, devs[i].bdf);
	free(devs);
	return 0;
}

int vfio_bind(const char *const *bdfs, size_t n, bool force, const char *owner, struct verr *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int lock = -1;
	struct pci_dev *devs = NULL;
	struct json_object *j;
	size_t count, done = 0;
	_cleanup_free_ bool *added = NULL;
	int ret = -1;

	if (!(path = vfio_journal_path(err)) || (lock = journal_lock(path, err)) < 0)
		return -1;
	if (check_allows(bdfs, n, force, err) < 0 || endpoints(bdfs, n, &devs, &count, err) < 0 ||
	    load_vfio_pci(err) < 0) {
		free(devs);
		return -1;
	}
	/* The original drivers are on disk before any device is touched. */
	j = journal_read(path);
	if (check_owners(j, devs, count, owner, err) < 0)
		goto out;
	added = xzalloc((count + 1) * sizeof(*added));
	for (size_t i = 0; i < count; i++) {
		ssize_t k = journal_find(j, devs[i].bdf);
		struct json_object *e;
		/* A VM adopts what was bound by hand: it gives it back when it ends. */
		if (k >= 0 && owner && *owner)
			json_object_object_add(json_object_array_get_idx(json_object_object_get(j, "devices"), (size_t)k),
					       "vm", json_object_new_string(owner));
		if (k >= 0 || !strcmp(devs[i].driver, "vfio-pci"))
			continue;
		added[i] = true;
		e = json_object_new_object();
		json_object_object_add(e, "bdf", json_object_new_string(devs[i].bdf));
		json_object_object_add(e, "driver", json_object_new_string(devs[i].driver));
		json_object_object_add(e, "group", json_object_new_int(devs[i].group));
		json_object_object_add(e, "vm", json_object_new_string(owner ? owner : ""));
		json_object_array_add(json_object_object_get(j, "devices"), e);
	}
	if (journal_write(path, j, err) < 0)
		goto out;
	for (; done < count; done++)
		if (bind_one(&devs[done], err) < 0)
			break;
	for (size_t i = 0; done == count && i < count; i++)
		if (wait_for_group(devs[i].group, err) < 0)
			break;
	if (err->n == 0) {
		ret = 0;
		goto out;
	}
	/* Undo, newest first: every device this bind took goes back to the driver it had. */
	for (size_t i = done + 1; i-- > 0;) {
		ssize_t k;
		if (i >= count || !added[i])
			continue;
		k = journal_find(j, devs[i].bdf);
		if (k >= 0 && restore_one(devs[i].bdf, devs[i].driver, err) == 0)
			json_object_array_del_idx(json_object_object_get(j, "devices"), (size_t)k, 1);
	}
	journal_write(path, j, err);
out:
	json_object_put(j);
	free(devs);
	return ret;
}

int vfio_restore(const char *const *bdfs, size_t n, const char *owner, struct verr *err)
{
	_cleanup_free_ char *path = vfio_journal_path(err);
	_cleanup_close_ int lock = -1;
	struct json_object *j, *devices;
	struct pci_dev *devs = NULL;
	size_t count = 0, before = err->n;
	int restored = 0;

	if (!path || (lock = journal_lock(path, err)) < 0)
		return -1;
	if (n && endpoints(bdfs, n, &devs, &count, err) < 0) {
		free(devs);
		return -1;
	}
	j = journal_read(path);
	devices = json_object_object_get(j, "devices");
	for (size_t k = 0; k < count; k++)
		if (!strcmp(devs[k].driver, "vfio-pci") && journal_find(j, devs[k].bdf) < 0)
			verr_set(err, 0, "%s is bound to vfio-pci but the journal does not say what it had before "
				 "(bind it to its driver by hand)", devs[k].bdf);
	for (size_t i = json_object_array_length(devices); i-- > 0;) {
		struct json_object *e = json_object_array_get_idx(devices, i);
		const char *bdf = json_object_get_string(json_object_object_get(e, "bdf"));
		bool wanted = n == 0;
		for (size_t k = 0; k < count && !wanted; k++)
			wanted = !strcmp(devs[k].bdf, bdf);
		/* A VM gives back only what it holds, never another VM's devices. */
		wanted &= !owner || !strcmp(owner, journal_owner(j, (ssize_t)i));
		if (wanted && restore_one(bdf, json_object_get_string(json_object_object_get(e, "driver")), err) == 0) {
			json_object_array_del_idx(devices, i, 1);
			restored++;
		}
	}
	journal_write(path, j, err);
	json_object_put(j);
	free(devs);
	return err->n > before ? -1 : restored;
}
