#include "vmm/cli/migrate-uri.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vmm/base/host.h"
#include "vmm/base/util.h"

/* Whether path is dir or below it. */
static bool is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0' || !strcmp(dir, "/"));
}

int migrate_uri_check(const char *uri, bool listen, struct verr *err)
{
	_cleanup_free_ char *copy = NULL, *real = NULL, *base = NULL;
	const char *path;
	struct stat st;

	if (strncmp(uri, "unix:", 5))
		return 0;
	path = uri + 5;
	if (path[0] != '/')
		return verr_set(err, 0, "'%s': expected unix: and an absolute path (the supervisor works from /)", uri);
	if (lstat(path, &st) == 0 && listen)
		return verr_set(err, 0, "'%s': the file exists (QEMU would remove it to listen there)", uri);
	if (!listen && stat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		return verr_set(err, 0, "'%s': the file is not a socket", uri);
	/* Where the path leads: the socket's own (symbolic links followed), else its directory's. */
	copy = xstrdup(path);
	if (!(real = realpath(path, NULL)) && !(real = realpath(dirname(copy), NULL)))
		return verr_set(err, errno, "'%s': cannot resolve its directory", uri);
	if (!(base = run_base_dir(err)))
		return -1;
	if (is_under(real, base))
		return verr_set(err, 0, "'%s' is in vmm's run directory %s, which holds the VMs' own sockets", uri, base);
	/* QEMU's user may write in the directory it listens in: never one above the run directory,
	 * whose every part must be writable by root alone (vmm would refuse to start a VM). */
	if (listen && is_under(base, real))
		return verr_set(err, 0, "'%s': its directory %s holds vmm's run directory %s, which QEMU's user must not "
				"write in", uri, real, base);
	return 0;
}
