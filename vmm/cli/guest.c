#include "vmm/cli/guest.h"

#include <string.h>

#include "vmm/base/strict.h"
#include "vmm/base/util.h"
#include "vmm/cli/vmref.h"
#include "vmm/supervisor/protocol.h"

/* Bytes asked for by each guest-file-read (their base64 stays well under the agent's reply cap). */
#define READ_CHUNK (48u << 10)

int guest_agent(const char *name, const char *execute, struct json_object *arguments, unsigned seconds,
		struct json_object **ret, struct verr *err)
{
	struct json_object *req = json_object_new_object(), *cmd = json_object_new_object();
	/* The supervisor may first ask QEMU about the port, then sync, then run the command. */
	unsigned wait_ms = CTL_QMP_TIMEOUT_MS + CTL_AGENT_SYNC_MS + seconds * 1000 + VM_ANSWER_TIMEOUT_MS;

	json_object_object_add(cmd, "execute", json_object_new_string(execute));
	if (arguments)
		json_object_object_add(cmd, "arguments", arguments);
	json_object_object_add(req, CTL_ARG_COMMAND, cmd);
	json_object_object_add(req, CTL_ARG_TIMEOUT, json_object_new_int((int)seconds));
	return vm_request(name, CTL_REQ_AGENT, req, wait_ms, ret, err);
}

/* An object with one integer member, the arguments of a command on a file handle. */
static struct json_object *with_handle(int64_t handle)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "handle", json_object_new_int64(handle));
	return o;
}

/* Appends what one guest-file-read returned to *buf; returns 1 at the end of the file, 0 for
 * more, -1 with err when the reply is not one of guest-file-read. */
static int take_chunk(const char *path, struct json_object *r, char **buf, size_t *len, struct verr *err)
{
	struct json_object *b64, *eof;
	_cleanup_free_ char *bytes = NULL;
	size_t n;

	if (!json_object_object_get_ex(r, "buf-b64", &b64) || base64_decode(json_object_get_string(b64), &bytes, &n) < 0)
		return verr_set(err, 0, "the guest agent's guest-file-read of '%s' returned no base64 data", path);
	*buf = xrealloc(*buf, *len + n + 1);
	memcpy(*buf + *len, bytes, n);
	*len += n;
	(*buf)[*len] = '\0';
	return (json_object_object_get_ex(r, "eof", &eof) && json_object_get_boolean(eof)) || n == 0;
}

int guest_read_file(const char *name, const char *path, size_t max, char **out, size_t *len, struct verr *err)
{
	struct json_object *args = json_object_new_object(), *r = NULL;
	_cleanup_verr_ struct verr close_err = { 0 };
	_cleanup_free_ char *buf = xstrdup("");
	int64_t handle;
	int end = 0;

	*len = 0;
	json_object_object_add(args, "path", json_object_new_string(path));
	json_object_object_add(args, "mode", json_object_new_string("r"));
	if (guest_agent(name, "guest-file-open", args, GUEST_AGENT_SECONDS, &r, err) < 0)
		return -1;
	if (!json_int_in(r, 0, INT64_MAX, &handle)) {
		json_object_put(r);
		return verr_set(err, 0, "the guest agent's guest-file-open of '%s' returned no file handle (an integer)",
				path);
	}
	json_object_put(r);
	while (end == 0 && *len < max) {
		struct json_object *a = with_handle(handle);
		json_object_object_add(a, "count", json_object_new_int(READ_CHUNK));
		if (guest_agent(name, "guest-file-read", a, GUEST_AGENT_SECONDS, &r, err) < 0) {
			end = -1;
			break;
		}
		end = take_chunk(path, r, &buf, len, err);
		json_object_put(r);
	}
	/* What the agent keeps open is closed, whatever happened (a failure to close only costs a handle). */
	if (guest_agent(name, "guest-file-close", with_handle(handle), GUEST_AGENT_SECONDS, &r, &close_err) == 0)
		json_object_put(r);
	if (end < 0)
		return -1;
	*out = steal_ptr(buf);
	return 0;
}

/* The value of a base64 digit, -1 for another character. */
static int digit(char c)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(set, c) : NULL;

	return p ? (int)(p - set) : -1;
}

int base64_decode(const char *in, char **out, size_t *len)
{
	char *o = xmalloc(strlen(in) / 4 * 3 + 4);
	uint32_t acc = 0;
	int bits = 0;

	*len = 0;
	for (const char *p = in; *p && *p != '='; p++) {
		int d = digit(*p);
		if (d < 0 && strchr(" \t\r\n", *p))
			continue;
		if (d < 0) {
			free(o);
			return -1;
		}
		acc = acc << 6 | (uint32_t)d;
		if ((bits += 6) >= 8) {
			bits -= 8;
			o[(*len)++] = (char)(acc >> bits & 0xff);
		}
	}
	o[*len] = '\0';
	*out = o;
	return 0;
}

int guest_exec_code(struct json_object *st)
{
	struct json_object *v;
	int64_t n;

	if (json_object_object_get_ex(st, "signal", &v))
		return json_int_in(v, 1, 127, &n) ? 128 + (int)n : -1;
	if (!json_object_object_get_ex(st, "exitcode", &v))
		return 0;
	if (!json_int_in(v, INT64_MIN, INT64_MAX, &n))
		return -1;
	return n >= 0 && n <= 255 ? (int)n : 255;
}
