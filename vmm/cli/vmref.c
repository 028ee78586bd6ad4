#include "vmm/cli/vmref.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "vmm/base/rundir.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/qemuproc.h"
#include "vmm/supervisor/state.h"
#include "vmm/base/util.h"

/* Explains why a VM's socket at path cannot be reached (errnum: connect's errno). Returns
 * -ESRCH when nothing listens there, else -1. */
static int explain_missing(const char *name, const char *dir, const char *path, int errnum, unsigned timeout_ms,
			   struct verr *err)
{
	pid_t pid;
	enum qemu_found found = state_find_qemu(dir, name, &pid);

	if (found != QEMU_NONE) {
		state_qemu_error(found, name, dir, pid, err);
		return -ESRCH;
	}
	if (errnum == ENOENT || errnum == ECONNREFUSED) {
		verr_set(err, 0, "VM '%s' is not running (nobody listens on '%s')", name, path);
		return -ESRCH;
	}
	if (errnum == EAGAIN)
		return verr_set(err, 0, "VM '%s': its supervisor did not accept a connection on '%s' within %u ms",
				name, path, timeout_ms);
	return rundir_connect_error(path, errnum, err);
}

int vm_connect(const char *name, const char *sock, unsigned timeout_ms, struct verr *err)
{
	_cleanup_free_ char *dir = rundir_path(name, err);
	struct sockaddr_un sa;
	struct stat st;
	pid_t pid;
	int fd;

	if (!dir)
		return -1;
	if (stat(dir, &st) < 0) {
		if ((pid = qemuproc_find(dir, name)))
			state_qemu_error(QEMU_LOST, name, dir, pid, err);
		else
			verr_set(err, 0, "no VM named '%s' is running (no '%s')", name, dir);
		return -ESRCH;
	}
	if (rundir_socket_address(dir, sock, &sa, err) < 0)
		return -1;
	fd = unix_connect(&sa, timeout_ms);
	return fd < 0 ? explain_missing(name, dir, sa.sun_path, errno, timeout_ms, err) : fd;
}

/* Reads one line (the reply) from fd before deadline (ms on now_ms's clock; timeout_ms 0: no
 * deadline). Returns a malloc'd string, or NULL with err (*closed when the supervisor closed the
 * connection unanswered). */
static char *read_reply(int fd, const char *name, int64_t deadline, unsigned timeout_ms, bool *closed,
			struct verr *err)
{
	size_t len = 0, cap = 4096;
	_cleanup_free_ char *buf = xmalloc(cap);

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int wait = timeout_ms ? (int)(deadline - now_ms()) : -1, ready;
		ssize_t n;

		if (timeout_ms && wait <= 0) {
			verr_set(err, 0, "VM '%s': its supervisor did not answer within %u ms", name, timeout_ms);
			return NULL;
		}
		ready = poll(&pfd, 1, wait);
		if (ready < 0 && errno != EINTR) {
			verr_set(err, errno, "VM '%s': cannot wait for its supervisor", name);
			return NULL;
		}
		if (ready <= 0) /* interrupted, or the time is up (said above): never a read that blocks */
			continue;
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			verr_set(err, n < 0 ? errno : 0, "VM '%s': its supervisor closed the connection without a reply",
				 name);
			*closed = true;
			return NULL;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if (memchr(buf, '\n', len))
			return steal_ptr(buf);
		if (len + 1 >= cap)
			buf = xrealloc(buf, cap *= 2);
	}
}

int vm_request_send(const char *name, const char *request, struct json_object *args, unsigned timeout_ms,
		    struct verr *err)
{
	unsigned connect_ms = timeout_ms && timeout_ms < VM_CONNECT_TIMEOUT_MS ? timeout_ms : VM_CONNECT_TIMEOUT_MS;
	_cleanup_close_ int fd = vm_connect(name, "ctl.sock", connect_ms, err);
	struct json_object *req = args ? args : json_object_new_object();
	_cleanup_free_ char *text = NULL;

	if (fd < 0) {
		json_object_put(req);
		return fd;
	}
	json_object_object_add(req, CTL_KEY_REQUEST, json_object_new_string(request));
	json_object_object_add(req, CTL_KEY_VERSION, json_object_new_int(CONTROL_VERSION));
	text = xasprintf("%s\n", json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
	json_object_put(req);
	if (strlen(text) > CTL_MAX_REQUEST)
		return verr_set(err, 0, "VM '%s': the request is %zu bytes, over the %u KiB its supervisor takes", name,
				strlen(text), CTL_MAX_REQUEST >> 10);
	if (write_all(fd, text, strlen(text)) < 0)
		return verr_set(err, errno, "VM '%s': cannot write to its supervisor", name);
	return steal_fd(fd);
}

/* Reads the reply to a request before deadline (timeout_ms, the whole wait, for the error).
 * Returns -ECONNRESET when the supervisor closed the connection unanswered. */
static int reply_until(int fd, const char *name, int64_t deadline, unsigned timeout_ms, struct json_object **ret,
		       struct verr *err)
{
	bool closed = false;
	_cleanup_free_ char *line = read_reply(fd, name, deadline, timeout_ms, &closed, err);
	struct json_object *reply, *v;

	if (!line)
		return closed ? -ECONNRESET : -1;
	reply = json_tokener_parse(line);
	if (json_object_object_get_ex(reply, CTL_KEY_RETURN, &v)) {
		*ret = json_object_get(v);
		json_object_put(reply);
		return 0;
	}
	if (json_object_object_get_ex(reply, CTL_KEY_ERROR, &v))
		verr_set(err, 0, "VM '%s': %s", name, json_object_get_string(v));
	else
		verr_set(err, 0, "VM '%s': its supervisor sent a reply that is not understood", name);
	json_object_put(reply);
	return -1;
}

int vm_request_reply(int fd, const char *name, unsigned timeout_ms, struct json_object **ret, struct verr *err)
{
	return reply_until(fd, name, now_ms() + timeout_ms, timeout_ms, ret, err);
}

int vm_request(const char *name, const char *request, struct json_object *args, unsigned timeout_ms,
	       struct json_object **ret, struct verr *err)
{
	int64_t deadline = now_ms() + timeout_ms;
	_cleanup_close_ int fd = vm_request_send(name, request, args, timeout_ms, err);

	if (fd < 0)
		return fd;
	/* The connection and the answer share the one timeout, which the error names. */
	return reply_until(fd, name, deadline, timeout_ms, ret, err);
}

int vm_status(const char *name, unsigned timeout_ms, struct json_object **ret, struct verr *err)
{
	int64_t deadline = now_ms() + timeout_ms;
	int r;

	while ((r = vm_request(name, CTL_REQ_STATUS, NULL, timeout_ms, ret, err)) == -ECONNRESET &&
	       now_ms() < deadline) {
		verr_clear(err);
		usleep(20000);
	}
	return r;
}

struct qmp_sync *vm_qmp_open(const char *name, struct verr *err)
{
	int fd = vm_connect(name, "qmp.sock", VM_CONNECT_TIMEOUT_MS, err);
	char why[256];
	struct qmp_sync *s;

	if (fd < 0)
		return NULL;
	s = qmp_sync_open(fd, VM_ANSWER_TIMEOUT_MS, why, sizeof(why));
	if (!s)
		verr_set(err, 0, "VM '%s': %s", name, why);
	return s;
}

int vm_qmp_call(const char *name, struct json_object *cmd, unsigned timeout_ms, struct json_object **ret,
		struct verr *err)
{
	struct qmp_sync *s = vm_qmp_open(name, err);
	enum qmp_failure f;
	char *cls = NULL, why[256];

	*ret = NULL;
	if (!s) {
		json_object_put(cmd);
		return -1;
	}
	f = qmp_sync_call(s, cmd, timeout_ms, ret, &cls, why, sizeof(why));
	qmp_sync_close(s);
	if (f == QMP_ERR_COMMAND)
		verr_set(err, 0, "VM '%s': %s: %s", name, cls, why);
	else if (f == QMP_ERR_TIMEOUT)
		verr_set(err, 0, "VM '%s': no reply within %u ms", name, timeout_ms);
	else if (f != QMP_OK)
		verr_set(err, 0, "VM '%s': %s", name, why);
	free(cls);
	if (f != QMP_OK) {
		json_object_put(steal_ptr(*ret));
		return -1;
	}
	return 0;
}
