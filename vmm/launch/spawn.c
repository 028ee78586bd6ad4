#include "vmm/launch/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/base/util.h"

extern char **environ;

/* In the child: becomes creds' user for good. vmm drops privileges itself rather than
 * QEMU's -runas (deprecated in 9.1) or -run-with user= (9.1 and later only): the same code
 * then works on QEMU 7.2 through 10, and QEMU never holds root, not even while it parses
 * its command line and opens its files. Returns 0, or -1 with errno. */
static int drop_privileges(const struct spawn_creds *creds)
{
	struct rlimit lock = { creds->memlock, creds->memlock };

	if (creds->memlock && setrlimit(RLIMIT_MEMLOCK, &lock) < 0)
		return -1;
	if (setgroups(creds->n_groups, creds->groups) < 0 || setresgid(creds->gid, creds->gid, creds->gid) < 0 ||
	    setresuid(creds->uid, creds->uid, creds->uid) < 0)
		return -1;
	/* Leaving uid 0 for good clears the permitted and effective capabilities; no setuid
	 * binary or file capability can give them back. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	if (creds->uid != 0 && setuid(0) == 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* vmm's environment with env's "NAME=VALUE" strings in place of the variables they name (a
 * NULL-terminated array of borrowed strings, to free). */
static char **child_environment(char *const env[])
{
	size_t n = 0, k = 0, extra = 0;
	char **out;

	while (environ[n])
		n++;
	while (env && env[extra])
		extra++;
	out = xmalloc((n + extra + 1) * sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		bool replaced = false;
		for (size_t j = 0; j < extra && !replaced; j++) {
			size_t name = strcspn(env[j], "=") + 1;
			replaced = !strncmp(environ[i], env[j], name);
		}
		if (!replaced)
			out[k++] = environ[i];
	}
	for (size_t j = 0; j < extra; j++)
		out[k++] = env[j];
	out[k] = NULL;
	return out;
}

/* In the child: arrange descriptors and signals, drop privileges (creds), tie it to parent
 * (when not 0: killed when that process ends), then exec. Reports errno on exec_pipe (negated:
 * dropping privileges failed). */
static void __attribute__((noreturn)) child(const struct spawn_creds *creds, pid_t parent, const char *path,
					    char *const argv[], char *const envp[], const int *high, size_t n, int out_w,
					    int exec_pipe)
{
	sigset_t all;
	int e, devnull;

	setsid();
	if (parent && (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent))
		_exit(127);
	umask(077);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_w, 1) < 0 || dup2(out_w, 2) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (high[i] < 0)
			close(3 + (int)i);
		else if (dup2(high[i], 3 + (int)i) < 0)
			goto fail;
	/* Nothing else reaches QEMU: not vmm's descriptors, nor those its caller left open. */
	if (close_range(3 + (unsigned)n, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		goto fail;
	if (creds && drop_privileges(creds) < 0) {
		e = -errno; /* told apart from exec's errors */
		(void)!write(exec_pipe, &e, sizeof(e));
		_exit(127);
	}
	execve(path, argv, envp);
fail:
	e = errno;
	(void)!write(exec_pipe, &e, sizeof(e));
	_exit(127);
}

/* spawn_as(), and spawn_tied() when tied. */
static int spawn_full(const struct spawn_creds *creds, bool tied, const char *path, char *const argv[],
		      char *const env[], const int *pass_fds, size_t n_pass, struct spawned *out, struct verr *err)
{
	_cleanup_free_ char **envp = child_environment(env);
	int out_pipe[2] = { -1, -1 }, exec_pipe[2] = { -1, -1 }, high[8], e = 0, ret = -1;
	size_t moved = 0;
	pid_t pid, parent = getpid();
	ssize_t r;

	if (n_pass > 8)
		return verr_set(err, EINVAL, "too many descriptors to pass");
	/* Above 10 so that dup2() onto 3.. in the child never overwrites one not yet moved. */
	for (; moved < n_pass; moved++) {
		high[moved] = pass_fds[moved] < 0 ? -1 : fcntl(pass_fds[moved], F_DUPFD_CLOEXEC, 10);
		if (high[moved] < 0 && pass_fds[moved] >= 0) {
			verr_set(err, errno, "cannot start '%s'", path);
			goto out;
		}
	}
	if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(exec_pipe, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
		verr_set(err, errno, "cannot start '%s'", path);
		goto out;
	}
	if (pid == 0)
		child(creds, tied ? parent : 0, path, argv, envp, high, n_pass, out_pipe[1], exec_pipe[1]);
	close(exec_pipe[1]);
	exec_pipe[1] = -1;
	do
		r = read(exec_pipe[0], &e, sizeof(e));
	while (r < 0 && errno == EINTR);
	if (r == sizeof(e)) {
		waitpid(pid, NULL, 0);
		if (e < 0)
			verr_set(err, -e, "cannot run '%s' as uid %u (RLIMIT_MEMLOCK %llu bytes, groups, ids, no_new_privs)",
				 path, (unsigned)creds->uid, creds->memlock);
		else
			verr_set(err, e, "cannot execute '%s'", path);
		goto out;
	}
	out->pid = pid;
	out->output_fd = steal_fd(out_pipe[0]);
	ret = 0;
out:
	for (size_t i = 0; i < moved; i++)
		if (high[i] >= 0)
			close(high[i]);
	for (int i = 0; i < 2; i++) {
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
		if (exec_pipe[i] >= 0)
			close(exec_pipe[i]);
	}
	return ret;
}

int spawn(const char *path, char *const argv[], char *const env[], const int *pass_fds, size_t n_pass,
	  struct spawned *out, struct verr *err)
{
	return spawn_full(NULL, false, path, argv, env, pass_fds, n_pass, out, err);
}

int spawn_as(const struct spawn_creds *creds, const char *path, char *const argv[], char *const env[],
	     const int *pass_fds, size_t n_pass, struct spawned *out, struct verr *err)
{
	return spawn_full(creds, false, path, argv, env, pass_fds, n_pass, out, err);
}

int spawn_tied(const char *path, char *const argv[], char *const env[], const int *pass_fds, size_t n_pass,
	       struct spawned *out, struct verr *err)
{
	return spawn_full(NULL, true, path, argv, env, pass_fds, n_pass, out, err);
}
