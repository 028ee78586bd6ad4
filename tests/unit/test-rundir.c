/* Unit tests of the run directory: one holder of the lock at a time even while holders
 * come and go, the checks of the path's components, and a supervisor removing only what
 * it made. */
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "vmm/base/host.h"
#include "vmm/base/rundir.h"
#include "vmm/base/util.h"

/* A scratch directory for one test, under /tmp (root's, sticky: a safe parent). */
static char *scratch(void)
{
	char *dir = xstrdup("/tmp/vmm-rundir.XXXXXX");

	if (!mkdtemp(dir))
		abort();
	return dir;
}

/* Removes a scratch directory and everything in it. */
static void remove_tree(const char *dir)
{
	char *argv[] = { "rm", "-rf", (char *)dir, NULL };
	pid_t pid = fork();

	if (pid == 0) {
		execvp("rm", argv);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
}

/* True when rundir_open of path fails with a message that has want in it. */
static bool refused(const char *path, const char *want)
{
	struct rundir rd = RUNDIR_INIT;
	struct verr err = { 0 };
	bool ok;

	if (rundir_open(&rd, path, &err) == 0) {
		rundir_close(&rd);
		return false;
	}
	ok = err.n && strstr(err.lines[0], want);
	if (!ok)
		printf("# %s: %s\n", path, err.n ? err.lines[0] : "(no message)");
	verr_clear(&err);
	return ok;
}

/* Holders that take and let go of the lock as fast as they can are never two at once:
 * a lock file removed by its holder is not taken by one that opened it before. */
static void test_one_holder(void)
{
	_cleanup_free_ char *dir = scratch(), *path = xasprintf("%s/race", dir);
	atomic_int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int taken = 0;

	for (int w = 0; w < 8; w++) {
		if (fork() != 0)
			continue;
		for (int i = 0; i < 4000; i++) {
			struct rundir rd = RUNDIR_INIT;
			struct verr err = { 0 };
			if (rundir_open(&rd, path, &err) == 0) {
				if (atomic_fetch_add(&shared[0], 1) != 0)
					atomic_fetch_add(&shared[1], 1);
				for (volatile int k = 0; k < 20000; k++)
					;
				atomic_fetch_sub(&shared[0], 1);
				atomic_fetch_add(&shared[2], 1);
				rundir_close(&rd);
			}
			verr_clear(&err);
		}
		_exit(0);
	}
	while (wait(NULL) > 0)
		;
	taken = shared[2];
	ok(shared[1] == 0 && taken > 0, "8 processes took the lock %d times, never two at once (%d times two)", taken,
	   shared[1]);
	ok(access(path, F_OK) < 0, "the last holder removed the directory");
	munmap(shared, 4096);
	remove_tree(dir);
}

/* Every component of the path must be root's or ours and writable by no one else unless sticky. */
static void test_components(void)
{
	_cleanup_free_ char *dir = scratch(), *open_dir = xasprintf("%s/open", dir),
			    *sticky = xasprintf("%s/sticky", dir), *other = xasprintf("%s/other", dir),
			    *link = xasprintf("%s/link", dir);
	char *p;
	struct rundir rd = RUNDIR_INIT;
	struct verr err = { 0 };

	mkdir(open_dir, 0700);
	chmod(open_dir, 0777);
	p = xasprintf("%s/run/vm", open_dir);
	ok(refused(p, "is writable by other users (mode 0777, not sticky)"), "a parent writable by all is refused");
	free(p);
	mkdir(sticky, 0700);
	chmod(sticky, 01777);
	p = xasprintf("%s/run/vm", sticky);
	ok(rundir_open(&rd, p, &err) == 0, "a sticky parent (like /tmp) is accepted");
	rundir_close(&rd);
	free(p);
	p = xasprintf("%s/vm", sticky);
	ok(refused(p, "is a shared (sticky) directory"), "a sticky base directory is refused, not made private");
	free(p);
	mkdir(other, 0755);
	if (geteuid() == 0 && chown(other, 65534, 65534) == 0) {
		p = xasprintf("%s/run/vm", other);
		ok(refused(p, "belongs to uid 65534 (neither root nor uid 0), who could replace it"),
		   "a parent owned by another user is refused");
		free(p);
	} else
		ok(1, "# SKIP a parent owned by another user needs root");
	symlink(sticky, link);
	p = xasprintf("%s/run/vm", link);
	ok(refused(p, "without following symbolic links"), "a symbolic link on the way is refused");
	free(p);
	verr_clear(&err);
	remove_tree(dir);
}

/* The base is resolved once: symbolic links of what exists, no "." or ".." in what does not. */
static void test_resolve(void)
{
	_cleanup_free_ char *dir = scratch(), *link = xasprintf("%s/link", dir), *want = xasprintf("%s/run", dir);
	_cleanup_free_ char *env = xasprintf("%s//link/run/", dir), *got = NULL;
	struct verr err = { 0 };

	symlink(dir, link);
	setenv("VMM_RUN_DIR", env, 1);
	got = run_base_dir(&err);
	ok(got && !strcmp(got, want), "VMM_RUN_DIR '%s' resolves to '%s': %s", env, want, got ? got : err.lines[0]);
	free(env);
	env = xasprintf("%s/new/../run", dir);
	setenv("VMM_RUN_DIR", env, 1);
	free(got);
	got = run_base_dir(&err);
	ok(!got && err.n && strstr(err.lines[0], "has '.' or '..' where it does not exist yet"),
	   "'..' in a part that does not exist is refused");
	unsetenv("VMM_RUN_DIR");
	verr_clear(&err);
	remove_tree(dir);
}

/* Writes an empty file NAME in dir. */
static void touch(const char *dir, const char *name)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	if (fd >= 0)
		close(fd);
}

/* True when the file NAME exists in dir. */
static bool exists(const char *dir, const char *name)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);

	return access(p, F_OK) == 0;
}

/* Removes the file NAME in dir, as a person might. */
static void remove_file(const char *dir, const char *name)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);

	unlink(p);
}

/* A supervisor removes only the files it made that are still those files. */
static void test_only_its_own(void)
{
	_cleanup_free_ char *dir = scratch(), *path = xasprintf("%s/vm", dir);
	struct rundir a = RUNDIR_INIT, b = RUNDIR_INIT;
	struct verr err = { 0 };
	int fd = -1;

	ok(rundir_open(&a, path, &err) == 0 && (fd = rundir_listen(&a, "ctl.sock", &err)) >= 0 &&
	   rundir_write(&a, "state.json", "{}", true, &err) == 0 && rundir_write(&a, "ended.json", "{}", false, &err) == 0,
	   "a socket, a transient and a lasting file");
	close(fd);
	touch(path, "console.log");
	rundir_close(&a);
	ok(!exists(path, "ctl.sock") && !exists(path, "state.json") && !exists(path, "lock") &&
	   exists(path, "ended.json") && exists(path, "console.log"), "close removes what it made, and only that");

	/* Someone removes the first supervisor's files; a second one starts in the same directory. */
	ok(rundir_open(&a, path, &err) == 0 && (fd = rundir_listen(&a, "ctl.sock", &err)) >= 0, "first supervisor");
	close(fd);
	remove_file(path, "lock");
	remove_file(path, "ctl.sock");
	ok(rundir_open(&b, path, &err) == 0 && (fd = rundir_listen(&b, "ctl.sock", &err)) >= 0 &&
	   rundir_write(&b, "state.json", "{}", true, &err) == 0, "second supervisor in the same directory");
	close(fd);
	rundir_close(&a);
	ok(exists(path, "ctl.sock") && exists(path, "state.json") && exists(path, "lock"),
	   "the first one's close leaves the second one's files");
	rundir_close(&b);
	ok(!exists(path, "ctl.sock") && !exists(path, "state.json") && !exists(path, "lock"), "the second one's removes them");

	/* Someone removes the whole directory; a second supervisor makes it again. */
	ok(rundir_open(&a, path, &err) == 0, "first supervisor");
	remove_tree(path);
	ok(rundir_open(&b, path, &err) == 0 && (fd = rundir_listen(&b, "ctl.sock", &err)) >= 0, "second supervisor");
	close(fd);
	ok(rundir_listen(&a, "qmp.sock", &err) < 0 && strstr(err.lines[err.n - 1], "was removed or replaced"),
	   "the first one binds no socket in the new directory");
	rundir_write(&a, "state.json", "{}", true, &err);
	rundir_close(&a);
	ok(exists(path, "ctl.sock") && exists(path, "lock") && !exists(path, "state.json"),
	   "the first one neither writes in nor cleans the new directory");
	rundir_close(&b);
	verr_clear(&err);
	remove_tree(dir);
}

int main(void)
{
	test_one_holder();
	test_components();
	test_resolve();
	test_only_its_own();
	return tap_done();
}
