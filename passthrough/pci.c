#include "passthrough/pci.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/base/strict.h"
#include "vmm/base/util.h"

const char *pci_sysfs_root(void)
{
	const char *root = getenv("VMM_SYSFS_ROOT");
	return root && *root ? root : "/sys";
}

/* Reads a small sysfs attribute of a device into buf ("" when absent); trailing newline dropped. */
static void attr(const char *bdf, const char *name, char *buf, size_t size)
{
	_cleanup_free_ char *p = xasprintf("%s/bus/pci/devices/%s/%s", pci_sysfs_root(), bdf, name);
	FILE *f = fopen(p, "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

/* The last path component a symlink of the device points to ("" when there is no link). */
static void link_name(const char *bdf, const char *name, char *buf, size_t size)
{
	_cleanup_free_ char *p = xasprintf("%s/bus/pci/devices/%s/%s", pci_sysfs_root(), bdf, name);
	char target[PATH_MAX];
	ssize_t n = readlink(p, target, sizeof(target) - 1);
	const char *base;

	buf[0] = '\0';
	if (n <= 0)
		return;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strlen(base) < size)
		memcpy(buf, base, strlen(base) + 1);
}

int pci_read(const char *bdf, struct pci_dev *d, struct verr *err)
{
	_cleanup_free_ char *dir = NULL;
	char buf[128];
	struct stat st;

	*d = (struct pci_dev){ .group = -1 };
	if (!pci_address_parse(bdf, d->bdf))
		return verr_set(err, 0, "'%s' is not a PCI address (expected DOMAIN:BUS:SLOT.FUNCTION such as 0000:01:00.0)",
				bdf);
	dir = xasprintf("%s/bus/pci/devices/%s", pci_sysfs_root(), d->bdf);
	if (stat(dir, &st) < 0)
		return verr_set(err, 0, "there is no PCI device %s on this host", d->bdf);
	attr(d->bdf, "vendor", buf, sizeof(buf));
	d->vendor = (unsigned)strtoul(buf, NULL, 16);
	attr(d->bdf, "device", buf, sizeof(buf));
	d->device = (unsigned)strtoul(buf, NULL, 16);
	attr(d->bdf, "class", buf, sizeof(buf));
	d->class = (unsigned)strtoul(buf, NULL, 16);
	d->bridge = (d->class >> 8) == 0x0604;
	attr(d->bdf, "boot_vga", buf, sizeof(buf));
	d->boot_vga = !strcmp(buf, "1");
	attr(d->bdf, "reset_method", d->reset, sizeof(d->reset));
	link_name(d->bdf, "driver", d->driver, sizeof(d->driver));
	link_name(d->bdf, "iommu_group", buf, sizeof(buf));
	if (buf[0])
		d->group = atoi(buf);
	return 0;
}

/* Orders devices by IOMMU group, then address. */
static int by_group(const void *a, const void *b)
{
	const struct pci_dev *x = a, *y = b;

	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	return strcmp(x->bdf, y->bdf);
}

/* Reads the devices named in directory dir (entries that are PCI addresses). */
static int read_dir(const char *dir, struct pci_dev **out, size_t *n, struct verr *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char bdf[PCI_BDF_SIZE];

	*out = NULL;
	*n = 0;
	if (!d)
		return verr_set(err, errno, "cannot list '%s'", dir);
	while ((e = readdir(d)))
		if (pci_address_parse(e->d_name, bdf)) {
			*out = xrealloc(*out, (*n + 1) * sizeof(**out));
			if (pci_read(bdf, &(*out)[*n], err) == 0)
				(*n)++;
		}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(**out), by_group);
	return 0;
}

int pci_list(struct pci_dev **out, size_t *n, struct verr *err)
{
	_cleanup_free_ char *dir = xasprintf("%s/bus/pci/devices", pci_sysfs_root());
	return read_dir(dir, out, n, err);
}

int pci_group(int g, struct pci_dev **out, size_t *n, struct verr *err)
{
	_cleanup_free_ char *dir = xasprintf("%s/kernel/iommu_groups/%d/devices", pci_sysfs_root(), g);
	return read_dir(dir, out, n, err);
}

bool pci_address_parse(const char *s, char out[PCI_BDF_SIZE])
{
	unsigned dom = 0, bus, dev, fn;

	if (text_matches(s, "xxxx:xx:xx.d") && sscanf(s, "%4x:%2x:%2x.%1u", &dom, &bus, &dev, &fn) == 4)
		;
	else if (text_matches(s, "xx:xx.d") && sscanf(s, "%2x:%2x.%1u", &bus, &dev, &fn) == 3)
		dom = 0;
	else
		return false;
	if (dev > 0x1f || fn > 7)
		return false;
	snprintf(out, PCI_BDF_SIZE, "%04x:%02x:%02x.%u", dom, bus, dev, fn);
	return true;
}

/* Bytes of "dddd:bb:dd", the slot part of a normalized address. */
#define PCI_SLOT_LEN 10

bool pci_same_slot(const char *a, const char *b)
{
	return !strncmp(a, b, PCI_SLOT_LEN);
}

unsigned pci_function(const char *bdf)
{
	return (unsigned)(bdf[PCI_SLOT_LEN + 1] - '0');
}
