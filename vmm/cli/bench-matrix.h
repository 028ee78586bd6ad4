/* The variants of vmm bench: each --matrix KEY=V1,V2,... is an axis, and the variants are
 * their cartesian product, each a list of --set overrides (KEY=V) applied to the profile the
 * way --set is. The key "disk" picks the disk fio runs on instead (like --disk). Pure. */
#ifndef VMM_BENCH_MATRIX_H
#define VMM_BENCH_MATRIX_H

#include <stddef.h>

#include "vmm/base/error.h"
#include "vmm/base/util.h"

/* At most this many variants in one bench. */
#define BENCH_MAX_VARIANTS 64

/* The matrix key that picks the target disk rather than setting a profile key. */
#define BENCH_DISK_KEY "disk"

struct bench_axis {
	char *key;
	struct strv values;
};

struct bench_variant {
	char *label;      /* "disks[data].iothread=true disk=data", or "(profile)" with no matrix */
	struct strv sets; /* the --set overrides of this variant */
	char *disk;       /* the disk id fio runs on, NULL: as --disk says */
};

struct bench_matrix {
	struct bench_axis *axes;
	size_t n_axes;
	struct bench_variant *variants;
	size_t n_variants;
};

/* Parses the --matrix arguments (none: one variant, the profile as it is) and makes the
 * variants, the first axis varying slowest. Returns 0, or -1 with err naming the argument
 * (no '=', an empty value, a key given twice, more than BENCH_MAX_VARIANTS variants). */
int bench_matrix_make(const struct strv *specs, struct bench_matrix *m, struct verr *err);

void bench_matrix_free(struct bench_matrix *m);

#endif
