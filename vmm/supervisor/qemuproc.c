#include "vmm/supervisor/qemuproc.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "vmm/base/rundir.h"

/* Reads /proc/PID/cmdline whole: its NUL-terminated arguments, one more NUL after the last;
 * NULL when the process is gone or a zombie (*len: the bytes of arguments). */
static char *read_args(pid_t pid, size_t *len)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/cmdline", pid), *buf = NULL;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 4096, n = 0;
	ssize_t r;

	if (fd < 0)
		return NULL;
	buf = xmalloc(cap + 1);
	while ((r = read(fd, buf + n, cap - n)) > 0)
		if ((n += (size_t)r) == cap)
			buf = xrealloc(buf, (cap *= 2) + 1);
	if (r < 0 || n == 0)
		return NULL;
	buf[n] = '\0';
	*len = n;
	return steal_ptr(buf);
}

/* The inodes of the sockets process pid holds open (n of them, malloc'd). */
static unsigned long *socket_inodes(pid_t pid, size_t *n)
{
	_cleanup_free_ char *dir = xasprintf("/proc/%d/fd", pid);
	unsigned long *inodes = NULL, ino;
	DIR *d = opendir(dir);
	struct dirent *e;
	char link[64];

	*n = 0;
	while (d && (e = readdir(d))) {
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, e->d_name);
		ssize_t len = readlinkat(AT_FDCWD, path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%lu]", &ino) == 1) {
			inodes = xrealloc(inodes, (*n + 1) * sizeof(*inodes));
			inodes[(*n)++] = ino;
		}
	}
	if (d)
		closedir(d);
	return inodes;
}

/* True when process pid holds a unix socket bound in directory dir ("DIR/..."): the monitor
 * socket vmm bound there before QEMU inherited it. /proc/net/unix keeps a socket's path even
 * after the file is gone, so a QEMU whose run directory was deleted is still found. */
static bool holds_socket_in(pid_t pid, const char *dir)
{
	size_t n, cap = 0;
	_cleanup_free_ unsigned long *inodes = socket_inodes(pid, &n);
	_cleanup_free_ char *line = NULL;
	FILE *f = n ? fopen("/proc/net/unix", "re") : NULL;
	bool found = false;

	while (f && !found && getline(&line, &cap, f) > 0) {
		unsigned long ino;
		int at = 0;
		if (sscanf(line, "%*s %*s %*s %*s %*s %*s %lu %n", &ino, &at) != 1 || !at)
			continue;
		line[strcspn(line, "\n")] = '\0';
		for (size_t i = 0; i < n && !found; i++)
			found = inodes[i] == ino && !strncmp(line + at, dir, strlen(dir));
	}
	if (f)
		fclose(f);
	return found;
}

/* The VM name of the QEMU whose arguments these are, when vmm started it under run base
 * base; NULL otherwise. */
static char *vm_of(pid_t pid, const char *args, size_t len, const char *base)
{
	_cleanup_free_ char *name = NULL, *dir = NULL;

	for (const char *a = args, *next; a < args + len && !name; a = next) {
		next = a + strlen(a) + 1;
		if (!strcmp(a, "-name") && next < args + len && !strncmp(next, "guest=", 6))
			name = xasprintf("%.*s", (int)strcspn(next + 6, ","), next + 6);
	}
	if (!name || !vm_name_valid(name))
		return NULL;
	dir = xasprintf("%s/%s/", base, name);
	return holds_socket_in(pid, dir) ? steal_ptr(name) : NULL;
}

/* True when process pid runs a QEMU that vmm started under base; *name: which VM's. */
static bool qemu_of(pid_t pid, const char *base, char **name)
{
	size_t len;
	_cleanup_free_ char *args = pid > 0 && pid != getpid() ? read_args(pid, &len) : NULL;

	return args && (*name = vm_of(pid, args, len, base)) != NULL;
}

/* Calls fn(pid, arg) for each process until it returns true; returns that pid or 0. */
static pid_t each_process(bool (*fn)(pid_t pid, void *arg), void *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;

	while (d && !found && (e = readdir(d)))
		if (isdigit((unsigned char)e->d_name[0]) && fn(atoi(e->d_name), arg))
			found = atoi(e->d_name);
	if (d)
		closedir(d);
	return found;
}

/* A run directory split into its base and VM name. */
struct wanted {
	char *base;
	const char *name;
};

/* each_process: is pid the wanted VM's QEMU? */
static bool is_wanted(pid_t pid, void *arg)
{
	const struct wanted *w = arg;
	_cleanup_free_ char *name = NULL;

	return qemu_of(pid, w->base, &name) && !strcmp(name, w->name);
}

/* Splits run directory dir (BASE/NAME) into w (w->base to free) when name is its last part. */
static bool split(const char *dir, const char *name, struct wanted *w)
{
	size_t n = strlen(dir), k = strlen(name);

	if (n <= k || dir[n - k - 1] != '/' || strcmp(dir + n - k, name))
		return false;
	*w = (struct wanted){ .base = xasprintf("%.*s", (int)(n - k - 1), dir), .name = name };
	return true;
}

bool qemuproc_is(pid_t pid, const char *dir, const char *name)
{
	struct wanted w;
	bool is;

	if (!split(dir, name, &w))
		return false;
	is = is_wanted(pid, &w);
	free(w.base);
	return is;
}

pid_t qemuproc_find(const char *dir, const char *name)
{
	struct wanted w;
	pid_t pid;

	if (!split(dir, name, &w))
		return 0;
	pid = each_process(is_wanted, &w);
	free(w.base);
	return pid;
}

/* What qemuproc_names collects into. */
struct collect {
	const char *base;
	struct strv *names;
};

/* each_process: adds the VM name of pid when it is one of base's QEMUs (never stops). */
static bool add_name(pid_t pid, void *arg)
{
	struct collect *c = arg;
	_cleanup_free_ char *name = NULL;

	if (!qemu_of(pid, c->base, &name))
		return false;
	for (size_t i = 0; i < c->names->n; i++)
		if (!strcmp(c->names->v[i], name))
			return false;
	strv_push(c->names, name);
	return false;
}

void qemuproc_names(const char *base, struct strv *names)
{
	struct collect c = { base, names };

	each_process(add_name, &c);
}
