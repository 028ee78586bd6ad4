#include "vmm/supervisor/swtpm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "vmm/base/host.h"
#include "vmm/base/util.h"
#include "vmm/launch/spawn.h"

/* Milliseconds swtpm_setup may take to manufacture a TPM (a second or two when idle). */
#define SETUP_TIMEOUT_MS 60000
/* Milliseconds between the end of an swtpm and telling the supervisor: an swtpm also ends
 * because its QEMU did (--terminate), and QEMU's end may be seen after swtpm's. */
#define DEATH_GRACE_MS 3000
/* Milliseconds an swtpm has to end after SIGTERM before SIGKILL. */
#define STOP_TIMEOUT_MS 2000

#define SWTPM_PID "swtpm.pid"

/* What a process wrote after its last whole line. */
struct partial {
	char text[256];
	size_t len;
};

struct swtpm {
	struct event_base *base;
	const struct plan *plan;
	struct vm_state *vm;
	struct rundir *rd;
	void (*died)(void *arg);
	void *arg;
	char *dir;            /* the TPM's state: VMM_DATA_DIR/NAME/tpm */
	pid_t pid;            /* 0: none runs */
	bool child;           /* ours (waitpid), else reattached (pidfd) */
	int pidfd, output_fd;
	struct event *pidfd_ev;
	struct event *output_ev; /* its output, said in the VM's log as it comes */
	char last[256];       /* the last line it wrote */
	struct partial partial; /* ... and what it wrote after that */
	struct event *grace;  /* tells the supervisor of a death, DEATH_GRACE_MS after it */
	char *failure;        /* why it died while it should run */
	bool blamed;
};

/* The --tpmstate argument, also how a reattaching supervisor recognizes this VM's swtpm. */
static char *state_arg(const struct swtpm *t)
{
	return xasprintf("dir=%s,mode=0600", t->dir);
}

struct swtpm *swtpm_new(struct event_base *base, const struct plan *p, struct vm_state *vm, struct rundir *rd,
			void (*died)(void *arg), void *arg)
{
	struct swtpm *t = xzalloc(sizeof(*t));
	_cleanup_free_ char *data = data_dir();

	*t = (struct swtpm){ .base = base, .plan = p, .vm = vm, .rd = rd, .died = died, .arg = arg, .pidfd = -1,
			     .output_fd = -1, .dir = xasprintf("%s/%s/tpm", data, p->config.name) };
	return t;
}

/* Ends the line in p, if any: kept in buf (the last line) and said in the VM's log when vm is
 * not NULL. */
static void line_end(struct partial *p, char *buf, size_t size, const struct vm_state *vm)
{
	if (!p->len)
		return;
	p->text[p->len] = '\0';
	snprintf(buf, size, "%s", p->text);
	if (vm)
		say(vm, "swtpm: %s", p->text);
	p->len = 0;
}

/* Reads what a process wrote on fd (non-blocking), whole lines at a time (the rest waits in
 * p for the next read, or ends at the end of the output): its last line in buf (unchanged when
 * it wrote none); each line said in the VM's log when vm is not NULL. False at the end of it. */
static bool read_lines(int fd, struct partial *p, char *buf, size_t size, const struct vm_state *vm)
{
	char chunk[4096];
	ssize_t n = 0;
	bool more;

	while (fd >= 0 && (n = read(fd, chunk, sizeof(chunk))) > 0)
		for (ssize_t i = 0; i < n; i++)
			if (chunk[i] == '\n')
				line_end(p, buf, size, vm);
			else if (p->len + 1 < sizeof(p->text))
				p->text[p->len++] = chunk[i];
	more = fd >= 0 && n < 0 && errno == EAGAIN;
	if (!more)
		line_end(p, buf, size, vm);
	return more;
}

/* "exited with status N" or "was killed by signal N" for wait status st, with last, the last
 * line of its output, after it. */
static char *ending(int st, const char *last)
{
	if (WIFSIGNALED(st))
		return xasprintf("was killed by signal %d (%s)%s%s", WTERMSIG(st), strsignal(WTERMSIG(st)),
				 *last ? ": " : "", last);
	return xasprintf("exited with status %d%s%s", WEXITSTATUS(st), *last ? ": " : "", last);
}

/* swtpm wrote something: said in the VM's log, so its pipe never fills. */
static void output_cb(evutil_socket_t fd, short what, void *arg)
{
	struct swtpm *t = arg;

	(void)what;
	if (!read_lines(fd, &t->partial, t->last, sizeof(t->last), t->vm))
		event_del(t->output_ev);
}

/* Waits up to ms for child pid to end (reading nothing); true with *st when it did. */
static bool wait_child(pid_t pid, unsigned ms, int *st)
{
	for (int64_t until = now_ms() + ms;; poll(NULL, 0, 20)) {
		if (waitpid(pid, st, WNOHANG) == pid)
			return true;
		if (now_ms() >= until)
			return false;
	}
}

/* Manufactures the TPM in its state directory (an EK with its certificate, the platform
 * certificate, PCR banks) unless it has a state already. */
static int manufacture(struct swtpm *t, struct verr *err)
{
	_cleanup_free_ char *state = xasprintf("%s/tpm2-00.permall", t->dir), *setup = NULL, *why = NULL;
	char *argv[] = { "swtpm_setup", "--tpm2", "--tpmstate", t->dir, "--createek", "--create-ek-cert",
			 "--create-platform-cert", "--lock-nvram", "--not-overwrite", NULL };
	struct spawned child;
	char line[256] = "";
	int st = 0;

	if (access(state, F_OK) == 0)
		return 0;
	if (!(setup = find_program("swtpm_setup", err)))
		return verr_wrap(err, "the TPM needs swtpm_setup (Debian: apt install swtpm-tools)"), -1;
	if (spawn(setup, argv, NULL, NULL, 0, &child, err) < 0)
		return -1;
	if (!wait_child(child.pid, SETUP_TIMEOUT_MS, &st)) {
		kill(child.pid, SIGKILL);
		waitpid(child.pid, &st, 0);
	}
	fcntl(child.output_fd, F_SETFL, O_NONBLOCK);
	read_lines(child.output_fd, &(struct partial){ .len = 0 }, line, sizeof(line), NULL);
	why = ending(st, line);
	close(child.output_fd);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && access(state, F_OK) == 0) {
		say(t->vm, "TPM manufactured in '%s' (an EK and its certificate)", t->dir);
		return 0;
	}
	return verr_set(err, 0, "cannot manufacture the TPM in '%s': swtpm_setup %s", t->dir, why);
}

int swtpm_start(struct swtpm *t, struct verr *err)
{
	_cleanup_free_ char *swtpm = NULL, *state = NULL, *pid = NULL;
	_cleanup_close_ int ctrl = -1;
	struct spawned child;

	if (!t->plan->config.tpm)
		return 0;
	if (strchr(t->dir, ','))
		return verr_set(err, 0, "the TPM's state directory '%s' has a comma, which swtpm cannot take", t->dir);
	if (mkdir_parents(t->dir, 0700) < 0)
		return verr_set(err, errno, "cannot create the TPM's state directory '%s'", t->dir);
	if (!(swtpm = find_program("swtpm", err)))
		return verr_wrap(err, "the TPM needs swtpm (Debian: apt install swtpm)"), -1;
	if (manufacture(t, err) < 0 || (ctrl = rundir_listen(t->rd, SWTPM_SOCK, err)) < 0)
		return -1;
	state = state_arg(t);
	/* --terminate: it ends when QEMU's connection does, whoever supervises (or not). */
	char *argv[] = { "swtpm", "socket", "--tpm2", "--tpmstate", state, "--ctrl", "type=unixio,fd=3",
			 "--terminate", NULL };
	if (spawn(swtpm, argv, NULL, &ctrl, 1, &child, err) < 0) {
		rundir_unlink(t->rd, SWTPM_SOCK);
		return -1;
	}
	fcntl(child.output_fd, F_SETFL, O_NONBLOCK);
	t->pid = child.pid;
	t->child = true;
	t->output_fd = child.output_fd;
	t->last[0] = '\0';
	t->output_ev = event_new(t->base, t->output_fd, EV_READ | EV_PERSIST, output_cb, t);
	event_add(t->output_ev, NULL);
	pid = xasprintf("%d\n", child.pid);
	if (rundir_write(t->rd, SWTPM_PID, pid, true, err) < 0) {
		swtpm_stop(t, false);
		return -1;
	}
	say(t->vm, "swtpm pid %d serves the TPM (state in '%s')", child.pid, t->dir);
	return 0;
}

/* The grace after a death is over: the supervisor decides whether it was the VM's failure. */
static void grace_cb(evutil_socket_t fd, short what, void *arg)
{
	struct swtpm *t = arg;

	(void)fd;
	(void)what;
	t->died(t->arg);
}

/* Tells the supervisor of the swtpm's end (why: failure) once the grace is over. */
static void mourn(struct swtpm *t, char *why)
{
	struct timeval tv = { DEATH_GRACE_MS / 1000, (DEATH_GRACE_MS % 1000) * 1000 };

	free(t->failure);
	t->failure = why;
	t->pid = 0;
	if (!t->grace)
		t->grace = evtimer_new(t->base, grace_cb, t);
	evtimer_add(t->grace, &tv);
}

/* The swtpm ended (wait status st when it was our child). */
static void ended(struct swtpm *t, int st)
{
	_cleanup_free_ char *why = NULL;

	read_lines(t->output_fd, &t->partial, t->last, sizeof(t->last), t->vm);
	why = ending(st, t->last);

	mourn(t, t->child ? xasprintf("swtpm pid %d %s", t->pid, why) : xasprintf("swtpm pid %d ended", t->pid));
}

/* The pidfd of a reattached swtpm became readable: it ended. */
static void pidfd_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ended(arg, 0);
}

/* True when /proc/PID/cmdline holds the argument arg (this VM's swtpm, not a reused pid). */
static bool runs_with(pid_t pid, const char *arg)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/cmdline", pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[8192];
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (char *a = buf; a < buf + n; a += strlen(a) + 1)
		if (!strcmp(a, arg))
			return true;
	return false;
}

void swtpm_reattach(struct swtpm *t)
{
	_cleanup_free_ char *state = state_arg(t);
	char buf[32] = "";
	_cleanup_close_ int fd = -1;
	ssize_t n;
	long pid = 0;

	if (!t->plan->config.tpm)
		return;
	fd = rundir_open_file(t->rd, SWTPM_PID, O_RDONLY | O_CLOEXEC, 0);
	if (fd >= 0 && (n = read(fd, buf, sizeof(buf) - 1)) > 0)
		pid = strtol(buf, NULL, 10);
	rundir_adopt(t->rd, SWTPM_SOCK);
	rundir_adopt(t->rd, SWTPM_PID);
	if (pid > 0 && runs_with((pid_t)pid, state))
		t->pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	if (t->pidfd < 0) {
		buf[strcspn(buf, "\n")] = '\0';
		mourn(t, xasprintf("the VM's swtpm (swtpm.pid: '%s') is not running", buf));
		return;
	}
	t->pid = (pid_t)pid;
	t->child = false;
	t->pidfd_ev = event_new(t->base, t->pidfd, EV_READ, pidfd_cb, t);
	event_add(t->pidfd_ev, NULL);
	say(t->vm, "reconnected to swtpm pid %d", t->pid);
}

void swtpm_reap(struct swtpm *t)
{
	int st;

	if (t->pid > 0 && t->child && waitpid(t->pid, &st, WNOHANG) == t->pid)
		ended(t, st);
}

void swtpm_stop(struct swtpm *t, bool keep)
{
	int st;

	if (t->pid > 0 && !keep) {
		kill(t->pid, SIGTERM);
		if (t->child && !wait_child(t->pid, STOP_TIMEOUT_MS, &st)) {
			kill(t->pid, SIGKILL);
			waitpid(t->pid, &st, 0);
		} else if (!t->child && poll(&(struct pollfd){ .fd = t->pidfd, .events = POLLIN }, 1, STOP_TIMEOUT_MS) <= 0)
			kill(t->pid, SIGKILL);
	}
	if (t->pidfd_ev)
		event_free(t->pidfd_ev);
	if (t->grace)
		event_free(t->grace);
	if (t->output_ev)
		event_free(t->output_ev);
	if (t->pidfd >= 0)
		close(t->pidfd);
	if (t->output_fd >= 0)
		close(t->output_fd);
	if (t->plan->config.tpm && !keep) {
		rundir_unlink(t->rd, SWTPM_SOCK);
		rundir_unlink(t->rd, SWTPM_PID);
	}
	free(t->failure);
	*t = (struct swtpm){ .base = t->base, .plan = t->plan, .vm = t->vm, .rd = t->rd, .died = t->died,
			     .arg = t->arg, .dir = t->dir, .pidfd = -1, .output_fd = -1 };
}

const char *swtpm_failure(const struct swtpm *t)
{
	return t->blamed ? t->failure : NULL;
}

void swtpm_blame(struct swtpm *t)
{
	t->blamed = t->failure != NULL;
}

void swtpm_free(struct swtpm *t)
{
	if (!t)
		return;
	swtpm_stop(t, true);
	free(t->dir);
	free(t);
}
