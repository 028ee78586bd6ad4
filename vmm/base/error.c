#include "vmm/base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/base/util.h"

/* Appends an already formatted line to the report. */
static void verr_push(struct verr *e, char *line)
{
	e->lines = xrealloc(e->lines, (e->n + 1) * sizeof(*e->lines));
	e->lines[e->n++] = line;
}

int verr_set(struct verr *e, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr_vset(e, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int verr_vset(struct verr *e, int errnum, const char *fmt, va_list ap)
{
	char *msg = xvasprintf(fmt, ap), *line;

	if (errnum) {
		line = xasprintf("%s: %s", msg, strerror(errnum));
		free(msg);
	} else
		line = msg;
	if (e->n == 0)
		e->errnum = errnum;
	verr_push(e, line);
	return -1;
}

void verr_wrap(struct verr *e, const char *fmt, ...)
{
	_cleanup_free_ char *context = NULL;
	va_list ap;

	va_start(ap, fmt);
	context = xvasprintf(fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < e->n; i++) {
		char *line = xasprintf("%s: %s", context, e->lines[i]);
		free(e->lines[i]);
		e->lines[i] = line;
	}
}

int verr_append(struct verr *dst, struct verr *src)
{
	if (dst->n == 0)
		dst->errnum = src->errnum;
	for (size_t i = 0; i < src->n; i++)
		verr_push(dst, src->lines[i]);
	free(src->lines);
	*src = (struct verr){ 0 };
	return -1;
}

void verr_clear(struct verr *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->lines[i]);
	free(e->lines);
	*e = (struct verr){ 0 };
}
