/* Passthrough around a VM's life: before QEMU starts, the devices (and, with with_group,
 * the rest of their IOMMU groups) are checked and bound to vfio-pci under the VM's name in
 * the journal; when the VM has ended for good, its devices (also those bound by hand
 * before) go back to the drivers the journal recorded. A supervisor that died leaves the
 * journal; the one that reattaches restores at the end instead. */
#include "vmm/supervisor/sup.h"

#include <string.h>

#include "passthrough/vfio.h"
#include "vmm/base/util.h"

/* Adds the other endpoints of each with_group device's IOMMU group to the VM's devices. */
static int add_groups(struct vm_config *c, struct verr *err)
{
	size_t n = c->n_passthrough;

	for (size_t i = 0; i < n; i++) {
		struct strv members = { 0 };
		if (!c->passthrough[i].with_group)
			continue;
		if (vfio_group_endpoints((const char *const[]){ c->passthrough[i].host }, 1, &members, err) < 0)
			return -1;
		for (size_t m = 0; m < members.n; m++) {
			bool known = false;
			for (size_t k = 0; k < c->n_passthrough && !known; k++)
				known = !strcmp(c->passthrough[k].host, members.v[m]);
			if (known)
				continue;
			c->passthrough = xrealloc(c->passthrough, (c->n_passthrough + 1) * sizeof(*c->passthrough));
			c->passthrough[c->n_passthrough++] = (struct passthrough_config){
				.host = xstrdup(members.v[m]), .multifunction = c->passthrough[i].multifunction };
		}
		strv_free(&members);
	}
	return 0;
}

int sup_bind_passthrough(struct sup *s, struct verr *err)
{
	struct vm_config *c = &s->plan->config;
	struct strv bdfs = { 0 };
	int r;

	if (!c->n_passthrough)
		return 0;
	if (add_groups(c, err) < 0)
		return -1;
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
	n = vfio_restore((const char *const *)bdfs.v, bdfs.n, NULL, &err);
	strv_free(&bdfs);
	for (size_t i = 0; i < err.n; i++)
		say(s, "restoring passthrough devices: %s", err.lines[i]);
	if (n > 0)
		say(s, "%d passthrough device%s given back to %s host driver%s", n, n == 1 ? "" : "s",
		    n == 1 ? "its" : "their", n == 1 ? "" : "s");
}
