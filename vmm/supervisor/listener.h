/* Accepting clients on one of the supervisor's sockets (ctl.sock, qmp.sock): only peers
 * running as our user or root are let in, and when accept() fails for lack of descriptors
 * the listener pauses for a second instead of spinning (OpenBSD vmd's back-off). */
#ifndef VMM_LISTENER_H
#define VMM_LISTENER_H

#include <event2/event.h>

struct listener;

/* Called with each accepted, trusted client socket (owned by the callee). */
typedef void (*listener_adopt_fn)(void *arg, int fd);

/* Starts accepting on listen_fd (a listening socket, not owned). */
struct listener *listener_new(struct event_base *base, int listen_fd, listener_adopt_fn adopt, void *arg);

/* Stops accepting; the socket stays open. Safe with NULL. */
void listener_free(struct listener *l);

#endif
