#include "vmm/launch/plan-pins.h"

#include "profiles/jsonread.h"
#include "profiles/topology.h"

/* Where the problems of one check go. */
struct pin_report {
	const char *file;
	struct json_object *origins;
	bool start;
	struct strv *warnings;
	struct verr *err;
};

/* The note a warning ends with: what happens at start, and how to describe another host. */
#define ELSEWHERE "; vmm start refuses this here (VMM_HOST_CPUS or VMM_SYSFS_ROOT describe another host)"

/* Keeps a CPU the host lacks: an error at start, else a warning. */
static void missing_cb(enum pin_problem kind, const char *path, const char *why, const char *fix, void *arg)
{
	struct pin_report *r = arg;
	const char *file = origin_of(r->origins, path, r->file);

	(void)fix;
	if (kind != PIN_MISSING)
		return;
	if (r->start)
		verr_set(r->err, 0, "%s: %s: %s", file, path, why);
	else
		strv_pushf(r->warnings, "%s: %s: %s" ELSEWHERE, file, path, why);
}

int plan_pins(struct vm_config *c, const char *file, struct json_object *origins, bool start,
	      struct strv *warnings, struct verr *err)
{
	struct host_topology t;
	struct pin_report r = { .file = file, .origins = origins, .start = start, .warnings = warnings, .err = err };
	size_t before = err->n;
	_cleanup_verr_ struct verr why = { 0 };

	topology_read(&t);
	if (c->pin_auto && topology_apply_auto_pin(&t, c, &why) < 0) {
		const char *who = origin_of(origins, "cpu.pin", file);
		if (start)
			verr_set(err, 0, "%s: cpu.pin: %s", who, why.lines[0]);
		else
			strv_pushf(warnings, "%s: cpu.pin: %s" ELSEWHERE, who, why.lines[0]);
	}
	topology_check_pins(&t, c, missing_cb, &r);
	topology_free(&t);
	return err->n > before ? -1 : 0;
}
