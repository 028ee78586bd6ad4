#include "vmm/launch/qemuimg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "vmm/base/strict.h"
#include "vmm/base/util.h"
#include "vmm/launch/tool.h"

/* Runs qemu-img ($VMM_QEMU_IMG, else qemu-img on $PATH) with args, as tool_run. */
static int run(const char *const args[], char **out, size_t *out_len, const char *what, struct verr *err)
{
	const char *env = getenv("VMM_QEMU_IMG");

	return tool_run(env && *env ? env : "qemu-img", args, out, out_len, what, err);
}

/* Reads member key of image object o (element i) as a string; required or not. */
static int chain_string(struct json_object *o, size_t i, const char *key, bool required, char **out,
			struct verr *err)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
		if (required)
			return verr_set(err, 0, "qemu-img info: [%zu]: \"%s\" is missing", i, key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string) || !json_object_get_string_len(v))
		return verr_set(err, 0, "qemu-img info: [%zu]: \"%s\" is not a non-empty string", i, key);
	*out = xstrdup(json_object_get_string(v));
	return 0;
}

/* Reads member key of image object o (element i) as a size: an integer, not negative. */
static int chain_size(struct json_object *o, size_t i, const char *key, bool required, uint64_t *out,
		      struct verr *err)
{
	struct json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v)) {
		if (required)
			return verr_set(err, 0, "qemu-img info: [%zu]: \"%s\" is missing", i, key);
		return 0;
	}
	if (!json_int_in(v, 0, INT64_MAX - 1, &n))
		return verr_set(err, 0, "qemu-img info: [%zu]: \"%s\" is not a size in bytes", i, key);
	*out = (uint64_t)n;
	return 0;
}

/* Reads one image object (element i) of the chain. */
static int chain_image(struct json_object *o, size_t i, struct image_info *img, struct verr *err)
{
	if (!json_object_is_type(o, json_type_object))
		return verr_set(err, 0, "qemu-img info: [%zu]: not an object", i);
	if (chain_string(o, i, "filename", true, &img->filename, err) < 0 ||
	    chain_string(o, i, "format", true, &img->format, err) < 0 ||
	    chain_size(o, i, "virtual-size", true, &img->virtual_size, err) < 0 ||
	    chain_size(o, i, "actual-size", false, &img->actual_size, err) < 0 ||
	    chain_string(o, i, "full-backing-filename", false, &img->backing, err) < 0 ||
	    (!img->backing && chain_string(o, i, "backing-filename", false, &img->backing, err) < 0) ||
	    chain_string(o, i, "backing-filename-format", false, &img->backing_format, err) < 0)
		return -1;
	return 0;
}

int qemuimg_parse_chain(const char *text, size_t len, struct image_chain *out, struct verr *err)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *root;
	struct image_chain c = { 0 };
	size_t n;
	int r = 0;

	*out = (struct image_chain){ 0 };
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	root = len > (size_t)INT32_MAX ? NULL : json_tokener_parse_ex(tok, text, (int)len);
	if (!root || json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != len) {
		size_t end = root ? json_tokener_get_parse_end(tok) : len;
		while (end < len && strchr(" \t\r\n", text[end]) && text[end])
			end++;
		if (!root || end < len) {
			json_object_put(root);
			json_tokener_free(tok);
			return verr_set(err, 0, "qemu-img info: not one JSON value");
		}
	}
	json_tokener_free(tok);
	if (!json_object_is_type(root, json_type_array) || !(n = json_object_array_length(root))) {
		json_object_put(root);
		return verr_set(err, 0, "qemu-img info: expected a non-empty array of images");
	}
	c.v = xzalloc(n * sizeof(*c.v));
	for (size_t i = 0; i < n && r == 0; i++) {
		c.n++;
		r = chain_image(json_object_array_get_idx(root, i), i, &c.v[i], err);
		if (r == 0 && i > 0 && (!c.v[i - 1].backing || strcmp(c.v[i - 1].backing, c.v[i].filename)))
			r = verr_set(err, 0, "qemu-img info: [%zu]: '%s' is not the backing file of the image before it", i,
				     c.v[i].filename);
	}
	if (r == 0 && c.v[n - 1].backing)
		r = verr_set(err, 0, "qemu-img info: [%zu]: its backing file '%s' is not in the chain", n - 1,
			     c.v[n - 1].backing);
	json_object_put(root);
	if (r < 0) {
		image_chain_free(&c);
		return -1;
	}
	*out = c;
	return 0;
}

int qemuimg_info(const char *file, struct image_chain *out, struct verr *err)
{
	const char *args[] = { "info", "-U", "--output=json", "--backing-chain", file, NULL };
	_cleanup_free_ char *what = xasprintf("cannot read the image '%s'", file), *text = NULL;
	size_t len;

	*out = (struct image_chain){ 0 };
	if (run(args, &text, &len, what, err) < 0)
		return -1;
	if (qemuimg_parse_chain(text, len, out, err) < 0)
		return verr_wrap(err, "'%s'", file), -1;
	return 0;
}

/* Makes the file a new image will be written to: it must not exist yet. */
static int claim(const char *file, struct verr *err)
{
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0 && errno == EEXIST)
		return verr_set(err, 0, "'%s' exists: vmm never overwrites a file", file);
	if (fd < 0)
		return verr_set(err, errno, "cannot create '%s'", file);
	close(fd);
	return 0;
}

int qemuimg_create(const char *file, const char *format, uint64_t size, const char *backing,
		   const char *backing_format, struct verr *err)
{
	_cleanup_free_ char *what = xasprintf("cannot create the image '%s'", file);
	_cleanup_free_ char *bytes = xasprintf("%llu", (unsigned long long)size);
	const char *args[12];
	size_t n = 0;

	args[n++] = "create";
	args[n++] = "-q";
	args[n++] = "-f";
	args[n++] = format;
	if (backing) {
		args[n++] = "-b";
		args[n++] = backing;
		args[n++] = "-F";
		args[n++] = backing_format;
	}
	args[n++] = file;
	if (size)
		args[n++] = bytes;
	args[n] = NULL;
	if (claim(file, err) < 0)
		return -1;
	if (run(args, NULL, NULL, what, err) < 0) {
		unlink(file);
		return -1;
	}
	return 0;
}

int qemuimg_convert(const char *src, const char *src_format, const char *dst, const char *dst_format,
		    struct verr *err)
{
	_cleanup_free_ char *what = xasprintf("cannot copy '%s' to '%s'", src, dst);
	const char *args[] = { "convert", "-q", "-n", "--target-is-zero", "-f", src_format, "-O", dst_format, src, dst, NULL };
	struct image_chain chain;

	/* -n writes into the image made here (claimed, then created at the source's size), so a
	 * file that appeared meanwhile is never replaced. */
	if (qemuimg_info(src, &chain, err) < 0)
		return -1;
	if (qemuimg_create(dst, dst_format, chain.v[0].virtual_size, NULL, NULL, err) < 0) {
		image_chain_free(&chain);
		return -1;
	}
	image_chain_free(&chain);
	if (run(args, NULL, NULL, what, err) < 0) {
		unlink(dst);
		return -1;
	}
	return 0;
}

int image_size_parse(const char *s, uint64_t *bytes, struct verr *err)
{
	if (parse_size(s, bytes) < 0)
		return verr_set(err, 0, "'%s' is not a size (expected a number of bytes, or one with K, M, G or T, "
				"such as 20G)", s);
	return 0;
}

void image_chain_free(struct image_chain *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].filename);
		free(c->v[i].format);
		free(c->v[i].backing);
		free(c->v[i].backing_format);
	}
	free(c->v);
	*c = (struct image_chain){ 0 };
}
