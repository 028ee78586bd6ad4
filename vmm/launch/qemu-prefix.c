#include "vmm/launch/qemu-prefix.h"

#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Debian's QEMU searches these for firmware (`qemu-system-x86_64 -L help`), relative to /. */
static const char *const firmware_dirs[] = { "usr/share/qemu", "usr/share/seabios", "usr/lib/ipxe/qemu", NULL };

/* True when path is a directory. */
static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void qemu_prefix_find(const char *binary, struct qemu_prefix *q)
{
	_cleanup_free_ char *real = realpath(binary, NULL), *data = NULL, *pattern = NULL;
	char *bin;
	glob_t modules;

	*q = (struct qemu_prefix){ 0 };
	/* ROOT/usr/bin/NAME, ROOT not "/" (there the built-in paths are right), with ROOT/usr/share/qemu. */
	bin = real ? strrchr(real, '/') : NULL;
	if (!bin || bin - real < 9 || strncmp(bin - 8, "/usr/bin", 8))
		return;
	bin[-8] = '\0';
	data = xasprintf("%s/usr/share/qemu", real);
	if (!is_dir(data))
		return;
	for (size_t i = 0; firmware_dirs[i]; i++) {
		_cleanup_free_ char *dir = xasprintf("%s/%s", real, firmware_dirs[i]);
		if (is_dir(dir))
			strv_push(&q->data_dirs, dir);
	}
	/* Debian's module directory is usr/lib/<multiarch triplet>/qemu. */
	pattern = xasprintf("%s/usr/lib/*-linux-gnu*/qemu", real);
	if (glob(pattern, GLOB_ONLYDIR, NULL, &modules) == 0 && is_dir(modules.gl_pathv[0]))
		strv_pushf(&q->env, "QEMU_MODULE_DIR=%s", modules.gl_pathv[0]);
	globfree(&modules);
}

void qemu_prefix_free(struct qemu_prefix *q)
{
	strv_free(&q->data_dirs);
	strv_free(&q->env);
}
