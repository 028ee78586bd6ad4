/* The QMP stream reader: bytes in, complete JSON messages out (as hiredis's read.c is
 * for RESP). Both ends of vmm's QMP use it: the client reading QEMU, and the proxy
 * reading its clients. It knows nothing of sockets or event loops: feed it bytes as
 * they arrive, then take items until it has none.
 *
 * A QMP stream is a sequence of JSON texts (objects, in practice) with whitespace
 * between them. The reader finds where each one ends by counting brackets outside
 * strings, as QEMU's json-streamer does, and only then parses it, alone, with json-c
 * in strict mode. As the framing does not depend on the message being valid, a bad
 * message costs only itself: it comes out as an error item and reading goes on with
 * the next one. Beyond that, as in QEMU's lexer:
 *   - a message must be valid UTF-8 (no overlong forms, no surrogates), and its
 *     numbers and literals JSON's own (json-c's strict mode lets NaN, Infinity and
 *     "1." through);
 *   - a byte that cannot occur in JSON text there (0xfe or 0xff anywhere, a control
 *     character in a string or, other than tab, CR and LF, outside one) cuts the
 *     message in progress short: it is dropped with an error item and reading starts
 *     afresh, so a client can always get the reader back to a known state (QMP's
 *     "send 0xff"). Between messages a run of such bytes is one error item;
 *   - a reader of a client (qmp_reader_for_clients) also refuses an object that names a
 *     member twice, and a message of too many values;
 *   - a message longer than the reader's limit yields an error item as soon as it
 *     crosses it, and its remaining bytes are skipped without being kept.
 * A reader of a client also gives the raw text of each message's top-level "id" member,
 * exactly as sent, so that a reply can carry it back unchanged.
 *
 * Like the rest of the library it never logs, prints or exits. */
#ifndef QMP_READER_H
#define QMP_READER_H

#include <stddef.h>

#include <json-c/json.h>

struct qmp_reader;

/* Nesting accepted in one message (json-c's tokener depth: parse a message's text again
 * with no less). */
#define QMP_READER_MAX_DEPTH 64

/* The largest message limit a reader accepts (json-c counts in int). */
#define QMP_READER_MAX_LIMIT (1u << 30)

/* What qmp_reader_next() found. */
enum qmp_read {
	QMP_READ_NONE,    /* no complete item yet: feed more bytes */
	QMP_READ_MESSAGE, /* one message */
	QMP_READ_ERROR    /* one bad message, skipped; reading goes on after it */
};

/* Why a message was bad. */
enum qmp_read_error {
	QMP_READ_ESYNTAX, /* not strict JSON, or nested too deep */
	QMP_READ_EUTF8,   /* not valid UTF-8 */
	QMP_READ_ESIZE,   /* longer than the reader's limit */
	QMP_READ_EVALUES, /* more values than the reader's limit (qmp_reader_for_clients) */
	QMP_READ_ECUT,    /* cut short by a byte that cannot occur there (see above) */
	QMP_READ_ESTRAY   /* such bytes between messages (one item for a run of them) */
};

/* One item, filled by qmp_reader_next(). */
struct qmp_item {
	struct json_object *msg;   /* MESSAGE: owned by the caller; NULL for the text null */
	const char *id;            /* MESSAGE, from a reader of a client: the top-level "id"
				    * member's text as sent, or NULL; owned by the reader, valid
				    * until its next call */
	const char *text;          /* MESSAGE: the whole message as sent (len bytes, not
				    * NUL-terminated); owned by the reader, valid until its next call */
	size_t len;
	size_t end;                /* where in the stream (bytes fed before) the item ended */
	enum qmp_read_error error; /* ERROR: what was wrong */
	const char *desc;          /* ERROR: the same, worded for a person ("invalid UTF-8") */
};

/* A reader for messages of at most max_message bytes (capped at QMP_READER_MAX_LIMIT). */
struct qmp_reader *qmp_reader_new(size_t max_message);

/* Frees the reader and whatever it holds. Safe with NULL. */
void qmp_reader_free(struct qmp_reader *r);

/* Makes the reader one of a client's commands (by default it reads QEMU, which needs none
 * of this): as QEMU's monitor would, an object that names a member twice makes its
 * message an error item (json-c would keep the last one); within bounds, so does a message
 * holding more than max_values values (an object weighs 8, an array 2, a string, number or
 * literal 1: parsed, a message can take 250 times its size), as soon as it crosses the
 * limit; and each message comes with its raw id. */
void qmp_reader_for_clients(struct qmp_reader *r, size_t max_values);

/* Appends bytes read from the stream (copied). */
void qmp_reader_feed(struct qmp_reader *r, const char *buf, size_t len);

/* Takes the next item from what was fed; QMP_READ_NONE when it needs more bytes. */
enum qmp_read qmp_reader_next(struct qmp_reader *r, struct qmp_item *item);

#endif
