/* CPU lists as profiles write them, "0-3,8,10-11": numbers and inclusive ranges separated by
 * commas, kept in the order written ("2-3,0" is 2, 3, 0) because a vCPU pin list maps
 * vCPU i to the i-th CPU. Used for host CPUs (pinning) and guest vCPUs (NUMA nodes). */
#ifndef VMM_CPULIST_H
#define VMM_CPULIST_H

#include <stddef.h>

/* The highest CPU number a list may name. */
#define CPULIST_MAX_CPU 8191

struct cpulist {
	unsigned *cpus;
	size_t n;
};

/* Parses a non-empty CPU list into *out; -1 (and *out empty) when s is not one. */
int cpulist_parse(const char *s, struct cpulist *out);

/* The list as its numbers separated by commas ("4,12"), in a new string. */
char *cpulist_text(const struct cpulist *l);

/* Frees the CPUs; the list is empty again. */
void cpulist_free(struct cpulist *l);

#endif
