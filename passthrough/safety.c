#include "passthrough/safety.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/base/host.h"
#include "vmm/base/util.h"

/* GPUs whose reset leaves them unusable until the host reboots (vendor << 16 | device). */
static const unsigned reset_bug_gpus[] = {
	0x100267df, /* AMD Polaris 10 (RX 470/480/570/580) */
	0x1002687f, /* AMD Vega 10 */
	0x100266af, /* AMD Vega 20 (Radeon VII) */
	0x1002731f, /* AMD Navi 10 (RX 5700) */
	0x10027340, /* AMD Navi 14 */
};

/* True when path (a sysfs entry) resolves to a place below device bdf. */
static bool below(const char *path, const char *bdf)
{
	char real[PATH_MAX];
	_cleanup_free_ char *needle = xasprintf("/%s", bdf);
	const char *hit;

	if (!realpath(path, real))
		return false;
	hit = strstr(real, needle);
	return hit && (hit[strlen(needle)] == '/' || !hit[strlen(needle)]);
}

/* Adds "maj:min" of a block device directory and of its partitions and holders to devs. */
static void block_numbers(const char *dir, struct strv *devs, struct strv *names, int depth)
{
	_cleanup_free_ char *devfile = xasprintf("%s/dev", dir), *holders = xasprintf("%s/holders", dir);
	char buf[32] = "";
	FILE *f = fopen(devfile, "re");
	DIR *d;
	struct dirent *e;

	if (depth > 8)
		return;
	if (f) {
		if (fgets(buf, sizeof(buf), f)) {
			buf[strcspn(buf, "\n")] = '\0';
			strv_push(devs, buf);
			strv_push(names, strrchr(dir, '/') + 1);
		}
		fclose(f);
	}
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		_cleanup_free_ char *sub = xasprintf("%s/%s/partition", dir, e->d_name);
		if (e->d_name[0] != '.' && access(sub, F_OK) == 0) {
			_cleanup_free_ char *part = xasprintf("%s/%s", dir, e->d_name);
			block_numbers(part, devs, names, depth + 1);
		}
	}
	if (d)
		closedir(d);
	d = opendir(holders);
	while (d && (e = readdir(d))) {
		_cleanup_free_ char *h = NULL;
		if (e->d_name[0] == '.')
			continue;
		h = xasprintf("%s/block/%s", pci_sysfs_root(), e->d_name);
		block_numbers(h, devs, names, depth + 1);
	}
	if (d)
		closedir(d);
}

/* True when a line of mountinfo or swaps names one of the block devices. */
static bool in_use(const struct strv *devs, const struct strv *names, char *why, size_t size)
{
	_cleanup_free_ char *mountinfo = xasprintf("%s/self/mountinfo", host_proc_root());
	_cleanup_free_ char *swaps = xasprintf("%s/swaps", host_proc_root());
	char line[4096], devno[32], point[2048];
	FILE *f = fopen(mountinfo, "re");
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %31s %*s %2047s", devno, point) == 2)
			for (size_t i = 0; i < devs->n && !found; i++)
				if (!strcmp(devno, devs->v[i])) {
					snprintf(why, size, "it holds /dev/%s, mounted on %s", names->v[i], point);
					found = true;
				}
	if (f)
		fclose(f);
	f = fopen(swaps, "re");
	while (f && !found && fgets(line, sizeof(line), f))
		for (size_t i = 0; i < names->n && !found; i++) {
			_cleanup_free_ char *dev = xasprintf("/dev/%s ", names->v[i]);
			if (!strncmp(line, dev, strlen(dev))) {
				snprintf(why, size, "it holds /dev/%s, in use as swap", names->v[i]);
				found = true;
			}
		}
	if (f)
		fclose(f);
	return found;
}

/* True when a block device below the PCI device is mounted or used as swap. */
static bool holds_filesystem(const struct pci_dev *d, char *why, size_t size)
{
	_cleanup_free_ char *dir = xasprintf("%s/block", pci_sysfs_root());
	struct strv devs = { 0 }, names = { 0 };
	DIR *b = opendir(dir);
	struct dirent *e;
	bool used;

	while (b && (e = readdir(b))) {
		_cleanup_free_ char *disk = xasprintf("%s/%s", dir, e->d_name);
		if (e->d_name[0] != '.' && below(disk, d->bdf))
			block_numbers(disk, &devs, &names, 0);
	}
	if (b)
		closedir(b);
	used = in_use(&devs, &names, why, size);
	strv_free(&devs);
	strv_free(&names);
	return used;
}

/* True when a framebuffer console runs on the device. */
static bool has_fbcon(const struct pci_dev *d, char *why, size_t size)
{
	_cleanup_free_ char *dir = xasprintf("%s/class/graphics", pci_sysfs_root());
	DIR *g = opendir(dir);
	struct dirent *e;
	bool found = false;

	while (g && !found && (e = readdir(g))) {
		_cleanup_free_ char *dev = xasprintf("%s/%s/device", dir, e->d_name);
		if (!strncmp(e->d_name, "fb", 2) && below(dev, d->bdf)) {
			snprintf(why, size, "it shows the host's framebuffer console (%s)", e->d_name);
			found = true;
		}
	}
	if (g)
		closedir(g);
	return found;
}

/* True when a process holds one of the device nodes named in names (as "/dev/dri/X"). */
static bool node_held(const struct strv *names, char *why, size_t size)
{
	DIR *proc = opendir(host_proc_root());
	struct dirent *p;
	bool found = false;

	while (proc && !found && (p = readdir(proc))) {
		_cleanup_free_ char *fds = NULL;
		DIR *fd;
		struct dirent *f;

		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		fds = xasprintf("%s/%s/fd", host_proc_root(), p->d_name);
		fd = opendir(fds);
		while (fd && !found && (f = readdir(fd))) {
			_cleanup_free_ char *link = xasprintf("%s/%s", fds, f->d_name);
			char target[PATH_MAX], comm[64] = "?";
			ssize_t n = readlink(link, target, sizeof(target) - 1);
			if (n <= 0)
				continue;
			target[n] = '\0';
			for (size_t i = 0; i < names->n && !found; i++)
				if (!strcmp(target, names->v[i])) {
					_cleanup_free_ char *c = xasprintf("%s/%s/comm", host_proc_root(), p->d_name);
					FILE *cf = fopen(c, "re");
					if (cf) {
						if (fgets(comm, sizeof(comm), cf))
							comm[strcspn(comm, "\n")] = '\0';
						fclose(cf);
					}
					snprintf(why, size, "its DRM device %s is open in %s (pid %s)", target, comm, p->d_name);
					found = true;
				}
		}
		if (fd)
			closedir(fd);
	}
	if (proc)
		closedir(proc);
	return found;
}

/* True when a process uses the device's DRM nodes (a desktop session on that GPU). */
static bool drm_in_use(const struct pci_dev *d, char *why, size_t size)
{
	_cleanup_free_ char *dir = xasprintf("%s/class/drm", pci_sysfs_root());
	struct strv nodes = { 0 };
	DIR *drm = opendir(dir);
	struct dirent *e;
	bool used;

	while (drm && (e = readdir(drm))) {
		_cleanup_free_ char *dev = xasprintf("%s/%s/device", dir, e->d_name);
		if (!strchr(e->d_name, '-') && e->d_name[0] != '.' && below(dev, d->bdf))
			strv_pushf(&nodes, "/dev/dri/%s", e->d_name);
	}
	if (drm)
		closedir(drm);
	used = nodes.n && node_held(&nodes, why, size);
	strv_free(&nodes);
	return used;
}

/* True when the device is the NIC of the host's default route. */
static bool has_default_route(const struct pci_dev *d, char *why, size_t size)
{
	_cleanup_free_ char *route = xasprintf("%s/net/route", host_proc_root());
	FILE *f = fopen(route, "re");
	char line[512], iface[64], dest[16];
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %15s", iface, dest) != 2 || strcmp(dest, "00000000"))
			continue;
		_cleanup_free_ char *dev = xasprintf("%s/class/net/%s/device", pci_sysfs_root(), iface);
		if (below(dev, d->bdf)) {
			snprintf(why, size, "it carries the host's default route (%s)", iface);
			found = true;
		}
	}
	if (f)
		fclose(f);
	return found;
}

enum hazard host_hazard(const struct pci_dev *d, char *why, size_t size)
{
	if (holds_filesystem(d, why, size))
		return HAZARD_NEVER;
	if (d->boot_vga) {
		snprintf(why, size, "it is the host's boot display");
		return HAZARD_FORCEABLE;
	}
	if (has_fbcon(d, why, size) || drm_in_use(d, why, size) || has_default_route(d, why, size))
		return HAZARD_FORCEABLE;
	return HAZARD_NONE;
}

bool device_warning(const struct pci_dev *d, char *why, size_t size)
{
	unsigned id = d->vendor << 16 | d->device;

	for (size_t i = 0; i < sizeof(reset_bug_gpus) / sizeof(reset_bug_gpus[0]); i++)
		if (reset_bug_gpus[i] == id) {
			snprintf(why, size, "%04x:%04x has a known reset bug: after the VM stops it may not work until "
				 "the host reboots (vendor-reset can help)", d->vendor, d->device);
			return true;
		}
	if (!d->bridge && !d->reset[0]) {
		snprintf(why, size, "it has no reset method: its state carries from one VM to the next");
		return true;
	}
	return false;
}
