#include "vmm/launch/qemu-user.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "passthrough/pci.h"
#include "vmm/base/acl.h"
#include "vmm/base/util.h"
#include "vmm/launch/plan.h"
#include "vmm/launch/qemuimg.h"

/* What VFIO may pin besides guest RAM (its own maps, ROMs, MMIO): libvirt allows 1 GiB too. */
#define MEMLOCK_MARGIN (1ULL << 30)

/* True when vmm may give a child RLIMIT_MEMLOCK of need bytes: within its hard limit, or
 * with CAP_SYS_RESOURCE (bit 24 of /proc/self/status's CapEff). */
static bool may_raise_memlock(unsigned long long need)
{
	char buf[4096];
	_cleanup_close_ int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	struct rlimit l;
	const char *cap;

	if (getrlimit(RLIMIT_MEMLOCK, &l) == 0 && (l.rlim_max == RLIM_INFINITY || l.rlim_max >= need))
		return true;
	if (n <= 0)
		return false;
	buf[n] = '\0';
	cap = strstr(buf, "CapEff:");
	return cap && (strtoull(cap + 7, NULL, 16) >> 24) & 1;
}

int qemu_user_resolve(const struct vm_config *c, const char *file, bool start, struct qemu_user *u,
		      struct strv *warnings, struct verr *err)
{
	const char *name = c->qemu_user ? c->qemu_user : QEMU_USER_DEFAULT;
	struct passwd *pw;
	int n = 0;

	*u = (struct qemu_user){ 0 };
	if (!strcmp(name, "root") || (!c->qemu_user && geteuid() != 0))
		return 0;
	errno = 0;
	pw = getpwnam(name);
	if (!pw)
		return verr_set(err, errno, "%s: qemu.user: there is no user '%s' on this host (%s; \"root\" runs "
				"QEMU as root)", file, name,
				c->qemu_user ? "expected a user name from /etc/passwd" : "bootstrap.sh makes the default one");
	if (pw->pw_uid == 0 || geteuid() != 0)
		return 0;
	/* QEMU binds the VNC socket by path (it takes no descriptor for it), in the run
	 * directory, which only root may enter. */
	if (c->display == DISPLAY_VNC && !c->qemu_user) {
		if (start)
			strv_pushf(warnings, "QEMU runs as root: display vnc binds its socket in the run directory, "
				   "which the user '%s' cannot reach (set qemu.user \"root\" to say so, or another display)",
				   name);
		return 0;
	}
	if (start && c->display == DISPLAY_VNC)
		return verr_set(err, 0, "%s: display: vnc binds its socket in the run directory, which QEMU as '%s' cannot "
				"reach (qemu.user \"root\" runs QEMU as root)", file, name);
	/* usb-host opens /dev/bus/usb/BUS/DEV, a node the kernel makes anew (root's) at each
	 * replug, which QEMU follows. */
	if (c->n_usb && !c->qemu_user) {
		if (start)
			strv_pushf(warnings, "QEMU runs as root: its usb-host devices open /dev/bus/usb nodes, made anew "
				   "at each replug, which the user '%s' could not open (set qemu.user \"root\" to say so)",
				   name);
		return 0;
	}
	/* VFIO pins the guest's RAM: past the hard RLIMIT_MEMLOCK only with CAP_SYS_RESOURCE, which a
	 * container's root may lack (root's QEMU locks memory with CAP_IPC_LOCK instead). */
	if (c->n_passthrough && !c->qemu_user && !may_raise_memlock(qemu_user_memlock(c))) {
		if (start)
			strv_pushf(warnings, "QEMU runs as root: VFIO needs RLIMIT_MEMLOCK of %llu bytes, which vmm cannot "
				   "give the user '%s' here (no CAP_SYS_RESOURCE)", qemu_user_memlock(c), name);
		return 0;
	}
	/* A post-copy destination needs userfaultfd, which the kernel may keep from users. */
	if (c->postcopy == POSTCOPY_AUTO && !c->qemu_user && !qemu_user_may_postcopy()) {
		if (start)
			strv_pushf(warnings, "QEMU runs as root: migration.postcopy needs userfaultfd, which this kernel "
				   "gives the user '%s' only with vm.unprivileged_userfaultfd=1", name);
		return 0;
	}
	if (start && c->n_usb)
		return verr_set(err, 0, "%s: usb: usb-host opens /dev/bus/usb nodes, made anew at each replug, which QEMU "
				"as '%s' could not open (qemu.user \"root\" runs QEMU as root)", file, name);
	u->name = xstrdup(name);
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	getgrouplist(name, pw->pw_gid, NULL, &n);
	u->groups = xmalloc(((size_t)n + 1) * sizeof(gid_t));
	if (getgrouplist(name, pw->pw_gid, u->groups, &n) < 0)
		n = 0;
	u->n_groups = (size_t)n;
	return 0;
}

bool qemu_user_may_postcopy(void)
{
	char buf[4] = "";
	_cleanup_close_ int fd = open("/proc/sys/vm/unprivileged_userfaultfd", O_RDONLY | O_CLOEXEC);

	return fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0 && buf[0] == '1';
}

unsigned long long qemu_user_memlock(const struct vm_config *c)
{
	return (c->max_memory > c->memory ? c->max_memory : c->memory) + MEMLOCK_MARGIN;
}

bool qemu_user_creds(const struct qemu_user *u, const struct vm_config *c, struct spawn_creds *out)
{
	if (!u->name)
		return false;
	/* Raising it needs CAP_SYS_RESOURCE, which a container may lack: only when VFIO needs it. */
	*out = (struct spawn_creds){ .uid = u->uid, .gid = u->gid, .groups = u->groups, .n_groups = u->n_groups,
				     .memlock = c->n_passthrough ? qemu_user_memlock(c) : 0 };
	return true;
}

void qemu_user_free(struct qemu_user *u)
{
	free(u->name);
	free(u->groups);
	*u = (struct qemu_user){ 0 };
}

void qemu_paths_add(struct qemu_paths *l, const char *path, unsigned perms)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = (struct qemu_path){ xstrdup(path), perms };
}

void qemu_paths_free(struct qemu_paths *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	*l = (struct qemu_paths){ 0 };
}

unsigned qemu_user_writable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && !(st.st_mode & S_IWUSR) ? ACL_R : ACL_R | ACL_W;
}

/* A disk's image and, for qcow2, the backing files below it (QEMU opens them by the names
 * the images record, read-only; read-write when a snapshot is deleted by committing into
 * one, unless it is read-only to root too: a template's image). */
static int add_disk(struct qemu_paths *l, const struct disk_config *d, struct verr *err)
{
	struct image_chain chain = { 0 };

	qemu_paths_add(l, d->file, d->readonly ? ACL_R : ACL_R | ACL_W);
	if (d->format != FORMAT_QCOW2)
		return 0;
	if (qemuimg_info(d->file, &chain, err) < 0) {
		verr_wrap(err, "disk '%s'", d->id);
		return -1;
	}
	for (size_t i = 1; i < chain.n; i++)
		qemu_paths_add(l, chain.v[i].filename, qemu_user_writable(chain.v[i].filename));
	image_chain_free(&chain);
	return 0;
}

/* /dev/vfio/vfio and the group device of each passthrough device ($VMM_DEV_ROOT, default /dev). */
static int add_vfio(struct qemu_paths *l, const struct vm_config *c, struct verr *err)
{
	const char *root = getenv("VMM_DEV_ROOT");
	const char *dev = root && *root ? root : "/dev";

	if (!c->n_passthrough)
		return 0;
	for (size_t i = 0; i < c->n_passthrough; i++) {
		struct pci_dev d;
		_cleanup_free_ char *group = NULL;

		if (pci_read(c->passthrough[i].host, &d, err) < 0)
			return -1;
		group = xasprintf("%s/vfio/%d", dev, d.group);
		qemu_paths_add(l, group, ACL_R | ACL_W);
	}
	_cleanup_free_ char *container = xasprintf("%s/vfio/vfio", dev);
	qemu_paths_add(l, container, ACL_R | ACL_W);
	return 0;
}

int qemu_user_paths(const struct plan *p, struct qemu_paths *out, struct verr *err)
{
	const struct vm_config *c = &p->config;

	*out = (struct qemu_paths){ 0 };
	qemu_paths_add(out, p->qemu_path, ACL_R | ACL_X);
	for (size_t i = 0; i < p->prefix.data_dirs.n; i++)
		qemu_paths_add(out, p->prefix.data_dirs.v[i], ACL_R | ACL_X);
	for (size_t i = 0; i < p->prefix.env.n; i++) {
		const char *dir = strchr(p->prefix.env.v[i], '=');
		if (dir && dir[1] == '/')
			qemu_paths_add(out, dir + 1, ACL_R | ACL_X);
	}
	if (c->kernel)
		qemu_paths_add(out, c->kernel, ACL_R);
	if (c->initrd)
		qemu_paths_add(out, c->initrd, ACL_R);
	for (size_t i = 0; i < c->n_passthrough; i++)
		if (c->passthrough[i].rom)
			qemu_paths_add(out, c->passthrough[i].rom, ACL_R);
	if (p->firmware.code)
		qemu_paths_add(out, p->firmware.code, ACL_R);
	if (p->fw_vars)
		qemu_paths_add(out, p->fw_vars, ACL_R | ACL_W);
	if (c->looking_glass)
		qemu_paths_add(out, c->lg_path, ACL_R | ACL_W);
	for (size_t i = 0; i < c->n_input; i++)
		qemu_paths_add(out, c->input[i].evdev, ACL_R | ACL_W);
	if (p->launch.accel == ACCEL_KVM)
		qemu_paths_add(out, "/dev/kvm", ACL_R | ACL_W);
	for (size_t i = 0; i < c->n_disks; i++)
		if (add_disk(out, &c->disks[i], err) < 0)
			goto fail;
	if (add_vfio(out, c, err) < 0)
		goto fail;
	return 0;
fail:
	qemu_paths_free(out);
	return -1;
}
