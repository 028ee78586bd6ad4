/* Unit tests of the small helpers: size parsing, shell quoting, QEMU option escaping,
 * text made safe to show, string vectors, SHA-256 and HMAC-SHA256, atomic text files. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/launch/builder.h"
#include "tap.h"
#include "vmm/base/sha256.h"
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

/* The digest as lowercase hex. */
static const char *hex(const uint8_t d[SHA256_SIZE])
{
	static char out[2 * SHA256_SIZE + 1];

	for (int i = 0; i < SHA256_SIZE; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
	return out;
}

/* SHA-256 and HMAC-SHA256 give the published test vectors (FIPS 180-4 examples, RFC 4231). */
static void test_sha256(void)
{
	uint8_t d[SHA256_SIZE], key[131];
	char million[1000];

	sha256("abc", 3, d);
	ok(!strcmp(hex(d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "sha256(\"abc\")");
	sha256("", 0, d);
	ok(!strcmp(hex(d), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "sha256(\"\")");
	sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d);
	ok(!strcmp(hex(d), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "sha256 of two blocks");
	memset(million, 'a', sizeof(million));
	sha256(million, sizeof(million), d);
	ok(!strcmp(hex(d), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"), "sha256 of 1000 'a'");
	hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d);
	ok(!strcmp(hex(d), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"), "hmac_sha256 (RFC 4231 case 2)");
	memset(key, 0xaa, sizeof(key));
	hmac_sha256(key, sizeof(key), "Test Using Larger Than Block-Size Key - Hash Key First", 54, d);
	ok(!strcmp(hex(d), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
	   "hmac_sha256 with a key longer than a block (RFC 4231 case 6)");
}

/* write_text_file: the whole text and a newline, replacing the file; nothing left on failure. */
static void test_write_text_file(void)
{
	char dir[] = "/tmp/vmm-test-util.XXXXXX", buf[64] = "";
	_cleanup_free_ char *file = NULL, *missing = NULL;
	FILE *f;
	int n = 0;

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	file = xasprintf("%s/a.json", dir);
	missing = xasprintf("%s/no/such/dir.json", dir);
	ok(write_text_file(file, "first") == 0 && write_text_file(file, "{}") == 0, "write_text_file twice");
	if ((f = fopen(file, "r"))) {
		n = (int)fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	ok(n == 3 && !strcmp(buf, "{}\n"), "the file holds the last text and a newline: '%s'", buf);
	ok(write_text_file(missing, "x") < 0 && errno == ENOENT, "a missing directory: -1 with ENOENT");
	unlink(file);
	ok(rmdir(dir) == 0, "nothing else was left in the directory");
}

int main(void)
{
	test_parse_size();
	test_shell_quote();
	test_opt_escape();
	test_text_clean();
	test_strv();
	test_sha256();
	test_write_text_file();
	return tap_done();
}
