/* Times resolving a profile (includes, merge, validation, firmware lookup) and building
 * its QEMU argv, in process, for bench/profile.sh:  profile-bench PROFILE N
 * Prints "PROFILE N TOTAL_US". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vmm/launch/builder.h"
#include "vmm/launch/plan.h"

/* Microseconds on the monotonic clock. */
static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	struct plan_options po = { 0 };
	long long t0;
	int n;

	if (argc != 3) {
		fprintf(stderr, "usage: profile-bench PROFILE N\n");
		return 1;
	}
	n = atoi(argv[2]);
	t0 = now_us();
	for (int i = 0; i < n; i++) {
		struct verr err = { 0 };
		struct plan plan;

		if (plan_load(argv[1], &po, &plan, &err) < 0) {
			fprintf(stderr, "%s\n", err.n ? err.lines[0] : "failed");
			return 1;
		}
		plan_free(&plan);
		verr_clear(&err);
	}
	printf("%s %d %lld\n", argv[1], n, now_us() - t0);
	return 0;
}
