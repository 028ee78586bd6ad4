#include "vmm/base/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>

/* Out of memory is not an error vmm can report meaningfully: abort like glib. */
static void *oom(void)
{
	static const char msg[] = "vmm: out of memory\n";
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	return p ? p : oom();
}

void *xzalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);
	return p ? p : oom();
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	return p ? p : oom();
}

void *xmemdup(const void *p, size_t n)
{
	return memcpy(xmalloc(n), p, n);
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	return p ? p : oom();
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char *p;
	if (vasprintf(&p, fmt, ap) < 0)
		return oom();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = xvasprintf(fmt, ap);
	va_end(ap);
	return p;
}

void strv_push(struct strv *s, const char *str)
{
	if (s->n + 2 > s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = xstrdup(str);
	s->v[s->n] = NULL;
}

void strv_pushf(struct strv *s, const char *fmt, ...)
{
	va_list ap;
	char *str;

	va_start(ap, fmt);
	str = xvasprintf(fmt, ap);
	va_end(ap);
	strv_push(s, str);
	free(str);
}

void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	*s = (struct strv){ 0 };
}

int parse_size(const char *s, uint64_t *bytes)
{
	static const char units[] = "KMGT";
	char *end;
	unsigned long long n;
	int shift = 0;

	if (!isdigit((unsigned char)*s))
		return errno = EINVAL, -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno)
		return errno = EINVAL, -1;
	if (*end) {
		const char *u = strchr(units, toupper((unsigned char)*end));
		if (!u)
			return errno = EINVAL, -1;
		shift = 10 * (int)(u - units + 1);
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "B"))
			end += strlen(end);
		if (*end)
			return errno = EINVAL, -1;
	}
	if (n == 0 || n > (UINT64_MAX >> shift))
		return errno = EINVAL, -1;
	*bytes = (uint64_t)n << shift;
	return 0;
}

int write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int write_text_file(const char *file, const char *text)
{
	_cleanup_free_ char *tmp = xasprintf("%s.XXXXXX", file);
	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
	int e;

	if (fd < 0)
		return -1;
	if (write_all(fd, text, strlen(text)) == 0 && write_all(fd, "\n", 1) == 0 && fsync(fd) == 0 &&
	    rename(tmp, file) == 0)
		return 0;
	e = errno;
	unlink(tmp);
	errno = e;
	return -1;
}

int unix_connect(const struct sockaddr_un *sa, unsigned timeout_ms)
{
	const struct timeval wait = { .tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000 }, none = { 0 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), e;

	if (fd < 0)
		return -1;
	/* connect waits for room in a full backlog as long as SO_SNDTIMEO says (unix(7)); the
	 * socket then gets back the default, writes that block. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof(wait)) < 0 ||
	    connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof(none)) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

bool id_valid(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max || !isalpha((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

/* The length of the valid UTF-8 sequence at p (of at most n bytes, p[0] >= 0x80), 0 when invalid. */
static size_t utf8_length(const unsigned char *p, size_t n)
{
	size_t len = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] < 0xc2 || p[0] > 0xf4 || len > n)
		return 0;
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

char *text_clean(const char *buf, size_t n)
{
	const unsigned char *p = (const unsigned char *)buf, *end = p + n;
	char *out = xmalloc(n + 1), *o = out;

	while (p < end) {
		size_t len;
		if (*p == 0x1b) { /* ESC [ parameters final byte, or ESC and one character */
			if (++p < end && *p == '[')
				while (++p < end && (*p < 0x40 || *p > 0x7e))
					;
			p += p < end;
		} else if (*p >= 0x80) {
			len = utf8_length(p, (size_t)(end - p));
			if (!len)
				*o++ = '?';
			for (size_t i = 0; i < len; i++)
				*o++ = (char)p[i];
			p += len ? len : 1;
		} else {
			if (*p >= 0x20 ? *p != 0x7f : *p == '\t')
				*o++ = (char)*p;
			p++;
		}
	}
	*o = '\0';
	return out;
}

char *shell_quote(const char *word)
{
	size_t n = 3;
	char *out, *o;

	if (*word && strspn(word, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				  "0123456789@%+=:,./_-") == strlen(word))
		return xstrdup(word);
	for (const char *p = word; *p; p++)
		n += *p == '\'' ? 4 : 1;
	o = out = xmalloc(n);
	*o++ = '\'';
	for (const char *p = word; *p; p++) {
		if (*p == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else
			*o++ = *p;
	}
	*o++ = '\'';
	*o = '\0';
	return out;
}

bool peer_is_trusted(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && (cred.uid == geteuid() || cred.uid == 0);
}

int mkdir_parents(const char *dir, mode_t mode)
{
	_cleanup_free_ char *p = xstrdup(dir);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return mkdir(p, mode) < 0 && errno != EEXIST ? -1 : 0;
}

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
