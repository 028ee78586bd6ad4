/* Raising and lowering the kernel's huge page pools through sysfs. */
#include "vmm/base/hugepages.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/base/host.h"
#include "vmm/base/util.h"

/* The pool's nr_hugepages file. */
static char *pool_file(const char *pool, int node)
{
	return node < 0 ? xasprintf("/sys/kernel/mm/hugepages/%s/nr_hugepages", pool)
			: xasprintf("/sys/devices/system/node/node%d/hugepages/%s/nr_hugepages", node, pool);
}

/* Reads the number in PATH. Returns 0, or -1 with err. */
static int read_count(const char *path, unsigned long *out, struct verr *err)
{
	char buf[32];
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	char *end;

	if (n <= 0)
		return verr_set(err, n < 0 ? errno : 0, "cannot read '%s'", path);
	buf[n] = '\0';
	errno = 0;
	*out = strtoul(buf, &end, 10);
	if (end == buf || errno)
		return verr_set(err, 0, "'%s' does not hold a number", path);
	return 0;
}

/* Writes the number V to PATH. Returns 0, or -1 with err. */
static int write_count(const char *path, unsigned long v, struct verr *err)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%lu", v);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, buf, (size_t)len) != len)
		return verr_set(err, errno, "cannot write %lu to '%s'", v, path);
	return 0;
}

/* Takes the lock every pool change holds. Returns its fd, or -1 with err. */
static int pools_lock(struct verr *err)
{
	return run_base_lock("hugepages.lock", err);
}

int hugepages_raise(const char *pool, int node, unsigned long pages, struct verr *err)
{
	_cleanup_free_ char *path = pool_file(pool, node);
	_cleanup_close_ int lock = pools_lock(err), compact = -1;
	unsigned long before, after;
	char where[32] = "";

	if (lock < 0 || read_count(path, &before, err) < 0)
		return -1;
	/* Free memory in large runs makes the pages likelier to be found. */
	compact = open("/proc/sys/vm/compact_memory", O_WRONLY | O_CLOEXEC);
	if (compact >= 0)
		(void)!write(compact, "1", 1);
	if (write_count(path, before + pages, err) < 0 || read_count(path, &after, err) < 0)
		return -1;
	if (after >= before + pages)
		return 0;
	if (after > before) {
		struct verr ignored = { 0 };

		(void)write_count(path, before, &ignored);
		verr_clear(&ignored);
	}
	if (node >= 0)
		snprintf(where, sizeof(where), " on host node %d", node);
	verr_set(err, 0, "the kernel gave %lu of the %lu %s huge pages asked for%s (%s)%s",
		 after > before ? after - before : 0, pages, strchr(pool, '-') + 1, where, path,
		 strstr(pool, "1048576kB") ? ": 1G pages are rarely free once the host has run a while; reserve "
					     "them at boot (hugepagesz=1G hugepages=N on the kernel command line)"
					   : ": memory is short or fragmented");
	return -1;
}

int hugepages_lower(const char *pool, int node, unsigned long pages, struct verr *err)
{
	_cleanup_free_ char *path = pool_file(pool, node);
	_cleanup_close_ int lock = pools_lock(err);
	unsigned long now;

	if (lock < 0 || read_count(path, &now, err) < 0)
		return -1;
	return write_count(path, now > pages ? now - pages : 0, err);
}
