/* Whom QEMU runs as (qemu.user) and what it must reach as that user. By default a root vmm
 * runs QEMU as the system user "vmm" (bootstrap.sh makes it, in group kvm); "root" keeps
 * QEMU root; a vmm that is not root runs QEMU as itself. The supervisor drops to the user in
 * the spawned child (spawn.h: ids, groups, no capabilities, no_new_privs, RLIMIT_MEMLOCK for
 * VFIO's pinned guest RAM) and, before each start, gives the user access to each path of
 * qemu_user_paths() (sup-grants.h), taking it back when the VM ends. */
#ifndef VMM_QEMU_USER_H
#define VMM_QEMU_USER_H

#include <stdbool.h>
#include <sys/types.h>

#include "profiles/config.h"
#include "vmm/base/error.h"
#include "vmm/base/util.h"
#include "vmm/launch/spawn.h"

/* The user QEMU runs as when the profile names none and vmm is root. */
#define QEMU_USER_DEFAULT "vmm"

struct qemu_user {
	char *name;      /* NULL: QEMU runs as vmm does */
	uid_t uid;
	gid_t gid;
	gid_t *groups;   /* its supplementary groups, its primary group among them */
	size_t n_groups;
};

/* Decides whom c's QEMU runs as (file names the profile in errors). A user this host lacks
 * is an error. Display vnc binds vnc.sock in the run directory, which only root may enter, and
 * usb-host opens /dev/bus/usb nodes a replug makes anew: by default QEMU then stays root (said
 * in warnings when start); a qemu.user named for them fails when start.
 * Returns 0, or -1 with err. */
int qemu_user_resolve(const struct vm_config *c, const char *file, bool start, struct qemu_user *u,
		      struct strv *warnings, struct verr *err);

/* What spawn() gets for c's QEMU run by u: u's ids, and with passthrough RLIMIT_MEMLOCK of the
 * guest's RAM (hotplug.max_memory included) and a margin, which VFIO pins all of. False when
 * QEMU runs as vmm does. */
bool qemu_user_creds(const struct qemu_user *u, const struct vm_config *c, struct spawn_creds *out);

/* True when a QEMU that is not root may use userfaultfd for post-copy (the kernel's
 * vm.unprivileged_userfaultfd is 1). */
bool qemu_user_may_postcopy(void);

/* The RLIMIT_MEMLOCK a QEMU of c needs for VFIO, which pins all of the guest's RAM
 * (hotplug.max_memory included): that and a margin. */
unsigned long long qemu_user_memlock(const struct vm_config *c);

void qemu_user_free(struct qemu_user *u);

/* One path QEMU opens by name, and what it needs on it (ACL_R|W|X, vmm/base/acl.h). */
struct qemu_path {
	char *path;
	unsigned perms;
};

struct qemu_paths {
	struct qemu_path *v;
	size_t n;
};

struct plan;

/* Every path plan p's QEMU opens by name: the binary and its -L directories, disk images
 * with their backing files (qemu-img), the kernel and initrd, option ROMs, the UEFI code and
 * vars, the Looking Glass file,
 * /dev/kvm and the VFIO groups. Its sockets are not among them: the supervisor passes them
 * bound. Call after plan_prepare() (the files exist). Returns 0, or -1 with err. */
int qemu_user_paths(const struct plan *p, struct qemu_paths *out, struct verr *err);

/* What QEMU may do with an image it writes when it can: ACL_R|W, or ACL_R when root may not
 * write it either (mode without u+w: a template's image, a file made read-only). */
unsigned qemu_user_writable(const char *path);

/* Adds path with perms to the list. */
void qemu_paths_add(struct qemu_paths *l, const char *path, unsigned perms);

void qemu_paths_free(struct qemu_paths *l);

#endif
