/* Descriptors over a Unix socket for the unit tests (SCM_RIGHTS): sending some with bytes,
 * and reading bytes while keeping the first descriptor that comes with them. */
#ifndef VMM_TEST_SCM_H
#define VMM_TEST_SCM_H

#include <string.h>
#include <sys/socket.h>

/* Descriptors a test passes or takes at most at a time. */
#define SCM_MAX_FDS 8

/* Sends bytes (a string) with n descriptors. */
static inline void scm_send(int sock, const char *bytes, const int *fds, size_t n)
{
	union {
		char buf[CMSG_SPACE(SCM_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { (void *)bytes, strlen(bytes) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
	(void)!sendmsg(sock, &msg, 0);
}

/* Reads what sock has into buf; *fd gets the first descriptor passed with it, if any. */
static inline ssize_t scm_recv(int sock, char *buf, size_t len, int *fd)
{
	union {
		char buf[CMSG_SPACE(SCM_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };
	ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;

	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return n;
}

#endif
