#include "vmm/cli/vmref.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "profiles/config.h"
#include "vmm/base/rundir.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/state.h"
#include "vmm/base/util.h"

/* Explains why a VM's socket cannot be reached. */
static int explain_missing(const char *name, const char *dir, const char *path, int errnum, struct verr *err)
{
	pid_t orphan = state_orphan(dir, name);

	if (orphan)
		return verr_set(err, 0, "VM '%s' has no supervisor (its QEMU, pid %d, still runs): 'vmm attach %s' "
				"reconnects to it", name, orphan, name);
	if (errnum == ENOENT || errnum == ECONNREFUSED)
		return verr_set(err, 0, "VM '%s' is not running (nobody listens on '%s')", name, path);
	return verr_set(err, errnum, "cannot connect to '%s'", path);
}

int vm_connect(const char *name, const char *sock, struct verr *err)
{
	_cleanup_free_ char *dir = NULL, *path = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (!vm_name_valid(name))
		return verr_set(err, 0, "'%s' is not a valid VM name (a letter, then up to 63 letters, digits, "
				"'-', '_' or '.')", name);
	dir = rundir_path(name, err);
	if (!dir)
		return -1;
	if (stat(dir, &st) < 0)
		return verr_set(err, 0, "no VM named '%s' is running (no '%s')", name, dir);
	path = xasprintf("%s/%s", dir, sock);
	if (strlen(path) >= sizeof(sa.sun_path))
		return verr_set(err, 0, "socket path '%s' is too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return verr_set(err, errno, "cannot create a socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return explain_missing(name, dir, path, errno, err);
	return steal_fd(fd);
}

/* Reads one line (the reply) from fd within timeout_ms (0: forever). Returns a malloc'd string. */
static char *read_reply(int fd, const char *name, unsigned timeout_ms, struct verr *err)
{
	int64_t deadline = now_ms() + timeout_ms;
	size_t len = 0, cap = 4096;
	char *buf = xmalloc(cap);

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int wait = timeout_ms ? (int)(deadline - now_ms()) : -1;
		ssize_t n;

		if (timeout_ms && wait <= 0) {
			free(buf);
			verr_set(err, 0, "VM '%s': its supervisor did not answer within %u ms", name, timeout_ms);
			return NULL;
		}
		if (poll(&pfd, 1, wait) < 0 && errno != EINTR) {
			free(buf);
			verr_set(err, errno, "VM '%s': cannot wait for its supervisor", name);
			return NULL;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			free(buf);
			verr_set(err, n < 0 ? errno : 0, "VM '%s': its supervisor closed the connection without a reply",
				 name);
			return NULL;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if (memchr(buf, '\n', len))
			return buf;
		if (len + 1 >= cap)
			buf = xrealloc(buf, cap *= 2);
	}
}

int vm_request(const char *name, const char *request, struct json_object *args, unsigned timeout_ms,
	       struct json_object **ret, struct verr *err)
{
	_cleanup_close_ int fd = vm_connect(name, "ctl.sock", err);
	struct json_object *req = args ? args : json_object_new_object(), *reply, *v;
	_cleanup_free_ char *line = NULL, *text = NULL;

	if (fd < 0) {
		json_object_put(req);
		return -1;
	}
	json_object_object_add(req, CTL_KEY_REQUEST, json_object_new_string(request));
	json_object_object_add(req, CTL_KEY_VERSION, json_object_new_int(CONTROL_VERSION));
	text = xasprintf("%s\n", json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
	json_object_put(req);
	if (write_all(fd, text, strlen(text)) < 0)
		return verr_set(err, errno, "VM '%s': cannot write to its supervisor", name);
	line = read_reply(fd, name, timeout_ms, err);
	if (!line)
		return -1;
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
