#include "vmm/base/rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "vmm/base/host.h"
#include "vmm/base/util.h"

/* Files a supervisor leaves in the directory while it runs. */
static const char *const transient_files[] = { "monitor.sock", "console.sock", "qmp.sock", "ctl.sock", "agent.sock", "vnc.sock",
							       "state.json", "lock", NULL };

bool vm_name_valid(const char *name)
{
	return id_valid(name, VM_NAME_MAX);
}

int vm_name_check(const char *name, struct verr *err)
{
	if (vm_name_valid(name))
		return 0;
	return verr_set(err, 0, "'%s' is not a valid VM name (a letter, then up to %d letters, digits, '-', '_' or "
			"'.')", name, VM_NAME_MAX - 1);
}

char *rundir_path(const char *name, struct verr *err)
{
	_cleanup_free_ char *base = NULL;

	if (vm_name_check(name, err) < 0)
		return NULL;
	base = run_base_dir(err);
	return base ? xasprintf("%s/%s", base, name) : NULL;
}

/* mkdir that accepts an existing directory owned by us, and makes it 0700. */
static int make_private_dir(const char *path, struct verr *err)
{
	struct stat st;

	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return verr_set(err, errno, "cannot create run directory '%s'", path);
	if (lstat(path, &st) < 0)
		return verr_set(err, errno, "cannot use run directory '%s'", path);
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return verr_set(err, 0, "run directory '%s' is not a directory owned by uid %u", path, geteuid());
	if ((st.st_mode & 0777) != 0700 && chmod(path, 0700) < 0)
		return verr_set(err, errno, "cannot make run directory '%s' private", path);
	return 0;
}

int rundir_open(struct rundir *rd, const char *name, struct verr *err)
{
	_cleanup_free_ char *base = run_base_dir(err), *path = NULL, *lock = NULL;
	_cleanup_close_ int fd = -1;

	if (!base)
		return -1;
	if (make_private_dir(base, err) < 0)
		return -1;
	path = xasprintf("%s/%s", base, name);
	if (make_private_dir(path, err) < 0)
		return -1;
	lock = xasprintf("%s/lock", path);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return verr_set(err, errno, "cannot open '%s'", lock);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return verr_set(err, 0, "VM '%s' is already running (its supervisor holds '%s')", name, lock);
		return verr_set(err, errno, "cannot lock '%s'", lock);
	}
	rd->path = steal_ptr(path);
	rd->lock_fd = steal_fd(fd);
	return 0;
}

int rundir_socket_address(const char *dir, const char *sock, struct sockaddr_un *sa, struct verr *err)
{
	int n;

	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", dir, sock);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
		return verr_set(err, 0, "socket path '%s/%s' is longer than %zu bytes (choose a shorter VMM_RUN_DIR)",
				dir, sock, sizeof(sa->sun_path) - 1);
	return 0;
}

int rundir_listen(struct rundir *rd, const char *sock, struct verr *err)
{
	struct sockaddr_un sa;
	_cleanup_close_ int fd = -1;
	mode_t old;
	int r;

	if (rundir_socket_address(rd->path, sock, &sa, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return verr_set(err, errno, "cannot create socket '%s'", sa.sun_path);
	unlink(sa.sun_path);
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0)
		return verr_set(err, errno, "cannot bind socket '%s'", sa.sun_path);
	if (listen(fd, 64) < 0)
		return verr_set(err, errno, "cannot listen on socket '%s'", sa.sun_path);
	return steal_fd(fd);
}

int rundir_connect_error(const char *path, int errnum, struct verr *err)
{
	return verr_set(err, errnum, "cannot connect to '%s'", path);
}

int rundir_connect(struct rundir *rd, const char *sock, struct verr *err)
{
	struct sockaddr_un sa;
	int fd;

	if (rundir_socket_address(rd->path, sock, &sa, err) < 0)
		return -1;
	fd = unix_connect(&sa, 0);
	return fd < 0 ? rundir_connect_error(sa.sun_path, errno, err) : fd;
}

int rundir_write(struct rundir *rd, const char *file, const char *contents, struct verr *err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", rd->path, file), *tmp = xasprintf("%s.tmp", path);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return verr_set(err, errno, "cannot write '%s'", tmp);
	if (write_all(fd, contents, strlen(contents)) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return verr_set(err, e, "cannot write '%s'", path);
	}
	return 0;
}

void rundir_close(struct rundir *rd)
{
	if (!rd->path)
		return;
	for (size_t i = 0; transient_files[i]; i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", rd->path, transient_files[i]);
		unlink(p);
	}
	/* Removes the directory too when nothing (no console log) is left in it. */
	rmdir(rd->path);
	rundir_release(rd);
}

void rundir_release(struct rundir *rd)
{
	if (rd->lock_fd >= 0)
		close(rd->lock_fd);
	free(rd->path);
	*rd = (struct rundir){ .lock_fd = -1 };
}
