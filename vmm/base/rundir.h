/* A VM's run directory: RUN_BASE/NAME, mode 0700, held by one supervisor
 * through an flock on "lock". Holds the sockets, the state file and the console log. */
#ifndef VMM_RUNDIR_H
#define VMM_RUNDIR_H

#include <stdbool.h>
#include <sys/types.h>
#include <sys/un.h>

#include "vmm/base/error.h"

struct rundir {
	char *path;
	int lock_fd;
};

/* The longest VM name (it names the run directory and QEMU's -name). */
#define VM_NAME_MAX 64

/* True when name can name a VM (and its run directory): a letter, then up to VM_NAME_MAX - 1
 * letters, digits, '-', '_' or '.'. */
bool vm_name_valid(const char *name);

/* Checks a VM name; returns 0, or -1 with the one message every part of vmm gives for a bad name. */
int vm_name_check(const char *name, struct verr *err);

/* The path a VM's run directory has (nothing is created); refuses a bad VM name. */
char *rundir_path(const char *name, struct verr *err);

/* Creates/opens the run directory and takes its lock; refuses when another
 * supervisor holds it. */
int rundir_open(struct rundir *rd, const char *name, struct verr *err);

/* Fills sa with the address of the unix socket SOCK in directory dir; fails when it is too long. */
int rundir_socket_address(const char *dir, const char *sock, struct sockaddr_un *sa, struct verr *err);

/* Binds a listening unix socket NAME in the directory (mode 0600); returns the fd. */
int rundir_listen(struct rundir *rd, const char *sock, struct verr *err);

/* Connects to the unix socket NAME in the directory; returns the fd. */
int rundir_connect(struct rundir *rd, const char *sock, struct verr *err);

/* Reports that the socket at path cannot be connected to (errnum: why); returns -1. */
int rundir_connect_error(const char *path, int errnum, struct verr *err);

/* Atomically replaces the file NAME with contents. */
int rundir_write(struct rundir *rd, const char *file, const char *contents, struct verr *err);

/* Removes sockets, state and lock (the console log stays) and releases the lock. */
void rundir_close(struct rundir *rd);

/* Releases the lock and leaves every file as it is (for a directory that is not ours to
 * clean: a QEMU of the VM still runs in it). */
void rundir_release(struct rundir *rd);

#endif
