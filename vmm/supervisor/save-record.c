#include "vmm/supervisor/save-record.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/base/util.h"
#include "vmm/supervisor/sup.h"
#include "vmm/supervisor/upgrade-int.h"

/* The record's keys. */
#define KEY_QEMU_PID "qemu_pid"
#define KEY_FILE "file"
#define KEY_PIPE "pipe"           /* the pipe's inode (/proc/PID/fd shows "pipe:[INODE]") */
#define KEY_KEEPER "keeper"       /* the pid of the process holding its read end */
#define KEY_WAS_RUNNING "was_running"
#define KEY_STREAMING "streaming" /* QEMU migrates into the pipe and holds its read end */

int save_record_write(struct upgrade *u, bool streaming, struct verr *err)
{
	struct json_object *o = json_object_new_object();
	struct stat st;
	int r;

	if (fstat(u->pipe_fd, &st) < 0) {
		json_object_put(o);
		return verr_set(err, errno, "cannot look at the save's pipe");
	}
	json_object_object_add(o, KEY_QEMU_PID, json_object_new_int(u->s->vm.pid));
	json_object_object_add(o, KEY_FILE, json_object_new_string(u->save_to));
	json_object_object_add(o, KEY_PIPE, json_object_new_int64((int64_t)st.st_ino));
	json_object_object_add(o, KEY_KEEPER, json_object_new_int(u->keeper));
	json_object_object_add(o, KEY_WAS_RUNNING, json_object_new_boolean(u->was_running));
	json_object_object_add(o, KEY_STREAMING, json_object_new_boolean(streaming));
	r = rundir_write(&u->s->rd, SAVE_RECORD_FILE, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY), true,
			 err);
	json_object_put(o);
	if (r < 0)
		verr_wrap(err, "cannot record the save in the run directory");
	return r;
}

void save_record_remove(struct rundir *rd)
{
	rundir_unlink(rd, SAVE_RECORD_FILE);
}

/* The /proc path of the descriptor of process pid on the pipe with inode ino, or NULL. */
static char *find_pipe(pid_t pid, int64_t ino)
{
	_cleanup_free_ char *dir = xasprintf("/proc/%d/fd", pid);
	char want[64], target[64];
	struct dirent *e;
	char *found = NULL;
	DIR *d = opendir(dir);

	if (!d)
		return NULL;
	snprintf(want, sizeof(want), "pipe:[%lld]", (long long)ino);
	while (!found && (e = readdir(d))) {
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, e->d_name);
		ssize_t n = readlink(path, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (!strcmp(target, want))
			found = steal_ptr(path);
	}
	closedir(d);
	return found;
}

/* The save's pipe, held by its keeper or QEMU, opened again for reading through /proc (a pipe
 * opened by its /proc link acts as a FIFO: either end's link reads), or -1. */
static int open_stream(struct upgrade *u)
{
	_cleanup_free_ char *path = u->keeper > 0 ? find_pipe(u->keeper, u->pipe_ino) : NULL;

	if (!path)
		path = find_pipe(u->s->vm.pid, u->pipe_ino);
	return path ? open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC) : -1;
}

pid_t save_keeper_start(int fd)
{
	sigset_t none;
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	/* The keeper: the read end as descriptor 3, nothing else; default signals; its own session. */
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (fd != 3 && dup2(fd, 3) < 0)
		_exit(1);
	close(0);
	close(1);
	close(2);
	close_range(4, ~0U, 0);
	setsid();
	prctl(PR_SET_NAME, "vmm-save-pipe");
	for (;;)
		pause();
}

void save_keeper_end(struct upgrade *u)
{
	pid_t pid = u->keeper;

	if (pid <= 0)
		return;
	u->keeper = 0;
	if (u->keeper_child) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	} else {
		_cleanup_free_ char *path = find_pipe(pid, u->pipe_ino); /* still that keeper, not a reused pid */
		if (path)
			kill(pid, SIGKILL);
	}
}

/* Whether a query-migrate status is a migration still under way. */
static bool under_way(const char *st)
{
	static const char *const over[] = { "none", "completed", "failed", "cancelled", "" };

	for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++)
		if (!strcmp(st, over[i]))
			return false;
	return true;
}

/* Goes on with the stream from where the killed supervisor left it: the pipe again (through
 * /proc), the partial file at its end; copying starts. False when either is gone. */
static bool take_stream(struct upgrade *u)
{
	if (u->copy)
		return true;
	u->pipe_fd = open_stream(u);
	if (u->pipe_fd >= 0)
		u->file_fd = open(u->partial, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (u->pipe_fd < 0 || u->file_fd < 0 || lseek(u->file_fd, 0, SEEK_END) < 0) {
		if (u->pipe_fd >= 0)
			close(steal_fd(u->pipe_fd));
		if (u->file_fd >= 0)
			close(steal_fd(u->file_fd));
		return false;
	}
	save_copy_start(u);
	return true;
}

/* query-migrate of the QEMU whose save a killed supervisor left: finish it as it would have. */
static void resumed_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct upgrade *u = arg;
	struct json_object *status, *ram;
	const char *st;
	struct stat sb;

	(void)c;
	if (!move_step_ok(u, r, "query-migrate"))
		return;
	st = json_object_object_get_ex(r->ret, "status", &status) ? json_object_get_string(status) : "";
	say(&u->s->vm, "the save to %s its supervisor left is %s in QEMU", u->save_to, st);
	if (!strcmp(st, "completed")) {
		u->handed_over = true; /* QEMU paused the guest for good: a failure from here conts it */
		u->downtime_ms = json_object_get_int64(json_object_object_get(r->ret, "downtime"));
		if (json_object_object_get_ex(r->ret, "ram", &ram))
			u->transferred = json_object_get_int64(json_object_object_get(ram, "transferred"));
		if (take_stream(u))
			save_done(u);
		else if (lstat(u->partial, &sb) < 0 && errno == ENOENT && lstat(u->save_to, &sb) == 0)
			save_end(u); /* the file had its name already */
		else
			move_fail(u, "the rest of the stream is lost (nothing holds the pipe any more)");
		return;
	}
	if (under_way(st) && take_stream(u)) {
		move_watch(u);
		return;
	}
	if (u->was_running && strcmp(u->s->vm.runstate, "running"))
		u->handed_over = true; /* QEMU left the guest paused: move_fail conts it */
	move_fail(u, "QEMU's migration into the file is %s after its supervisor ended", st);
}

/* The save the record in s's run directory describes, under way again (s->upgrade; QEMU not
 * asked yet), or NULL when there is none (a record that says nothing usable is removed). */
static struct upgrade *load(struct sup *s)
{
	_cleanup_close_ int fd = rundir_open_file(&s->rd, SAVE_RECORD_FILE, O_RDONLY | O_CLOEXEC, 0);
	struct json_object *o = fd < 0 ? NULL : json_object_from_fd(fd), *pid, *file, *pipe, *was, *streaming, *keeper;
	struct upgrade *u;

	if (!o)
		return NULL;
	rundir_adopt(&s->rd, SAVE_RECORD_FILE);
	if (!json_object_object_get_ex(o, KEY_FILE, &file) || !json_object_is_type(file, json_type_string) ||
	    json_object_get_string(file)[0] != '/' || s->upgrade) {
		json_object_put(o);
		save_record_remove(&s->rd);
		return NULL;
	}
	json_object_object_get_ex(o, KEY_QEMU_PID, &pid);
	json_object_object_get_ex(o, KEY_PIPE, &pipe);
	json_object_object_get_ex(o, KEY_WAS_RUNNING, &was);
	json_object_object_get_ex(o, KEY_STREAMING, &streaming);
	json_object_object_get_ex(o, KEY_KEEPER, &keeper);
	u = move_new(s);
	u->save_to = xstrdup(json_object_get_string(file));
	u->partial = xasprintf("%s.partial", u->save_to);
	u->was_running = json_object_get_boolean(was);
	u->pipe_ino = json_object_get_int64(pipe);
	u->keeper = json_object_get_int(keeper); /* not our child: ended by kill once it is seen holding the pipe */
	u->record_pid = json_object_get_int(pid);
	u->record_streaming = json_object_get_boolean(streaming);
	clock_gettime(CLOCK_MONOTONIC, &u->t0);
	json_object_put(o);
	return u;
}

void save_record_reattach(struct sup *s)
{
	struct upgrade *u = load(s);

	if (u && u->record_pid == s->vm.pid && u->record_streaming)
		take_stream(u);
}

void save_record_resume(struct sup *s)
{
	struct upgrade *u = s->upgrade && s->upgrade->record_pid ? s->upgrade : load(s);
	pid_t pid;

	if (!u)
		return;
	pid = u->record_pid;
	u->record_pid = 0;
	if (pid != s->vm.pid)
		move_fail(u, "its QEMU pid %d is gone", pid); /* its keeper too, if it still holds the pipe */
	else {
		u->migrating = true; /* a failure cancels whatever QEMU may still be doing */
		if (!u->record_streaming)
			move_fail(u, "its supervisor ended before QEMU streamed into the file");
		else
			move_send(u, "query-migrate", NULL, resumed_cb);
	}
}
