#include "vmm/supervisor/console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "vmm/base/util.h"
#include "vmm/supervisor/listener.h"
#include "vmm/supervisor/protocol.h"

/* A client with this much unread console output is dropped. */
#define CONSOLE_CLIENT_BACKLOG (1u << 20)
/* Typed bytes QEMU has not taken yet beyond which the client is not read. */
#define CONSOLE_INPUT_BACKLOG (64u << 10)

struct console {
	struct event_base *base;
	const struct vm_state *vm;
	bool to_stdout;
	int listen_fd;               /* console.sock */
	struct listener *listener;
	struct bufferevent *serial;  /* the current QEMU's serial socket, NULL when none */
	struct bufferevent *client;  /* the console.sock client, NULL when none */
	pid_t client_pid;

	/* console.log */
	char *log_path;
	int log_fd;                  /* -1 until the first byte after a start or a rotation */
	uint64_t log_size, log_max;
	unsigned keep;
	bool log_failed;             /* the last write failed, and was said */
};

/* Says once, until a write succeeds again, that the guest's output is not logged; returns -1. */
static int log_failure(struct console *con, const char *what)
{
	if (!con->log_failed)
		say(con->vm, "cannot %s '%s': %s; console output is not logged until it can be", what, con->log_path,
		    strerror(errno));
	con->log_failed = true;
	return -1;
}

/* Opens console.log for appending, learning how much it holds. */
static int log_open(struct console *con)
{
	struct stat st;

	con->log_fd = open(con->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (con->log_fd >= 0 && fstat(con->log_fd, &st) == 0) {
		con->log_size = (uint64_t)st.st_size;
		return 0;
	}
	log_failure(con, "open");
	if (con->log_fd >= 0)
		close(steal_fd(con->log_fd));
	return -1;
}

/* Moves console.log to console.log.1 and each older copy one up (the one beyond keep is
 * overwritten), or with keep 0 removes it; the next byte starts a new console.log. */
static int log_rotate(struct console *con)
{
	close(con->log_fd);
	con->log_fd = -1;
	for (unsigned i = con->keep; i > 1; i--) {
		_cleanup_free_ char *from = xasprintf("%s.%u", con->log_path, i - 1);
		_cleanup_free_ char *to = xasprintf("%s.%u", con->log_path, i);
		(void)rename(from, to);
	}
	if (con->keep) {
		_cleanup_free_ char *to = xasprintf("%s.1", con->log_path);
		if (rename(con->log_path, to) < 0)
			return log_failure(con, "rotate");
	} else if (unlink(con->log_path) < 0)
		return log_failure(con, "rotate");
	return 0;
}

/* Appends the guest's output to console.log, rotating it before it would pass its cap, at
 * the last line end that fits when there is one. */
static void log_write(struct console *con, const char *buf, size_t n)
{
	while (n > 0) {
		size_t room, len = n;

		if (con->log_fd < 0 && log_open(con) < 0)
			return;
		room = con->log_size < con->log_max ? con->log_max - con->log_size : 0;
		if (len > room) {
			const char *nl = room ? memrchr(buf, '\n', room) : NULL;
			len = nl ? (size_t)(nl + 1 - buf) : room;
		}
		if (len && write_all(con->log_fd, buf, len) < 0) {
			log_failure(con, "write");
			return;
		}
		con->log_failed = false;
		con->log_size += len;
		buf += len;
		n -= len;
		if (n && log_rotate(con) < 0)
			return;
	}
}

/* Disconnects the client. */
static void client_drop(struct console *con)
{
	bufferevent_free(steal_ptr(con->client));
	con->client_pid = 0;
}

/* Output of the guest: to console.log, the terminal of `vmm run` and the client. */
static void console_output(struct console *con, const char *buf, size_t n)
{
	log_write(con, buf, n);
	if (con->to_stdout)
		(void)write_all(STDOUT_FILENO, buf, n);
	if (con->client) {
		struct evbuffer *out = bufferevent_get_output(con->client);
		evbuffer_add(out, buf, n);
		if (evbuffer_get_length(out) > CONSOLE_CLIENT_BACKLOG)
			client_drop(con);
	}
}

/* Bytes from QEMU's serial port. */
static void serial_read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len;

	while ((len = evbuffer_get_contiguous_space(in)) > 0) {
		console_output(arg, (const char *)evbuffer_pullup(in, (ssize_t)len), len);
		evbuffer_drain(in, len);
	}
}

/* QEMU took the client's typing: read the client again. */
static void serial_write_cb(struct bufferevent *bev, void *arg)
{
	struct console *con = arg;

	(void)bev;
	if (con->client)
		bufferevent_enable(con->client, EV_READ);
}

/* Closes the connection to QEMU's serial socket; what the client types from now on is dropped. */
static void serial_close(struct console *con)
{
	if (!con->serial)
		return;
	bufferevent_free(steal_ptr(con->serial));
	if (con->client)
		bufferevent_enable(con->client, EV_READ);
}

/* QEMU closed its serial socket (it exited), or the connection failed. */
static void serial_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	serial_close(arg);
}

/* The client typed: on to QEMU, holding the client back while QEMU does not take it. */
static void client_read_cb(struct bufferevent *bev, void *arg)
{
	struct console *con = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (!con->serial) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	bufferevent_write_buffer(con->serial, in);
	if (evbuffer_get_length(bufferevent_get_output(con->serial)) > CONSOLE_INPUT_BACKLOG)
		bufferevent_disable(bev, EV_READ);
}

/* The client left (or its connection failed). */
static void client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	client_drop(arg);
}

/* A bufferevent on the non-blocking socket fd (owned), reading, with the console's callbacks. */
static struct bufferevent *socket_bev(struct console *con, int fd, bufferevent_data_cb read_cb,
				      bufferevent_data_cb write_cb, bufferevent_event_cb event_cb)
{
	struct bufferevent *bev = bufferevent_socket_new(con->base, fd, BEV_OPT_CLOSE_ON_FREE);

	if (!bev)
		abort();
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, con);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	return bev;
}

/* The PID of the peer of a unix socket, 0 when unknown. */
static pid_t peer_pid(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : 0;
}

/* A new console.sock client: it gets the console unless another client has it. */
static void adopt_cb(void *arg, int fd)
{
	struct console *con = arg;
	char line[CONSOLE_GREETING_MAX];

	if (con->client) {
		int n = snprintf(line, sizeof(line), CONSOLE_IN_USE "%d\n", (int)con->client_pid);
		(void)send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
		return;
	}
	con->client_pid = peer_pid(fd);
	con->client = socket_bev(con, fd, client_read_cb, NULL, client_event_cb);
	bufferevent_write(con->client, CONSOLE_ATTACHED "\n", strlen(CONSOLE_ATTACHED "\n"));
}

struct console *console_new(struct event_base *base, struct rundir *rd, const struct vm_config *c, bool to_stdout,
			    const struct vm_state *vm, struct verr *err)
{
	struct console *con;
	int fd = rundir_listen(rd, "console.sock", err);

	if (fd < 0)
		return NULL;
	con = xzalloc(sizeof(*con));
	con->base = base;
	con->vm = vm;
	con->to_stdout = to_stdout;
	con->listen_fd = fd;
	con->listener = listener_new(base, fd, adopt_cb, con);
	con->log_path = xasprintf("%s/console.log", rd->path);
	con->log_fd = -1;
	con->log_max = c->console_log_max;
	con->keep = c->console_log_keep;
	return con;
}

void console_attach(struct console *con, int fd)
{
	serial_close(con);
	evutil_make_socket_nonblocking(fd);
	con->serial = socket_bev(con, fd, serial_read_cb, serial_write_cb, serial_event_cb);
}

void console_detach(struct console *con)
{
	if (!con || !con->serial)
		return;
	while (evbuffer_read(bufferevent_get_input(con->serial), bufferevent_getfd(con->serial), -1) > 0)
		;
	serial_read_cb(con->serial, con);
	serial_close(con);
}

void console_free(struct console *con)
{
	if (!con)
		return;
	serial_close(con);
	if (con->client)
		client_drop(con);
	listener_free(con->listener);
	close(con->listen_fd);
	if (con->log_fd >= 0)
		close(con->log_fd);
	free(con->log_path);
	free(con);
}
