/* Accepting clients on one of the supervisor's sockets (ctl.sock, qmp.sock, console.sock),
 * so that no flood of connections, to any of them, wedges the supervisor:
 *   - only peers running as our user or root are let in;
 *   - a socket whose owner keeps many clients has a cap on them: past it a new
 *     connection is closed at once, so one socket's flood cannot take the descriptors
 *     another one needs. The caps below fit together in the usual limit of 1024
 *     descriptors with room to spare; under a lower limit, a cap shrinks to a quarter of
 *     it (console.sock needs none: it keeps one client and turns the others away at once);
 *   - when accept() fails for lack of descriptors all the same (EMFILE), a spare
 *     descriptor kept for the purpose is closed, the connection accepted into its slot
 *     and closed, and the spare opened again: the flood is shed, never left to fill the
 *     backlog;
 *   - when even that fails (ENFILE, ENOMEM, no spare), that listener alone pauses for a
 *     second (OpenBSD vmd's back-off); the others keep accepting.
 * A listener accepts a few connections at a time, so the sockets and the rest of the
 * event loop take turns during a flood. */
#ifndef VMM_LISTENER_H
#define VMM_LISTENER_H

#include <event2/event.h>

/* Clients at most on qmp.sock and on ctl.sock. */
#define LISTENER_QMP_CLIENTS 256u
#define LISTENER_CTL_CLIENTS 64u

struct listener;

/* Called with each accepted, trusted client socket (owned by the callee). */
typedef void (*listener_adopt_fn)(void *arg, int fd);

/* Starts accepting on listen_fd (a listening socket, not owned), with no cap. */
struct listener *listener_new(struct event_base *base, int listen_fd, listener_adopt_fn adopt, void *arg);

/* Caps the owner's clients at max: *clients is its count of them, read at each new
 * connection. */
void listener_cap(struct listener *l, unsigned max, const unsigned *clients);

/* Stops accepting; the socket stays open. Safe with NULL. */
void listener_free(struct listener *l);

#endif
