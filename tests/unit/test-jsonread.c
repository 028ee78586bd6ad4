/* Unit tests of the typed JSON reader (profiles/jsonread.h) and of CPU lists
 * (profiles/cpulist.h): member types, missing members, JSON path text, origins. */
#include <string.h>

#include "profiles/cpulist.h"
#include "profiles/jsonread.h"
#include "tap.h"
#include "vmm/base/util.h"

/* A reader over file "f.json", with origins (may be NULL), its problems in err. */
static struct jreader reader(struct verr *err, struct json_object *origins)
{
	return (struct jreader){ .err = err, .file = "f.json", .origins = origins };
}

/* True when err holds exactly one line, line. */
static bool one_line(const struct verr *err, const char *line)
{
	return err->n == 1 && !strcmp(err->lines[0], line);
}

/* Paths: members joined with '.', elements with [N]; the empty path is the document. */
static void test_paths(void)
{
	_cleanup_free_ char *top = json_path_key("", "name"), *member = json_path_key("cpu", "pin");
	_cleanup_free_ char *element = json_path_index("disks", 2), *deep = json_path_key(element, "cache");

	ok(!strcmp(top, "name"), "a top-level member's path is its key: %s", top);
	ok(!strcmp(member, "cpu.pin"), "a member's path joins with '.': %s", member);
	ok(!strcmp(element, "disks[2]"), "an element's path has its index: %s", element);
	ok(!strcmp(deep, "disks[2].cache"), "paths nest: %s", deep);
}

/* origin_of walks up to the nearest parent the origins know, never across an index prefix. */
static void test_origins(void)
{
	struct json_object *origins = json_tokener_parse("{ \"disks[1]\": \"b.json\", \"cpu\": \"c.json\","
							 " \"disks[1].cache\": \"--set\" }");

	ok(!strcmp(origin_of(origins, "disks[1].file", "f"), "b.json"), "an element's member comes from the element's file");
	ok(!strcmp(origin_of(origins, "disks[1].cache", "f"), "--set"), "the exact path wins over its parent");
	ok(!strcmp(origin_of(origins, "disks[10].file", "f"), "f"), "disks[10] is not disks[1]");
	ok(!strcmp(origin_of(origins, "cpu.pin[3]", "f"), "c.json"), "a list element inherits its list's origin");
	ok(!strcmp(origin_of(NULL, "cpu", "f"), "f"), "no origins: the fallback");
	json_object_put(origins);
}

/* Members: the right type is returned, a missing one is no problem, a wrong one is reported once. */
static void test_members(void)
{
	struct json_object *doc = json_tokener_parse("{ \"cpu\": { \"cores\": \"four\", \"sockets\": 2, \"model\": 7,"
						     " \"hyperv\": 1, \"threads\": 9 }, \"name\": \"x\" }");
	struct json_object *cpu;
	struct verr err = { 0 };
	struct jreader r = reader(&err, NULL);
	unsigned cores = 1, sockets = 1, threads = 1, missing = 5;
	char *model = xstrdup("kept");
	bool hyperv = false;

	cpu = jr_member(&r, doc, "", "cpu", json_type_object, "an object");
	ok(cpu && err.n == 0, "a member of the expected type is returned");
	ok(!jr_member(&r, doc, "", "memory", json_type_object, "an object") && err.n == 0,
	   "a missing member is NULL and no problem");
	ok(!jr_member(&r, NULL, "memory", "size", json_type_string, "a size") && err.n == 0,
	   "a member of a missing object is NULL and no problem");
	ok(!jr_member(&r, doc, "", "name", json_type_int, "a number") && one_line(&err, "f.json: name: expected a number"),
	   "a member of another type is reported: %s", err.n ? err.lines[0] : "");
	verr_clear(&err);

	jr_uint(&r, cpu, "cpu", "cores", 1, 256, &cores);
	ok(cores == 1 && one_line(&err, "f.json: cpu.cores: expected an integer from 1 to 256"),
	   "a string for an integer is reported and *out is kept: %s", err.n ? err.lines[0] : "");
	verr_clear(&err);
	jr_uint(&r, cpu, "cpu", "sockets", 1, 64, &sockets);
	ok(sockets == 2 && err.n == 0, "an integer in range is read");
	jr_uint(&r, cpu, "cpu", "threads", 1, 8, &threads);
	ok(threads == 1 && one_line(&err, "f.json: cpu.threads: 9 is out of range (expected an integer from 1 to 8)"),
	   "an integer out of range is reported: %s", err.n ? err.lines[0] : "");
	verr_clear(&err);
	jr_uint(&r, cpu, "cpu", "dies", 1, 8, &missing);
	ok(missing == 5 && err.n == 0, "a missing integer leaves *out alone");
	jr_string(&r, cpu, "cpu", "model", &model);
	ok(!strcmp(model, "kept") && one_line(&err, "f.json: cpu.model: expected a string"),
	   "a number for a string is reported and *out is kept");
	verr_clear(&err);
	jr_bool(&r, cpu, "cpu", "hyperv", &hyperv);
	ok(!hyperv && one_line(&err, "f.json: cpu.hyperv: expected true or false"), "1 is not a boolean");
	verr_clear(&err);
	free(model);
	json_object_put(doc);
}

/* Objects, elements, keys and one-of strings. */
static void test_shapes(void)
{
	static const char *const cpu_keys[] = { "model", "cores", "threads", NULL };
	static const char *const modes[] = { "threads", "native", "io_uring", NULL };
	struct json_object *doc = json_tokener_parse("{ \"cpu\": { \"coers\": 2, \"color\": \"red\" }, \"disks\": [ 1,"
						     " { \"aio\": \"native\" }, { \"aio\": \"fast\" } ] }");
	struct json_object *disks = json_object_object_get(doc, "disks");
	struct verr err = { 0 };
	struct json_object *origins = json_tokener_parse("{ \"disks[2]\": \"g.json\" }");
	struct jreader r = reader(&err, origins);
	int mode = -1;

	ok(jr_object(&r, doc, "", "cpu", cpu_keys) && err.n == 2 &&
	   !strcmp(err.lines[0], "f.json: cpu.coers: unknown key (did you mean 'cores'?)") &&
	   !strcmp(err.lines[1], "f.json: cpu.color: unknown key (expected one of model, cores, threads)"),
	   "unknown keys are reported, a close one with \"did you mean\"");
	verr_clear(&err);
	ok(!jr_element(&r, json_object_array_get_idx(disks, 0), "disks[0]", modes) &&
	   one_line(&err, "f.json: disks[0]: expected an object"), "an element that is not an object is reported");
	verr_clear(&err);
	jr_oneof(&r, json_object_array_get_idx(disks, 1), "disks[1]", "aio", modes, &mode);
	ok(mode == 1 && err.n == 0, "a one-of string is read as its index");
	jr_oneof(&r, json_object_array_get_idx(disks, 2), "disks[2]", "aio", modes, &mode);
	ok(mode == 1 && one_line(&err, "g.json: disks[2].aio: 'fast' is not one of threads, native, io_uring"),
	   "an unknown one-of string is reported under the file that set it: %s", err.n ? err.lines[0] : "");
	verr_clear(&err);
	jr_problem(&r, "disks[2]", NULL, "%d problems", 3);
	ok(one_line(&err, "g.json: disks[2]: 3 problems"), "a problem at a path itself (no key)");
	verr_clear(&err);
	json_object_put(origins);
	json_object_put(doc);
}

/* CPU lists keep the order written and refuse what is not one. */
static void test_cpulist(void)
{
	static const char *const bad[] = { "", "a", "1,", ",1", "3-1", "1-", "-1", "1 2", "8192", "0-8192", "1;2" };
	struct cpulist l;

	ok(cpulist_parse("0-3,8", &l) == 0 && l.n == 5 && l.cpus[3] == 3 && l.cpus[4] == 8, "\"0-3,8\" is 0 1 2 3 8");
	cpulist_free(&l);
	ok(l.cpus == NULL && l.n == 0, "cpulist_free empties the list");
	ok(cpulist_parse("2-3,0", &l) == 0 && l.n == 3 && l.cpus[0] == 2 && l.cpus[2] == 0, "the order written is kept");
	cpulist_free(&l);
	ok(cpulist_parse("8191", &l) == 0 && l.n == 1 && l.cpus[0] == CPULIST_MAX_CPU, "the highest CPU is accepted");
	cpulist_free(&l);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(cpulist_parse(bad[i], &l) < 0 && l.n == 0 && !l.cpus, "\"%s\" is not a CPU list", bad[i]);
}

int main(void)
{
	test_paths();
	test_origins();
	test_members();
	test_shapes();
	test_cpulist();
	return tap_done();
}
