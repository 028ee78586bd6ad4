/* The QMP proxy: qmp.sock in the run directory speaks plain QMP to any number of
 * clients over one connection to QEMU (a monitor of its own, see sup-proxy.h). Each
 * client gets a greeting and negotiates on its own; its commands go to QEMU with the
 * connection's ids and the replies come back with the client's own ids, exactly as
 * written, in the order of its commands (out-of-band ones answered as soon as QEMU
 * answers, as in QEMU); events go to every negotiated client. A malformed message (see
 * qmp/reader.h; 1 MiB at most) is answered with an error, as QEMU would, in its turn, and
 * the client carries on; nothing of it reaches QEMU. Descriptors passed with getfd and
 * add-fd (SCM_RIGHTS) go on to QEMU.
 *
 * No client can hurt the others or the VM: clients take turns to send their commands,
 * one at a time each, two of all at QEMU at most, so QEMU keeps reading the connection
 * (out-of-band commands get through) and the supervisor's own commands, on its monitor,
 * wait for one of them at most; a client is not read further while it has 8 messages
 * unanswered; one that leaves has its commands not sent yet dropped; one that does not
 * read what it is sent is dropped, never waited for. The parts are described in
 * proxy-int.h. */
#ifndef VMM_PROXY_H
#define VMM_PROXY_H

#include <stdbool.h>

#include "qmp/qmp.h"

struct proxy;

/* What a protected VM refuses through the proxy (see proxy-policy.c). */
struct proxy_policy {
	/* NULL: the VM is not protected. Else it is: these commands (NULL-terminated) are
	 * refused, with those that end its run, restart it or replace its state, and any
	 * HMP command but the read-only 'info' ones. */
	const char *const *refused;
	const char *why; /* the error description given for a refused command */
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

/* Closes every client and stops accepting; replies still due are dropped (the proxy's
 * memory goes with the last of them: free the QMP client after it). Safe with NULL. */
void proxy_free(struct proxy *p);

#endif
