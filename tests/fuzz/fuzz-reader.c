/* libFuzzer target: arbitrary bytes through the QMP stream reader alone. The first byte
 * chooses the message limit, whether the reader reads a client and with which values limit,
 * and a chunk size; the rest is read twice, at once
 * and in chunks, and both readings must give the same items. Each id must be the JSON
 * text of the message's "id" member, each message's text must read as the message, and
 * the items' ends must move forward within what was fed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp/reader.h"

/* Everything a reader gives, as one text (caller frees); checks each id on the way. */
static char *read_items(const uint8_t *data, size_t size, size_t max, size_t values, size_t chunk)
{
	struct qmp_reader *r = qmp_reader_new(max);
	struct qmp_item item;
	enum qmp_read got;
	char *text = NULL;
	size_t len = 0, end = 0;
	FILE *out = open_memstream(&text, &len);

	if (values)
		qmp_reader_for_clients(r, values);
	for (size_t off = 0; off < size; off += chunk) {
		qmp_reader_feed(r, (const char *)data + off, size - off < chunk ? size - off : chunk);
		while ((got = qmp_reader_next(r, &item)) != QMP_READ_NONE) {
			struct json_object *id = NULL, *parsed;
			char *copy;
			if (item.end <= end || item.end > off + chunk)
				abort(); /* each item ends after the last, within what was fed */
			end = item.end;
			if (got == QMP_READ_ERROR) {
				fprintf(out, "error %d %s\n", item.error, item.desc);
				continue;
			}
			fprintf(out, "msg %s\n", json_object_to_json_string(item.msg));
			copy = strndup(item.text, item.len);
			parsed = json_tokener_parse(copy);
			if (strcmp(json_object_to_json_string(parsed), json_object_to_json_string(item.msg)))
				abort(); /* the text reads as the message */
			json_object_put(parsed);
			free(copy);
			if (!item.id != !(values && json_object_object_get_ex(item.msg, "id", &id)))
				abort(); /* an id exactly when a client's message is an object with one */
			if (item.id) {
				parsed = json_tokener_parse(item.id);
				if (strcmp(json_object_to_json_string(parsed), json_object_to_json_string(id)))
					abort(); /* the raw id reads as the message's id */
				json_object_put(parsed);
			}
			json_object_put(item.msg);
		}
	}
	qmp_reader_free(r);
	fclose(out);
	return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input: the same items whether read at once or in chunks. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t max, values, chunk;
	char *whole, *chunked;

	if (size < 1)
		return 0;
	max = data[0] & 0x80 ? 4096 : (size_t)(data[0] & 0x7f) + 1;
	values = data[0] & 0x40 ? 24 : data[0] & 0x20 ? SIZE_MAX : 0; /* 0: a reader of QEMU */
	chunk = (size_t)(data[0] % 13) + 1;
	whole = read_items(data + 1, size - 1, max, values, size);
	chunked = read_items(data + 1, size - 1, max, values, chunk);
	if (strcmp(whole, chunked))
		abort();
	free(whole);
	free(chunked);
	return 0;
}
