#include "vmm/base/acl.h"

#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "vmm/base/util.h"

#define ACL_XATTR "system.posix_acl_access"
#define ACL_VERSION 2
#define ACL_MAX 64 /* entries this code handles in one ACL */

/* The kernel's tags, in the order its entries must come. */
enum { TAG_USER_OBJ = 0x01, TAG_USER = 0x02, TAG_GROUP_OBJ = 0x04, TAG_GROUP = 0x08, TAG_MASK = 0x10, TAG_OTHER = 0x20 };

struct acl_entry {
	unsigned tag, perm;
	uint32_t id;
};

struct acl {
	struct acl_entry e[ACL_MAX];
	size_t n;
};

/* Reads path's ACL attribute into a (n 0: it has none). Returns 0, or -1 with errno. */
static int acl_get(const char *path, struct acl *a)
{
	unsigned char buf[4 + 8 * ACL_MAX];
	ssize_t len = getxattr(path, ACL_XATTR, buf, sizeof(buf));
	uint32_t version;

	a->n = 0;
	if (len < 0)
		return errno == ENODATA || errno == EOPNOTSUPP ? 0 : -1;
	memcpy(&version, buf, 4);
	if (len < 4 || (len - 4) % 8 || le32toh(version) != ACL_VERSION) {
		errno = EINVAL;
		return -1;
	}
	for (ssize_t off = 4; off < len; off += 8) {
		uint16_t tag, perm;
		uint32_t id;

		memcpy(&tag, buf + off, 2);
		memcpy(&perm, buf + off + 2, 2);
		memcpy(&id, buf + off + 4, 4);
		a->e[a->n++] = (struct acl_entry){ le16toh(tag), le16toh(perm), le32toh(id) };
	}
	return 0;
}

/* Writes a as path's ACL attribute. Returns 0, or -1 with errno. */
static int acl_set(const char *path, const struct acl *a)
{
	unsigned char buf[4 + 8 * ACL_MAX];
	uint32_t version = htole32(ACL_VERSION);

	memcpy(buf, &version, 4);
	for (size_t i = 0; i < a->n; i++) {
		uint16_t tag = htole16((uint16_t)a->e[i].tag), perm = htole16((uint16_t)a->e[i].perm);
		uint32_t id = htole32(a->e[i].id);

		memcpy(buf + 4 + 8 * i, &tag, 2);
		memcpy(buf + 6 + 8 * i, &perm, 2);
		memcpy(buf + 8 + 8 * i, &id, 4);
	}
	return setxattr(path, ACL_XATTR, buf, 4 + 8 * a->n, 0);
}

/* The entry of tag (and id, for named entries) in a, or NULL. */
static struct acl_entry *find(struct acl *a, unsigned tag, uint32_t id)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->e[i].tag == tag && ((tag != TAG_USER && tag != TAG_GROUP) || a->e[i].id == id))
			return &a->e[i];
	return NULL;
}

/* Orders entries as the kernel wants them: by tag, named ones by id. */
static int entry_cmp(const void *x, const void *y)
{
	const struct acl_entry *a = x, *b = y;

	if (a->tag != b->tag)
		return a->tag < b->tag ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* The minimal ACL equivalent to mode. */
static void from_mode(mode_t mode, struct acl *a)
{
	a->n = 3;
	a->e[0] = (struct acl_entry){ TAG_USER_OBJ, (mode >> 6) & 7, UINT32_MAX };
	a->e[1] = (struct acl_entry){ TAG_GROUP_OBJ, (mode >> 3) & 7, UINT32_MAX };
	a->e[2] = (struct acl_entry){ TAG_OTHER, mode & 7, UINT32_MAX };
}

/* True when gid is one of gids. */
static bool in_groups(gid_t gid, const gid_t *gids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (gids[i] == gid)
			return true;
	return false;
}

int acl_user_perms(const char *path, uid_t uid, const gid_t *gids, size_t n_gids, struct verr *err)
{
	struct stat st;
	struct acl a;
	struct acl_entry *e, *mask;
	unsigned mask_perm, groups = 0;
	bool group_matched = false;

	if (stat(path, &st) < 0 || acl_get(path, &a) < 0)
		return verr_set(err, errno, "cannot read the permissions of '%s'", path);
	if (!a.n)
		from_mode(st.st_mode, &a);
	if (uid == st.st_uid)
		return (int)((st.st_mode >> 6) & 7);
	mask = find(&a, TAG_MASK, 0);
	mask_perm = mask ? mask->perm : 7;
	if ((e = find(&a, TAG_USER, uid)))
		return (int)(e->perm & mask_perm);
	/* The kernel grants what one matching group entry allows: the union of those that match
	 * is at least as much, and each matching entry was checked for the wanted bits. */
	for (size_t i = 0; i < a.n; i++) {
		bool match = (a.e[i].tag == TAG_GROUP_OBJ && in_groups(st.st_gid, gids, n_gids)) ||
			     (a.e[i].tag == TAG_GROUP && in_groups(a.e[i].id, gids, n_gids));
		if (match) {
			group_matched = true;
			groups |= a.e[i].perm & mask_perm;
		}
	}
	if (group_matched)
		return (int)groups;
	return (int)(find(&a, TAG_OTHER, 0)->perm);
}

int acl_add_user(const char *path, uid_t uid, unsigned perms, struct verr *err)
{
	struct stat st;
	struct acl a;
	struct acl_entry *e, *mask;
	unsigned union_perm = 0;

	if (stat(path, &st) < 0 || acl_get(path, &a) < 0)
		return verr_set(err, errno, "cannot read the permissions of '%s'", path);
	if (!a.n)
		from_mode(st.st_mode, &a);
	if (a.n + 2 > ACL_MAX)
		return verr_set(err, 0, "'%s' has too long an ACL to add to", path);
	if ((e = find(&a, TAG_USER, uid)))
		e->perm |= perms;
	else
		a.e[a.n++] = (struct acl_entry){ TAG_USER, perms, uid };
	for (size_t i = 0; i < a.n; i++)
		if (a.e[i].tag == TAG_USER || a.e[i].tag == TAG_GROUP_OBJ || a.e[i].tag == TAG_GROUP)
			union_perm |= a.e[i].perm;
	if (!(mask = find(&a, TAG_MASK, 0)))
		a.e[a.n++] = (struct acl_entry){ TAG_MASK, union_perm, UINT32_MAX };
	else
		mask->perm |= perms;
	qsort(a.e, a.n, sizeof(a.e[0]), entry_cmp);
	if (acl_set(path, &a) < 0)
		return verr_set(err, errno, "cannot add an ACL entry for uid %u to '%s'", (unsigned)uid, path);
	return 0;
}

int acl_state_read(const char *path, struct acl_state *out, struct verr *err)
{
	unsigned char buf[4 + 8 * ACL_MAX];
	struct stat st;
	ssize_t len;

	*out = (struct acl_state){ 0 };
	if (stat(path, &st) < 0)
		return verr_set(err, errno, "cannot read the permissions of '%s'", path);
	out->mode = st.st_mode & 07777;
	len = getxattr(path, ACL_XATTR, buf, sizeof(buf));
	if (len < 0)
		return errno == ENODATA || errno == EOPNOTSUPP ? 0 : verr_set(err, errno, "cannot read the ACL of '%s'", path);
	out->acl_hex = xmalloc(2 * (size_t)len + 1);
	for (ssize_t i = 0; i < len; i++)
		sprintf(out->acl_hex + 2 * i, "%02x", buf[i]);
	out->acl_hex[2 * len] = '\0';
	return 0;
}

int acl_state_restore(const char *path, const struct acl_state *s, struct verr *err)
{
	unsigned char buf[4 + 8 * ACL_MAX];
	size_t len = s->acl_hex ? strlen(s->acl_hex) / 2 : 0;

	if (len > sizeof(buf))
		return verr_set(err, 0, "the recorded ACL of '%s' is too long", path);
	for (size_t i = 0; i < len; i++) {
		unsigned v;
		if (sscanf(s->acl_hex + 2 * i, "%2x", &v) != 1)
			return verr_set(err, 0, "the recorded ACL of '%s' is not hex", path);
		buf[i] = (unsigned char)v;
	}
	if (len ? setxattr(path, ACL_XATTR, buf, len, 0) < 0
		: removexattr(path, ACL_XATTR) < 0 && errno != ENODATA && errno != EOPNOTSUPP)
		return verr_set(err, errno, "cannot put back the ACL of '%s'", path);
	if (chmod(path, s->mode) < 0)
		return verr_set(err, errno, "cannot put back the mode of '%s'", path);
	return 0;
}

void acl_state_free(struct acl_state *s)
{
	free(s->acl_hex);
	s->acl_hex = NULL;
}
