/* Duplicate keys in the text of a JSON document (with // and block comments, as profiles
 * are written): json-c keeps the last of them silently, so a profile that sets a key twice
 * would lose the first value without a word. */
#ifndef VMM_JSON_DUPS_H
#define VMM_JSON_DUPS_H

#include <stdbool.h>
#include <stddef.h>

/* Where a key is set again. */
struct json_dup {
	char *key;          /* as written, without its quotes; malloc'd */
	int line, col;      /* of the second */
	int first_line;     /* of the first */
};

/* Finds the first key set twice in one object of text (len bytes of valid JSON with comments):
 * true with *dup filled (free dup->key), false when there is none. */
bool json_find_duplicate(const char *text, size_t len, struct json_dup *dup);

#endif
