/* Passthrough around a VM's life: before QEMU starts, the devices (with with_group, the
 * plan has added the rest of their IOMMU groups) are checked and bound to vfio-pci under the VM's name in
 * the journal; when the VM has ended for good, its devices (also those bound by hand
 * before) go back to the drivers the journal recorded. A supervisor that died leaves the
 * journal; the one that reattaches restores at the end instead. */
#include "vmm/supervisor/sup.h"

#include <string.h>

#include "passthrough/vfio.h"
#include "vmm/base/util.h"

int sup_bind_passthrough(struct sup *s, struct verr *err)
{
	const struct vm_config *c = &s->plan->config;
	struct strv bdfs = { 0 };
	int r;

	if (!c->n_passthrough)
		return 0;
	for (size_t i = 0; i < c->n_passthrough; i++)
		strv_push(&bdfs, c->passthrough[i].host);
	r = vfio_bind((const char *const *)bdfs.v, bdfs.n, false, s->name, err);
	strv_free(&bdfs);
	return r;
}

void sup_restore_passthrough(struct sup *s)
{
	const struct vm_config *c = &s->plan->config;
	_cleanup_verr_ struct verr err = { 0 };
	struct strv bdfs = { 0 };
	int n;

	if (!c->n_passthrough)
		return;
	for (size_t i = 0; i < c->n_passthrough; i++)
		strv_push(&bdfs, c->passthrough[i].host);
	n = vfio_restore((const char *const *)bdfs.v, bdfs.n, s->name, &err);
	strv_free(&bdfs);
	for (size_t i = 0; i < err.n; i++)
		say(s, "restoring passthrough devices: %s", err.lines[i]);
	if (n > 0)
		say(s, "%d passthrough device%s given back to %s host driver%s", n, n == 1 ? "" : "s",
		    n == 1 ? "its" : "their", n == 1 ? "" : "s");
}
