#include "profiles/lint-int.h"

#include "profiles/topology.h"

/* Turns a pin problem into a finding: a CPU the host lacks stops the start, the rest are slow. */
static void problem_cb(enum pin_problem kind, const char *path, const char *why, const char *fix, void *arg)
{
	finding(arg, kind == PIN_MISSING ? "error" : "warning", path, fix, "%s", why);
}

void lint_pins(struct linter *l, const struct vm_config *c)
{
	struct host_topology t;

	topology_read(&t);
	if (c->pin_auto && !c->pin.n) {
		struct auto_pins p;
		_cleanup_verr_ struct verr why = { 0 };
		if (topology_auto_pin(&t, c, &p, &why) < 0)
			finding(l, "error", "cpu.pin", "give the VM fewer vCPUs, or pin it by hand", "%s", why.lines[0]);
		else
			auto_pins_free(&p);
	}
	topology_check_pins(&t, c, problem_cb, l);
	topology_free(&t);
}
