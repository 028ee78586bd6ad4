/* The VM's own UEFI variables (VMM_DATA_DIR/NAME/efivars.fd): copied once from the firmware's
 * template, and tied to it by a record beside them (efivars.json: the template's path, size
 * and format), so that vars made for another firmware (ovmf and ovmf-secboot, a template of
 * another size) are refused instead of silently kept. */
#include "vmm/launch/nvram.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "vmm/base/util.h"

/* The record of the template the vars at path were copied from: DIR/efivars.json. */
static char *record_path(const char *vars)
{
	_cleanup_free_ char *dir = xstrdup(vars);

	*strrchr(dir, '/') = '\0';
	return xasprintf("%s/efivars.json", dir);
}

/* What the record says of a template: {"template": PATH, "size": BYTES, "format": FORMAT}. */
static struct json_object *describe(const struct firmware_files *fw, const struct stat *st)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "template", json_object_new_string(fw->vars_template));
	json_object_object_add(o, "size", json_object_new_int64(st->st_size));
	json_object_object_add(o, "format", json_object_new_string(fw->vars_format ? fw->vars_format : "raw"));
	return o;
}

/* Writes the record (a temporary file, then rename). */
static int write_record(const char *record, struct json_object *o, struct verr *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", record);

	if (json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PRETTY) < 0 || rename(tmp, record) < 0) {
		int e = errno;
		unlink(tmp);
		return verr_set(err, e, "cannot write '%s'", record);
	}
	return 0;
}

/* Copies the template to vars (a temporary file, fsync, rename). */
static int copy_template(const char *template, const char *vars, struct verr *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", vars);
	_cleanup_close_ int in = -1, out = -1;
	char buf[65536];
	ssize_t n;

	in = open(template, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return verr_set(err, errno, "cannot read the UEFI vars template '%s'", template);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		return verr_set(err, errno, "cannot create '%s'", tmp);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write_all(out, buf, (size_t)n) < 0)
			break;
	if (n != 0 || fsync(out) < 0 || rename(tmp, vars) < 0) {
		int e = errno;
		unlink(tmp);
		return verr_set(err, e, "cannot copy '%s' to '%s'", template, vars);
	}
	return 0;
}

/* True when the record (or, for vars from before records, the vars' own size) fits the template. */
static bool fits(struct json_object *record, struct json_object *now, const char *vars, const struct stat *tmpl)
{
	struct stat st;

	if (record)
		return json_object_equal(record, now);
	return stat(vars, &st) == 0 && st.st_size == tmpl->st_size;
}

/* Says why the vars do not fit the template and how to start over. */
static void mismatch(const char *vars, struct json_object *was, const struct firmware_files *fw,
		     const struct stat *tmpl, const char *old, struct verr *err)
{
	const char *format = fw->vars_format ? fw->vars_format : "raw";
	struct stat st = { 0 };

	if (was)
		verr_set(err, 0, "the VM's UEFI vars '%s' were copied from '%s' (%lld bytes, %s), but its firmware's vars "
			 "template is '%s' (%lld bytes, %s): the vars do not fit it (ovmf-secboot's hold its Secure Boot "
			 "keys, ovmf's none); start with --reset-nvram to copy the template anew (the old vars are kept "
			 "as '%s')", vars, json_object_get_string(json_object_object_get(was, "template")),
			 (long long)json_object_get_int64(json_object_object_get(was, "size")),
			 json_object_get_string(json_object_object_get(was, "format")), fw->vars_template,
			 (long long)tmpl->st_size, format, old);
	else {
		stat(vars, &st);
		verr_set(err, 0, "the VM's UEFI vars '%s' (%lld bytes) do not fit its firmware's vars template '%s' "
			 "(%lld bytes, %s); start with --reset-nvram to copy the template anew (the old vars are kept "
			 "as '%s')", vars, (long long)st.st_size, fw->vars_template, (long long)tmpl->st_size, format, old);
	}
}

int nvram_prepare(const char *vars, const struct firmware_files *fw, bool reset, struct verr *err)
{
	_cleanup_free_ char *record = record_path(vars), *dir = NULL, *old = NULL;
	struct json_object *was = NULL, *now;
	struct stat tmpl;
	int ret = -1;

	if (stat(fw->vars_template, &tmpl) < 0)
		return verr_set(err, errno, "cannot read the UEFI vars template '%s'", fw->vars_template);
	now = describe(fw, &tmpl);
	if (access(vars, F_OK) == 0) {
		was = json_object_from_file(record);
		if (fits(was, now, vars, &tmpl)) {
			ret = was ? 0 : write_record(record, now, err);
			goto out;
		}
		old = xasprintf("%s.old", vars);
		if (!reset) {
			mismatch(vars, was, fw, &tmpl, old, err);
			goto out;
		}
		if (rename(vars, old) < 0) {
			verr_set(err, errno, "cannot move the VM's UEFI vars '%s' aside to '%s'", vars, old);
			goto out;
		}
	}
	dir = xstrdup(vars);
	*strrchr(dir, '/') = '\0';
	if (mkdir_parents(dir, 0700) < 0)
		verr_set(err, errno, "cannot create the VM's data directory '%s'", dir);
	else if (copy_template(fw->vars_template, vars, err) == 0)
		ret = write_record(record, now, err);
out:
	json_object_put(was);
	json_object_put(now);
	return ret;
}
