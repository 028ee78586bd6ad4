/* Unit tests of a QEMU unpacked into a directory (qemu-prefix.h): which trees get -L and
 * QEMU_MODULE_DIR, and that spawn hands QEMU its environment with those set on top of vmm's. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "vmm/launch/qemu-prefix.h"
#include "vmm/launch/spawn.h"

static char base[] = "/tmp/vmm-prefix-XXXXXX";

/* Creates the directories of path under base (path relative, '/'-separated). */
static void make_dirs(const char *path)
{
	_cleanup_free_ char *full = xasprintf("%s/%s", base, path);

	mkdir_parents(full, 0755);
}

/* Creates an executable file at path under base. */
static void make_binary(const char *path)
{
	_cleanup_free_ char *full = xasprintf("%s/%s", base, path), *dir = xstrdup(full);

	*strrchr(dir, '/') = '\0';
	mkdir_parents(dir, 0755);
	close(open(full, O_WRONLY | O_CREAT, 0755));
}

/* Finds the prefix of binary (under base) and returns "-L dirs | env" relative to base. */
static char *found(const char *binary)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", base, binary);
	struct qemu_prefix q;
	char *s = xstrdup(""), *longer;
	size_t n = strlen(base);

	qemu_prefix_find(path, &q);
	for (size_t i = 0; i < q.data_dirs.n; i++, s = longer) {
		longer = xasprintf("%s-L %s ", s, q.data_dirs.v[i] + n);
		free(s);
	}
	for (size_t i = 0; i < q.env.n; i++, s = longer) {
		char *eq = strchr(q.env.v[i], '=');
		longer = xasprintf("%s| %.*s%s", s, (int)(eq - q.env.v[i] + 1), q.env.v[i], eq + 1 + n);
		free(s);
	}
	qemu_prefix_free(&q);
	return s;
}

/* A tree unpacked from Debian packages gets its firmware directories and its module directory;
 * through a symbolic link too; other layouts get nothing. */
static void test_find(void)
{
	char *s;

	make_binary("q10/usr/bin/qemu-system-x86_64");
	make_dirs("q10/usr/share/qemu");
	make_dirs("q10/usr/share/seabios");
	make_dirs("q10/usr/lib/x86_64-linux-gnu/qemu");
	s = found("q10/usr/bin/qemu-system-x86_64");
	ok(!strcmp(s, "-L /q10/usr/share/qemu -L /q10/usr/share/seabios | QEMU_MODULE_DIR=/q10/usr/lib/x86_64-linux-gnu/qemu"),
	   "an unpacked tree: its firmware and modules (%s)", s);
	free(s);

	make_dirs("bin");
	{
		_cleanup_free_ char *target = xasprintf("%s/q10/usr/bin/qemu-system-x86_64", base);
		_cleanup_free_ char *link = xasprintf("%s/bin/qemu10", base);
		ok(symlink(target, link) == 0, "a link to it");
	}
	s = found("bin/qemu10");
	ok(!strcmp(s, "-L /q10/usr/share/qemu -L /q10/usr/share/seabios | QEMU_MODULE_DIR=/q10/usr/lib/x86_64-linux-gnu/qemu"),
	   "found through a symbolic link (%s)", s);
	free(s);

	make_binary("nomods/usr/bin/qemu-system-x86_64");
	make_dirs("nomods/usr/share/qemu");
	s = found("nomods/usr/bin/qemu-system-x86_64");
	ok(!strcmp(s, "-L /nomods/usr/share/qemu "), "no module directory: -L alone (%s)", s);
	free(s);

	make_binary("built/bin/qemu-system-x86_64");
	make_dirs("built/share/qemu");
	s = found("built/bin/qemu-system-x86_64");
	ok(!*s, "a QEMU built with its own --prefix: nothing (%s)", s);
	free(s);

	make_binary("nodata/usr/bin/qemu-system-x86_64");
	s = found("nodata/usr/bin/qemu-system-x86_64");
	ok(!*s, "no usr/share/qemu beside it: nothing (%s)", s);
	free(s);

	s = found("missing/usr/bin/qemu-system-x86_64");
	ok(!*s, "a binary that does not exist: nothing");
	free(s);
}

/* spawn: QEMU gets vmm's environment with the given variables replaced, each once. */
static void test_spawn_env(void)
{
	char *const argv[] = { "/bin/sh", "-c", "env | grep '^VMM_T[12]=' | sort", NULL };
	char *const env[] = { "VMM_T1=new", NULL };
	struct spawned child;
	struct verr err = { 0 };
	char out[256] = "";
	ssize_t n, got = 0;

	setenv("VMM_T1", "old", 1);
	setenv("VMM_T2", "kept", 1);
	ok(spawn(argv[0], argv, env, NULL, 0, &child, &err) == 0, "spawn with an environment");
	while ((n = read(child.output_fd, out + got, sizeof(out) - 1 - (size_t)got)) > 0)
		got += n;
	out[got] = '\0';
	waitpid(child.pid, NULL, 0);
	close(child.output_fd);
	ok(!strcmp(out, "VMM_T1=new\nVMM_T2=kept\n"), "the given variable replaced, the others kept");
	verr_clear(&err);
}

/* Removes the test tree (rm -rf, through spawn: no shell). */
static void remove_tree(void)
{
	char *const argv[] = { "/bin/rm", "-rf", base, NULL };
	struct spawned child;
	struct verr err = { 0 };

	if (spawn(argv[0], argv, NULL, NULL, 0, &child, &err) == 0) {
		waitpid(child.pid, NULL, 0);
		close(child.output_fd);
	}
	verr_clear(&err);
}

int main(void)
{
	if (!mkdtemp(base))
		return 1;
	test_find();
	test_spawn_env();
	remove_tree();
	return tap_done();
}
