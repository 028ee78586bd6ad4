/* Running one of the host's tools that vmm leaves a job to (qemu-img, xorriso): found on
 * $PATH, run with an argv list (never a shell), its output read, its failure reported with
 * the last line of its own message. */
#ifndef VMM_TOOL_H
#define VMM_TOOL_H

#include <stddef.h>

#include "vmm/base/error.h"

/* The most a tool may print on stdout. */
#define TOOL_OUTPUT_MAX (4 << 20)

/* Runs program (a name on $PATH or a path) with args (after the program name, NULL-terminated),
 * stdin on /dev/null; its stdout, when out is not NULL, into *out (malloc'd, NUL-terminated,
 * *out_len bytes). A failure (not found, a non-zero exit, over TOOL_OUTPUT_MAX of output) is
 * one line "WHAT: the last line of its message". Returns 0, or -1 with err. */
int tool_run(const char *program, const char *const args[], char **out, size_t *out_len, const char *what,
	     struct verr *err);

#endif
