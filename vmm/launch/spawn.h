/* Starting QEMU: fork + execve, never a shell. */
#ifndef VMM_SPAWN_H
#define VMM_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "vmm/base/error.h"

/* Whom the spawned program runs as (qemu-user.h decides): the child takes these ids and
 * supplementary groups, keeps no capability and cannot gain privileges (no_new_privs), with
 * RLIMIT_MEMLOCK raised to memlock first (0: left as it is). */
struct spawn_creds {
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t n_groups;
	unsigned long long memlock;
};


struct spawned {
	pid_t pid;
	int output_fd; /* read end of a pipe carrying the child's stdout and stderr */
};

/* Runs path with argv in a new session, stdin on /dev/null, in vmm's environment with env's
 * "NAME=VALUE" strings (NULL-terminated, or NULL) set on top. pass_fds[i] becomes
 * descriptor 3 + i in the child (left closed when pass_fds[i] is -1); every other descriptor
 * is closed at exec.
 * Returns 0 once execve succeeded, or -1 (with the exec error) and no child left. */
int spawn(const char *path, char *const argv[], char *const env[], const int *pass_fds, size_t n_pass,
	  struct spawned *out, struct verr *err);

/* The same, the program running as creds say (NULL: as vmm runs): how every QEMU of a VM is
 * started (qemu_user_creds(), vmm/launch/qemu-user.h), while the helpers vmm runs beside it
 * (swtpm) keep vmm's user. */
int spawn_as(const struct spawn_creds *creds, const char *path, char *const argv[], char *const env[],
	     const int *pass_fds, size_t n_pass, struct spawned *out, struct verr *err);

/* The same as spawn(), the program killed (SIGKILL) when the calling process ends: a probe's
 * QEMU, which must not outlive whoever asked (a CLI interrupted, a child killed). */
int spawn_tied(const char *path, char *const argv[], char *const env[], const int *pass_fds, size_t n_pass,
	       struct spawned *out, struct verr *err);

#endif
