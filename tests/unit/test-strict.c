/* Unit tests of the strict number readers (vmm/base/strict.h): decimal text, seconds with a
 * fraction, JSON integers; each refuses blanks, signs, other bases, other JSON types. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "vmm/base/strict.h"

/* parse_uint takes only decimal digits within the range and leaves *out alone otherwise. */
static void test_parse_uint(void)
{
	static const struct {
		const char *in;
		int err; /* 0: accepted */
		uint64_t n;
	} cases[] = {
		{ "5", 0, 5 },           { "3600", 0, 3600 },     { "007", 0, 7 },
		{ "", EINVAL, 0 },       { " 5", EINVAL, 0 },     { "5 ", EINVAL, 0 },
		{ "+5", EINVAL, 0 },     { "-5", EINVAL, 0 },     { "0x10", EINVAL, 0 },
		{ "5s", EINVAL, 0 },     { "1e3", EINVAL, 0 },    { "\t5", EINVAL, 0 },
		{ "5\t", EINVAL, 0 },    { "0", ERANGE, 0 },      { "3601", ERANGE, 0 },
		{ "99999999999999999999", ERANGE, 0 }, { "18446744073709551616", ERANGE, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t n = 42;
		int r;
		errno = 0;
		r = parse_uint(cases[i].in, 1, 3600, &n);
		ok(cases[i].err ? r < 0 && errno == cases[i].err && n == 42 : r == 0 && n == cases[i].n,
		   "parse_uint(\"%s\", 1, 3600)", cases[i].in);
	}
	{
		uint64_t n = 0;
		ok(parse_uint("18446744073709551615", 0, UINT64_MAX, &n) == 0 && n == UINT64_MAX,
		   "parse_uint takes UINT64_MAX itself");
	}
}

/* parse_seconds_ms takes "S" and "S.F" only, in milliseconds. */
static void test_parse_seconds(void)
{
	static const struct {
		const char *in;
		int err;
		uint64_t ms;
	} cases[] = {
		{ "2", 0, 2000 },        { "0.5", 0, 500 },       { "1.25", 0, 1250 },
		{ "0.0019", 0, 1 },      { "86400", 0, 86400000 },
		{ "", EINVAL, 0 },       { " 2", EINVAL, 0 },     { "+2", EINVAL, 0 },
		{ "-2", EINVAL, 0 },     { "1e3", EINVAL, 0 },    { "0x10", EINVAL, 0 },
		{ ".5", EINVAL, 0 },     { "2.", EINVAL, 0 },     { "inf", EINVAL, 0 },
		{ "nan", EINVAL, 0 },    { "2 ", EINVAL, 0 },     { "0", ERANGE, 0 },
		{ "0.0001", ERANGE, 0 }, { "86400.001", ERANGE, 0 }, { "99999999999999999999", ERANGE, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ms = 42;
		int r;
		errno = 0;
		r = parse_seconds_ms(cases[i].in, 1, 86400000, &ms);
		ok(cases[i].err ? r < 0 && errno == cases[i].err && ms == 42 : r == 0 && ms == cases[i].ms,
		   "parse_seconds_ms(\"%s\")", cases[i].in);
	}
}

/* json_int_in takes JSON integers only: not "1", 1.0, true or a clamped huge number. */
static void test_json_int(void)
{
	static const struct {
		const char *json;
		bool accepted;
		int64_t n;
	} cases[] = {
		{ "1", true, 1 },        { "0", true, 0 },        { "100", true, 100 },
		{ "\"1\"", false, 0 },   { "1.0", false, 0 },     { "true", false, 0 },
		{ "null", false, 0 },    { "[1]", false, 0 },     { "{}", false, 0 },
		{ "-1", false, 0 },      { "101", false, 0 },     { "18446744073709551615", false, 0 },
		{ "9223372036854775807", false, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *v = json_tokener_parse(cases[i].json);
		int64_t n = 42;
		bool r = json_int_in(v, 0, 100, &n);
		ok(r == cases[i].accepted && n == (r ? cases[i].n : 42), "json_int_in(%s, 0, 100)", cases[i].json);
		json_object_put(v);
	}
	{
		struct json_object *big = json_tokener_parse("18446744073709551615"),
				   *max = json_tokener_parse("9223372036854775807");
		int64_t n = 0;
		ok(!json_int_in(big, 0, INT64_MAX, &n), "an integer beyond int64 is refused, not clamped");
		ok(json_int_in(max, 0, INT64_MAX, &n) && n == INT64_MAX, "INT64_MAX itself is taken");
		json_object_put(big);
		json_object_put(max);
	}
	{
		struct json_object *o = json_tokener_parse("{\"version\": 1, \"text\": \"1\"}");
		int64_t n = 0;
		ok(json_int_member(o, "version", 1, 1, &n) && n == 1, "json_int_member reads an integer member");
		ok(!json_int_member(o, "text", 1, 1, &n), "json_int_member refuses a string member");
		ok(!json_int_member(o, "absent", 1, 1, &n), "json_int_member refuses an absent member");
		json_object_put(o);
	}
}

/* json_number_in takes integers and doubles, finite and in range, nothing else. */
static void test_json_number(void)
{
	static const struct {
		const char *json;
		bool accepted;
		double d;
	} cases[] = {
		{ "1", true, 1 },          { "2.5", true, 2.5 },    { "0", true, 0 },
		{ "\"1\"", false, 0 },     { "true", false, 0 },    { "null", false, 0 },
		{ "-0.5", false, 0 },      { "1e400", false, 0 },   { "NaN", false, 0 },
		{ "1001", false, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *v = json_tokener_parse(cases[i].json);
		double d = 42;
		bool r = json_number_in(v, 0, 1000, &d);
		ok(r == cases[i].accepted && d == (r ? cases[i].d : 42), "json_number_in(%s, 0, 1000)", cases[i].json);
		json_object_put(v);
	}
}

/* text_matches takes exactly the template's shape. */
static void test_text_matches(void)
{
	static const struct {
		const char *s, *template;
		bool matches;
	} cases[] = {
		{ "52:54:00:12:34:56", "xx:xx:xx:xx:xx:xx", true },
		{ "52:54:00:AB:cd:ef", "xx:xx:xx:xx:xx:xx", true },
		{ " 2:54:00:12:34:56", "xx:xx:xx:xx:xx:xx", false },
		{ "+2:54:00:12:34:56", "xx:xx:xx:xx:xx:xx", false },
		{ "52:54:00:12:34:567", "xx:xx:xx:xx:xx:xx", false },
		{ "52:54:00:12:34:5", "xx:xx:xx:xx:xx:xx", false },
		{ "0000:01:00.0", "xxxx:xx:xx.d", true },
		{ "0000:01:00.a", "xxxx:xx:xx.d", false },
		{ "00:02.0", "xx:xx.d", true },
		{ "", "", true },
		{ "a", "", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(text_matches(cases[i].s, cases[i].template) == cases[i].matches, "text_matches(\"%s\", \"%s\") is %s",
		   cases[i].s, cases[i].template, cases[i].matches ? "true" : "false");
}

/* json_bool_member takes true and false, an absent member as false, and nothing else. */
static void test_json_bool(void)
{
	struct json_object *o = json_tokener_parse("{\"t\": true, \"f\": false, \"s\": \"false\", \"one\": 1, \"null\": null}");
	bool b = false;

	ok(json_bool_member(o, "t", &b) == 0 && b, "json_bool_member reads true");
	b = true;
	ok(json_bool_member(o, "f", &b) == 0 && !b, "json_bool_member reads false");
	b = true;
	ok(json_bool_member(o, "absent", &b) == 0 && !b, "an absent boolean member is false");
	ok(json_bool_member(o, "s", &b) < 0 && !b, "the string \"false\" is refused (json-c reads it as true)");
	ok(json_bool_member(o, "one", &b) < 0, "the number 1 is no boolean");
	ok(json_bool_member(o, "null", &b) < 0, "null is no boolean");
	json_object_put(o);
}

int main(void)
{
	test_parse_uint();
	test_parse_seconds();
	test_json_int();
	test_json_bool();
	test_json_number();
	test_text_matches();
	return tap_done();
}
