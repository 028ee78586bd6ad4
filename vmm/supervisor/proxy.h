/* The QMP proxy: qmp.sock in the run directory speaks plain QMP to any number of
 * clients over the supervisor's single connection to QEMU. Each client gets a greeting
 * and negotiates on its own; its commands go to QEMU with the connection's ids and the
 * replies come back with the client's own ids, exactly as written; events go to every
 * negotiated client. A malformed message (see qmp/reader.h; 1 MiB at most) is answered
 * with an error, as QEMU would, and the client carries on; nothing of it reaches QEMU.
 * A client that does not read what it is sent is dropped, never waited for. */
#ifndef VMM_PROXY_H
#define VMM_PROXY_H

#include <stdbool.h>

#include "qmp/qmp.h"

struct proxy;

/* Commands a protected VM refuses through the proxy. */
struct proxy_policy {
	const char *const *refused; /* NULL-terminated, or NULL for none */
	const char *why;            /* the error description given for a refused command */
};

/* Starts serving clients that connect to listen_fd (a listening socket, not owned;
 * -1 for none) over the ready QMP connection qmp. */
struct proxy *proxy_new(struct event_base *base, int listen_fd, struct qmp_client *qmp,
			const struct proxy_policy *policy);

/* Adopts a connected client socket (owned): it is greeted at once. */
void proxy_add_client(struct proxy *p, int fd);

/* Sends one QEMU event to every negotiated client. */
void proxy_event(struct proxy *p, struct json_object *msg);

/* Number of connected clients. */
unsigned proxy_clients(const struct proxy *p);

/* Closes every client and stops accepting; replies still due are dropped. Safe with NULL. */
void proxy_free(struct proxy *p);

#endif
