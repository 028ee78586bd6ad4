#include "vmm/supervisor/sup-vfio.h"

#include "passthrough/vfio.h"
#include "vmm/base/util.h"

/* The host addresses of the VM's passthrough devices. */
static struct strv hosts(const struct vm_config *c)
{
	struct strv bdfs = { 0 };

	for (size_t i = 0; i < c->n_passthrough; i++)
		strv_push(&bdfs, c->passthrough[i].host);
	return bdfs;
}

int passthrough_bind(const struct vm_config *c, struct verr *err)
{
	struct strv bdfs;
	int r;

	if (!c->n_passthrough)
		return 0;
	bdfs = hosts(c);
	r = vfio_bind((const char *const *)bdfs.v, bdfs.n, false, c->name, err);
	strv_free(&bdfs);
	return r;
}

int passthrough_restore(const struct vm_config *c, struct verr *err)
{
	struct strv bdfs;
	int n;

	if (!c->n_passthrough)
		return 0;
	bdfs = hosts(c);
	n = vfio_restore((const char *const *)bdfs.v, bdfs.n, c->name, err);
	strv_free(&bdfs);
	return n;
}
