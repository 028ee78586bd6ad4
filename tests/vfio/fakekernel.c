/* The kernel's part for a fake sysfs tree (LD_PRELOAD, like libvirt's virpcimock): writes
 * to files below $FAKE_SYSFS are logged to $FAKE_LOG ("path data", in order) and acted on
 * the way the PCI core would: drivers_probe binds a device to its driver_override (or the
 * driver it natively binds to, .native_driver), DRIVER/unbind and DRIVER/bind move the
 * device's "driver" link, and vfio-pci creates and removes $FAKE_DEV/vfio/GROUP.
 * $FAKE_FAIL=SUBSTRING makes the $FAKE_FAIL_AT-th (default 1st) write whose path contains
 * it fail with EIO; $FAKE_CRASH=SUBSTRING kills the process after that write instead. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ssize_t (*real_write)(int, const void *, size_t);
static int matches_seen;

/* Reads a small file of the fake tree (trimmed), "" when absent. */
static void slurp(const char *root, const char *rel, char *buf, size_t size)
{
	char path[PATH_MAX];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	buf[0] = '\0';
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	n = read(fd, buf, size - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (!strcmp(buf, "(null)"))
		buf[0] = '\0';
}

/* The IOMMU group of a device, or -1. */
static int group_of(const char *root, const char *bdf)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/iommu_group", root, bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return -1;
	target[n] = '\0';
	return atoi(strrchr(target, '/') + 1);
}

/* Creates or removes /dev/vfio/GROUP as vfio-pci takes or releases a group's devices. */
static void vfio_node(const char *root, const char *bdf, int create)
{
	const char *dev = getenv("FAKE_DEV");
	char path[PATH_MAX];
	int g = group_of(root, bdf);

	if (!dev || g < 0)
		return;
	snprintf(path, sizeof(path), "%s/vfio", dev);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/vfio/%d", dev, g);
	if (create)
		close(open(path, O_CREAT | O_WRONLY, 0600));
	else
		unlink(path);
}

/* Binds a device to a driver: its "driver" link points to the driver's directory. */
static void link_driver(const char *root, const char *bdf, const char *drv)
{
	char path[PATH_MAX], target[PATH_MAX];

	snprintf(path, sizeof(path), "%s/bus/pci/drivers/%s", root, drv);
	if (!*drv || access(path, F_OK) < 0)
		return;
	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver", root, bdf);
	snprintf(target, sizeof(target), "../../drivers/%s", drv);
	if (symlink(target, path) == 0 && !strcmp(drv, "vfio-pci"))
		vfio_node(root, bdf, 1);
}

/* Does what the PCI core does for a write of data to rel (a path below the fake root). */
static void act(const char *root, const char *rel, const char *data)
{
	char drv[128], path[PATH_MAX];
	const char *tail;

	tail = strrchr(rel, '/');
	if (tail && !strcmp(tail, "/driver_override")) {
		/* A sysfs store replaces the whole value; empty reads back as "(null)". */
		int fd;
		snprintf(path, sizeof(path), "%s/%s", root, rel);
		fd = open(path, O_WRONLY | O_TRUNC);
		if (fd >= 0) {
			dprintf(fd, "%s\n", *data ? data : "(null)");
			close(fd);
		}
	} else if (!strcmp(rel, "bus/pci/drivers_probe")) {
		snprintf(path, sizeof(path), "bus/pci/devices/%s/driver_override", data);
		slurp(root, path, drv, sizeof(drv));
		if (!drv[0]) {
			snprintf(path, sizeof(path), "bus/pci/devices/%s/.native_driver", data);
			slurp(root, path, drv, sizeof(drv));
		}
		link_driver(root, data, drv);
	} else if (!strncmp(rel, "bus/pci/drivers/", 16) && (tail = strrchr(rel, '/'))) {
		snprintf(drv, sizeof(drv), "%.*s", (int)(tail - rel - 16), rel + 16);
		if (!strcmp(tail, "/unbind")) {
			snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/driver", root, data);
			if (unlink(path) == 0 && !strcmp(drv, "vfio-pci"))
				vfio_node(root, data, 0);
		} else if (!strcmp(tail, "/bind"))
			link_driver(root, data, drv);
	}
}

/* Programs vmm starts (QEMU) run on the real kernel: they do not inherit the shim. */
static void __attribute__((constructor)) not_for_children(void)
{
	unsetenv("LD_PRELOAD");
}

ssize_t write(int fd, const void *buf, size_t n)
{
	const char *root = getenv("FAKE_SYSFS"), *fail = getenv("FAKE_FAIL"), *crash = getenv("FAKE_CRASH");
	char link[64], path[PATH_MAX], data[256];
	ssize_t len, r;
	size_t rootlen;

	if (!real_write)
		real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if (!root || (len = readlink(link, path, sizeof(path) - 1)) <= 0)
		return real_write(fd, buf, n);
	path[len] = '\0';
	rootlen = strlen(root);
	if (strncmp(path, root, rootlen) || path[rootlen] != '/')
		return real_write(fd, buf, n);
	snprintf(data, sizeof(data), "%.*s", (int)(n < sizeof(data) - 1 ? n : sizeof(data) - 1), (const char *)buf);
	data[strcspn(data, "\n")] = '\0';
	if (getenv("FAKE_LOG")) {
		FILE *log = fopen(getenv("FAKE_LOG"), "a");
		if (log) {
			fprintf(log, "%s %s\n", path + rootlen + 1, data);
			fclose(log);
		}
	}
	if ((fail && strstr(path, fail)) || (crash && strstr(path, crash))) {
		const char *at = getenv("FAKE_FAIL_AT");
		if (++matches_seen == (at ? atoi(at) : 1)) {
			if (fail) {
				errno = EIO;
				return -1;
			}
			r = real_write(fd, buf, n);
			act(root, path + rootlen + 1, data);
			_exit(137);
		}
	}
	r = real_write(fd, buf, n);
	if (r >= 0)
		act(root, path + rootlen + 1, data);
	return r;
}
