/* sd_notify's protocol, written out (one datagram per message) so vmm needs no libsystemd. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/supervisor/notify.h"

static int notify_fd = -1;

int notify_open(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (!path || !*path)
		return 0;
	len = strlen(path);
	/* "@name" is Linux's abstract namespace: the address starts with a NUL byte. */
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
		unsetenv("NOTIFY_SOCKET");
		errno = EINVAL;
		return -1;
	}
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0) {
		int e = errno;

		close(fd);
		unsetenv("NOTIFY_SOCKET");
		errno = e;
		return -1;
	}
	unsetenv("NOTIFY_SOCKET");
	notify_fd = fd;
	return 0;
}

void notify_send(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	if (notify_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	(void)send(notify_fd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

void notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}
