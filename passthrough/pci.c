#define _GNU_SOURCE
#include "pci.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../vmm/util.h"

const char *pci_sysfs_root(void)
{
	const char *root = getenv("VMM_SYSFS_ROOT");
	return root && *root ? root : "/sys";
}

int pci_driver(const char *bdf, char *drv, size_t size, struct verr *err)
{
	_cleanup_free_ char *dev = xasprintf("%s/bus/pci/devices/%s", pci_sysfs_root(), bdf);
	_cleanup_free_ char *link = xasprintf("%s/driver", dev);
	char target[PATH_MAX];
	ssize_t n;
	struct stat st;

	if (stat(dev, &st) < 0)
		return verr_set(err, 0, "there is no PCI device %s on this host (no '%s')", bdf, dev);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0) {
		if (errno != ENOENT)
			return verr_set(err, errno, "cannot read the driver of %s ('%s')", bdf, link);
		drv[0] = '\0';
		return 0;
	}
	target[n] = '\0';
	snprintf(drv, size, "%s", strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
	return 0;
}

int pci_check_vfio(const char *const *bdfs, size_t n, struct verr *err)
{
	size_t before = err->n;
	char drv[64];

	for (size_t i = 0; i < n; i++) {
		if (pci_driver(bdfs[i], drv, sizeof(drv), err) < 0)
			continue;
		if (strcmp(drv, "vfio-pci"))
			verr_set(err, 0, "%s is not bound to vfio-pci (%s%s): bind it to vfio-pci first", bdfs[i],
				 drv[0] ? "its driver is " : "it has no driver", drv);
	}
	return err->n > before ? -1 : 0;
}
