#include "vmm/launch/looking-glass.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/base/util.h"

int looking_glass_prepare(const struct vm_config *c, struct verr *err)
{
	struct passwd *pw = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (!c->looking_glass)
		return 0;
	if (c->lg_user && !(pw = getpwnam(c->lg_user)))
		return verr_set(err, 0, "looking_glass.user: no user '%s' on this host", c->lg_user);
	fd = open(c->lg_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660);
	if (fd < 0 || fstat(fd, &st) < 0)
		return verr_set(err, errno, "looking_glass.path: cannot open '%s'", c->lg_path);
	if (S_ISCHR(st.st_mode))
		return 0;
	if (!S_ISREG(st.st_mode))
		return verr_set(err, 0, "looking_glass.path: '%s' is neither a file nor the kvmfr device", c->lg_path);
	if (st.st_uid != 0 && st.st_uid != geteuid() && (!pw || st.st_uid != pw->pw_uid))
		return verr_set(err, 0, "looking_glass.path: '%s' belongs to uid %u, not to %s: remove it", c->lg_path,
				(unsigned)st.st_uid, c->lg_user ? c->lg_user : "vmm's user");
	if (pw && fchown(fd, pw->pw_uid, pw->pw_gid) < 0)
		return verr_set(err, errno, "looking_glass.user: cannot give '%s' to %s", c->lg_path, c->lg_user);
	if (fchmod(fd, 0660) < 0 || ((uint64_t)st.st_size != c->lg_size && ftruncate(fd, (off_t)c->lg_size) < 0))
		return verr_set(err, errno, "looking_glass.path: cannot size '%s' to %lluM", c->lg_path,
				(unsigned long long)(c->lg_size >> 20));
	return 0;
}
