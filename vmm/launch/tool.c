#include "vmm/launch/tool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "vmm/base/host.h"
#include "vmm/base/util.h"

/* The last line of what the tool wrote on stderr (fd, a memfd: tools say what failed last, after
 * their banners), without a "NAME: " prefix. */
static char *last_error_line(int fd, const char *name)
{
	char buf[4096];
	off_t size = lseek(fd, 0, SEEK_END);
	off_t from = size > (off_t)sizeof(buf) - 1 ? size - (off_t)sizeof(buf) + 1 : 0;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, from);
	size_t len = strlen(name);
	char *s, *nl;

	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	if (n <= 0)
		return xstrdup("it failed without a message");
	buf[n] = '\0';
	nl = strrchr(buf, '\n');
	s = nl ? nl + 1 : buf;
	if (!strncmp(s, name, len) && s[len] == ':' && s[len + 1] == ' ')
		s += len + 2;
	return text_clean(s, strlen(s));
}

/* Reads fd to its end into a growing buffer; false when it holds more than TOOL_OUTPUT_MAX. */
static bool read_all(int fd, char **buf, size_t *len)
{
	size_t cap = 0;

	for (;;) {
		ssize_t n;
		if (cap - *len < 4096) {
			cap = cap ? 2 * cap : 8192;
			*buf = xrealloc(*buf, cap);
		}
		n = read(fd, *buf + *len, cap - *len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += (size_t)n;
		if (*len > TOOL_OUTPUT_MAX)
			return false;
	}
	if (!*buf)
		*buf = xmalloc(1);
	(*buf)[*len] = '\0';
	return true;
}

int tool_run(const char *program, const char *const args[], char **out, size_t *out_len, const char *what,
	     struct verr *err)
{
	_cleanup_free_ char *path = find_program(program, err), *msg = NULL, *buf = NULL;
	_cleanup_close_ int errfd = -1;
	const char *base = strrchr(program, '/') ? strrchr(program, '/') + 1 : program;
	struct strv argv = { 0 };
	size_t len = 0;
	int fds[2], status;
	bool fits;
	pid_t pid;

	if (!path)
		return verr_wrap(err, "%s", what), -1;
	errfd = memfd_create("tool-stderr", MFD_CLOEXEC);
	if (errfd < 0 || pipe2(fds, O_CLOEXEC) < 0)
		return verr_set(err, errno, "%s: cannot run %s", what, base);
	strv_push(&argv, path);
	for (size_t i = 0; args[i]; i++)
		strv_push(&argv, args[i]);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		strv_free(&argv);
		return verr_set(err, errno, "%s: cannot fork %s", what, base);
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		signal(SIGPIPE, SIG_DFL);
		if (null < 0 || dup2(null, 0) < 0 || dup2(fds[1], 1) < 0 || dup2(errfd, 2) < 0)
			_exit(127);
		execv(path, argv.v);
		dprintf(2, "cannot run '%s': %s\n", path, strerror(errno));
		_exit(127);
	}
	strv_free(&argv);
	close(fds[1]);
	fits = read_all(fds[0], &buf, &len);
	if (!fits)
		kill(pid, SIGKILL);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!fits)
		return verr_set(err, 0, "%s: %s printed more than %d bytes", what, base, TOOL_OUTPUT_MAX);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		msg = last_error_line(errfd, base);
		return verr_set(err, 0, "%s: %s", what, msg);
	}
	if (out) {
		*out = steal_ptr(buf);
		*out_len = len;
	}
	return 0;
}
