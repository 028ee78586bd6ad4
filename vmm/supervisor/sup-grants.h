/* What QEMU, running as its own user (qemu.user, vmm/launch/qemu-user.h), may open by name:
 * before each start the user gets an ACL entry on each path the plan names
 * (qemu_user_paths()) and search (x) on each directory above it that it cannot pass, but only
 * where it lacks the access; the mode and ACL each had before are written to grants.json in
 * the run directory first. When the VM ends for good (stop, crash, a start that failed, also
 * through a supervisor that reattached after the first one died) each is put back from that
 * record, except where another running VM's record holds the same path: that VM's record has
 * the original state and puts it back when it ends. vmm never changes an owner.
 *
 * Why ACLs rather than QEMU's fd passing (-add-fd, /dev/fdset/N) for images: QEMU opens
 * qcow2 backing files by the names the images record, reopens images by name when a block
 * job or snapshot changes them between read-only and read-write, and hot-adds take paths
 * too; one mechanism for every path, with one record to undo it, covers them all. */
#ifndef VMM_SUP_GRANTS_H
#define VMM_SUP_GRANTS_H

#include <json-c/json.h>

#include "vmm/base/error.h"
#include "vmm/base/rundir.h"
#include "vmm/launch/plan.h"

/* Lets p's QEMU user reach path with perms (ACL_R|W|X) for as long as the VM lives: for a path
 * a running QEMU is given (a hot-added disk, a VFIO group). Nothing when QEMU runs as vmm does.
 * Returns 0, or -1 with err. */
int qemu_user_grant(const struct plan *p, struct rundir *rd, const char *path, unsigned perms, struct verr *err);

/* The same for the image each blockdev-add of commands (a list of {"execute", "arguments"})
 * names by filename (its own or its "file" child's): read-write unless read-only, or unless
 * root may not write it either (a template's image). An image granted for nothing else (the VM's
 * life, another node) is granted for its node (grant_for_node()): until the node is deleted. */
int qemu_user_grant_blockdevs(const struct plan *p, struct rundir *rd, struct json_object *commands,
			      struct verr *err);

/* What a migration's grants are for: they last until it ends (qemu_user_give_back_for()). */
#define GRANT_FOR_MIGRATION "migration"

/* The purpose of the grant of block node node's image (to be freed). */
char *grant_for_node(const char *node);

/* The same for a migration's x509 credentials, for GRANT_FOR_MIGRATION: the directory and the
 * certificates and keys QEMU's tls-creds-x509 reads in it. */
int qemu_user_grant_tls(const struct plan *p, struct rundir *rd, const char *dir, struct verr *err);

/* The same for a migration URI, for GRANT_FOR_MIGRATION: for "unix:PATH", the directory QEMU
 * binds PATH in (listen) or PATH itself (connect); nothing for other URIs. */
int qemu_user_grant_uri(const struct plan *p, struct rundir *rd, const char *uri, bool listen, struct verr *err);

/* The same for every path of qemu_user_paths(p): before QEMU starts. */
int qemu_user_grant_plan(const struct plan *p, struct rundir *rd, struct verr *err);

/* Puts back what was granted for purpose alone (a path, by its real name, and the directories
 * above it that nothing else needs) once that is over: a backup's target is not QEMU's to write
 * after the backup, nor a migration's socket and credentials after the migration. A path gone
 * has nothing to put back; one that cannot be stays on record (the VM's end tries again).
 * Returns the number of paths put back, or -1 with err. */
long qemu_user_give_back_for(struct rundir *rd, const char *purpose, struct verr *err);

/* Puts back what the record says was changed, and removes the record. Returns the number
 * of paths put back, or -1 with err. */
long qemu_user_give_back(struct rundir *rd, struct verr *err);

#endif
