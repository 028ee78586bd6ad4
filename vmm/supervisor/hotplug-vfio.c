/* Host PCI devices hot-added to a running VM (hotplug.h): `vmm add NAME vfio host=BDF
 * [with_group=true]`. The device passes the same host-safety check and journaled bind to
 * vfio-pci as a profile's passthrough at start (passthrough/vfio.h, under the VM's name),
 * then becomes a vfio-pci device on a free root port through the steps of any other device
 * (hotplug-steps.c). With with_group the rest of its IOMMU group is bound too (QEMU can use a
 * group only when every endpoint of it is on vfio-pci); the functions of the device's own
 * slot go to the VM as one multifunction device, function 0 added last (QEMU announces a
 * slot to the guest once its function 0 is there) and so removed first, which takes the
 * whole slot. When the device is gone from QEMU (removed, a failed add undone, QEMU ended)
 * its host devices go back to the drivers the journal recorded. The bind is synchronous, as at
 * start: it may hold the supervisor up to the time /dev/vfio/N takes to appear. */
#include "vmm/supervisor/hotplug-dev.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "passthrough/pci.h"
#include "passthrough/vfio.h"
#include "vmm/base/acl.h"
#include "vmm/base/util.h"
#include "vmm/launch/qemu-user.h"
#include "vmm/supervisor/sup-grants.h"

/* Milliseconds a running QEMU has to close the IOMMU groups of a removed device. */
#define VFIO_RELEASE_MS 5000

/* The keys of a VFIO device to add: those of a profile's passthrough[] element it takes. */
static const char *const vfio_keys[] = { "host", "with_group", NULL };

/* Reads an add's {"host", "with_group"}: the normalized address and the flag; -1 with err. */
static int read_vfio(struct json_object *json, char host[PCI_BDF_SIZE], bool *with_group, struct verr *err)
{
	struct json_object *v;
	size_t before = err->n;

	if (!json_object_is_type(json, json_type_object))
		return verr_set(err, 0, "vfio: expected an object with \"host\" (a PCI address) and \"with_group\"");
	json_object_object_foreach(json, key, val) {
		bool known = false;
		(void)val;
		for (size_t i = 0; vfio_keys[i]; i++)
			known |= !strcmp(key, vfio_keys[i]);
		if (!known)
			verr_set(err, 0, "vfio: %s: unknown key (expected host or with_group)", key);
	}
	if (!json_object_object_get_ex(json, "host", &v))
		verr_set(err, 0, "vfio: host: missing (the host PCI address of the device, such as 0000:01:00.0)");
	else if (!json_object_is_type(v, json_type_string) || !pci_address_parse(json_object_get_string(v), host))
		verr_set(err, 0, "vfio: host: '%s' is not a PCI address (expected DDDD:BB:DD.F or BB:DD.F)",
			 json_object_get_string(v));
	*with_group = false;
	if (json_object_object_get_ex(json, "with_group", &v)) {
		if (json_object_is_type(v, json_type_boolean))
			*with_group = json_object_get_boolean(v);
		else
			verr_set(err, 0, "vfio: with_group: expected true or false");
	}
	return err->n > before ? -1 : 0;
}

/* Refuses host devices the VM has already: in its profile (passthrough[]) or hot-added. */
static int check_not_ours(const struct hotplug *hp, const struct strv *hosts, struct verr *err)
{
	const struct vm_config *c = &hp->plan->config;
	size_t before = err->n;

	for (size_t k = 0; k < hosts->n; k++) {
		for (size_t i = 0; i < c->n_passthrough; i++)
			if (!strcmp(c->passthrough[i].host, hosts->v[k]))
				verr_set(err, 0, "vfio: host: %s is already the VM's (passthrough[%zu] of its profile)",
					 hosts->v[k], i);
		for (size_t i = 0; i < hp->n; i++)
			for (size_t j = 0; j < hp->devs[i]->hosts.n; j++)
				if (!strcmp(hp->devs[i]->hosts.v[j], hosts->v[k]))
					verr_set(err, 0, "vfio: host: %s is already the VM's (hot-added '%s')", hosts->v[k],
						 hp->devs[i]->id);
	}
	return err->n > before ? -1 : 0;
}

/* The id of the device of host address bdf: "vfio-" and the address, ':' as '-'. */
static char *vfio_id(const char *bdf)
{
	char *id = xasprintf("vfio-%s", bdf);

	for (char *p = id; *p; p++)
		if (*p == ':')
			*p = '-';
	return id;
}

/* The vfio-pci devices of the functions of host's slot among hosts, on root port rp, in the
 * order QEMU takes them (function 0 last); id names function 0, "ID.fN" the others. */
static struct json_object *vfio_parts(const struct strv *hosts, const char *host, const char *id, const char *rp)
{
	struct json_object *parts = json_object_new_array();
	bool multi = false;

	for (size_t i = 0; i < hosts->n; i++)
		multi |= strcmp(hosts->v[i], host) && pci_same_slot(hosts->v[i], host);
	for (unsigned k = 1; k <= 8; k++)
		for (size_t i = 0; i < hosts->n; i++) {
			struct json_object *part, *dev;
			unsigned f = k % 8; /* 1..7, then 0 */
			_cleanup_free_ char *name = NULL, *addr = NULL;
			if (!pci_same_slot(hosts->v[i], host) || pci_function(hosts->v[i]) != f)
				continue;
			name = f ? xasprintf("%s.f%u", id, f) : xstrdup(id);
			dev = json_object_new_object();
			json_object_object_add(dev, "driver", json_object_new_string("vfio-pci"));
			json_object_object_add(dev, "id", json_object_new_string(name));
			json_object_object_add(dev, "host", json_object_new_string(hosts->v[i]));
			json_object_object_add(dev, "bus", json_object_new_string(rp));
			if (multi) {
				addr = xasprintf("0.%u", f);
				json_object_object_add(dev, "addr", json_object_new_string(addr));
				if (!f)
					json_object_object_add(dev, "multifunction", json_object_new_boolean(true));
			}
			part = json_object_new_object();
			json_object_object_add(part, "option", json_object_new_string("-device"));
			json_object_object_add(part, "json", dev);
			json_object_array_add(parts, part);
		}
	return parts;
}

/* Lets QEMU's user use the VFIO container and the groups of hosts ($VMM_DEV_ROOT, default
 * /dev) and pin the guest's RAM, as at start (qemu_user_paths, qemu_user_creds); nothing
 * when QEMU runs as root. */
static int grant_groups(struct hotplug *hp, const struct strv *hosts, struct verr *err)
{
	const char *root = getenv("VMM_DEV_ROOT");
	const char *dev = root && *root ? root : "/dev";
	_cleanup_free_ char *container = xasprintf("%s/vfio/vfio", dev);
	unsigned long long memlock = qemu_user_memlock(&hp->plan->config);
	struct rlimit now, want = { memlock, memlock };

	/* VFIO pins the guest's RAM: a QEMU that is not root, started without passthrough, needs
	 * the limit its start would have had (raised from outside, which takes root's capability). */
	if (hp->plan->qemu_user.name && prlimit(hp->vm->pid, RLIMIT_MEMLOCK, NULL, &now) == 0 &&
	    now.rlim_cur < memlock && prlimit(hp->vm->pid, RLIMIT_MEMLOCK, &want, NULL) < 0)
		return verr_set(err, errno, "cannot raise QEMU's RLIMIT_MEMLOCK to %llu bytes for VFIO", memlock);
	if (qemu_user_grant(hp->plan, hp->rd, container, ACL_R | ACL_W, err) < 0)
		return -1;
	for (size_t i = 0; i < hosts->n; i++) {
		_cleanup_free_ char *group = NULL;
		struct pci_dev d;

		if (pci_read(hosts->v[i], &d, err) < 0)
			return -1;
		group = xasprintf("%s/vfio/%d", dev, d.group);
		if (qemu_user_grant(hp->plan, hp->rd, group, ACL_R | ACL_W, err) < 0)
			return -1;
	}
	return 0;
}

struct hp_device *hp_prepare_vfio(struct hotplug *hp, struct json_object *json, int want, bool bind, struct verr *err)
{
	char host[PCI_BDF_SIZE];
	bool with_group = false;
	struct strv hosts = { 0 };
	_cleanup_free_ char *id = NULL, *rp = NULL;
	struct pci_dev dev;
	struct hp_device *d;
	int port;

	if (read_vfio(json, host, &with_group, err) < 0 || pci_read(host, &dev, err) < 0)
		return NULL;
	if (with_group && vfio_group_endpoints((const char *const[]){ host }, 1, &hosts, err) < 0)
		return NULL;
	if (!with_group)
		strv_push(&hosts, host);
	id = vfio_id(host);
	if (check_not_ours(hp, &hosts, err) < 0 || hp_check_new_id(hp, "vfio", id, err) < 0 ||
	    hp_free_port(hp, want, &port, err) < 0 ||
	    (bind && vfio_bind((const char *const *)hosts.v, hosts.n, false, hp->plan->config.name, err) < 0)) {
		strv_free(&hosts);
		return NULL;
	}
	if (grant_groups(hp, &hosts, err) < 0) {
		struct verr undo = { 0 };

		if (bind)
			vfio_restore((const char *const *)hosts.v, hosts.n, hp->plan->config.name, &undo);
		verr_append(err, &undo);
		strv_free(&hosts);
		return NULL;
	}
	rp = hp_port_id(port);
	d = hp_new_device(hp, json, id, HP_VFIO, vfio_parts(&hosts, host, id, rp), port);
	d->type = xstrdup("vfio-pci");
	d->detail = xstrdup(host);
	d->hosts = hosts;
	return d;
}

/* True when process pid holds one of /dev/vfio/GROUP of groups (n of them) open. */
static bool holds_groups(pid_t pid, const int *groups, size_t n)
{
	_cleanup_free_ char *dir = xasprintf("/proc/%d/fd", pid);
	DIR *fds = opendir(dir);
	struct dirent *e;
	bool held = false;

	while (fds && !held && (e = readdir(fds))) {
		char target[64], want[32];
		ssize_t len = readlinkat(dirfd(fds), e->d_name, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		for (size_t i = 0; i < n && !held; i++) {
			snprintf(want, sizeof(want), "/dev/vfio/%d", groups[i]);
			held = !strcmp(target, want);
		}
	}
	if (fds)
		closedir(fds);
	return held;
}

/* Waits, at most VFIO_RELEASE_MS, until a running QEMU has closed the IOMMU groups of the host
 * devices. QEMU says DEVICE_DELETED before it lets go of a group (it closes it when the device
 * object is finalized, later), and while a process holds a group the kernel refuses a host
 * driver any device of it (EBUSY). No event says that a descriptor was closed: it is looked at
 * every 10 ms, for as long as it takes (a few ms), as the bind waits for /dev/vfio/N. */
static void wait_groups_closed(pid_t qemu, const struct strv *hosts)
{
	_cleanup_free_ int *groups = xzalloc((hosts->n + 1) * sizeof(int));
	size_t n = 0;

	for (size_t i = 0; i < hosts->n; i++) {
		_cleanup_verr_ struct verr err = { 0 };
		struct pci_dev dev;
		if (pci_read(hosts->v[i], &dev, &err) == 0 && dev.group >= 0)
			groups[n++] = dev.group;
	}
	for (int ms = 0; ms < VFIO_RELEASE_MS && holds_groups(qemu, groups, n); ms += 10)
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
}

void hp_vfio_restore(struct hp_device *d)
{
	_cleanup_verr_ struct verr err = { 0 };
	pid_t qemu = d->hp->vm->pid;
	int n;

	/* A QEMU that runs on (a reattach given up) still holds the devices it has: unbinding
	 * them from vfio-pci would wait for it. */
	if (d->done > 0 && qemu > 0 && (kill(qemu, 0) == 0 || errno != ESRCH)) {
		say(d->hp->vm, "QEMU pid %d runs on: the host devices of '%s' stay on vfio-pci", qemu, d->id);
		return;
	}
	if (qemu > 0)
		wait_groups_closed(qemu, &d->hosts);
	n = vfio_restore((const char *const *)d->hosts.v, d->hosts.n, d->hp->plan->config.name, &err);
	verr_wrap(&err, "giving back the host devices of '%s'", d->id);
	say_err(d->hp->vm, &err);
	if (n > 0)
		say(d->hp->vm, "'%s': %d host device%s given back to %s driver%s", d->id, n, n == 1 ? "" : "s",
		    n == 1 ? "its" : "their", n == 1 ? "" : "s");
}
