#include "vmm/supervisor/savefile.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmm/base/util.h"

int savefile_write_header(int fd, const struct plan *p, const char *version, struct verr *err)
{
	struct json_object *o = json_object_new_object();
	_cleanup_free_ char *text = NULL;
	int r;

	json_object_object_add(o, SAVEFILE_KEY_NAME, json_object_new_string(p->config.name));
	json_object_object_add(o, SAVEFILE_KEY_PROFILE_PATH, json_object_new_string(p->profile_path));
	json_object_object_add(o, SAVEFILE_KEY_PROFILE, json_object_get(p->profile));
	json_object_object_add(o, SAVEFILE_KEY_SAVED, json_object_new_int64((int64_t)time(NULL)));
	json_object_object_add(o, SAVEFILE_KEY_QEMU_VERSION, json_object_new_string(version));
	text = xasprintf("%s\n%s\n", SAVEFILE_MAGIC, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	r = write_all(fd, text, strlen(text));
	return r < 0 ? verr_set(err, errno, "cannot write the save file's header") : 0;
}

int savefile_parse(const char *buf, size_t len, const char *file, size_t *used, char **vm, char **path,
		   struct json_object **profile, struct verr *err)
{
	size_t magic = strlen(SAVEFILE_MAGIC);
	const char *json, *end;
	struct json_object *o, *p, *pp, *name;
	_cleanup_free_ char *text = NULL;

	if (len <= magic || memcmp(buf, SAVEFILE_MAGIC "\n", magic + 1))
		return verr_set(err, 0, "'%s' is not a VM saved by vmm save (it does not start with \"%s\")", file,
				SAVEFILE_MAGIC);
	json = buf + magic + 1;
	end = memchr(json, '\n', len - magic - 1);
	if (!end)
		return verr_set(err, 0, "'%s': the header ends before its line of JSON does (the file is cut short?)",
				file);
	text = xmalloc((size_t)(end - json) + 1);
	memcpy(text, json, (size_t)(end - json));
	text[end - json] = '\0';
	if (strlen(text) != (size_t)(end - json) || !(o = json_tokener_parse(text)))
		return verr_set(err, 0, "'%s': the header's second line is not JSON", file);
	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, SAVEFILE_KEY_PROFILE, &p) ||
	    !json_object_is_type(p, json_type_object) || !json_object_object_get_ex(o, SAVEFILE_KEY_PROFILE_PATH, &pp) ||
	    !json_object_is_type(pp, json_type_string) || !json_object_object_get_ex(o, SAVEFILE_KEY_NAME, &name) ||
	    !json_object_is_type(name, json_type_string)) {
		json_object_put(o);
		return verr_set(err, 0, "'%s': the header lacks \"" SAVEFILE_KEY_NAME "\" (a string), \"" SAVEFILE_KEY_PROFILE
				"\" (an object) or \"" SAVEFILE_KEY_PROFILE_PATH "\" (a string)", file);
	}
	*used = (size_t)(end + 1 - buf);
	*vm = xstrdup(json_object_get_string(name));
	*path = xstrdup(json_object_get_string(pp));
	*profile = json_object_get(p);
	json_object_put(o);
	return 0;
}

/* True when buf (len bytes) holds two whole lines. */
static bool second_line_ends(const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);

	return nl && memchr(nl + 1, '\n', len - (size_t)(nl + 1 - buf));
}

int savefile_read_header(int fd, const char *file, char **vm, char **path, struct json_object **profile,
			 struct verr *err)
{
	_cleanup_free_ char *buf = xmalloc(SAVEFILE_HEADER_MAX);
	size_t len = 0, used;
	struct stat st;
	ssize_t n;
	int r = 0;

	/* Up to the end of the header's second line, or SAVEFILE_HEADER_MAX bytes. */
	while (len < SAVEFILE_HEADER_MAX && !second_line_ends(buf, len)) {
		n = read(fd, buf + len, SAVEFILE_HEADER_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return verr_set(err, errno, "cannot read '%s'", file);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (savefile_parse(buf, len, file, &used, vm, path, profile, err) < 0)
		return -1;
	/* Nothing after the header (a file cut short): QEMU would wait for the stream for ever. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size <= used)
		r = verr_set(err, 0, "'%s' has nothing of the guest after its header (was it cut short?)", file);
	else if (lseek(fd, (off_t)used, SEEK_SET) < 0)
		r = verr_set(err, errno, "cannot read '%s'", file);
	if (r < 0) {
		json_object_put(steal_ptr(*profile));
		free(steal_ptr(*path));
		free(steal_ptr(*vm));
		return -1;
	}
	return 0;
}
