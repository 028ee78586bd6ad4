/* Strict readers of numbers from untrusted input: decimal text (a command-line argument, a
 * value in a file) and JSON integers (a control request, a state file, a QMP reply). Each
 * takes the whole value or nothing: no sign, no blanks, no other base, no fraction, no
 * conversion from another JSON type, no silent clamping of what is too large. */
#ifndef VMM_STRICT_H
#define VMM_STRICT_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

/* Parses s, only decimal digits, as a number from min to max into *out (left alone on error).
 * Returns 0, or -1 with errno EINVAL (not digits) or ERANGE (out of range). */
int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Parses s, decimal digits with an optional fraction ("2", "0.5", never "1e3", " 2" or "0x2"),
 * as a number of seconds into milliseconds (fraction beyond 1 ms dropped), which must be
 * from min_ms to max_ms. Returns 0, or -1 with errno EINVAL or ERANGE. */
int parse_seconds_ms(const char *s, uint64_t min_ms, uint64_t max_ms, uint64_t *ms);

/* True when s has exactly the shape of template: each 'x' a hex digit, each 'd' a decimal digit,
 * anything else itself ("xx:xx.d" for "00:02.0"). What sscanf's %x and %u would also take
 * (blanks, a sign, "0x") is not. */
bool text_matches(const char *s, const char *template);

/* True when v is a JSON integer (not a string, boolean or double) from min to max; then *out
 * holds it. */
bool json_int_in(struct json_object *v, int64_t min, int64_t max, int64_t *out);

/* True when obj has member key and it is a JSON integer from min to max (see json_int_in). */
bool json_int_member(struct json_object *obj, const char *key, int64_t min, int64_t max, int64_t *out);

/* True when v is a JSON number (an integer or a double), finite, from min to max; then *out
 * holds it. */
bool json_number_in(struct json_object *v, double min, double max, double *out);

/* Reads obj's optional boolean member key into *out: false when absent. Returns 0, or -1 when the
 * member is there but not true or false (the string "false" is no boolean; *out is then false). */
int json_bool_member(struct json_object *obj, const char *key, bool *out);

#endif
