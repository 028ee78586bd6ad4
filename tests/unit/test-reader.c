/* The QMP stream reader alone: messages split at every byte boundary, several in one
 * read, brackets and escaped quotes inside strings, top-level scalars, the size limit,
 * recovery after bad messages (syntax, UTF-8, cut short by 0xff or a control character)
 * and the raw text of ids. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qmp/reader.h"
#include "tap.h"

/* A growing text of what a reader produced, one line per item. */
struct log {
	char *s;
	size_t len;
};

/* Appends one line to a log. */
static void log_add(struct log *l, const char *kind, const char *text, const char *id)
{
	size_t n = strlen(kind) + strlen(text) + (id ? strlen(id) + 4 : 0) + 3;

	l->s = realloc(l->s, l->len + n + 1);
	l->len += (size_t)snprintf(l->s + l->len, n + 1, "%s %s%s%s\n", kind, text, id ? " id=" : "", id ? id : "");
}

/* Takes every item the reader has into the log. */
static void drain(struct qmp_reader *r, struct log *l)
{
	static const char *const errors[] = { "syntax", "utf8", "size", "values", "cut", "stray" };
	struct qmp_item item;
	enum qmp_read k;

	while ((k = qmp_reader_next(r, &item)) != QMP_READ_NONE) {
		if (k == QMP_READ_ERROR)
			log_add(l, "error", errors[item.error], NULL);
		else {
			log_add(l, "msg", item.msg ? json_object_to_json_string_ext(item.msg, JSON_C_TO_STRING_PLAIN) : "null",
				item.id);
			json_object_put(item.msg);
		}
	}
}

/* A reader of a client's commands of at most max bytes, without a values limit. */
static struct qmp_reader *client_reader(size_t max)
{
	struct qmp_reader *r = qmp_reader_new(max);

	qmp_reader_for_clients(r, SIZE_MAX);
	return r;
}

/* What a fresh reader of a client with limit max makes of the input fed in pieces of at most chunk
 * bytes (0: all at once); the caller frees the text. */
static char *read_all(const char *in, size_t len, size_t max, size_t chunk)
{
	struct qmp_reader *r = client_reader(max);
	struct log l = { calloc(1, 1), 0 };

	for (size_t off = 0; off < len;) {
		size_t n = chunk && len - off > chunk ? chunk : len - off;
		qmp_reader_feed(r, in + off, n);
		drain(r, &l);
		off += n;
	}
	qmp_reader_free(r);
	return l.s;
}

#define OPEN8 "[[[[[[[["
#define CLOSE8 "]]]]]]]]"

/* Inputs read at once and one byte at a time, with the items each must give. */
static const struct {
	const char *what, *in;
	size_t max;
	const char *want;
} cases[] = {
	/* Framing. */
	{ "four messages in one read, back to back or apart", "{\"a\":1}{\"b\":2}\n{\"c\":3}\r\n \t{\"d\":4}", 4096,
	  "msg {\"a\":1}\nmsg {\"b\":2}\nmsg {\"c\":3}\nmsg {\"d\":4}\n" },
	{ "brackets inside strings are not counted", "{\"a\": \"{{[[\", \"b\": \"}]}]\"} {\"c\": 1}", 4096,
	  "msg {\"a\":\"{{[[\",\"b\":\"}]}]\"}\nmsg {\"c\":1}\n" },
	{ "escaped quotes and escaped backslashes inside strings", "{\"a\": \"x\\\"}\\\\\", \"b\": \"\\\\\\\"\"}{\"c\": 2}", 4096,
	  "msg {\"a\":\"x\\\"}\\\\\",\"b\":\"\\\\\\\"\"}\nmsg {\"c\":2}\n" },
	{ "\\u escapes are decoded by json-c", "{\"a\": \"\\u007d\\u0022\"}", 4096, "msg {\"a\":\"}\\\"\"}\n" },
	{ "null, true, numbers and bad literals between messages", "null true{\"a\":1}-1.5e3[] tru\n1x ", 4096,
	  "msg null\nmsg true\nmsg {\"a\":1}\nmsg -1.5e3\nmsg []\nerror syntax\nerror syntax\n" },
	{ "a stray closing bracket or comma is one error each", "}{\"a\":1}],{\"b\":2}", 4096,
	  "error syntax\nmsg {\"a\":1}\nerror syntax\nerror syntax\nmsg {\"b\":2}\n" },

	/* The size limit ({"pad": "..."} is 11 bytes around the padding). */
	{ "a message of exactly the limit is read", "{\"pad\": \"aaaaaaaaaaaaaaaaaaaaa\"}{\"b\":1}", 32,
	  "msg {\"pad\":\"aaaaaaaaaaaaaaaaaaaaa\"}\nmsg {\"b\":1}\n" },
	{ "one byte more: an error, then the next message", "{\"pad\": \"aaaaaaaaaaaaaaaaaaaaaa\"}{\"b\":1}", 32,
	  "error size\nmsg {\"b\":1}\n" },
	{ "the rest of a long message is skipped by its brackets, not by the first '}'",
	  "{\"pad\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}{]\"}{\"b\":1}", 32, "error size\nmsg {\"b\":1}\n" },
	{ "a 0xff byte ends the skipping without a second error",
	  "[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xff{\"b\":1}", 32, "error size\nmsg {\"b\":1}\n" },
	{ "a long bare number too", "123456789012345678901234567890123 7 ", 32, "error size\nmsg 7\n" },

	/* Recovery: one error per bad message, then the next. */
	{ "invalid JSON, single quotes, trailing comma, missing colon, crossed brackets",
	  "{\"a\": bad}\n{\"b\": 1}\n{'c': 1}\n{\"d\": 1,}\n{\"e\" 1}\n{\"f\": [1}]\n{\"g\": 2}", 4096,
	  "error syntax\nmsg {\"b\":1}\nerror syntax\nerror syntax\nerror syntax\nerror syntax\nmsg {\"g\":2}\n" },
	{ "numbers and literals json-c's strict mode would let through: NaN, Infinity, 1., ...",
	  "{\"a\": NaN}{\"a\": -Infinity}[1.][.5][01][1e][+1][0x1]{\"a\": True}{\"a\": nul}[-0, 1E+2, 0.5e-3]", 4096,
	  "error syntax\nerror syntax\nerror syntax\nerror syntax\nerror syntax\nerror syntax\nerror syntax\n"
	  "error syntax\nerror syntax\nerror syntax\nmsg [0,1E+2,0.5e-3]\n" },
	{ "nesting deeper than 64", OPEN8 OPEN8 OPEN8 OPEN8 OPEN8 OPEN8 OPEN8 OPEN8 "[" CLOSE8 CLOSE8 CLOSE8 CLOSE8 CLOSE8 CLOSE8
	  CLOSE8 CLOSE8 "]{\"h\":3}", 4096, "error syntax\nmsg {\"h\":3}\n" },
	{ "overlong, surrogate, beyond U+10FFFF, truncated and stray continuation bytes: invalid UTF-8",
	  "{\"a\": \"\xc0\x80\"}{\"a\": \"\xe0\x80\x80\"}{\"a\": \"\xed\xa0\x80\"}{\"a\": \"\xf4\x90\x80\x80\"}"
	  "{\"a\": \"\xe2\x82\"}{\"a\": \"\x80\"}{\"a\": \"\xf0\x9f\x98\x80\"}", 4096,
	  "error utf8\nerror utf8\nerror utf8\nerror utf8\nerror utf8\nerror utf8\nmsg {\"a\":\"\xf0\x9f\x98\x80\"}\n" },
	{ "0xff or 0xfe drops the message in progress; between messages a run of them is one error",
	  "{\"a\": [1, 2\xff\xff{\"b\": 1}\xff\xff \xff{\"c\": \"x\xfe{\"d\": 1}", 4096,
	  "error cut\nmsg {\"b\":1}\nerror stray\nerror stray\nerror cut\nmsg {\"d\":1}\n" },
	{ "a raw newline inside a string cuts it short: the next line is read", "{\"a\": \"unterminated\n{\"b\": 1}\n", 4096,
	  "error cut\nmsg {\"b\":1}\n" },
	{ "control characters: cut a message (even a tab in a string), one error a run between messages",
	  "{\"a\":\x01{\"b\": \"tab\t{\"c\": 1}\x01\x02 {\"d\": 1}", 4096,
	  "error cut\nerror cut\nmsg {\"c\":1}\nerror stray\nmsg {\"d\":1}\n" },
	{ "a member named twice, at any depth, escaped or not: an error (json-c keeps the last)",
	  "{\"a\": 1, \"a\": 2}{\"x\": [{\"b\": {}, \"\\u0062\": []}]}{\"a\": {\"a\": 1}, \"b\": [{\"a\": 1}, {\"a\": 2}]}", 4096,
	  "error syntax\nerror syntax\nmsg {\"a\":{\"a\":1},\"b\":[{\"a\":1},{\"a\":2}]}\n" },

	/* The id as sent. */
	{ "an id keeps its spelling", "{\"execute\": \"x\", \"id\": 1.50}", 4096,
	  "msg {\"execute\":\"x\",\"id\":1.50} id=1.50\n" },
	{ "an object id keeps its spacing", "{\"id\" :\t{\"b\": [1, \"}\"] } , \"x\": 1}", 4096,
	  "msg {\"id\":{\"b\":[1,\"}\"]},\"x\":1} id={\"b\": [1, \"}\"] }\n" },
	{ "an id json-c cannot hold is still as it came", "{\"id\": 18446744073709551616}", 4096,
	  "msg {\"id\":18446744073709551615} id=18446744073709551616\n" },
	{ "a string id keeps its escapes", "{\"id\": \"\\u00e9\\/\"}", 4096,
	  "msg {\"id\":\"\xc3\xa9\\/\"} id=\"\\u00e9\\/\"\n" },
	{ "two ids are a duplicate key", "{\"id\": 1, \"\\u0069d\": \"two\"}", 4096, "error syntax\n" },
	{ "an escaped member name counts", "{\"\\u0069d\": 7}", 4096, "msg {\"id\":7} id=7\n" },
	{ "only a top-level id counts", "{\"x\": {\"id\": 1}, \"ids\": 2, \"y\": [{\"id\": 3}]}", 4096,
	  "msg {\"x\":{\"id\":1},\"ids\":2,\"y\":[{\"id\":3}]}\n" },
	{ "an id of null is an id; an array has none", "{\"id\": null}[{\"id\": 1}]", 4096,
	  "msg {\"id\":null} id=null\nmsg [{\"id\":1}]\n" },
};

/* Each case, read at once and one byte at a time. */
static void test_cases(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *at_once = read_all(cases[i].in, strlen(cases[i].in), cases[i].max, 0);
		char *by_byte = read_all(cases[i].in, strlen(cases[i].in), cases[i].max, 1);
		bool same = !strcmp(at_once, cases[i].want) && !strcmp(by_byte, cases[i].want);

		if (!same)
			printf("#   got at once:\n%s#   got byte by byte:\n%s#   want:\n%s", at_once, by_byte, cases[i].want);
		ok(same, "%s", cases[i].what);
		free(at_once);
		free(by_byte);
	}
}

/* A stream with every kind of message, read at once, split in two at every byte, and
 * one byte at a time: the items are the same each time. */
static void test_split_everywhere(void)
{
	static const char in[] =
		"{\"execute\": \"qmp_capabilities\", \"id\": 1}\r\n"
		"{\"s\": \"}{][\", \"id\": \"x}\\\"{\"}"
		"[1, {\"a\": [2]}]  \"top\" 42\n"
		"{\"u\": \"\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\", \"id\": {\"k\": [1, \"]\"]}}\n"
		"{\"bad\": nope}\n"
		"{\"next\": true}\n";
	static const char want[] =
		"msg {\"execute\":\"qmp_capabilities\",\"id\":1} id=1\n"
		"msg {\"s\":\"}{][\",\"id\":\"x}\\\"{\"} id=\"x}\\\"{\"\n"
		"msg [1,{\"a\":[2]}]\n"
		"msg \"top\"\n"
		"msg 42\n"
		"msg {\"u\":\"\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e\",\"id\":{\"k\":[1,\"]\"]}} id={\"k\": [1, \"]\"]}\n"
		"error syntax\n"
		"msg {\"next\":true}\n";
	size_t len = sizeof(in) - 1;
	char *got;
	bool all = true;

	got = read_all(in, len, 4096, 0);
	ok(!strcmp(got, want), "a stream read at once gives each message, in order");
	free(got);
	for (size_t cut = 1; cut < len; cut++) {
		struct qmp_reader *r = client_reader(4096);
		struct log l = { calloc(1, 1), 0 };
		qmp_reader_feed(r, in, cut);
		drain(r, &l);
		qmp_reader_feed(r, in + cut, len - cut);
		drain(r, &l);
		if (strcmp(l.s, want)) {
			printf("#   split at %zu:\n%s", cut, l.s);
			all = false;
		}
		free(l.s);
		qmp_reader_free(r);
	}
	ok(all, "split in two at each of its %zu byte boundaries: the same items", len - 1);
	got = read_all(in, len, 4096, 1);
	ok(!strcmp(got, want), "fed one byte at a time: the same items");
	free(got);
}

/* A number outside brackets ends at the first byte that cannot continue it. */
static void test_bare_number(void)
{
	struct qmp_reader *r = qmp_reader_new(64);
	struct qmp_item item;

	qmp_reader_feed(r, "123", 3);
	ok(qmp_reader_next(r, &item) == QMP_READ_NONE, "a bare number waits for the byte after it");
	qmp_reader_feed(r, "4\n", 2);
	ok(qmp_reader_next(r, &item) == QMP_READ_MESSAGE && json_object_get_int(item.msg) == 1234,
	   "then comes out whole");
	json_object_put(item.msg);
	qmp_reader_free(r);
}

/* The size limit: an error as soon as a message crosses it, before the message ends. */
static void test_size_limit(void)
{
	struct qmp_reader *r = client_reader(32);
	struct qmp_item item;
	bool quiet = true;
	char *big;

	qmp_reader_feed(r, "{\"pad\": \"", 9);
	ok(qmp_reader_next(r, &item) == QMP_READ_NONE, "a message in progress waits");
	big = malloc(1000);
	memset(big, 'a', 1000);
	qmp_reader_feed(r, big, 1000);
	ok(qmp_reader_next(r, &item) == QMP_READ_ERROR && item.error == QMP_READ_ESIZE &&
	   !strcmp(item.desc, "a message longer than 32 bytes"),
	   "the error comes when the limit is crossed, before the message ends: %s", item.desc);
	for (int i = 0; i < 1000 && quiet; i++) {
		qmp_reader_feed(r, big, 1000);
		quiet = qmp_reader_next(r, &item) == QMP_READ_NONE;
	}
	ok(quiet, "nothing more while the long message goes on for another megabyte");
	qmp_reader_feed(r, "\"}{\"id\": \"after\"}", 17);
	ok(qmp_reader_next(r, &item) == QMP_READ_MESSAGE && !strcmp(item.id, "\"after\""), "then the next message");
	json_object_put(item.msg);
	qmp_reader_free(r);
	free(big);

	r = qmp_reader_new(1u << 20);
	qmp_reader_feed(r, "[", 1);
	big = malloc((1u << 20) + 1);
	memset(big, '1', (1u << 20) + 1);
	qmp_reader_feed(r, big, (1u << 20) + 1);
	ok(qmp_reader_next(r, &item) == QMP_READ_ERROR && !strcmp(item.desc, "a message longer than 1 MiB"),
	   "the limit in words: %s", item.desc);
	qmp_reader_free(r);
	free(big);
}

/* A NUL between messages (which a C string cannot hold) is an error, as in QEMU. */
static void test_nul(void)
{
	static const char in[] = "{\"a\": 1}\0\0\n\0{\"b\": 2}";
	char *got = read_all(in, sizeof(in) - 1, 4096, 0);

	ok(!strcmp(got, "msg {\"a\":1}\nerror stray\nerror stray\nmsg {\"b\":2}\n"), "NUL bytes: one error a run");
	free(got);
}

/* A reader of QEMU keeps json-c's way with a duplicate key (the last wins), and gives no raw id. */
static void test_reader_of_qemu(void)
{
	struct qmp_reader *r = qmp_reader_new(4096);
	struct qmp_item item;

	qmp_reader_feed(r, "{\"a\": 1, \"a\": 2, \"id\": 3}", 25);
	ok(qmp_reader_next(r, &item) == QMP_READ_MESSAGE && !item.id &&
	   json_object_get_int(json_object_object_get(item.msg, "a")) == 2, "a reader of QEMU: the last key wins, no raw id");
	json_object_put(item.msg);
	qmp_reader_free(r);
}

/* Feeds a string. */
static void feed_str(struct qmp_reader *r, const char *s)
{
	qmp_reader_feed(r, s, strlen(s));
}

/* The values limit: objects weigh more than numbers; the error comes before the end. */
static void test_values_limit(void)
{
	struct qmp_reader *r = qmp_reader_new(1u << 20);
	struct qmp_item item;

	qmp_reader_for_clients(r, 20);
	feed_str(r, "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18] [{},{},{}");
	ok(qmp_reader_next(r, &item) == QMP_READ_MESSAGE, "20 values pass (18 numbers in an array)");
	json_object_put(item.msg);
	ok(qmp_reader_next(r, &item) == QMP_READ_ERROR && item.error == QMP_READ_EVALUES &&
	   !strcmp(item.desc, "a message of more than 20 values"), "three objects do not, before the end: %s", item.desc);
	feed_str(r, ",{}] {\"id\": 1}");
	ok(qmp_reader_next(r, &item) == QMP_READ_MESSAGE && !strcmp(item.id, "1"), "the rest is skipped, the next is read");
	json_object_put(item.msg);
	qmp_reader_free(r);
}

/* Each item says where it ended in the stream; a message comes with its text. */
static void test_offsets(void)
{
	struct qmp_reader *r = qmp_reader_new(4096);
	struct qmp_item item;

	qmp_reader_feed(r, "  {\"a\": 1}\xff", 12);
	ok(qmp_reader_next(r, &item) == QMP_READ_MESSAGE && item.end == 10 && item.len == 8 &&
	   !memcmp(item.text, "{\"a\": 1}", 8), "a message: its end and its text as sent");
	json_object_put(item.msg);
	ok(qmp_reader_next(r, &item) == QMP_READ_ERROR && item.end == 11, "an error: where its bytes end");
	qmp_reader_feed(r, "7 ", 2);
	ok(qmp_reader_next(r, &item) == QMP_READ_MESSAGE && item.end == 13, "offsets count what was fed before");
	json_object_put(item.msg);
	qmp_reader_free(r);
}

int main(void)
{
	test_cases();
	test_split_everywhere();
	test_bare_number();
	test_size_limit();
	test_nul();
	test_values_limit();
	test_reader_of_qemu();
	test_offsets();
	return tap_done();
}
