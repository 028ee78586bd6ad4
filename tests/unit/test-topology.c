/* Unit tests of the host topology (profiles/topology.h) on the stand-in 8-core/16-thread host
 * of tests/lint/sys (CPU N and N+8 are one core's threads; node 0 has cores 0-3, node 1 cores
 * 4-7): what cpu.pin "auto" picks, and the problems of explicit pins. */
#include <stdlib.h>
#include <string.h>

#include "profiles/topology.h"
#include "tap.h"
#include "vmm/base/util.h"

/* Collects the kinds of the problems found, as letters (M, S, I, X). */
static void collect_cb(enum pin_problem kind, const char *path, const char *why, const char *fix, void *arg)
{
	char *kinds = arg;
	size_t n = strlen(kinds);

	(void)path;
	(void)why;
	(void)fix;
	kinds[n] = "MSIX"[kind];
	kinds[n + 1] = '\0';
}

/* The problem letters of pins on t. */
static void problems(const struct host_topology *t, const struct vm_config *c, char *kinds)
{
	kinds[0] = '\0';
	topology_check_pins(t, c, collect_cb, kinds);
}

int main(void)
{
	struct host_topology t;
	struct auto_pins p;
	struct verr err = { 0 };
	struct vm_config c = { .sockets = 1, .cores = 4, .threads = 2 };
	unsigned shared[] = { 4, 4 }, split[] = { 4, 5, 6, 7, 8, 9, 10, 11 }, good[] = { 5, 13, 6, 14 };
	unsigned io[] = { 13 };
	struct disk_config disk = { .id = "d", .iothread = true, .iothread_pin = { io, 1 } };
	char kinds[16];
	_cleanup_free_ char *root = xasprintf("%s/tests/lint/sys", getenv("SRCDIR"));
	char *s;

	setenv("VMM_SYSFS_ROOT", root, 1);
	unsetenv("VMM_HOST_CPUS");
	topology_read(&t);
	ok(t.n == 16 && topology_cpu(&t, 12)->core == 4 && topology_cpu(&t, 5)->node == 1, "16 CPUs, 12 a thread of core 4, 5 in node 1");

	ok(topology_auto_pin(&t, &c, &p, &err) == 0, "4 cores x 2 threads fit");
	s = cpulist_text(&p.vcpus);
	ok(!strcmp(s, "4,12,5,13,6,14,7,15"), "guest cores on node 1's host cores (node 0 has 3 besides the first), siblings on siblings: %s", s);
	free(s);
	s = cpulist_text(&p.others);
	ok(!strcmp(s, "1,2,3,9,10,11"), "emulator and iothreads on the rest, the host's first core (0,8) left: %s", s);
	free(s);
	auto_pins_free(&p);

	c.cores = 2;
	ok(topology_auto_pin(&t, &c, &p, &err) == 0, "2 cores x 2 threads fit");
	s = cpulist_text(&p.vcpus);
	ok(!strcmp(s, "1,9,2,10"), "in node 0 when it has room: %s", s);
	free(s);
	auto_pins_free(&p);

	c.cores = 8;
	ok(topology_auto_pin(&t, &c, &p, &err) < 0 && err.n == 1 && strstr(err.lines[0], "this host has 7"),
	   "8 cores do not fit beside the host's core: %s", err.n ? err.lines[0] : "");
	verr_clear(&err);

	c.cores = 4;
	c.pin = (struct cpulist){ split, 8 };
	problems(&t, &c, kinds);
	ok(!strcmp(kinds, "X"), "4-11 splits guest siblings over host cores: %s", kinds);
	c.cores = 1;
	c.pin = (struct cpulist){ shared, 2 };
	problems(&t, &c, kinds);
	ok(!strcmp(kinds, "S"), "two vCPUs on CPU 4: %s", kinds);
	c.cores = 2;
	c.pin = (struct cpulist){ good, 4 };
	c.disks = &disk;
	c.n_disks = 1;
	problems(&t, &c, kinds);
	ok(!strcmp(kinds, "I"), "an iothread on vCPU 1's CPU 13: %s", kinds);
	io[0] = 16;
	problems(&t, &c, kinds);
	ok(!strcmp(kinds, "M"), "CPU 16 is missing: %s", kinds);

	setenv("VMM_HOST_CPUS", "4", 1);
	topology_free(&t);
	topology_read(&t);
	ok(t.n == 4 && topology_cpu(&t, 3)->core == 3, "VMM_HOST_CPUS=4 other than sysfs: 4 single-thread cores");
	c = (struct vm_config){ .sockets = 1, .cores = 2, .threads = 1 };
	ok(topology_auto_pin(&t, &c, &p, &err) == 0, "2 vCPUs on 4 cores");
	s = cpulist_text(&p.vcpus);
	ok(!strcmp(s, "1,2"), "vCPUs on 1 and 2: %s", s);
	free(s);
	s = cpulist_text(&p.others);
	ok(!strcmp(s, "3"), "the others on 3: %s", s);
	free(s);
	auto_pins_free(&p);
	c.cores = 3;
	ok(topology_auto_pin(&t, &c, &p, &err) == 0, "3 vCPUs on 4 cores");
	s = cpulist_text(&p.others);
	ok(!strcmp(s, "0"), "the others share the host's core when nothing else is left: %s", s);
	free(s);
	auto_pins_free(&p);
	topology_free(&t);
	return tap_done();
}
