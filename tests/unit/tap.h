/* A minimal TAP producer for the C unit tests (meson reads it with protocol: 'tap'). */
#ifndef VMM_TAP_H
#define VMM_TAP_H

#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;

/* Records one check; prints "ok N - what" or "not ok N - what". */
#define ok(cond, ...)                                                                                   \
	do {                                                                                            \
		int _c = !!(cond);                                                                      \
		printf("%sok %d - ", _c ? "" : "not ", ++tap_n);                                        \
		printf(__VA_ARGS__);                                                                    \
		printf("\n");                                                                           \
		if (!_c) {                                                                              \
			tap_failed++;                                                                   \
			printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);                    \
		}                                                                                       \
	} while (0)

/* Prints the plan and returns the exit status. */
static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
