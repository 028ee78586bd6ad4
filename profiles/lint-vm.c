#include "profiles/lint-int.h"

#include "vmm/base/util.h"

/* A VM with at least this many vCPUs over two or more sockets is big enough for NUMA to matter. */
#define NUMA_VCPUS 8

/* A benchmark's disks: a host cache in the I/O path measures the host's page cache. */
static void lint_benchmark(struct linter *l, const struct vm_config *c)
{
	if (c->purpose != PURPOSE_BENCHMARK)
		return;
	for (size_t i = 0; i < c->n_disks; i++) {
		_cleanup_free_ char *path = xasprintf("disks[%zu].cache", i);
		if (c->disks[i].cache == CACHE_WRITEBACK || c->disks[i].cache == CACHE_UNSAFE)
			finding(l, "warning", path, "use \"cache\": \"none\" (O_DIRECT) for the disk's own figures",
				"disk '%s' of a benchmark goes through the host's page cache (cache %s): its results "
				"measure the host's RAM, and change with what else the host caches",
				c->disks[i].id, cache_names[c->disks[i].cache]);
	}
}

/* A VM nobody can reach: no serial console, guest agent, display, network or passthrough. */
static void lint_reachable(struct linter *l, const struct vm_config *c)
{
	if (c->serial_console || c->agent || c->display != DISPLAY_NONE || c->n_nics || c->n_passthrough)
		return;
	finding(l, "warning", "console", "keep \"console\": \"serial\" (the default), or add a NIC, a display or the agent",
		"the VM has no serial console, guest agent, display or network: nothing can reach the guest");
}

/* A big VM over several sockets with no NUMA nodes: the guest sees uniform memory. */
static void lint_numa(struct linter *l, const struct vm_config *c)
{
	if (c->sockets < 2 || c->n_numa || config_vcpus(c) < NUMA_VCPUS)
		return;
	finding(l, "info", "memory.numa", "give each socket a node in memory.numa (bound to a host node with host_node)",
		"%u sockets and %u vCPUs without memory.numa: the guest takes all memory as equally near every "
		"socket and cannot place its threads and memory together", c->sockets, config_vcpus(c));
}

void lint_vm(struct linter *l, const struct vm_config *c)
{
	lint_benchmark(l, c);
	lint_reachable(l, c);
	lint_numa(l, c);
}
