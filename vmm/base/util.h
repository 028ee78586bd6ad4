/* Small helpers shared by every part of vmm: allocation that cannot fail,
 * cleanup attributes, a NULL-terminated string vector. Those that can fail return -1
 * with errno set, as the system calls they wrap do. */
#ifndef VMM_UTIL_H
#define VMM_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

void *xmalloc(size_t n);
void *xzalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
void *xmemdup(const void *p, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Cleanup helpers: free or close what a variable holds when it goes out of scope. */
static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd) { if (*fd >= 0) close(*fd); }
#define _cleanup_free_ __attribute__((cleanup(freep)))
#define _cleanup_close_ __attribute__((cleanup(closep)))

/* Hands ownership out of a cleanup variable: `return steal_ptr(p);`. */
#define steal_ptr(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })
#define steal_fd(fd) ({ int _t = (fd); (fd) = -1; _t; })

/* A growable NULL-terminated array of owned strings (an argv). */
struct strv {
	char **v;
	size_t n, cap;
};

void strv_push(struct strv *s, const char *str);
void strv_pushf(struct strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strv_free(struct strv *s);

/* Parses "512M", "8G", "1T" (binary units; "K/M/G/T" with optional "iB" or "B"). */
int parse_size(const char *s, uint64_t *bytes);

/* mkdir -p: creates dir and its missing parents with mode. */
int mkdir_parents(const char *dir, mode_t mode);

/* Milliseconds on the monotonic clock. */
int64_t now_ms(void);

/* Writes the whole buffer, retrying on EINTR and short writes. */
int write_all(int fd, const void *buf, size_t n);

/* Replaces file with text and a newline, atomically: a unique temporary file beside it
 * (mode 0600), fsync, rename. -1 with errno, the temporary file removed. */
int write_text_file(const char *file, const char *text);

struct sockaddr_un;

/* Connects a new unix stream socket to sa, waiting at most timeout_ms (0: as long as it takes)
 * while the listener's backlog is full. Returns the fd, or -1 with errno (EAGAIN: the time ran out). */
int unix_connect(const struct sockaddr_un *sa, unsigned timeout_ms);

/* True when the peer of a unix socket runs as our user or as root (vmd's SO_PEERCRED check). */
bool peer_is_trusted(int fd);

/* True when s is a valid QEMU id (or VM name): a letter, then up to max - 1 letters, digits,
 * '-', '_' or '.'. */
bool id_valid(const char *s, size_t max);

/* A line of text as others may show it (JSON, a terminal): n bytes without terminal escape
 * sequences, carriage returns and other control characters (tabs stay), invalid UTF-8 as '?'. */
char *text_clean(const char *buf, size_t n);

/* Quotes one word for a POSIX shell, only when it needs quoting. */
char *shell_quote(const char *word);

#endif
