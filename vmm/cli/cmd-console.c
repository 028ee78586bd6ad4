/* vmm console NAME: the VM's serial console on this terminal (Ctrl-] detaches), through
 * its supervisor's console.sock, which lets one client in at a time;
 * vmm logs NAME: what the console printed (or, with --supervisor, the supervisor's log). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>

#include "vmm/cli/cmd.h"
#include <json-c/json.h>

#include "vmm/base/rundir.h"
#include "vmm/base/term-strip.h"
#include "vmm/base/util.h"
#include "vmm/cli/vmref.h"
#include "vmm/supervisor/protocol.h"

/* The byte that detaches from the console: Ctrl-]. */
#define DETACH_KEY 0x1d

/* Relays bytes both ways until the VM's side closes or the detach key is typed. */
static int relay(int sock, const char *name, struct verr *err)
{
	struct pollfd fds[2] = { { .fd = STDIN_FILENO, .events = POLLIN }, { .fd = sock, .events = POLLIN } };
	char buf[4096];

	for (;;) {
		ssize_t n;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return verr_set(err, errno, "poll");
		}
		if (fds[1].revents) {
			n = read(sock, buf, sizeof(buf));
			if (n <= 0) {
				fprintf(stderr, "\r\nvmm: %s: the console closed (the VM ended, or this terminal fell "
					"too far behind)\r\n", name);
				return 0;
			}
			(void)write_all(STDOUT_FILENO, buf, (size_t)n);
		}
		if (fds[0].revents) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0) {
				fds[0].fd = -1; /* stdin ended: keep showing the console */
				continue;
			}
			for (ssize_t i = 0; i < n; i++)
				if (buf[i] == DETACH_KEY) {
					(void)write_all(sock, buf, (size_t)i);
					fprintf(stderr, "\r\nvmm: %s: detached\r\n", name);
					return 0;
				}
			(void)write_all(sock, buf, (size_t)n);
		}
	}
}

/* Reads the supervisor's first line on console.sock, byte by byte (console output follows it):
 * 0 when the console is ours, -1 with err when another client has it or no answer comes. */
static int read_greeting(int sock, const char *name, struct verr *err)
{
	int64_t deadline = now_ms() + VM_ANSWER_TIMEOUT_MS;
	char line[CONSOLE_GREETING_MAX];
	size_t len = 0;

	while (len + 1 < sizeof(line)) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		int ready = poll(&pfd, 1, (int)(deadline - now_ms()));
		ssize_t n;

		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			return verr_set(err, errno, "VM '%s': cannot wait for its supervisor", name);
		if (ready == 0 || deadline <= now_ms())
			return verr_set(err, 0, "VM '%s': its supervisor did not answer within %u ms", name,
					VM_ANSWER_TIMEOUT_MS);
		n = read(sock, line + len, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return verr_set(err, n < 0 ? errno : 0, "VM '%s': the console closed before it answered", name);
		if (line[len] == '\n')
			break;
		len++;
	}
	line[len] = '\0';
	if (!strncmp(line, CONSOLE_IN_USE, strlen(CONSOLE_IN_USE)))
		return verr_set(err, 0, "VM '%s': console in use by PID %s (Ctrl-] detaches it there)", name,
				line + strlen(CONSOLE_IN_USE));
	if (strcmp(line, CONSOLE_ATTACHED))
		return verr_set(err, 0, "VM '%s': unexpected first line on its console socket: '%s'", name, line);
	return 0;
}

/* vmm console's handler. */
static int cmd_console(const struct cmd_args *args, struct verr *err)
{
	const char *name = args->argv[0];
	struct termios saved, raw;
	bool tty;
	_cleanup_close_ int sock = -1;
	int ret;

	sock = vm_connect(name, "console.sock", VM_CONNECT_TIMEOUT_MS, err);
	if (sock < 0 || read_greeting(sock, name, err) < 0)
		return -1;
	tty = tcgetattr(STDIN_FILENO, &saved) == 0;
	fprintf(stderr, "vmm: %s: console connected; Ctrl-] detaches\r\n", name);
	if (tty) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	ret = relay(sock, name, err);
	if (tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	return ret;
}

/* vmm logs's handler: the log without terminal escapes (--raw: as it is), or with --json as
 * {"path", "text"}. */
static int cmd_logs(const struct cmd_args *args, struct verr *err)
{
	const char *name = args->argv[0], *file = args_has(args, "supervisor") ? "vmm.log" : "console.log";
	_cleanup_free_ char *dir = NULL, *path = NULL;
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	char buf[65536];
	ssize_t n;
	struct term_strip strip = { 0 };
	bool raw = args_has(args, "raw");

	dir = rundir_path(name, err);
	if (!dir)
		return -1;
	path = xasprintf("%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return verr_set(err, errno == ENOENT ? 0 : errno, "VM '%s' has no log '%s'", name, path);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (!raw)
			n = (ssize_t)term_strip(&strip, buf, (size_t)n, buf);
		if (!args->json) {
			if (write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
				break;
			continue;
		}
		text = xrealloc(text, len + (size_t)n);
		memcpy(text + len, buf, (size_t)n);
		len += (size_t)n;
	}
	if (args->json) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "path", json_object_new_string(path));
		json_object_object_add(o, "text", json_object_new_string_len(text ? text : "", (int)len));
		cmd_print_json(o, JSON_PRETTY);
		json_object_put(o);
	}
	return 0;
}

const struct cmd_entry cmd_console_entry = {
	.name = "console",
	.usage = "NAME",
	.help = "attach this terminal to the VM's serial console (Ctrl-] detaches)",
	.args = { .lower = 1, .upper = 1 },
	.exec = cmd_console,
};

const struct cmd_entry cmd_logs_entry = {
	.name = "logs",
	.usage = "NAME [--supervisor] [--raw] [--json]",
	.help = "print the VM's console log (or its supervisor's log) without terminal escapes (--raw: with)",
	.args = { .options = "supervisor,raw", .lower = 1, .upper = 1 },
	.flags = CMD_JSON,
	.exec = cmd_logs,
};
