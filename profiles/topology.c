#include "profiles/topology.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passthrough/pci.h"
#include "vmm/base/host.h"
#include "vmm/base/util.h"

#define _cleanup_cpulist_ __attribute__((cleanup(cpulist_free)))

/* Reads the first line of a sysfs file below the root into buf (without its newline); -1 when unreadable. */
static int read_line(const char *root, const char *path, char *buf, size_t size)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", root, path);
	FILE *f = fopen(p, "re");
	bool ok = f && fgets(buf, (int)size, f);

	if (f)
		fclose(f);
	if (!ok)
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Orders host CPUs by number. */
static int by_cpu(const void *a, const void *b)
{
	const struct host_cpu *x = a, *y = b;

	return x->cpu < y->cpu ? -1 : x->cpu > y->cpu;
}

/* Reads each CPU's siblings and package from sysfs (those without a topology are offline). */
static void read_cpus(const char *root, struct host_topology *t)
{
	_cleanup_free_ char *dir = xasprintf("%s/devices/system/cpu", root);
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		unsigned cpu;
		char line[4096], rest;
		struct cpulist siblings;
		_cleanup_free_ char *sib = NULL, *pkg = NULL;

		if (sscanf(e->d_name, "cpu%u%c", &cpu, &rest) != 1)
			continue;
		sib = xasprintf("devices/system/cpu/cpu%u/topology/thread_siblings_list", cpu);
		pkg = xasprintf("devices/system/cpu/cpu%u/topology/physical_package_id", cpu);
		if (read_line(root, sib, line, sizeof(line)) < 0 || cpulist_parse(line, &siblings) < 0)
			continue;
		t->cpus = xrealloc(t->cpus, (t->n + 1) * sizeof(*t->cpus));
		t->cpus[t->n] = (struct host_cpu){ .cpu = cpu, .core = cpu, .node = -1 };
		for (size_t i = 0; i < siblings.n; i++)
			if (siblings.cpus[i] < t->cpus[t->n].core)
				t->cpus[t->n].core = siblings.cpus[i];
		if (read_line(root, pkg, line, sizeof(line)) == 0)
			t->cpus[t->n].package = (unsigned)strtoul(line, NULL, 10);
		cpulist_free(&siblings);
		t->n++;
	}
	if (d)
		closedir(d);
	qsort(t->cpus, t->n, sizeof(*t->cpus), by_cpu);
}

/* Reads which NUMA node each CPU is in (node N's cpulist). */
static void read_nodes(const char *root, struct host_topology *t)
{
	for (unsigned node = 0; node < 1024; node++) {
		_cleanup_free_ char *p = xasprintf("devices/system/node/node%u/cpulist", node);
		char line[4096];
		struct cpulist cpus;

		if (read_line(root, p, line, sizeof(line)) < 0)
			break;
		if (cpulist_parse(line, &cpus) < 0)
			continue;
		for (size_t i = 0; i < cpus.n; i++) {
			struct host_cpu *c = (struct host_cpu *)topology_cpu(t, cpus.cpus[i]);
			if (c)
				c->node = (int)node;
		}
		cpulist_free(&cpus);
	}
}

void topology_read(struct host_topology *t)
{
	const char *root = pci_sysfs_root();
	long count = host_cpu_count();

	*t = (struct host_topology){ 0 };
	read_cpus(root, t);
	if (t->n == 0 || (getenv("VMM_HOST_CPUS") && (long)t->n != count)) {
		free(t->cpus);
		t->n = count > 0 ? (size_t)count : 1;
		t->cpus = xzalloc(t->n * sizeof(*t->cpus));
		for (size_t i = 0; i < t->n; i++)
			t->cpus[i] = (struct host_cpu){ .cpu = (unsigned)i, .core = (unsigned)i };
		return;
	}
	read_nodes(root, t);
}

void topology_free(struct host_topology *t)
{
	free(t->cpus);
	*t = (struct host_topology){ 0 };
}

const struct host_cpu *topology_cpu(const struct host_topology *t, unsigned cpu)
{
	struct host_cpu key = { .cpu = cpu };

	return t->n ? bsearch(&key, t->cpus, t->n, sizeof(*t->cpus), by_cpu) : NULL;
}

/* Appends a CPU to a list. */
static void cpulist_add(struct cpulist *l, unsigned cpu)
{
	l->cpus = xrealloc(l->cpus, (l->n + 1) * sizeof(*l->cpus));
	l->cpus[l->n++] = cpu;
}

/* The threads of host core `core` (its CPUs in ascending order) into *out. */
static void core_threads(const struct host_topology *t, unsigned core, struct cpulist *out)
{
	*out = (struct cpulist){ 0 };
	for (size_t i = 0; i < t->n; i++)
		if (t->cpus[i].core == core)
			cpulist_add(out, t->cpus[i].cpu);
}

/* The host's cores (their first CPUs, ascending) besides its first, with at least `threads` threads. */
static void candidate_cores(const struct host_topology *t, unsigned threads, struct cpulist *out)
{
	*out = (struct cpulist){ 0 };
	for (size_t i = 0; i < t->n; i++) {
		struct cpulist th;
		if (t->cpus[i].core != t->cpus[i].cpu || t->cpus[i].core == t->cpus[0].core)
			continue;
		core_threads(t, t->cpus[i].core, &th);
		if (th.n >= threads)
			cpulist_add(out, t->cpus[i].core);
		cpulist_free(&th);
	}
}

/* Picks `want` cores of candidates into *out: all from one NUMA node when one has enough, else the first ones. */
static void pick_cores(const struct host_topology *t, const struct cpulist *candidates, size_t want,
		       struct cpulist *out)
{
	*out = (struct cpulist){ 0 };
	for (int node = 0; node < 1024; node++) {
		for (size_t i = 0; i < candidates->n && out->n < want; i++)
			if (topology_cpu(t, candidates->cpus[i])->node == node)
				cpulist_add(out, candidates->cpus[i]);
		if (out->n == want)
			return;
		cpulist_free(out);
	}
	for (size_t i = 0; i < candidates->n && out->n < want; i++)
		cpulist_add(out, candidates->cpus[i]);
}

int topology_auto_pin(const struct host_topology *t, const struct vm_config *c, struct auto_pins *out,
		      struct verr *err)
{
	unsigned guest_cores = config_vcpus(c) / c->threads;
	_cleanup_cpulist_ struct cpulist candidates = { 0 }, chosen = { 0 };

	*out = (struct auto_pins){ 0 };
	candidate_cores(t, c->threads, &candidates);
	if (candidates.n < guest_cores)
		return verr_set(err, 0, "\"auto\" needs %u host cores of %u thread%s (one per guest core) besides "
				"the host's first core, kept for the host; this host has %zu (%zu CPUs)",
				guest_cores, c->threads, c->threads == 1 ? "" : "s", candidates.n, t->n);
	pick_cores(t, &candidates, guest_cores, &chosen);
	for (size_t g = 0; g < chosen.n; g++) {
		_cleanup_cpulist_ struct cpulist th = { 0 };
		core_threads(t, chosen.cpus[g], &th);
		for (unsigned i = 0; i < c->threads; i++)
			cpulist_add(&out->vcpus, th.cpus[i]);
	}
	for (size_t i = 0; i < t->n; i++) {
		bool taken = t->cpus[i].core == t->cpus[0].core;
		for (size_t g = 0; g < chosen.n && !taken; g++)
			taken = t->cpus[i].core == chosen.cpus[g];
		if (!taken)
			cpulist_add(&out->others, t->cpus[i].cpu);
	}
	for (size_t i = 0; i < t->n && !out->others.n; i++)
		if (t->cpus[i].core == t->cpus[0].core)
			cpulist_add(&out->others, t->cpus[i].cpu);
	return 0;
}

void auto_pins_free(struct auto_pins *p)
{
	cpulist_free(&p->vcpus);
	cpulist_free(&p->others);
}

/* A copy of a CPU list. */
static struct cpulist cpulist_copy(const struct cpulist *l)
{
	struct cpulist out = { .cpus = xmalloc((l->n ? l->n : 1) * sizeof(*l->cpus)), .n = l->n };

	memcpy(out.cpus, l->cpus, l->n * sizeof(*l->cpus));
	return out;
}

int topology_apply_auto_pin(const struct host_topology *t, struct vm_config *c, struct verr *err)
{
	struct auto_pins p;

	if (topology_auto_pin(t, c, &p, err) < 0)
		return -1;
	cpulist_free(&c->pin);
	c->pin = p.vcpus;
	if (!c->emulator_pin.n)
		c->emulator_pin = cpulist_copy(&p.others);
	for (size_t i = 0; i < c->n_disks; i++)
		if (c->disks[i].iothread && !c->disks[i].iothread_pin.n)
			c->disks[i].iothread_pin = cpulist_copy(&p.others);
	cpulist_free(&p.others);
	return 0;
}

/* "0-15" for the host's CPUs when they are numbered without gaps, else how many there are. */
static char *describe_host(const struct host_topology *t)
{
	if (t->n && t->cpus[t->n - 1].cpu == t->n - 1)
		return xasprintf("%zu: 0-%zu", t->n, t->n - 1);
	return xasprintf("%zu", t->n);
}

/* Reports each CPU of l (at path) that the host lacks (the first of them). */
static void check_missing(const struct host_topology *t, const struct cpulist *l, const char *path,
			  pin_problem_fn fn, void *arg)
{
	for (size_t i = 0; i < l->n; i++)
		if (!topology_cpu(t, l->cpus[i])) {
			_cleanup_free_ char *host = describe_host(t);
			_cleanup_free_ char *why = xasprintf("CPU %u does not exist on this host (it has %s)", l->cpus[i], host);
			fn(PIN_MISSING, path, why, "pin to CPUs this host has, or \"pin\": \"auto\"", arg);
			return;
		}
}

/* Reports the first host CPU two vCPUs share. */
static void check_shared(const struct vm_config *c, pin_problem_fn fn, void *arg)
{
	for (size_t i = 0; i < c->pin.n; i++)
		for (size_t j = i + 1; j < c->pin.n; j++)
			if (c->pin.cpus[i] == c->pin.cpus[j]) {
				_cleanup_free_ char *why = xasprintf(
					"vCPUs %zu and %zu share host CPU %u: they take turns instead of running at once",
					i, j, c->pin.cpus[i]);
				fn(PIN_SHARED, "cpu.pin", why, "give each vCPU a host CPU of its own (or \"pin\": \"auto\")", arg);
				return;
			}
}

/* Reports the first iothread pinned to a CPU a vCPU is pinned to. */
static void check_iothreads(const struct vm_config *c, pin_problem_fn fn, void *arg)
{
	for (size_t d = 0; d < c->n_disks; d++)
		for (size_t i = 0; i < c->disks[d].iothread_pin.n; i++)
			for (size_t v = 0; v < c->pin.n; v++)
				if (c->disks[d].iothread_pin.cpus[i] == c->pin.cpus[v]) {
					_cleanup_free_ char *path = xasprintf("disks[%zu].iothread_pin", d);
					_cleanup_free_ char *why = xasprintf(
						"the iothread of disk '%s' shares host CPU %u with vCPU %zu: "
						"the disk's I/O waits while the vCPU runs", c->disks[d].id, c->pin.cpus[v], v);
					fn(PIN_IOTHREAD, path, why, "pin iothreads to CPUs no vCPU is pinned to", arg);
					return;
				}
}

/* Reports the first guest core whose threads run on different host cores. */
static void check_split(const struct host_topology *t, const struct vm_config *c, pin_problem_fn fn, void *arg)
{
	if (c->threads < 2 || c->pin.n != config_vcpus(c))
		return;
	for (size_t v = 0; v < c->pin.n; v += c->threads)
		for (unsigned i = 1; i < c->threads; i++) {
			const struct host_cpu *a = topology_cpu(t, c->pin.cpus[v]), *b = topology_cpu(t, c->pin.cpus[v + i]);
			_cleanup_cpulist_ struct cpulist sib = { 0 };
			_cleanup_free_ char *why = NULL, *fix = NULL, *threads = NULL;
			if (!a || !b || a->core == b->core)
				continue;
			core_threads(t, a->core, &sib);
			threads = cpulist_text(&sib);
			why = xasprintf("vCPUs %zu and %zu are threads of one core to the guest, but run on host CPUs %u and "
					"%u of different host cores: the guest schedules them as siblings that share a core",
					v, v + i, a->cpu, b->cpu);
			fix = xasprintf("pin each guest core's %u threads to the thread siblings of one host core (CPU "
					"%u's core is CPUs %s), or \"pin\": \"auto\"", c->threads, a->cpu, threads);
			fn(PIN_SPLIT, "cpu.pin", why, fix, arg);
			return;
		}
}

void topology_check_pins(const struct host_topology *t, const struct vm_config *c, pin_problem_fn fn, void *arg)
{
	check_missing(t, &c->pin, "cpu.pin", fn, arg);
	check_missing(t, &c->emulator_pin, "cpu.emulator_pin", fn, arg);
	for (size_t d = 0; d < c->n_disks; d++) {
		_cleanup_free_ char *path = xasprintf("disks[%zu].iothread_pin", d);
		check_missing(t, &c->disks[d].iothread_pin, path, fn, arg);
	}
	check_shared(c, fn, arg);
	check_iothreads(c, fn, arg);
	check_split(t, c, fn, arg);
}

bool config_pins(const struct vm_config *c)
{
	for (size_t i = 0; i < c->n_disks; i++)
		if (c->disks[i].iothread_pin.n)
			return true;
	return c->pin.n || c->emulator_pin.n;
}
