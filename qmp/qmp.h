/* An asynchronous QMP client on libevent.
 *
 * States: GREETING (waiting for the server's banner) -> NEGOTIATING
 * (qmp_capabilities sent, "oob" enabled when offered) -> READY -> CLOSED.
 * Commands may be sent in any state but CLOSED: they are queued until READY,
 * then written at once (pipelined). Each carries a numeric id; replies are
 * matched by id, so events and out-of-order (OOB) replies are fine. Every
 * command gets exactly one reply callback: its result, a timeout, or the
 * connection's end. An error without an id is reported, never fatal. Any
 * callback may free the client.
 *
 * The library never logs, prints or exits: failures come back as values. */
#ifndef QMP_QMP_H
#define QMP_QMP_H

#include <stdbool.h>

#include <event2/event.h>
#include <json-c/json.h>

struct qmp_client;

enum qmp_state { QMP_GREETING, QMP_NEGOTIATING, QMP_READY, QMP_CLOSED };

/* Why a command or the connection failed. */
enum qmp_failure {
	QMP_OK,          /* the command returned */
	QMP_ERR_COMMAND, /* the server answered with an error (class, desc) */
	QMP_ERR_TIMEOUT, /* no reply within the command's timeout */
	QMP_ERR_CLOSED,  /* the connection ended (EOF, I/O error) */
	QMP_ERR_PROTOCOL /* the server sent something that is not QMP */
};

/* The outcome of one command, valid only during the callback. */
struct qmp_result {
	enum qmp_failure failure;
	struct json_object *ret; /* the "return" value when failure == QMP_OK */
	const char *class;       /* the QMP error class, or NULL */
	const char *desc;        /* what went wrong, worded for a person; NULL on success */
};

typedef void (*qmp_reply_fn)(struct qmp_client *c, const struct qmp_result *r, void *arg);

/* Callbacks for what happens outside of any one command. Each may be NULL. */
struct qmp_handlers {
	void (*ready)(struct qmp_client *c, void *arg);
	/* msg is the whole event object ("event", "data", "timestamp"). */
	void (*event)(struct qmp_client *c, const char *name, struct json_object *msg, void *arg);
	/* The connection is gone; pending commands were already failed. */
	void (*closed)(struct qmp_client *c, enum qmp_failure why, const char *desc, void *arg);
	/* QEMU sent an error without an id, answering no command: input it could not read
	 * as one (a JSON parse error, say). Only reported: the connection and the commands
	 * in flight carry on (the one QEMU could not read, if it was ours, gets no reply). */
	void (*error)(struct qmp_client *c, const char *class, const char *desc, void *arg);
};

/* Flags for qmp_send(). */
#define QMP_SEND_OOB 1u /* send as "exec-oob" (only when the server enabled oob) */

/* Takes ownership of fd (a connected stream socket) and starts the handshake. */
struct qmp_client *qmp_client_new(struct event_base *base, int fd, const struct qmp_handlers *h, void *arg);

/* Frees the client, failing pending commands with QMP_ERR_CLOSED first (their
 * callbacks run, the closed handler does not). Safe inside any callback. */
void qmp_client_free(struct qmp_client *c);

/* Sends a command; args (may be NULL) is consumed. timeout_ms 0 means none.
 * Returns 0, -ENOTCONN when closed, -EINVAL for OOB without oob support. */
int qmp_send(struct qmp_client *c, const char *command, struct json_object *args, unsigned timeout_ms,
	     unsigned flags, qmp_reply_fn fn, void *arg);

/* Sends a complete command object as given (its "id", if any, is replaced). */
int qmp_send_object(struct qmp_client *c, struct json_object *cmd, unsigned timeout_ms, qmp_reply_fn fn,
		    void *arg);

/* Descriptors qmp_send_fds() passes at most. */
#define QMP_MAX_FDS 8

/* Sends a command object (consumed) with n file descriptors passed to QEMU (SCM_RIGHTS;
 * the caller keeps its own), for getfd and add-fd, which take the last ones QEMU got.
 * Only when READY and nothing else is still being written: -EAGAIN when the connection
 * has output waiting (nothing was sent: try again once QEMU read it), -ENOTCONN when
 * closed or not ready, -EINVAL without descriptors or with too many; 0 when sent. */
int qmp_send_fds(struct qmp_client *c, struct json_object *cmd, const int *fds, size_t n, unsigned timeout_ms,
		 qmp_reply_fn fn, void *arg);

enum qmp_state qmp_state(const struct qmp_client *c);

/* The server's greeting ({"QMP": {...}}), or NULL before it arrived. */
struct json_object *qmp_greeting(const struct qmp_client *c);

/* True when out-of-band execution was negotiated. */
bool qmp_oob(const struct qmp_client *c);

/* Feeds raw bytes as if read from the socket (for fuzzing and tests). */
void qmp_feed(struct qmp_client *c, const char *buf, size_t len);

#endif
