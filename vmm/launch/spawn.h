/* Starting QEMU: fork + execve, never a shell. */
#ifndef VMM_SPAWN_H
#define VMM_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "vmm/base/error.h"

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

#endif
