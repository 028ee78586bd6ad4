/* A VM's run directory: RUN_BASE/NAME, mode 0700, held by one supervisor through an
 * flock on "lock". Holds the sockets, the state file and the logs.
 *
 * Safety: the directory's path is resolved once (run_base_dir) and every component of it
 * must be owned by root or by us and writable by no one else unless sticky (like /tmp), so
 * no other user can swap a directory on the way. The supervisor then works through a
 * descriptor of the directory (openat, unlinkat, O_NOFOLLOW); sockets are bound by path,
 * after checking that the path still names that directory. It remembers the device,
 * inode and birth time of each file it made and removes, when it closes, only those that are still the
 * ones it made: a directory deleted under it and made again by another supervisor is left
 * alone. The lock file is removed while it is held; rundir_open checks after flock that
 * the path still names the locked file, and tries again when it does not. */
#ifndef VMM_RUNDIR_H
#define VMM_RUNDIR_H

#include <stdbool.h>
#include <sys/types.h>
#include <sys/un.h>

#include "vmm/base/error.h"

/* A file the supervisor made (or took over) in the directory, as it was then. */
struct rundir_file {
	char name[32];
	dev_t dev;
	ino_t ino;
	long long born; /* birth time in ns, 0 where the file system does not keep it */
};

/* The most files a run directory tracks. */
#define RUNDIR_FILES_MAX 12

struct rundir {
	char *path;
	int dir_fd;
	int lock_fd;
	struct rundir_file files[RUNDIR_FILES_MAX];
	size_t n_files;
};

/* A run directory that is not open. */
#define RUNDIR_INIT { .dir_fd = -1, .lock_fd = -1 }

/* The longest VM name (it names the run directory and QEMU's -name). */
#define VM_NAME_MAX 64

/* True when name can name a VM (and its run directory): a letter, then up to VM_NAME_MAX - 1
 * letters, digits, '-', '_' or '.'. */
bool vm_name_valid(const char *name);

/* Checks a VM name; returns 0, or -1 with the one message every part of vmm gives for a bad name. */
int vm_name_check(const char *name, struct verr *err);

/* The path a VM's run directory has (nothing is created); refuses a bad VM name. */
char *rundir_path(const char *name, struct verr *err);

/* Creates/opens the run directory path (from rundir_path, resolved before any fork) after
 * checking every component of it, and takes its lock; refuses when another supervisor
 * holds it. */
int rundir_open(struct rundir *rd, const char *path, struct verr *err);

/* Fills sa with the address of the unix socket SOCK in directory dir; fails when it is too long. */
int rundir_socket_address(const char *dir, const char *sock, struct sockaddr_un *sa, struct verr *err);

/* Binds a listening unix socket NAME in the directory (mode 0600); returns the fd. */
int rundir_listen(struct rundir *rd, const char *sock, struct verr *err);

/* Connects to the unix socket NAME in the directory; returns the fd. */
int rundir_connect(struct rundir *rd, const char *sock, struct verr *err);

/* Reports that the socket at path cannot be connected to (errnum: why); returns -1. */
int rundir_connect_error(const char *path, int errnum, struct verr *err);

/* Atomically replaces the file NAME with contents (a temporary file, fsync, rename), only
 * while the path of the lock still names the held lock; transient: rundir_close removes it
 * (while it is still this file), else it stays. */
int rundir_write(struct rundir *rd, const char *file, const char *contents, bool transient, struct verr *err);

/* Opens the file NAME in the directory (never through a symbolic link); -1 with errno. */
int rundir_open_file(struct rundir *rd, const char *file, int flags, mode_t mode);

/* Takes over the file NAME as it is now (made by QEMU, or by an earlier supervisor of the
 * same QEMU): rundir_close removes it while it stays that file. Nothing when it is missing. */
void rundir_adopt(struct rundir *rd, const char *file);

/* Removes the file NAME now, whoever made it. */
void rundir_unlink(struct rundir *rd, const char *file);

/* Removes the files the supervisor made that are still those files (the lock last, while
 * held), the directory when it is empty, and releases the lock. */
void rundir_close(struct rundir *rd);

#endif
