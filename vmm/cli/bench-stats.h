/* Statistics of vmm bench: the median of a metric over the repeats and its spread, and
 * whether a change between two benches exceeds the run-to-run spread. Pure. */
#ifndef VMM_BENCH_STATS_H
#define VMM_BENCH_STATS_H

#include <stdbool.h>
#include <stddef.h>

/* One metric of one variant over its repeats. */
struct bench_stat {
	double median, lo, hi; /* lo and hi: the smallest and largest repeat */
	size_t n;              /* repeats that gave a figure (0: none, the rest is 0) */
};

/* The statistic of the n values v (v is reordered). */
void bench_stat_of(double *v, size_t n, struct bench_stat *s);

/* The spread: half the range of the repeats, in percent of the median (0 for a median of 0). */
double bench_spread_pct(const struct bench_stat *s);

/* How b differs from a. */
struct bench_change {
	double pct;       /* (b - a) / a in percent (0 when a is 0) */
	double noise_pct; /* the spreads of a and b together, in percent */
	bool significant; /* the change exceeds the noise (and both have a figure) */
};

/* Compares the medians of a and b against their spreads. */
void bench_compare(const struct bench_stat *a, const struct bench_stat *b, struct bench_change *c);

#endif
