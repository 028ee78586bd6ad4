/* Unit tests of the resolver (profiles/resolve.h): the merge rules, --set paths, includes,
 * origins and path expansion, on profile files written to a temporary directory. */
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json_pointer.h>

#include "profiles/jsonread.h"
#include "profiles/resolve.h"
#include "tap.h"
#include "vmm/base/util.h"

static char dir[] = "/tmp/test-resolve.XXXXXX";

/* The path of a file in the test directory (one of four static buffers, reused in turn). */
static const char *path_of(const char *name)
{
	static char paths[4][512];
	static unsigned next;
	char *path = paths[next++ % 4];

	snprintf(path, sizeof(paths[0]), "%s/%s", dir, name);
	return path;
}

/* Writes a profile file into the test directory; returns its path (see path_of). */
static const char *put(const char *name, const char *text)
{
	const char *path = path_of(name);
	FILE *f = fopen(path, "we");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(99);
	}
	return path;
}

/* Resolves file with NULL-terminated lists of layers and --set overrides (either may be NULL). */
static int resolve(const char *file, const char *const layers[], const char *const sets[], struct resolved *r,
		   struct verr *err)
{
	struct strv l = { 0 }, s = { 0 };
	int ret;

	for (size_t i = 0; layers && layers[i]; i++)
		strv_push(&l, layers[i]);
	for (size_t i = 0; sets && sets[i]; i++)
		strv_push(&s, sets[i]);
	ret = profile_resolve(file, &l, &s, r, err);
	strv_free(&l);
	strv_free(&s);
	return ret;
}

/* The value at a JSON pointer ("/disks/1/cache") as plain JSON text, or "(none)". */
static const char *at(struct resolved *r, const char *pointer)
{
	struct json_object *v;

	if (json_pointer_get(r->json, pointer, &v) < 0)
		return "(none)";
	return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* True when the first error line contains text. */
static bool says(const struct verr *err, const char *text)
{
	return err->n > 0 && strstr(err->lines[0], text);
}

/* Objects merge key by key: an include's keys stay unless the file sets them. */
static void test_objects_merge(void)
{
	struct resolved r;
	struct verr err = { 0 };

	put("base.json", "{ \"machine\": { \"type\": \"q35\", \"accel\": \"kvm\" }, \"memory\": { \"size\": \"1G\" } }");
	ok(resolve(put("top.json", "{ \"include\": [\"base.json\"], \"machine\": { \"accel\": \"tcg\" } }"), NULL, NULL,
		   &r, &err) == 0, "a profile with an include resolves");
	ok(!strcmp(at(&r, "/machine/type"), "\"q35\""), "machine.type comes from the include");
	ok(!strcmp(at(&r, "/machine/accel"), "\"tcg\""), "machine.accel is the file's own");
	ok(!strcmp(at(&r, "/memory/size"), "\"1G\""), "a section only the include has is kept");
	ok(!strcmp(at(&r, "/include"), "(none)"), "the merged profile has no include");
	resolved_free(&r);
	verr_clear(&err);
}

/* Lists of objects with ids merge element by element; new ids are appended. */
static void test_id_lists_merge(void)
{
	struct resolved r;
	struct verr err = { 0 };

	put("disks.json", "{ \"disks\": [ { \"id\": \"a\", \"file\": \"/a.img\", \"cache\": \"none\" },"
			  " { \"id\": \"b\", \"file\": \"/b.img\", \"cache\": \"none\" } ] }");
	ok(resolve(put("top.json", "{ \"include\": [\"disks.json\"], \"disks\": [ { \"id\": \"b\", \"cache\": "
				   "\"writeback\" }, { \"id\": \"c\", \"file\": \"/c.img\" } ] }"),
		   NULL, NULL, &r, &err) == 0, "id lists resolve");
	ok(!strcmp(at(&r, "/disks/0/cache"), "\"none\""), "disk a is untouched");
	ok(!strcmp(at(&r, "/disks/1/cache"), "\"writeback\""), "disk b's cache is the file's");
	ok(!strcmp(at(&r, "/disks/1/file"), "\"/b.img\""), "disk b keeps the include's file");
	ok(!strcmp(at(&r, "/disks/2/id"), "\"c\"") && !strcmp(at(&r, "/disks/2/file"), "\"/c.img\""),
	   "disk c, a new id, is appended");
	ok(!strcmp(origin_of(r.origins, "disks[1].cache", "?"), path_of("top.json")) &&
	   !strcmp(origin_of(r.origins, "disks[1].file", "?"), path_of("disks.json")),
	   "origins name the file of each member of a merged element");
	resolved_free(&r);
	verr_clear(&err);
}

/* Any other value replaces: scalars, lists without ids, a list of ids over one without. */
static void test_other_values_replace(void)
{
	struct resolved r;
	struct verr err = { 0 };

	put("base.json", "{ \"qemu\": { \"extra_args\": [\"-a\", \"-b\"] }, \"cpu\": { \"cores\": 2 },"
			 " \"nics\": [\"x\"], \"display\": { \"kind\": \"gtk\" } }");
	ok(resolve(put("top.json", "{ \"include\": [\"base.json\"], \"qemu\": { \"extra_args\": [\"-c\"] },"
				   " \"cpu\": { \"cores\": 4 }, \"nics\": [ { \"id\": \"n\" } ], \"display\": \"none\" }"),
		   NULL, NULL, &r, &err) == 0, "replacing values resolves");
	ok(!strcmp(at(&r, "/qemu/extra_args"), "[\"-c\"]"), "a list without ids is replaced, not appended to");
	ok(!strcmp(at(&r, "/cpu/cores"), "4"), "a number is replaced");
	ok(!strcmp(at(&r, "/nics"), "[{\"id\":\"n\"}]"), "a list of ids replaces a list without ids");
	ok(!strcmp(at(&r, "/display"), "\"none\""), "a string replaces an object");
	resolved_free(&r);
	verr_clear(&err);
}

/* null removes a key, whatever set it. */
static void test_null_removes(void)
{
	struct resolved r;
	struct verr err = { 0 };

	put("base.json", "{ \"memory\": { \"size\": \"1G\", \"balloon\": true }, \"agent\": true }");
	ok(resolve(put("top.json", "{ \"include\": [\"base.json\"], \"memory\": { \"balloon\": null },"
				   " \"agent\": null }"), NULL, NULL, &r, &err) == 0, "null values resolve");
	ok(!strcmp(at(&r, "/memory"), "{\"size\":\"1G\"}"), "null removes a member of a section");
	ok(!strcmp(at(&r, "/agent"), "(none)"), "null removes a top-level key");
	resolved_free(&r);
	verr_clear(&err);
}

/* Layers (-p) go on top of the profile, in order. */
static void test_layers(void)
{
	struct resolved r;
	struct verr err = { 0 };
	const char *layer1 = put("l1.json", "{ \"cpu\": { \"cores\": 2, \"threads\": 2 } }");
	const char *layer2 = put("l2.json", "{ \"cpu\": { \"cores\": 8 } }");
	ok(resolve(put("top.json", "{ \"cpu\": { \"cores\": 1, \"sockets\": 1 } }"),
		   (const char *const[]){ layer1, layer2, NULL }, NULL, &r, &err) == 0, "layers resolve");
	ok(!strcmp(at(&r, "/cpu"), "{\"cores\":8,\"sockets\":1,\"threads\":2}"), "each layer merges over the last");
	ok(!strcmp(origin_of(r.origins, "cpu.cores", "?"), layer2), "the origin of a value is the last layer to set it");
	resolved_free(&r);
	verr_clear(&err);
}

/* A word is JSON only when the whole word is strict JSON; anything else stays the word, a string. */
static void test_json_from_word(void)
{
	static const struct {
		const char *word, *json;
	} cases[] = {
		{ "4", "4" },              { "-2", "-2" },          { "true", "true" },
		{ "[1,2]", "[1,2]" },      { "{\"a\":1}", "{\"a\":1}" }, { "\"4\"", "\"4\"" },
		{ " 4", "\" 4\"" },        { "4 ", "\"4 \"" },      { "\t4", "\"\\t4\"" },
		{ "+4", "\"+4\"" },        { "0x4", "\"0x4\"" },    { "0-3", "\"0-3\"" },
		{ "01", "\"01\"" },        { "[1] 2", "\"[1] 2\"" }, { "'a'", "\"'a'\"" },
		{ "", "\"\"" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *v = json_from_word(cases[i].word);
		const char *got = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
		ok(!strcmp(got, cases[i].json), "json_from_word(\"%s\") is %s (got %s)", cases[i].word, cases[i].json, got);
		json_object_put(v);
	}
}

/* --set NAME[ID].key and NAME[N].key, typed values, new keys; and the errors. */
static void test_set(void)
{
	static const struct {
		const char *set, *error;
	} bad[] = {
		{ "memory.size", "expected KEY=VALUE" },
		{ "=1", "expected KEY=VALUE" },
		{ "disks[nope].cache=none", "'disks' has no element 'nope'" },
		{ "disks[7].cache=none", "'disks' has no element '7'" },
		{ "disks[ 1].cache=none", "'disks' has no element ' 1'" },
		{ "disks[+1].cache=none", "'disks' has no element '+1'" },
		{ "nics[0].id=x", "the profile has no 'nics'" },
		{ "disks[root]=x", "expected a key after '[root]'" },
		{ "disks[root.cache=x", "expected NAME[ID] or NAME[N]" },
		{ "memory.size.unit=M", "'memory.size' is not an object" },
	};
	const char *top = put("top.json", "{ \"memory\": { \"size\": \"1G\" }, \"disks\": [ { \"id\": \"root\","
					  " \"cache\": \"none\" }, { \"id\": \"data\", \"cache\": \"none\" } ] }");
	struct resolved r;
	struct verr err = { 0 };

	ok(resolve(top, NULL, (const char *const[]){ "disks[root].cache=writeback", "disks[1].cache=unsafe",
						     "memory.size=8G", "cpu.cores=4", "cpu.pin=0-3", "agent=true",
						     NULL }, &r, &err) == 0, "--set overrides resolve");
	ok(!strcmp(at(&r, "/disks/0/cache"), "\"writeback\""), "--set disks[root].cache selects the disk by id");
	ok(!strcmp(at(&r, "/disks/1/cache"), "\"unsafe\""), "--set disks[1].cache selects the disk by index");
	ok(!strcmp(at(&r, "/memory/size"), "\"8G\""), "--set memory.size replaces a string");
	ok(!strcmp(at(&r, "/cpu"), "{\"cores\":4,\"pin\":\"0-3\"}"),
	   "--set creates missing objects; a number is typed, \"0-3\" stays a string");
	ok(!strcmp(at(&r, "/agent"), "true"), "--set agent=true is a boolean");
	ok(!strcmp(origin_of(r.origins, "disks[0].cache", "?"), "--set"), "the origin of a --set value is --set");
	resolved_free(&r);
	verr_clear(&err);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = resolve(top, NULL, (const char *const[]){ bad[i].set, NULL }, &r, &err);
		ok(ret < 0 && says(&err, bad[i].error) && !strncmp(err.lines[0], "--set ", 6),
		   "--set %s fails: %s", bad[i].set, err.n ? err.lines[0] : "(no error)");
		verr_clear(&err);
	}
}

/* Include cycles, missing includes and includes that are not names are errors. */
static void test_include_errors(void)
{
	struct resolved r;
	struct verr err = { 0 };

	put("a.json", "{ \"include\": [\"b.json\"] }");
	put("b.json", "{ \"include\": [\"a.json\"] }");
	ok(resolve(put("top.json", "{ \"include\": [\"a.json\"] }"), NULL, NULL, &r, &err) < 0 &&
	   says(&err, "include cycle: ") && strstr(err.lines[0], "/a.json -> ") && strstr(err.lines[0], "/b.json -> "),
	   "an include cycle is an error: %s", err.n ? err.lines[0] : "");
	verr_clear(&err);
	ok(resolve(put("top.json", "{ \"include\": [\"top.json\"] }"), NULL, NULL, &r, &err) < 0 &&
	   says(&err, "include cycle"), "a file including itself is a cycle");
	verr_clear(&err);
	ok(resolve(put("top.json", "{ \"include\": [\"gone/missing.json\"] }"), NULL, NULL, &r, &err) < 0 &&
	   says(&err, "include[0]: no profile file '") && says(&err, "/gone/missing.json'"),
	   "a missing include file is an error: %s", err.n ? err.lines[0] : "");
	verr_clear(&err);
	ok(resolve(put("top.json", "{ \"include\": [\"no-such-profile-anywhere\"] }"), NULL, NULL, &r, &err) < 0 &&
	   says(&err, "include[0]: no profile named 'no-such-profile-anywhere'"),
	   "a missing include name is an error: %s", err.n ? err.lines[0] : "");
	verr_clear(&err);
	ok(resolve(put("top.json", "{ \"include\": \"a.json\" }"), NULL, NULL, &r, &err) < 0 &&
	   says(&err, "include: expected a list"), "include must be a list");
	verr_clear(&err);
	ok(resolve(put("top.json", "{ \"include\": [1] }"), NULL, NULL, &r, &err) < 0 &&
	   says(&err, "include[0]: expected a profile name or path"), "an include must be a string");
	verr_clear(&err);
}

/* An included file is applied once, at its first place; a -p layer is applied even when included. */
static void test_include_once(void)
{
	struct resolved r;
	struct verr err = { 0 };
	const char *top;

	put("base.json", "{ \"hotplug\": { \"root_ports\": 4 }, \"machine\": { \"firmware\": \"ovmf\" } }");
	put("gpu.json", "{ \"include\": [\"base.json\"], \"hotplug\": { \"root_ports\": 8 } }");
	put("win.json", "{ \"include\": [\"base.json\", \"base.json\"], \"machine\": { \"firmware\": \"ovmf-secboot\" } }");
	top = put("top.json", "{ \"include\": [\"gpu.json\", \"win.json\"] }");
	ok(resolve(top, NULL, NULL, &r, &err) == 0, "a diamond of includes resolves");
	ok(!strcmp(at(&r, "/hotplug/root_ports"), "8"), "the second include of base.json does not undo gpu.json");
	ok(!strcmp(at(&r, "/machine/firmware"), "\"ovmf-secboot\""), "the file including it again still applies");
	ok(!strcmp(origin_of(r.origins, "hotplug.root_ports", "?"), path_of("gpu.json")),
	   "the origin is the file that set the value last");
	resolved_free(&r);
	ok(resolve(top, (const char *const[]){ path_of("base.json"), NULL }, NULL, &r, &err) == 0 &&
	   !strcmp(at(&r, "/hotplug/root_ports"), "4"), "a -p layer applies even when an include applied it before");
	resolved_free(&r);
	verr_clear(&err);
}

/* Paths are expanded against the file that wrote them, variables anywhere in them. */
static void test_paths(void)
{
	struct resolved r;
	struct verr err = { 0 };
	char sub[600];
	_cleanup_free_ char *want_kernel = NULL, *want_initrd = NULL, *want_disk = NULL, *want_rom = NULL;

	snprintf(sub, sizeof(sub), "%s/sub", dir);
	mkdir(sub, 0700);
	put("sub/inc.json", "{ \"boot\": { \"kernel\": \"vmlinuz\", \"initrd\": \"${PROFILE_DIR}/../initrd\" },"
			    " \"disks\": [ { \"id\": \"d\", \"file\": \"${VMM_DATA_DIR}/d.img\" } ] }");
	ok(resolve(put("top.json", "{ \"include\": [\"sub/inc.json\"], \"passthrough\": [ { \"rom\": \"x.rom\" } ],"
				   " \"qemu\": { \"binary\": \"rel/qemu\" } }"), NULL, NULL, &r, &err) == 0,
	   "paths resolve");
	want_kernel = xasprintf("\"%s/vmlinuz\"", sub);
	want_initrd = xasprintf("\"%s/../initrd\"", sub);
	want_disk = xstrdup("\"/data/vmm/d.img\"");
	want_rom = xasprintf("\"%s/x.rom\"", dir);
	ok(!strcmp(at(&r, "/boot/kernel"), want_kernel), "a relative path is relative to the file that wrote it: %s",
	   at(&r, "/boot/kernel"));
	ok(!strcmp(at(&r, "/boot/initrd"), want_initrd), "${PROFILE_DIR} is the folder of that file");
	ok(!strcmp(at(&r, "/disks/0/file"), want_disk), "${VMM_DATA_DIR} expands: %s", at(&r, "/disks/0/file"));
	ok(!strcmp(at(&r, "/passthrough/0/rom"), want_rom), "a rom file is a path too");
	ok(!strcmp(at(&r, "/qemu/binary"), "\"rel/qemu\""), "values that are not paths are left alone");
	resolved_free(&r);
	ok(resolve(put("top.json", "{ \"boot\": { \"kernel\": \"${HOME}/vmlinuz\" } }"), NULL, NULL, &r, &err) < 0 &&
	   says(&err, "top.json: boot.kernel: unknown variable '${HOME}'"), "an unknown variable is an error: %s",
	   err.n ? err.lines[0] : "");
	verr_clear(&err);
}

/* Removes one file or directory of the test tree (nftw's callback). */
static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 99;
	}
	/* Nothing of the user's: no profiles found by name, fixed directories for the variables. */
	setenv("HOME", dir, 1);
	setenv("VMM_PROFILE_PATH", dir, 1);
	setenv("VMM_DATA_DIR", "/data/vmm", 1);
	setenv("VMM_CACHE_DIR", "/cache/vmm", 1);
	test_objects_merge();
	test_id_lists_merge();
	test_other_values_replace();
	test_null_removes();
	test_layers();
	test_set();
	test_json_from_word();
	test_include_errors();
	test_include_once();
	test_paths();
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
