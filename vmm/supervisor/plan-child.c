#include "vmm/supervisor/plan-child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/base/util.h"

/* The most of the child's error text kept. */
#define ERROR_MAX 4096

struct plan_child {
	pid_t pid;           /* 0 once reaped */
	int fd;              /* the read end of the child's error pipe */
	struct event *ev;
	char error[ERROR_MAX];
	size_t len;
	plan_child_done_fn done;
	void *arg;
};

/* In the child: the signals the supervisor's loop catches act as they would in a plain program. */
static void plain_signals(void)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT };
	sigset_t none;

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* In the child: does the work, writes why it failed into fd and ends. */
static void __attribute__((noreturn)) child_main(int fd, plan_child_work_fn work, void *arg)
{
	struct verr err = { 0 };
	size_t off = 0;

	plain_signals();
	if (work(arg, &err) == 0)
		_exit(0);
	for (size_t i = 0; i < err.n; i++) {
		const char *sep = i ? "; " : "";
		if (write(fd, sep, strlen(sep)) < 0 || write(fd, err.lines[i], strlen(err.lines[i])) < 0)
			break;
		off++;
	}
	_exit(off ? 1 : 2);
}

/* The child's pipe is readable: its error text, or its end (then done is told). */
static void pipe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct plan_child *c = arg;
	char buf[512];
	ssize_t n;
	int status = 0;

	(void)what;
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		size_t keep = (size_t)n < sizeof(c->error) - 1 - c->len ? (size_t)n : sizeof(c->error) - 1 - c->len;
		memcpy(c->error + c->len, buf, keep);
		c->len += keep;
		return;
	}
	event_del(c->ev);
	while (waitpid(c->pid, &status, 0) < 0 && errno == EINTR)
		;
	c->pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		c->done(c, NULL, c->arg);
	else
		c->done(c, c->len ? c->error : "the child process that resolves the new QEMU's plan failed", c->arg);
}

struct plan_child *plan_child_start(struct event_base *base, plan_child_work_fn work, plan_child_done_fn done,
				    void *arg, struct verr *err)
{
	struct plan_child *c;
	int pipefd[2];
	pid_t pid, parent = getpid();

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		verr_set(err, errno, "cannot create a pipe");
		return NULL;
	}
	pid = fork();
	if (pid < 0) {
		verr_set(err, errno, "cannot fork");
		close(pipefd[0]);
		close(pipefd[1]);
		return NULL;
	}
	if (pid == 0) {
		/* It ends with the supervisor, and holds none of its descriptors meanwhile: not its
		 * run directory's lock, listening sockets or clients' connections (a killed
		 * supervisor's VM is attached at once, its clients see it gone), nor QEMU's. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent || dup2(pipefd[1], 3) < 0 ||
		    close_range(4, ~0U, 0) < 0)
			_exit(2);
		child_main(3, work, arg);
	}
	close(pipefd[1]);
	c = xzalloc(sizeof(*c));
	*c = (struct plan_child){ .pid = pid, .fd = pipefd[0], .done = done, .arg = arg };
	c->ev = event_new(base, c->fd, EV_READ | EV_PERSIST, pipe_cb, c);
	event_add(c->ev, NULL);
	return c;
}

void plan_child_free(struct plan_child *c)
{
	if (!c)
		return;
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	event_free(c->ev);
	close(c->fd);
	free(c);
}
