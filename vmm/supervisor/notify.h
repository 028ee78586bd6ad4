/* The service manager's notification socket ($NOTIFY_SOCKET, systemd's sd_notify protocol):
 * READY=1 once the guest runs, STATUS= with each line the supervisor says, STOPPING=1 with
 * the time a stop may take. Without $NOTIFY_SOCKET every call does nothing. */
#ifndef VMM_NOTIFY_H
#define VMM_NOTIFY_H

/* Opens the socket named by $NOTIFY_SOCKET and removes the variable (QEMU must not inherit
 * it). Returns -1 with errno when it is named but cannot be used. */
int notify_open(void);

/* Sends one datagram of newline-separated KEY=VALUE assignments; errors are ignored, as
 * the service manager may be gone. */
void notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Closes the socket. */
void notify_close(void);

#endif
