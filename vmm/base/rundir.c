#include "vmm/base/rundir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/base/host.h"
#include "vmm/base/util.h"

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

/* Checks a directory on the way to the run directory (shown: its path): owned by root or by
 * us, and writable by no one else unless sticky, so that no other user can replace what is in it. */
static int check_ancestor(const char *path, const char *shown, const struct stat *st, struct verr *err)
{
	uid_t me = geteuid();

	if (st->st_uid != 0 && st->st_uid != me)
		return verr_set(err, 0, "run directory '%s' is not safe: '%s' belongs to uid %u (neither root nor uid %u), "
				"who could replace it", path, shown, st->st_uid, me);
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX))
		return verr_set(err, 0, "run directory '%s' is not safe: '%s' is writable by other users (mode %04o, "
				"not sticky), who could replace it", path, shown, st->st_mode & 07777);
	return 0;
}

/* Checks one of the last two directories (the base and the VM's own): ours, not shared, 0700. */
static int check_own(const char *path, const char *shown, int fd, const struct stat *st, struct verr *err)
{
	if (st->st_uid != geteuid())
		return verr_set(err, 0, "run directory '%s': '%s' is not a directory owned by uid %u", path, shown,
				geteuid());
	if (st->st_mode & S_ISVTX)
		return verr_set(err, 0, "run directory '%s': '%s' is a shared (sticky) directory; give vmm a directory "
				"of its own", path, shown);
	if ((st->st_mode & 07777) != 0700 && fchmod(fd, 0700) < 0)
		return verr_set(err, errno, "cannot make run directory '%s' private", shown);
	return 0;
}

/* Opens the run directory path (absolute) one component at a time without following a
 * symbolic link, checking each (check_ancestor, then check_own for the last two, which are
 * created when missing). Returns the directory's fd, or -1 with err. */
static int open_run_dir(const char *path, struct verr *err)
{
	_cleanup_free_ char *copy = xstrdup(path);
	_cleanup_close_ int fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	size_t depth = 0, i = 0;
	char *comp, *save = NULL;
	struct stat st;

	for (const char *p = path; *p; p++)
		depth += p[0] == '/' && p[1] && p[1] != '/';
	if (path[0] != '/' || fd < 0 || fstat(fd, &st) < 0)
		return verr_set(err, path[0] == '/' ? errno : 0, "cannot use run directory '%s'", path);
	if (check_ancestor(path, "/", &st, err) < 0)
		return -1;
	for (comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save), i++) {
		_cleanup_free_ char *shown = xasprintf("%.*s", (int)(comp - copy + strlen(comp)), path);
		bool own = i + 2 >= depth;
		int next;

		if (own && mkdirat(fd, comp, 0700) < 0 && errno != EEXIST)
			return verr_set(err, errno, "cannot create run directory '%s'", shown);
		next = openat(fd, comp, (own ? O_RDONLY : O_PATH) | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0)
			return verr_set(err, errno, "cannot use run directory '%s': cannot open '%s' without following "
					"symbolic links", path, shown);
		close(fd);
		fd = next;
		if (fstat(fd, &st) < 0)
			return verr_set(err, errno, "cannot use run directory '%s'", shown);
		if (own ? check_own(path, shown, fd, &st, err) < 0 : check_ancestor(path, shown, &st, err) < 0)
			return -1;
	}
	return steal_fd(fd);
}

/* True when the file NAME in directory dir is the file open as fd. */
static bool names_file(int dir, const char *name, int fd)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && fstatat(dir, name, &b, AT_SYMLINK_NOFOLLOW) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

/* True when path still names the directory open as dir. */
static bool names_dir(const char *path, int dir)
{
	struct stat a, b;

	return stat(path, &a) == 0 && fstat(dir, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Reads who the file NAME in dir is (dir itself when NAME is ""): device, inode and birth
 * time, so that a new file which reuses a removed one's inode is told apart from it. */
static bool identify(int dir, const char *name, struct rundir_file *id)
{
	struct statx sx;

	if (statx(dir, name, AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH), STATX_INO | STATX_BTIME, &sx) < 0)
		return false;
	id->dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	id->ino = sx.stx_ino;
	id->born = sx.stx_mask & STATX_BTIME ? sx.stx_btime.tv_sec * 1000000000LL + sx.stx_btime.tv_nsec : 0;
	return true;
}

/* Remembers that the file FILE is the one NAME in dir names now (made or taken over by
 * this supervisor). */
static void track(struct rundir *rd, const char *file, int dir, const char *name)
{
	struct rundir_file id, *f = NULL;

	if (!identify(dir, name, &id))
		return;
	for (size_t i = 0; i < rd->n_files && !f; i++)
		if (!strcmp(rd->files[i].name, file))
			f = &rd->files[i];
	if (!f && rd->n_files < RUNDIR_FILES_MAX)
		f = &rd->files[rd->n_files++];
	if (f) {
		snprintf(id.name, sizeof(id.name), "%s", file);
		*f = id;
	}
}

int rundir_open(struct rundir *rd, const char *path, struct verr *err)
{
	const char *name = strrchr(path, '/') + 1;

	for (int tries = 0; tries < 10; tries++) {
		_cleanup_close_ int dir = open_run_dir(path, err), fd = -1;
		bool held;

		if (dir < 0)
			return -1;
		fd = openat(dir, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 && errno == ENOENT)
			continue; /* the directory was removed after it was opened */
		if (fd < 0)
			return verr_set(err, errno, "cannot open '%s/lock'", path);
		held = flock(fd, LOCK_EX | LOCK_NB) < 0;
		if (held && errno != EWOULDBLOCK)
			return verr_set(err, errno, "cannot lock '%s/lock'", path);
		/* A supervisor removes the lock (and maybe the directory) before it lets go: a lock
		 * the path no longer names is no one's, and the one it names now is to be taken. */
		if (!names_file(dir, "lock", fd) || !names_dir(path, dir))
			continue;
		if (held)
			return verr_set(err, 0, "VM '%s' is already running (its supervisor holds '%s/lock')", name, path);
		*rd = (struct rundir)RUNDIR_INIT;
		rd->path = xstrdup(path);
		track(rd, "lock", fd, "");
		rd->dir_fd = steal_fd(dir);
		rd->lock_fd = steal_fd(fd);
		return 0;
	}
	return verr_set(err, 0, "cannot lock '%s/lock': it was removed each time", path);
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

/* Fills sa with the address of socket SOCK, after checking that the path still names the
 * directory (a socket is bound and reached by path, everything else through the fd). */
static int socket_address(struct rundir *rd, const char *sock, struct sockaddr_un *sa, struct verr *err)
{
	if (!names_dir(rd->path, rd->dir_fd))
		return verr_set(err, 0, "run directory '%s' was removed or replaced", rd->path);
	return rundir_socket_address(rd->path, sock, sa, err);
}

int rundir_listen(struct rundir *rd, const char *sock, struct verr *err)
{
	struct sockaddr_un sa;
	_cleanup_close_ int fd = -1;
	mode_t old;
	int r;

	if (socket_address(rd, sock, &sa, err) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return verr_set(err, errno, "cannot create socket '%s'", sa.sun_path);
	unlinkat(rd->dir_fd, sock, 0);
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0)
		return verr_set(err, errno, "cannot bind socket '%s'", sa.sun_path);
	track(rd, sock, rd->dir_fd, sock);
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

	if (socket_address(rd, sock, &sa, err) < 0)
		return -1;
	fd = unix_connect(&sa, 0);
	return fd < 0 ? rundir_connect_error(sa.sun_path, errno, err) : fd;
}

int rundir_write(struct rundir *rd, const char *file, const char *contents, bool transient, struct verr *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", file);
	_cleanup_close_ int fd = -1;

	if (!names_file(rd->dir_fd, "lock", rd->lock_fd))
		return verr_set(err, 0, "cannot write '%s/%s': the directory's lock was removed (it may be another "
				"supervisor's now)", rd->path, file);
	fd = openat(rd->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return verr_set(err, errno, "cannot write '%s/%s'", rd->path, tmp);
	if (write_all(fd, contents, strlen(contents)) < 0 || fsync(fd) < 0 ||
	    renameat(rd->dir_fd, tmp, rd->dir_fd, file) < 0) {
		int e = errno;
		unlinkat(rd->dir_fd, tmp, 0);
		return verr_set(err, e, "cannot write '%s/%s'", rd->path, file);
	}
	if (transient)
		track(rd, file, fd, "");
	return 0;
}

int rundir_open_file(struct rundir *rd, const char *file, int flags, mode_t mode)
{
	return openat(rd->dir_fd, file, flags | O_NOFOLLOW | O_CLOEXEC, mode);
}

void rundir_adopt(struct rundir *rd, const char *file)
{
	track(rd, file, rd->dir_fd, file);
}

void rundir_unlink(struct rundir *rd, const char *file)
{
	unlinkat(rd->dir_fd, file, 0);
}

void rundir_close(struct rundir *rd)
{
	struct rundir_file now;

	if (!rd->path)
		return;
	/* The lock was tracked first: it goes last, while still held. */
	for (size_t i = rd->n_files; i-- > 0;) {
		const struct rundir_file *f = &rd->files[i];
		if (identify(rd->dir_fd, f->name, &now) && now.dev == f->dev && now.ino == f->ino && now.born == f->born)
			unlinkat(rd->dir_fd, f->name, 0);
	}
	/* The directory goes too when nothing (no log) is left in it. */
	if (names_dir(rd->path, rd->dir_fd))
		rmdir(rd->path);
	close(rd->lock_fd);
	close(rd->dir_fd);
	free(rd->path);
	*rd = (struct rundir)RUNDIR_INIT;
}
