#include "profiles/cpulist.h"

#include <ctype.h>
#include <stdlib.h>

#include "vmm/base/util.h"

/* Parses "0-3,8" into CPUs in the order written. */
int cpulist_parse(const char *s, struct cpulist *out)
{
	const char *p = s;

	*out = (struct cpulist){ 0 };
	while (*p) {
		char *end;
		unsigned long a, b;

		if (!isdigit((unsigned char)*p))
			goto bad;
		a = strtoul(p, &end, 10);
		b = a;
		if (*end == '-') {
			if (!isdigit((unsigned char)end[1]))
				goto bad;
			b = strtoul(end + 1, &end, 10);
		}
		if (b < a || b > CPULIST_MAX_CPU || out->n + (b - a + 1) > CPULIST_MAX_CPU + 1)
			goto bad;
		out->cpus = xrealloc(out->cpus, (out->n + (b - a + 1)) * sizeof(*out->cpus));
		for (unsigned long i = a; i <= b; i++)
			out->cpus[out->n++] = (unsigned)i;
		if (*end == ',' && end[1])
			end++;
		else if (*end)
			goto bad;
		p = end;
	}
	if (out->n)
		return 0;
bad:
	cpulist_free(out);
	return -1;
}

char *cpulist_text(const struct cpulist *l)
{
	char *s = xstrdup("");

	for (size_t i = 0; i < l->n; i++) {
		char *longer = xasprintf("%s%s%u", s, i ? "," : "", l->cpus[i]);
		free(s);
		s = longer;
	}
	return s;
}

/* Frees a list's CPUs. */
void cpulist_free(struct cpulist *l)
{
	free(l->cpus);
	*l = (struct cpulist){ 0 };
}
