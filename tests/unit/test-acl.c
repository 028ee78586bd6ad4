/* Unit tests of POSIX ACLs through their attribute (vmm/base/acl.h), on a file and a directory
 * of this process in /tmp: a user's access as the kernel decides it, a named entry added and
 * merged, the mask widened, and the file's ACL and mode put back as they were (none, or one
 * saved). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tap.h"
#include "vmm/base/acl.h"

#define U1 40001
#define U2 40002
#define G1 40011

/* The mode bits of path. */
static unsigned mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_mode & 07777 : 0;
}

/* True when path has an ACL attribute. */
static bool has_acl(const char *path)
{
	return getxattr(path, "system.posix_acl_access", NULL, 0) > 0;
}

int main(void)
{
	char dir[] = "/tmp/vmm-test-acl.XXXXXX";
	char file[64];
	const gid_t g1[] = { G1 };
	struct acl_state none = { 0 }, one = { 0 };
	struct verr err = { 0 };
	struct stat st;
	gid_t own[1];

	if (!mkdtemp(dir))
		return 1;
	snprintf(file, sizeof(file), "%s/disk.img", dir);
	close(open(file, O_WRONLY | O_CREAT, 0600));
	chmod(file, 0600);
	stat(file, &st);
	own[0] = st.st_gid;
	if (acl_add_user(dir, U2, ACL_X, &err) < 0 || removexattr(dir, "system.posix_acl_access") < 0) {
		printf("1..0 # SKIP no ACLs in /tmp: %s\n", err.n ? err.lines[0] : "");
		unlink(file);
		rmdir(dir);
		return 0;
	}

	ok(acl_user_perms(file, U1, g1, 1, &err) == 0, "a 0600 file gives another user nothing");
	ok(acl_user_perms(file, st.st_uid, NULL, 0, &err) == 6, "its owner reads and writes it");
	ok(acl_state_read(file, &none, &err) == 0 && !none.acl_hex && none.mode == 0600, "its state: mode 0600, no ACL");
	ok(acl_add_user(file, U1, ACL_R | ACL_W, &err) == 0 && acl_user_perms(file, U1, g1, 1, &err) == 6,
	   "after adding rw for the user, it has rw");
	ok(has_acl(file) && mode_of(file) == 0660, "the file has an ACL; its group bits show the mask (%o)", mode_of(file));
	ok(acl_user_perms(file, U2, own, 1, &err) == 0, "the owning group's members still get nothing");
	ok(acl_user_perms(file, U2, g1, 1, &err) == 0, "another user still gets nothing");
	ok(acl_add_user(file, U1, ACL_X, &err) == 0 && acl_user_perms(file, U1, g1, 1, &err) == 7,
	   "adding x to the same user merges into its entry");
	ok(acl_state_read(file, &one, &err) == 0 && one.acl_hex && one.mode == 0670, "a state with an ACL is read (hex)");
	ok(acl_add_user(file, U2, ACL_R, &err) == 0 && acl_user_perms(file, U2, g1, 1, &err) == 4 &&
		   acl_user_perms(file, U1, g1, 1, &err) == 7,
	   "a second user gets its own entry, the first keeps its own");
	ok(acl_state_restore(file, &one, &err) == 0 && acl_user_perms(file, U2, g1, 1, &err) == 0 &&
		   acl_user_perms(file, U1, g1, 1, &err) == 7,
	   "putting back a saved ACL drops the later entry and keeps the earlier one");
	ok(acl_state_restore(file, &none, &err) == 0 && !has_acl(file) && mode_of(file) == 0600 &&
		   acl_user_perms(file, U1, g1, 1, &err) == 0,
	   "putting back 'no ACL' removes it and restores mode 0600");

	chmod(dir, 0700);
	ok(acl_user_perms(dir, U1, g1, 1, &err) == 0, "a 0700 directory cannot be searched by another user");
	acl_state_read(dir, &none, &err);
	ok(acl_add_user(dir, U1, ACL_X, &err) == 0 && acl_user_perms(dir, U1, g1, 1, &err) == 1 && mode_of(dir) == 0710,
	   "search (x) alone is granted on the directory");
	ok(acl_state_restore(dir, &none, &err) == 0 && !has_acl(dir) && mode_of(dir) == 0700,
	   "the directory is put back to 0700 without an ACL");
	ok(acl_user_perms("/nonexistent/vmm", U1, g1, 1, &err) < 0 && err.n == 1, "a missing path is an error");

	acl_state_free(&one);
	verr_clear(&err);
	unlink(file);
	rmdir(dir);
	return tap_done();
}
