/* One error report for the user: a list of lines, each a complete sentence.
 * Library code fills it and returns -1; only main() prints it (crun's style). */
#ifndef VMM_ERROR_H
#define VMM_ERROR_H

#include <stdarg.h>
#include <stddef.h>

struct verr {
	int errnum;   /* errno of the first failure, 0 when none applies */
	int status;   /* the exit status the CLI reports it with, 0 for the usual 1 */
	size_t n;     /* number of lines */
	char **lines;
};

/* Adds one line (with ": strerror(errnum)" appended when errnum != 0); returns -1. */
int verr_set(struct verr *e, int errnum, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* verr_set for the arguments of a variadic function. */
int verr_vset(struct verr *e, int errnum, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/* Puts context before every line: "CONTEXT: line" (crun's error wrap). */
void verr_wrap(struct verr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Moves every line of src to the end of dst; src is empty afterwards. Returns -1. */
int verr_append(struct verr *dst, struct verr *src);

/* Frees the lines; the report is empty again. */
void verr_clear(struct verr *e);

#define _cleanup_verr_ __attribute__((cleanup(verr_clear)))

#endif
