/* The control socket (ctl.sock) of a VM's supervisor: JSON lines in both directions.
 * A request is {"request": NAME, ...arguments}; each gets exactly one reply,
 * {"return": VALUE} or {"error": "what went wrong"}, possibly much later (a stop
 * answers when the VM has ended). Requests are handled one at a time per connection,
 * and carry "version": CONTROL_VERSION so an old supervisor and a new CLI notice each other. */
#ifndef VMM_CONTROL_H
#define VMM_CONTROL_H

#include <event2/event.h>
#include <json-c/json.h>

#include "vmm/supervisor/protocol.h"

struct control;
struct control_conn;

/* Handles one request; must eventually call control_reply() or control_fail() on conn. */
typedef void (*control_request_fn)(struct control_conn *conn, const char *request, struct json_object *args,
				   void *arg);

/* Serves clients of listen_fd (a listening socket, not owned; -1 for none). */
struct control *control_new(struct event_base *base, int listen_fd, control_request_fn fn, void *arg);

/* Adopts a connected client socket (owned). */
void control_add_client(struct control *ctl, int fd);

/* Answers the request being handled on conn with ret (consumed; NULL means {}). */
void control_reply(struct control_conn *conn, struct json_object *ret);

/* Answers the request being handled on conn with an error. */
void control_fail(struct control_conn *conn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Keeps conn for a later reply (after the handler returned); control_reply/fail release it. */
void control_hold(struct control_conn *conn);

/* Writes out what is queued for every client, then closes them and stops accepting. Safe with NULL. */
void control_free(struct control *c);

#endif
