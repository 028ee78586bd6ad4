#include "vmm/base/host.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "vmm/base/util.h"

bool kvm_usable(void)
{
	_cleanup_close_ int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	int vm;

	if (fd < 0 || ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return false;
	vm = ioctl(fd, KVM_CREATE_VM, 0);
	if (vm < 0)
		return false;
	close(vm);
	return true;
}

char *host_machine_id(struct verr *err)
{
	static const char *const files[] = { "/etc/machine-id", "/var/lib/dbus/machine-id",
					     "/proc/sys/kernel/random/boot_id", NULL };
	const char *v = getenv("VMM_MACHINE_ID");
	char line[128];

	if (v && *v)
		return xstrdup(v);
	for (size_t i = 0; files[i]; i++) {
		FILE *f = fopen(files[i], "re");
		bool got = f && fgets(line, sizeof(line), f);
		if (f)
			fclose(f);
		line[got ? strcspn(line, "\n") : 0] = '\0';
		if (line[0])
			return xstrdup(line);
	}
	verr_set(err, 0, "this host has no machine id (/etc/machine-id), which a VM's identity is derived from");
	return NULL;
}

/* True for a regular file this process may execute. */
static bool is_executable(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

const char *default_qemu(void)
{
	const char *v = getenv("VMM_QEMU");

	return v && *v ? v : "qemu-system-x86_64";
}

char *find_program(const char *name, struct verr *err)
{
	const char *path = getenv("PATH");

	if (strchr(name, '/')) {
		if (is_executable(name))
			return xstrdup(name);
		verr_set(err, access(name, F_OK) ? ENOENT : EACCES, "QEMU binary '%s' cannot be run", name);
		return NULL;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ":");
		if (n) {
			char *full = xasprintf("%.*s/%s", (int)n, p, name);
			if (is_executable(full))
				return full;
			free(full);
		}
		p += n + (p[n] == ':');
	}
	verr_set(err, 0, "QEMU binary '%s' not found in $PATH (install qemu-system-x86, or set qemu.binary or $VMM_QEMU)", name);
	return NULL;
}

/* $VAR when set and absolute, else HOME/fallback. */
static char *xdg_dir(const char *var, const char *fallback)
{
	const char *v = getenv(var), *home = getenv("HOME");

	if (v && v[0] == '/')
		return xstrdup(v);
	return xasprintf("%s/%s", home && *home ? home : "/root", fallback);
}

/* The absolute path with the symbolic links of its longest existing leading part resolved
 * and the rest (which does not exist yet) as written, without doubled or trailing slashes;
 * NULL with err when the rest has a "." or ".." component. */
static char *resolve_path(const char *path, struct verr *err)
{
	_cleanup_free_ char *head = xstrdup(path), *real = NULL;
	char *out, *o;

	while (!(real = realpath(*head ? head : "/", NULL)) && (errno == ENOENT || errno == ENOTDIR))
		*strrchr(head, '/') = '\0';
	if (!real) {
		verr_set(err, errno, "cannot resolve the run directory '%s'", path);
		return NULL;
	}
	o = out = xmalloc(strlen(real) + strlen(path) + 2);
	o = stpcpy(o, strcmp(real, "/") ? real : "");
	for (const char *p = path + strlen(head); *p; p++) {
		size_t n = strcspn(p + 1, "/");
		if (*p != '/' || !n)
			continue;
		if ((n == 1 && p[1] == '.') || (n == 2 && p[1] == '.' && p[2] == '.')) {
			free(out);
			verr_set(err, 0, "the run directory '%s' has '.' or '..' where it does not exist yet", path);
			return NULL;
		}
		o += sprintf(o, "/%.*s", (int)n, p + 1);
		p += n;
	}
	if (o == out)
		strcpy(out, "/");
	return out;
}

char *run_base_dir(struct verr *err)
{
	const char *v = getenv("VMM_RUN_DIR"), *xdg = getenv("XDG_RUNTIME_DIR");
	_cleanup_free_ char *dir = NULL;

	/* A relative one would mean another directory once the detached supervisor is in "/". */
	if (v && *v && v[0] != '/') {
		verr_set(err, 0, "VMM_RUN_DIR must be an absolute path, not '%s'", v);
		return NULL;
	}
	if (v && *v)
		dir = xstrdup(v);
	else if (geteuid() == 0)
		dir = xstrdup("/run/vmm");
	else if (xdg && xdg[0] == '/')
		dir = xasprintf("%s/vmm", xdg);
	else {
		verr_set(err, 0, "no run directory: set VMM_RUN_DIR or XDG_RUNTIME_DIR");
		return NULL;
	}
	return resolve_path(dir, err);
}

char *cache_dir(void)
{
	const char *v = getenv("VMM_CACHE_DIR");
	_cleanup_free_ char *xdg = NULL;

	if (v && v[0] == '/')
		return xstrdup(v);
	xdg = xdg_dir("XDG_CACHE_HOME", ".cache");
	return xasprintf("%s/vmm", xdg);
}

const char *host_proc_root(void)
{
	const char *root = getenv("VMM_PROC_ROOT");

	return root && *root ? root : "/proc";
}

char *data_dir(void)
{
	const char *v = getenv("VMM_DATA_DIR");
	_cleanup_free_ char *xdg = NULL;

	if (v && v[0] == '/')
		return xstrdup(v);
	xdg = xdg_dir("XDG_DATA_HOME", ".local/share");
	return xasprintf("%s/vmm", xdg);
}

uint64_t host_memory(void)
{
	const char *root = getenv("VMM_PROC_ROOT");
	_cleanup_free_ char *path = xasprintf("%s/meminfo", root ? root : "/proc");
	FILE *f = fopen(path, "re");
	unsigned long long kb = 0;
	char line[256];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return (uint64_t)kb << 10;
}

long host_cpu_count(void)
{
	const char *v = getenv("VMM_HOST_CPUS");
	long n = v ? atol(v) : 0;

	return n > 0 ? n : sysconf(_SC_NPROCESSORS_CONF);
}

/* Locks FILE in the run base directory, serialising a host-wide change. */
int run_base_lock(const char *file, struct verr *err)
{
	_cleanup_free_ char *base = run_base_dir(err), *path = NULL;
	int fd;

	if (!base || mkdir_parents(base, 0755) < 0)
		return base ? verr_set(err, errno, "cannot create '%s'", base) : -1;
	path = xasprintf("%s/%s", base, file);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return verr_set(err, errno, "cannot open '%s'", path);
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return verr_set(err, errno, "cannot lock '%s'", path);
		}
	return fd;
}
