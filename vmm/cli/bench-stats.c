/* Statistics of vmm bench (bench-stats.h). */
#include "vmm/cli/bench-stats.h"

#include <math.h>
#include <stdlib.h>

/* qsort's order of doubles. */
static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void bench_stat_of(double *v, size_t n, struct bench_stat *s)
{
	*s = (struct bench_stat){ .n = n };
	if (!n)
		return;
	qsort(v, n, sizeof(*v), by_value);
	s->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	s->lo = v[0];
	s->hi = v[n - 1];
}

double bench_spread_pct(const struct bench_stat *s)
{
	return s->median > 0 ? (s->hi - s->lo) / 2 / s->median * 100 : 0;
}

void bench_compare(const struct bench_stat *a, const struct bench_stat *b, struct bench_change *c)
{
	*c = (struct bench_change){ .noise_pct = bench_spread_pct(a) + bench_spread_pct(b) };
	if (!a->n || !b->n || a->median <= 0)
		return;
	c->pct = (b->median - a->median) / a->median * 100;
	c->significant = fabs(c->pct) > c->noise_pct;
}
