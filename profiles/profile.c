#include "profiles/profile.h"
#include "profiles/json-dups.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "vmm/base/host.h"
#include "vmm/base/util.h"

#ifndef VMM_PROFILE_DIR
#define VMM_PROFILE_DIR "/usr/local/share/vmm/profiles"
#endif

/* Largest profile file accepted; anything bigger is surely not a profile. */
#define PROFILE_MAX_BYTES (4 << 20)

/* Returns "DIR/NAME.json" when that file exists, else NULL. */
static char *try_dir(const char *dir, size_t dirlen, const char *name)
{
	char *path = xasprintf("%.*s/%s.json", (int)dirlen, dir, name);
	if (access(path, F_OK) == 0)
		return path;
	free(path);
	return NULL;
}

/* Returns VMM_DATA_DIR/NAME/profile.json (the profile vmm wrote for a VM it made) when it exists, else NULL. */
static char *try_vm_data(const char *name)
{
	_cleanup_free_ char *data = data_dir();
	char *path = xasprintf("%s/%s/profile.json", data, name);

	if (access(path, F_OK) == 0)
		return path;
	free(path);
	return NULL;
}

/* Finds a profile file by path or by name on the search path. */
char *profile_find(const char *arg, struct verr *err)
{
	const char *env = getenv("VMM_PROFILE_PATH");
	const char *home = getenv("HOME");
	size_t len = strlen(arg);
	char *path;

	if (strchr(arg, '/') || (len > 5 && !strcmp(arg + len - 5, ".json")))
		return xstrdup(arg);
	if (!*arg || arg[0] == '.') {
		verr_set(err, 0, "'%s' is not a profile name", arg);
		return NULL;
	}
	if ((path = try_vm_data(arg)))
		return path;
	for (const char *p = env; p && *p;) {
		size_t n = strcspn(p, ":");
		if (n && (path = try_dir(p, n, arg)))
			return path;
		p += n + (p[n] == ':');
	}
	if (home && *home) {
		_cleanup_free_ char *dir = xasprintf("%s/.config/vmm/profiles", home);
		if ((path = try_dir(dir, strlen(dir), arg)))
			return path;
	}
	if ((path = try_dir("/etc/vmm/profiles", 17, arg)))
		return path;
	if ((path = try_dir(VMM_PROFILE_DIR, strlen(VMM_PROFILE_DIR), arg)))
		return path;
	verr_set(err, 0, "no profile named '%s' (searched $VMM_PROFILE_PATH, ~/.config/vmm/profiles, "
		 "/etc/vmm/profiles, %s)", arg, VMM_PROFILE_DIR);
	return NULL;
}

/* Turns a byte offset into a 1-based line and column. */
static void offset_to_linecol(const char *text, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else
			(*col)++;
	}
}

/* Parses a profile's text (JSON with comments) into an object. */
struct json_object *profile_parse(const char *text, size_t len, const char *file, struct verr *err)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t end;
	int line, col;
	struct json_dup dup;

	if (!tok)
		abort();
	if (memchr(text, '\0', len)) {
		json_tokener_free(tok);
		verr_set(err, 0, "%s: not a text file (contains a NUL byte)", file);
		return NULL;
	}
	/* Passing the terminating NUL tells json-c the input is complete. */
	obj = json_tokener_parse_ex(tok, text, (int)len + 1);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!obj || jerr != json_tokener_success) {
		if (jerr == json_tokener_success || jerr == json_tokener_continue)
			jerr = json_tokener_error_parse_eof;
		if (end > len)
			end = len;
		/* The tokener stops at the offending character (or the end of the text). */
		offset_to_linecol(text, end, &line, &col);
		verr_set(err, 0, "%s:%d:%d: invalid JSON: %s", file, line, col, json_tokener_error_desc(jerr));
		json_object_put(obj);
		return NULL;
	}
	for (; end < len; end++) {
		if (!strchr(" \t\r\n", text[end]) && text[end] != '\0') {
			offset_to_linecol(text, end, &line, &col);
			verr_set(err, 0, "%s:%d:%d: invalid JSON: text after the end of the profile", file, line, col);
			json_object_put(obj);
			return NULL;
		}
	}
	if (!json_object_is_type(obj, json_type_object)) {
		verr_set(err, 0, "%s: a profile must be a JSON object", file);
		json_object_put(obj);
		return NULL;
	}
	if (json_find_duplicate(text, len, &dup)) {
		verr_set(err, 0, "%s:%d:%d: '%s' is set twice in one object (first on line %d): JSON would keep only "
			 "the last", file, dup.line, dup.col, dup.key, dup.first_line);
		free(dup.key);
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

/* What a file that is not a regular file is, for an error message. */
static const char *file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "not a file";
}

/* Reads and parses a profile file. */
struct json_object *profile_read(const char *path, struct verr *err)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it. */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t n = 0;

	if (fd < 0)
		return verr_set(err, errno, "cannot open profile '%s'", path), NULL;
	if (fstat(fd, &st) < 0)
		return verr_set(err, errno, "cannot read profile '%s'", path), NULL;
	if (!S_ISREG(st.st_mode))
		return verr_set(err, 0, "profile '%s' is %s, not a regular file", path, file_kind(st.st_mode)), NULL;
	if (st.st_size > PROFILE_MAX_BYTES)
		return verr_set(err, 0, "profile '%s' is larger than %d bytes", path, PROFILE_MAX_BYTES), NULL;
	text = xmalloc((size_t)st.st_size + 1);
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, text + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return verr_set(err, errno, "cannot read profile '%s'", path), NULL;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	text[n] = '\0';
	return profile_parse(text, n, path, err);
}
