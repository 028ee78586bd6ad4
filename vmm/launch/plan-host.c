#include "vmm/launch/plan-host.h"

#include <stdarg.h>

#include "profiles/jsonread.h"
#include "profiles/lint.h"
#include "profiles/topology.h"
#include "vmm/base/host.h"

/* Where the problems go. */
struct host_report {
	const char *file;
	struct json_object *origins;
	bool start;
	struct strv *warnings;
	struct verr *err;
};

/* One problem at path: an error at start, else a warning saying start refuses it. */
static void __attribute__((format(printf, 3, 4))) report(struct host_report *r, const char *path, const char *fmt, ...)
{
	_cleanup_free_ char *why = NULL;
	const char *file = origin_of(r->origins, path, r->file);
	va_list ap;

	va_start(ap, fmt);
	why = xvasprintf(fmt, ap);
	va_end(ap);
	if (r->start)
		verr_set(r->err, 0, "%s: %s: %s", file, path, why);
	else
		strv_pushf(r->warnings, "%s: %s: %s; vmm start refuses this here (VMM_HOST_CPUS, VMM_SYSFS_ROOT and "
			   "VMM_PROC_ROOT describe another host)", file, path, why);
}

/* Keeps a CPU the host lacks (the other pin problems are lint's). */
static void missing_cb(enum pin_problem kind, const char *path, const char *why, const char *fix, void *arg)
{
	(void)fix;
	if (kind == PIN_MISSING)
		report(arg, path, "%s", why);
}

/* Pins: "auto" resolved, explicit CPUs on the host. */
static void check_pins(struct host_report *r, struct vm_config *c)
{
	struct host_topology t;
	_cleanup_verr_ struct verr why = { 0 };

	topology_read(&t);
	if (c->pin_auto && topology_apply_auto_pin(&t, c, &why) < 0)
		report(r, "cpu.pin", "%s", why.lines[0]);
	topology_check_pins(&t, c, missing_cb, r);
	topology_free(&t);
}

/* Memory: no more than the host's, unless overcommitted on purpose; huge pages free for all of
 * it (unless vmm reserves them at start: memory.hugepages.reserve). */
static void check_memory(struct host_report *r, const struct vm_config *c)
{
	uint64_t total = host_memory();
	struct host_facts h;

	if (total && c->memory > total && !c->overcommit)
		report(r, "memory.size", "%lluM is more than this host's memory (%lluM): set memory.overcommit: true "
		       "to start it anyway", (unsigned long long)(c->memory >> 20), (unsigned long long)(total >> 20));
	if (!c->hugepages || c->hugepages_reserve)
		return;
	host_facts_read(&h);
	if (h.free_hugepages[c->hugepages] * hugepage_sizes[c->hugepages].bytes < c->memory)
		report(r, "memory.hugepages", "the VM needs %llu free %s huge pages, the host has %llu (%s)",
		       (unsigned long long)(c->memory / hugepage_sizes[c->hugepages].bytes),
		       hugepage_sizes[c->hugepages].profile, (unsigned long long)h.free_hugepages[c->hugepages],
		       c->hugepages == HUGEPAGES_1G ? "reserve them at boot: hugepagesz=1G hugepages=N"
						    : "reserve them: echo N > /proc/sys/vm/nr_hugepages");
}

int plan_host_checks(struct vm_config *c, const char *file, struct json_object *origins, bool start,
		     struct strv *warnings, struct verr *err)
{
	struct host_report r = { .file = file, .origins = origins, .start = start, .warnings = warnings, .err = err };
	size_t before = err->n;

	check_pins(&r, c);
	check_memory(&r, c);
	return err->n > before ? -1 : 0;
}
