/* Unit tests of the CPU sets cpu.isolate writes to the kernel: lists and hex masks. */
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "vmm/base/isolate.h"
#include "vmm/base/util.h"

/* Kernel CPU lists parse and print back in the kernel's form. */
static void test_lists(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "0", "0" },   { "0-3", "0-3" },   { "3,1,2", "1-3" },
		{ "0-1,4,6-7\n", "0-1,4,6-7" }, { "", "" }, { "8191", "8191" },
	};
	static const char *const bad[] = { "a", "1-", "3-1", "1,,2", "8192", "0 1", "-1" };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cpubits s;
		_cleanup_free_ char *list = NULL;

		ok(cpubits_parse(cases[i].in, &s) == 0 && strcmp(list = cpubits_list(&s), cases[i].out) == 0,
		   "cpubits case %zu is \"%s\" (%s)", i, cases[i].out, list ? list : "refused");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cpubits s;

		ok(cpubits_parse(bad[i], &s) < 0, "cpubits_parse refuses \"%s\"", bad[i]);
	}
}

/* Masks come in 32-bit groups, the highest first, as /proc/irq/default_smp_affinity reads. */
static void test_masks(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "", "0" }, { "0", "1" }, { "1", "2" }, { "0-3", "f" }, { "4-7", "f0" }, { "32", "1,00000000" },
		{ "0,33", "2,00000001" }, { "64", "1,00000000,00000000" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cpubits s;
		_cleanup_free_ char *mask = NULL;

		ok(cpubits_parse(cases[i].in, &s) == 0 && strcmp(mask = cpubits_mask(&s), cases[i].out) == 0,
		   "mask of \"%s\" is \"%s\" (%s)", cases[i].in, cases[i].out, mask ? mask : "refused");
	}
}

int main(void)
{
	test_lists();
	test_masks();
	return tap_done();
}
