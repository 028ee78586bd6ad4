/* Unit tests of the qemu-img info reader (qemuimg.h): a real chain is read whole, and every
 * kind of output that is not one is refused with a message naming what was wrong; image sizes. */
#include <string.h>

#include "tap.h"
#include "vmm/base/util.h"
#include "vmm/launch/qemuimg.h"

/* Parses text; returns the first error line (or "" when it parsed), and the chain in c. */
static char *parse(const char *text, struct image_chain *c)
{
	struct verr err = { 0 };
	char *line;

	if (qemuimg_parse_chain(text, strlen(text), c, &err) == 0)
		return xstrdup("");
	line = xstrdup(err.n ? err.lines[0] : "(no message)");
	verr_clear(&err);
	return line;
}

/* True when text is refused with a message containing what, leaving the chain empty. */
static bool refused(const char *text, const char *what)
{
	struct image_chain c;
	_cleanup_free_ char *e = parse(text, &c);
	bool r = *e && strstr(e, what) && c.n == 0 && !c.v;

	if (!r)
		printf("# got '%s'\n", e);
	image_chain_free(&c);
	return r;
}

int main(void)
{
	struct image_chain c;
	_cleanup_free_ char *e = NULL;
	uint64_t size;
	struct verr err = { 0 };

	e = parse("[{\"virtual-size\": 1073741824, \"filename\": \"/d/o.qcow2\", \"format\": \"qcow2\", \"actual-size\": "
		  "200704, \"full-backing-filename\": \"/d/base.raw\", \"backing-filename\": \"base.raw\", "
		  "\"backing-filename-format\": \"raw\", \"format-specific\": {\"type\": \"qcow2\"}, \"dirty-flag\": false},"
		  " {\"virtual-size\": 1073741824, \"filename\": \"/d/base.raw\", \"format\": \"raw\", \"actual-size\": 4096}]\n",
		  &c);
	ok(!*e && c.n == 2, "a chain of two images is read (%s)", e);
	ok(c.n == 2 && !strcmp(c.v[0].filename, "/d/o.qcow2") && !strcmp(c.v[0].backing, "/d/base.raw") &&
		   !strcmp(c.v[0].backing_format, "raw") && c.v[0].virtual_size == 1073741824 && c.v[0].actual_size == 200704,
	   "the top image: file, backing file (the full one), its format, sizes");
	ok(c.n == 2 && !strcmp(c.v[1].format, "raw") && !c.v[1].backing, "the base: its format, no backing file");
	image_chain_free(&c);

	ok(refused("", "not one JSON value"), "empty output");
	ok(refused("[{\"filename\": \"a\"", "not one JSON value"), "truncated JSON");
	ok(refused("[] []", "not one JSON value"), "two values");
	ok(refused("{\"filename\": \"a\", \"format\": \"raw\", \"virtual-size\": 1}", "a non-empty array"), "an object");
	ok(refused("[]", "a non-empty array"), "an empty chain");
	ok(refused("[1]", "[0]: not an object"), "an image that is not an object");
	ok(refused("[{\"format\": \"raw\", \"virtual-size\": 1}]", "\"filename\" is missing"), "no filename");
	ok(refused("[{\"filename\": \"\", \"format\": \"raw\", \"virtual-size\": 1}]", "\"filename\" is not a non-empty"),
	   "an empty filename");
	ok(refused("[{\"filename\": \"a\", \"format\": 7, \"virtual-size\": 1}]", "\"format\" is not a non-empty string"),
	   "a format that is not a string");
	ok(refused("[{\"filename\": \"a\", \"format\": \"raw\", \"virtual-size\": -1}]", "\"virtual-size\" is not a size"),
	   "a negative size");
	ok(refused("[{\"filename\": \"a\", \"format\": \"raw\", \"virtual-size\": 1.5}]", "\"virtual-size\" is not a size"),
	   "a fractional size");
	ok(refused("[{\"filename\": \"a\", \"format\": \"raw\", \"virtual-size\": 99999999999999999999}]",
		   "\"virtual-size\" is not a size"),
	   "a size past 64 bits");
	ok(refused("[{\"filename\": \"a\", \"format\": \"raw\", \"virtual-size\": \"1\"}]", "\"virtual-size\" is not a size"),
	   "a size as a string");
	ok(refused("[{\"filename\": \"a\", \"format\": \"qcow2\", \"virtual-size\": 1, \"backing-filename\": \"b\"}, "
		   "{\"filename\": \"c\", \"format\": \"raw\", \"virtual-size\": 1}]",
		   "[1]: 'c' is not the backing file"),
	   "an image that does not back the one before");
	ok(refused("[{\"filename\": \"a\", \"format\": \"qcow2\", \"virtual-size\": 1, \"backing-filename\": \"b\"}]",
		   "its backing file 'b' is not in the chain"),
	   "a chain cut short");
	ok(refused("[{\"filename\": \"a\", \"format\": \"raw\", \"virtual-size\": 1}] x", "not one JSON value"),
	   "trailing garbage");

	ok(image_size_parse("20G", &size, &err) == 0 && size == 20ull << 30, "20G");
	ok(image_size_parse("4096", &size, &err) == 0 && size == 4096, "a number of bytes");
	ok(image_size_parse("12X", &size, &err) < 0 && err.n == 1 && strstr(err.lines[0], "'12X' is not a size"),
	   "12X is refused");
	verr_clear(&err);
	ok(image_size_parse("0", &size, &err) < 0, "0 is refused");
	verr_clear(&err);
	return tap_done();
}
