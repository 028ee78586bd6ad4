#include "qmp/reader.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A buffer this large is given back once it is empty (after a large message). */
#define READER_KEEP_BUFFER (64u << 10)
/* What an object and an array weigh against the values limit, a string, number or literal
 * weighing one: json-c gives each object a table of 16 slots (`[{},{},...]` of 1 MiB
 * takes 260 MB to parse, the same size of `[1,1,...]` 32 MB). */
#define READER_OBJECT_WEIGHT 8
#define READER_ARRAY_WEIGHT 2

/* How one byte moved the framing along. */
enum scan {
	SCAN_MORE,       /* consumed; the message (if any) goes on */
	SCAN_END,        /* consumed; it completes the message */
	SCAN_END_BEFORE, /* not consumed; the message (a bare number or literal) ended before it */
	SCAN_CUT,        /* consumed; it cannot occur here: the message is dropped */
	SCAN_STRAY       /* consumed; between messages, it cannot begin one */
};

struct qmp_reader {
	char *buf;    /* bytes fed and not consumed, with room for one more (a NUL) */
	size_t len;   /* bytes in buf */
	size_t cap;   /* size of buf */
	size_t pos;   /* next byte to scan */
	size_t start; /* the message in progress starts here */
	size_t max;   /* the longest message accepted */
	size_t max_values; /* the most values a message may hold (see qmp_reader_for_clients) */
	bool clients;      /* it reads a client (qmp_reader_for_clients) */
	size_t dropped;    /* bytes fed and consumed before buf[0]: the stream offset of buf */
	struct json_tokener *tok;
	/* The framing of the message in progress. */
	bool in_msg;     /* a message has started */
	bool in_str;     /* inside a string */
	bool esc;        /* after a backslash in a string */
	bool skip;       /* it is too long: its bytes are dropped until it ends */
	bool bad_utf8;   /* it is not valid UTF-8 */
	bool bad_syntax; /* a number or literal in it is not JSON */
	bool stray;      /* the last byte was one that cannot occur in JSON text, or cut a message */
	size_t depth;    /* brackets open */
	size_t values;   /* what its values weigh so far */
	size_t word;     /* where the number or literal being read starts, plus one; 0: none */
	unsigned utf8_need;            /* continuation bytes still due */
	unsigned char utf8_lo, utf8_hi; /* the range of the next continuation byte */
	char *id;      /* the last message's raw id, NUL-terminated */
	size_t id_cap;
	char desc[96];
};

struct qmp_reader *qmp_reader_new(size_t max_message)
{
	struct qmp_reader *r = calloc(1, sizeof(*r));

	if (!r)
		abort();
	r->max = max_message < QMP_READER_MAX_LIMIT ? max_message : QMP_READER_MAX_LIMIT;
	r->max_values = SIZE_MAX;
	r->tok = json_tokener_new_ex(QMP_READER_MAX_DEPTH);
	if (!r->tok)
		abort();
	json_tokener_set_flags(r->tok, JSON_TOKENER_STRICT);
	return r;
}

void qmp_reader_free(struct qmp_reader *r)
{
	if (!r)
		return;
	json_tokener_free(r->tok);
	free(r->buf);
	free(r->id);
	free(r);
}

/* Forgets the message in progress: the next byte is scanned as between messages. */
static void reset_message(struct qmp_reader *r)
{
	r->in_msg = r->in_str = r->esc = r->skip = r->bad_utf8 = r->bad_syntax = false;
	r->depth = r->word = r->values = 0;
	r->utf8_need = 0;
}

void qmp_reader_for_clients(struct qmp_reader *r, size_t max_values)
{
	r->clients = true;
	r->max_values = max_values;
}

void qmp_reader_feed(struct qmp_reader *r, const char *buf, size_t len)
{
	size_t keep = r->in_msg && !r->skip ? r->start : r->pos; /* what comes before is consumed */
	size_t need;

	if (keep)
		memmove(r->buf, r->buf + keep, r->len - keep);
	r->dropped += keep;
	r->len -= keep;
	r->pos -= keep;
	r->start = r->start > keep ? r->start - keep : 0;
	if (r->len == 0 && r->cap > READER_KEEP_BUFFER) {
		free(r->buf);
		r->buf = NULL;
		r->cap = 0;
	}
	need = r->len + len + 1;
	if (need > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		while (cap < need)
			cap *= 2;
		r->buf = realloc(r->buf, cap);
		if (!r->buf)
			abort();
		r->cap = cap;
	}
	if (len)
		memcpy(r->buf + r->len, buf, len);
	r->len += len;
}

/* Checks one byte of the message against UTF-8 (RFC 3629: no overlong forms, no surrogates). */
static void check_utf8(struct qmp_reader *r, unsigned char ch)
{
	if (r->utf8_need) {
		if (ch < r->utf8_lo || ch > r->utf8_hi) {
			r->bad_utf8 = true;
			r->utf8_need = 0;
			check_utf8(r, ch); /* the byte may begin something valid */
			return;
		}
		r->utf8_need--;
		r->utf8_lo = 0x80;
		r->utf8_hi = 0xbf;
		return;
	}
	if (ch < 0x80)
		return;
	r->utf8_lo = 0x80;
	r->utf8_hi = 0xbf;
	if (ch >= 0xc2 && ch <= 0xdf)
		r->utf8_need = 1;
	else if (ch >= 0xe0 && ch <= 0xef) {
		r->utf8_need = 2;
		if (ch == 0xe0)
			r->utf8_lo = 0xa0; /* overlong below */
		else if (ch == 0xed)
			r->utf8_hi = 0x9f; /* surrogates above */
	} else if (ch >= 0xf0 && ch <= 0xf4) {
		r->utf8_need = 3;
		if (ch == 0xf0)
			r->utf8_lo = 0x90; /* overlong below */
		else if (ch == 0xf4)
			r->utf8_hi = 0x8f; /* beyond U+10FFFF above */
	} else
		r->bad_utf8 = true;
}

/* True for the bytes JSON allows between tokens. */
static bool is_space(unsigned char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

/* True for the bytes of a number or a literal: all but whitespace, punctuation and the
 * bytes that cannot occur outside a string. */
static bool is_word(unsigned char ch)
{
	return ch > ' ' && ch < 0xfe && !strchr("{}[],:\"", ch);
}

/* True when s[0, len) is a JSON number or literal. json-c's strict mode lets NaN,
 * Infinity and "1." through, and re-sends them as they came: QEMU would answer those
 * with an error that has no id. */
static bool is_json_word(const char *s, size_t len)
{
	size_t i = 0, digits;

	if ((len == 4 && (!memcmp(s, "true", 4) || !memcmp(s, "null", 4))) || (len == 5 && !memcmp(s, "false", 5)))
		return true;
	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0')
		i++;
	else if (i < len && s[i] >= '1' && s[i] <= '9')
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return false;
	if (i < len && s[i] == '.') {
		for (digits = ++i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == digits)
			return false;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		if (++i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		for (digits = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == digits)
			return false;
	}
	return i == len;
}

/* Moves the framing along by the byte at r->pos: QEMU's json-lexer reduced to what
 * finding the end of a message needs, plus a check of each number and literal. */
static enum scan scan(struct qmp_reader *r, unsigned char ch)
{
	bool bad = ch >= 0xfe || (ch < ' ' && (r->in_str || !is_space(ch)));

	if (!r->in_msg) {
		if (bad)
			return SCAN_STRAY;
		if (is_space(ch))
			return SCAN_MORE; /* between messages */
		r->in_msg = true;
		r->start = r->pos;
	}
	if (r->in_str) {
		if (bad)
			return SCAN_CUT;
		check_utf8(r, ch);
		if (r->esc)
			r->esc = false;
		else if (ch == '\\')
			r->esc = true;
		else if (ch == '"') {
			r->in_str = false;
			if (r->depth == 0)
				return SCAN_END;
		}
		return SCAN_MORE;
	}
	if (r->word && !is_word(ch)) {
		if (!r->skip && !is_json_word(r->buf + r->start + r->word - 1, r->pos - r->start - r->word + 1))
			r->bad_syntax = true;
		r->word = 0;
		if (r->depth == 0)
			return SCAN_END_BEFORE; /* a number or literal on its own */
	}
	if (bad)
		return SCAN_CUT;
	check_utf8(r, ch);
	switch (ch) {
	case '"':
		r->in_str = true;
		r->values++;
		break;
	case '{':
		r->depth++;
		r->values += READER_OBJECT_WEIGHT;
		break;
	case '[':
		r->depth++;
		r->values += READER_ARRAY_WEIGHT;
		break;
	case '}':
	case ']':
		if (r->depth == 0 || --r->depth == 0)
			return SCAN_END;
		break;
	case ',':
	case ':':
		if (r->depth == 0)
			return SCAN_END; /* a stray one, for json-c to name */
		break;
	default:
		if (is_word(ch) && !r->word) {
			r->word = r->pos - r->start + 1;
			r->values++;
		}
	}
	return SCAN_MORE;
}

/* Fills an error item; why details a syntax error. */
static enum qmp_read fail(struct qmp_reader *r, struct qmp_item *item, enum qmp_read_error error, const char *why)
{
	static const char *const units[] = { "bytes", "KiB", "MiB" };
	size_t n = r->max;
	unsigned u = 0;

	switch (error) {
	case QMP_READ_ESYNTAX:
		snprintf(r->desc, sizeof(r->desc), "invalid JSON: %s", why);
		break;
	case QMP_READ_EUTF8:
		snprintf(r->desc, sizeof(r->desc), "invalid UTF-8");
		break;
	case QMP_READ_ESIZE:
		while (u < 2 && n >= 1024 && n % 1024 == 0) {
			n /= 1024;
			u++;
		}
		snprintf(r->desc, sizeof(r->desc), "a message longer than %zu %s", n, units[u]);
		break;
	case QMP_READ_EVALUES:
		snprintf(r->desc, sizeof(r->desc), "a message of more than %zu values", r->max_values);
		break;
	case QMP_READ_ECUT:
		snprintf(r->desc, sizeof(r->desc), "a message cut short by a control character or a 0xff byte");
		break;
	case QMP_READ_ESTRAY:
		snprintf(r->desc, sizeof(r->desc), "a stray control character or 0xff byte");
		break;
	}
	item->error = error;
	item->desc = r->desc;
	return QMP_READ_ERROR;
}

/* The end of the string at s[i] (its opening quote), in valid JSON text of length len. */
static size_t skip_string(const char *s, size_t len, size_t i)
{
	for (i++; i < len && s[i] != '"'; i++)
		if (s[i] == '\\')
			i++;
	return i + 1;
}

/* The end of the value at s[i], in valid JSON text of length len. */
static size_t skip_value(const char *s, size_t len, size_t i)
{
	size_t depth = 0;

	if (s[i] == '"')
		return skip_string(s, len, i);
	if (s[i] != '{' && s[i] != '[') { /* a number or a literal */
		while (i < len && !is_space((unsigned char)s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']')
			i++;
		return i;
	}
	do {
		if (s[i] == '"') {
			i = skip_string(s, len, i);
			continue;
		}
		if (s[i] == '{' || s[i] == '[')
			depth++;
		else if (s[i] == '}' || s[i] == ']')
			depth--;
		i++;
	} while (depth > 0 && i < len);
	return i;
}

/* The first byte at or after s[i] that is not whitespace. */
static size_t skip_space(const char *s, size_t len, size_t i)
{
	while (i < len && is_space((unsigned char)s[i]))
		i++;
	return i;
}

/* True when the member name s (a JSON string, quotes included) reads "id", escaped or not. */
static bool name_is_id(const char *s, size_t len)
{
	struct json_object *name;
	char *text;
	bool is;

	if (len == 4 && !memcmp(s, "\"id\"", 4))
		return true;
	if (!memchr(s, '\\', len))
		return false;
	text = strndup(s, len);
	if (!text)
		abort();
	name = json_tokener_parse(text);
	is = json_object_get_string_len(name) == 2 && !memcmp(json_object_get_string(name), "id", 2);
	json_object_put(name);
	free(text);
	return is;
}

/* Keeps the raw text of the top-level "id" member of s, a valid JSON object of length
 * len without duplicate keys. Returns NULL when there is none. */
static const char *raw_id(struct qmp_reader *r, const char *s, size_t len)
{
	size_t i, name, value, end = 0, found = 0;

	for (i = skip_space(s, len, 1); i < len && s[i] == '"'; i = skip_space(s, len, i + 1)) {
		name = i;
		i = skip_string(s, len, i);
		value = skip_space(s, len, skip_space(s, len, i) + 1); /* past the ':' */
		if (name_is_id(s + name, i - name)) {
			found = value;
			end = skip_value(s, len, value);
		}
		i = skip_space(s, len, skip_value(s, len, value));
		if (i >= len || s[i] != ',')
			break;
	}
	if (!end)
		return NULL;
	if (end - found + 1 > r->id_cap) {
		r->id_cap = end - found + 1;
		free(r->id);
		r->id = malloc(r->id_cap);
		if (!r->id)
			abort();
	}
	memcpy(r->id, s + found, end - found);
	r->id[end - found] = '\0';
	return r->id;
}

/* True when the object or array at s[*i] (in valid JSON text of length len), which json-c
 * parsed into v, or one inside it names a member twice: json-c keeps the last such
 * member, QEMU refuses the message. Text and value are walked together, *i moving past
 * the value: without a duplicate each object's members come in the same order in both, so
 * the first difference (a member more in the text, a value of another type) shows one. */
static bool duplicate_key(const char *s, size_t len, size_t *i, struct json_object *v)
{
	bool object = s[*i] == '{';
	struct lh_entry *e = NULL;
	size_t n = 0;

	if (!object && s[*i] != '[') {
		*i = skip_value(s, len, *i);
		return false;
	}
	if (!json_object_is_type(v, object ? json_type_object : json_type_array))
		return true;
	if (object)
		e = lh_table_head(json_object_get_object(v));
	for (*i = skip_space(s, len, *i + 1); *i < len && s[*i] != '}' && s[*i] != ']';) {
		struct json_object *child;
		if (object) {
			if (!e)
				return true;
			*i = skip_space(s, len, skip_space(s, len, skip_string(s, len, *i)) + 1); /* past the ':' */
			child = lh_entry_v(e);
			e = lh_entry_next(e);
		} else
			child = json_object_array_get_idx(v, n++);
		if (duplicate_key(s, len, i, child))
			return true;
		*i = skip_space(s, len, *i);
		if (*i < len && s[*i] == ',')
			*i = skip_space(s, len, *i + 1);
	}
	(*i)++;
	return false;
}

/* Parses the complete message buf[start, end) into an item. */
static enum qmp_read parse(struct qmp_reader *r, size_t start, size_t end, struct qmp_item *item)
{
	char after = r->buf[end];
	struct json_object *msg;
	bool ok;

	/* A NUL after it tells json-c that a bare number or literal is complete. */
	r->buf[end] = '\0';
	json_tokener_reset(r->tok);
	msg = json_tokener_parse_ex(r->tok, r->buf + start, (int)(end - start + 1));
	ok = json_tokener_get_error(r->tok) == json_tokener_success;
	r->buf[end] = after;
	if (!ok)
		return fail(r, item, QMP_READ_ESYNTAX, json_tokener_error_desc(json_tokener_get_error(r->tok)));
	if (r->clients && duplicate_key(r->buf + start, end - start, &(size_t){ 0 }, msg)) {
		json_object_put(msg);
		return fail(r, item, QMP_READ_ESYNTAX, "duplicate key");
	}
	item->msg = msg;
	item->text = r->buf + start;
	item->len = end - start;
	if (r->clients && json_object_is_type(msg, json_type_object) && json_object_object_get_ex(msg, "id", NULL))
		item->id = raw_id(r, r->buf + start, end - start);
	return QMP_READ_MESSAGE;
}

/* How many bytes from r->pos on are plain ASCII inside a string, which scan() would
 * only step over (most of a large message). */
static size_t plain_run(const struct qmp_reader *r)
{
	size_t i = r->pos;

	if (!r->in_str || r->esc || r->utf8_need)
		return 0;
	while (i < r->len && (unsigned char)r->buf[i] >= ' ' && (unsigned char)r->buf[i] < 0x80 && r->buf[i] != '"' &&
	       r->buf[i] != '\\')
		i++;
	return i - r->pos;
}

/* Takes the next item from what was fed (see qmp_reader_next). */
static enum qmp_read next_item(struct qmp_reader *r, struct qmp_item *item)
{
	while (r->pos < r->len) {
		size_t run = plain_run(r);
		enum scan s = run ? SCAN_MORE : scan(r, (unsigned char)r->buf[r->pos]);
		bool skipped = r->skip, bad_utf8 = r->bad_utf8 || r->utf8_need, bad_syntax = r->bad_syntax;
		bool stray = r->stray;

		if (s != SCAN_END_BEFORE)
			r->pos += run ? run : 1;
		r->stray = s == SCAN_STRAY || s == SCAN_CUT; /* a run of them is one error */
		if (s == SCAN_STRAY) {
			if (!stray)
				return fail(r, item, QMP_READ_ESTRAY, NULL);
			continue;
		}
		if (s == SCAN_CUT) {
			reset_message(r);
			if (!skipped)
				return fail(r, item, QMP_READ_ECUT, NULL);
			continue;
		}
		if (r->in_msg && !skipped && (r->pos - r->start > r->max || r->values > r->max_values)) {
			enum qmp_read_error e = r->pos - r->start > r->max ? QMP_READ_ESIZE : QMP_READ_EVALUES;
			if (s == SCAN_MORE)
				r->skip = true; /* until it ends */
			else
				reset_message(r);
			return fail(r, item, e, NULL);
		}
		if (s == SCAN_MORE)
			continue;
		reset_message(r);
		if (skipped)
			continue;
		if (bad_utf8)
			return fail(r, item, QMP_READ_EUTF8, NULL);
		if (bad_syntax)
			return fail(r, item, QMP_READ_ESYNTAX, "expected a number, true, false or null");
		return parse(r, r->start, r->pos, item);
	}
	return QMP_READ_NONE;
}

enum qmp_read qmp_reader_next(struct qmp_reader *r, struct qmp_item *item)
{
	enum qmp_read got;

	memset(item, 0, sizeof(*item));
	got = next_item(r, item);
	item->end = r->dropped + r->pos;
	return got;
}
