/* CPU sets, cgroup v2 files and IRQ affinities: the kernel files cpu.isolate changes. */
#include "vmm/base/isolate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The most a kernel file read here may hold. */
#define KFILE_MAX 65536

void cpubits_add(struct cpubits *s, unsigned cpu)
{
	if (cpu < CPUBITS_MAX)
		s->w[cpu / 64] |= 1ULL << (cpu % 64);
}

/* True when CPU is in the set. */
static bool cpubits_has(const struct cpubits *s, unsigned cpu)
{
	return cpu < CPUBITS_MAX && (s->w[cpu / 64] >> (cpu % 64) & 1);
}

bool cpubits_empty(const struct cpubits *s)
{
	for (size_t i = 0; i < CPUBITS_MAX / 64; i++)
		if (s->w[i])
			return false;
	return true;
}

int cpubits_parse(const char *list, struct cpubits *out)
{
	const char *p = list;

	memset(out, 0, sizeof(*out));
	while (*p && *p != '\n') {
		char *end;
		unsigned long lo = strtoul(p, &end, 10), hi = lo;

		if (end == p || lo >= CPUBITS_MAX)
			return -1;
		p = end;
		if (*p == '-') {
			hi = strtoul(++p, &end, 10);
			if (end == p || hi < lo || hi >= CPUBITS_MAX)
				return -1;
			p = end;
		}
		for (unsigned long c = lo; c <= hi; c++)
			cpubits_add(out, (unsigned)c);
		if (*p == ',')
			p++;
		else if (*p && *p != '\n')
			return -1;
	}
	return 0;
}

char *cpubits_list(const struct cpubits *s)
{
	struct strv parts = { 0 };
	char *out;
	size_t len = 1;

	for (unsigned c = 0; c < CPUBITS_MAX; c++) {
		unsigned hi = c;

		if (!cpubits_has(s, c))
			continue;
		while (hi + 1 < CPUBITS_MAX && cpubits_has(s, hi + 1))
			hi++;
		if (hi == c)
			strv_pushf(&parts, "%u", c);
		else
			strv_pushf(&parts, "%u-%u", c, hi);
		c = hi;
	}
	for (size_t i = 0; i < parts.n; i++)
		len += strlen(parts.v[i]) + 1;
	out = xzalloc(len);
	for (size_t i = 0; i < parts.n; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, parts.v[i]);
	}
	strv_free(&parts);
	return out;
}

char *cpubits_mask(const struct cpubits *s)
{
	int top = 0;
	char *out, *p;

	for (int g = 0; g < CPUBITS_MAX / 32; g++)
		if ((uint32_t)(s->w[g / 2] >> (g % 2 * 32)))
			top = g;
	out = p = xmalloc((size_t)(top + 1) * 9 + 1);
	for (int g = top; g >= 0; g--) {
		uint32_t v = (uint32_t)(s->w[g / 2] >> (g % 2 * 32));

		p += sprintf(p, g == top ? "%x" : ",%08x", v);
	}
	return out;
}

char *kfile_read(const char *path, struct verr *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	ssize_t n;

	if (fd < 0) {
		verr_set(err, errno, "cannot read '%s'", path);
		return NULL;
	}
	buf = xmalloc(KFILE_MAX);
	while ((n = read(fd, buf + len, KFILE_MAX - 1 - len)) > 0)
		len += (size_t)n;
	if (n < 0) {
		verr_set(err, errno, "cannot read '%s'", path);
		return NULL;
	}
	while (len && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	return steal_ptr(buf);
}

int kfile_write(const char *path, const char *value, struct verr *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(value);
	int saved;

	if (fd >= 0 && write(fd, len ? value : "\n", len ? len : 1) == (ssize_t)(len ? len : 1))
		return 0;
	saved = errno;
	verr_set(err, saved, "cannot write '%s' to '%s'", value, path);
	errno = saved;
	return -1;
}

int host_online_cpus(struct cpubits *out, struct verr *err)
{
	_cleanup_free_ char *list = kfile_read("/sys/devices/system/cpu/online", err);

	if (!list)
		return -1;
	if (cpubits_parse(list, out) < 0 || cpubits_empty(out))
		return verr_set(err, 0, "/sys/devices/system/cpu/online: '%s' is not a CPU list", list);
	return 0;
}

/* Undoes the octal escapes (\040 and the like) of a mountinfo path, in place. */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++)
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	*out = '\0';
}

char *cgroup2_mount(struct verr *err)
{
	_cleanup_free_ char *info = kfile_read("/proc/self/mountinfo", err);
	char *save = NULL;

	if (!info)
		return NULL;
	/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS" */
	for (char *line = strtok_r(info, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sep = strstr(line, " - "), *field, *sp = NULL;
		int i = 0;

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		*sep = '\0';
		for (field = strtok_r(line, " ", &sp); field && i < 4; field = strtok_r(NULL, " ", &sp))
			i++;
		if (field) {
			unescape(field);
			return xstrdup(field);
		}
	}
	verr_set(err, 0, "no cgroup2 file system is mounted (/proc/self/mountinfo)");
	return NULL;
}

int cgroup_move(const char *dir, pid_t pid, struct verr *err)
{
	_cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", dir), *num = xasprintf("%d", (int)pid);

	if (mkdir_parents(dir, 0755) < 0)
		return verr_set(err, errno, "cannot create the cgroup '%s'", dir);
	return kfile_write(procs, num, err);
}

/* Orders IRQ numbers as numbers. */
static int by_number(const void *a, const void *b)
{
	long x = atol(*(char *const *)a), y = atol(*(char *const *)b);

	return (x > y) - (x < y);
}

int irq_affinity_files(struct strv *out, struct verr *err)
{
	DIR *d = opendir("/proc/irq");
	struct strv nums = { 0 };
	struct dirent *e;

	if (!d)
		return verr_set(err, errno, "cannot list /proc/irq");
	while ((e = readdir(d)))
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
			strv_push(&nums, e->d_name);
	closedir(d);
	if (nums.n)
		qsort(nums.v, nums.n, sizeof(*nums.v), by_number);
	for (size_t i = 0; i < nums.n; i++)
		strv_pushf(out, "/proc/irq/%s/smp_affinity_list", nums.v[i]);
	strv_free(&nums);
	return 0;
}
