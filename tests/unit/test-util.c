/* Unit tests of the small helpers: size parsing, shell quoting, QEMU option escaping,
 * text made safe to show, string vectors. */
#include <string.h>

#include "vmm/launch/builder.h"
#include "tap.h"
#include "vmm/base/util.h"

/* parse_size accepts binary units and rejects what is not a size. */
static void test_parse_size(void)
{
	static const struct {
		const char *in;
		int ret;
		uint64_t bytes;
	} cases[] = {
		{ "512M", 0, 512ull << 20 }, { "8G", 0, 8ull << 30 },   { "1T", 0, 1ull << 40 },
		{ "4KiB", 0, 4096 },         { "2MB", 0, 2ull << 20 },  { "1048576", 0, 1048576 },
		{ "", -1, 0 },               { "G", -1, 0 },            { "12Q", -1, 0 },
		{ "-1G", -1, 0 },            { "1.5G", -1, 0 },         { "99999999999T", -1, 0 },
		{ "8G ", -1, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t b = 0;
		int r = parse_size(cases[i].in, &b);
		ok((r < 0) == (cases[i].ret < 0) && (r < 0 || b == cases[i].bytes), "parse_size(\"%s\")", cases[i].in);
	}
}

/* shell_quote leaves plain words alone and makes everything else one safe word. */
static void test_shell_quote(void)
{
	static const char *const cases[][2] = {
		{ "-m", "-m" },
		{ "guest=a,b=c", "guest=a,b=c" },
		{ "console=ttyS0 quiet", "'console=ttyS0 quiet'" },
		{ "it's", "'it'\\''s'" },
		{ "", "''" },
		{ "$HOME;rm", "'$HOME;rm'" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *q = shell_quote(cases[i][0]);
		ok(!strcmp(q, cases[i][1]), "shell_quote(\"%s\") = %s", cases[i][0], q);
		free(q);
	}
}

/* qemu_opt_escape doubles commas so a value cannot start a new option. */
static void test_opt_escape(void)
{
	char *e = qemu_opt_escape("/a,b=c,,d");
	ok(!strcmp(e, "/a,,b=c,,,,d"), "qemu_opt_escape doubles every comma: %s", e);
	free(e);
}

/* text_clean keeps text and valid UTF-8, drops terminal escapes and control characters. */
static void test_text_clean(void)
{
	static const char *const cases[][2] = {
		{ "plain line", "plain line" },
		{ "\x1b[6n/ # \x1b[1;32mok\x1b[0m\r", "/ # ok" },
		{ "tab\tstays, bell\a goes", "tab\tstays, bell goes" },
		{ "caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac" },
		{ "bad \xff \xc3 \xed\xa0\x80 \xc0\xaf", "bad ? ? ??? ??" },
		{ "\x1b", "" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *c = text_clean(cases[i][0], strlen(cases[i][0]));
		ok(!strcmp(c, cases[i][1]), "text_clean case %zu: \"%s\"", i, c);
		free(c);
	}
}

/* strv grows and stays NULL-terminated. */
static void test_strv(void)
{
	struct strv s = { 0 };

	for (int i = 0; i < 100; i++)
		strv_pushf(&s, "arg%d", i);
	ok(s.n == 100 && !strcmp(s.v[99], "arg99") && s.v[100] == NULL, "strv holds 100 strings, NULL-terminated");
	strv_free(&s);
	ok(s.v == NULL && s.n == 0, "strv_free resets the vector");
}

int main(void)
{
	test_parse_size();
	test_shell_quote();
	test_opt_escape();
	test_text_clean();
	test_strv();
	return tap_done();
}
