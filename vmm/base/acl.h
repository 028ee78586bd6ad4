/* POSIX access ACLs through their extended attribute (system.posix_acl_access, in the
 * kernel's binary form, without libacl): what a user may do with a file (owner, named user,
 * groups, mask and other, as the kernel decides it), one named user's entry added, and a
 * file's ACL and mode saved and put back as they were. */
#ifndef VMM_ACL_H
#define VMM_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "vmm/base/error.h"

/* The permission bits of an ACL entry (and of the rwx triplets of a mode). */
#define ACL_R 4u
#define ACL_W 2u
#define ACL_X 1u

/* A file's access control as it was: its mode and its ACL attribute (hex, NULL: it had none). */
struct acl_state {
	mode_t mode;
	char *acl_hex;
};

/* Reads path's mode and ACL. Returns 0, or -1 with err. */
int acl_state_read(const char *path, struct acl_state *out, struct verr *err);

/* Puts path's ACL and mode back as s says. Returns 0, or -1 with err. */
int acl_state_restore(const char *path, const struct acl_state *s, struct verr *err);

void acl_state_free(struct acl_state *s);

/* The permission bits (ACL_R|W|X) user uid, in groups gids (its primary group among them),
 * has on path as the kernel would grant them (no capabilities). -1 with err when path
 * cannot be read. */
int acl_user_perms(const char *path, uid_t uid, const gid_t *gids, size_t n_gids, struct verr *err);

/* Adds perms to uid's named entry in path's ACL (made from its mode when it has none), and
 * widens the mask to let them through. Returns 0, or -1 with err. */
int acl_add_user(const char *path, uid_t uid, unsigned perms, struct verr *err);

#endif
