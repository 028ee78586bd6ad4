/* A blocking wrapper around the asynchronous client, for command-line tools: each
 * call runs a private event loop until its answer (or its timeout) arrives. Events
 * that arrive meanwhile are queued for qmp_sync_event(). Like the rest of the
 * library it never logs, prints or exits: errors are returned as text. */
#ifndef QMP_QMP_SYNC_H
#define QMP_QMP_SYNC_H

#include <json-c/json.h>

#include "qmp/qmp.h"

struct qmp_sync;

/* Takes ownership of fd (connected to a QMP server) and waits until the session is
 * negotiated, at most timeout_ms (0: forever). Returns NULL with errbuf filled on failure. */
struct qmp_sync *qmp_sync_open(int fd, unsigned timeout_ms, char *errbuf, size_t errlen);

/* Sends cmd (consumed; "execute" or "exec-oob" plus "arguments") and waits for its reply;
 * an error without an id that comes meanwhile (the server could not read cmd) is its
 * reply. Returns QMP_OK with *ret (owned; may be NULL), or the failure with *cls (owned,
 * the QMP error class when QMP_ERR_COMMAND) and errbuf filled. */
enum qmp_failure qmp_sync_call(struct qmp_sync *s, struct json_object *cmd, unsigned timeout_ms,
			       struct json_object **ret, char **cls, char *errbuf, size_t errlen);

/* Waits for the next event, at most timeout_ms (0: forever). Returns QMP_OK with *event
 * (owned), QMP_ERR_TIMEOUT, or QMP_ERR_CLOSED/QMP_ERR_PROTOCOL with errbuf filled. */
enum qmp_failure qmp_sync_event(struct qmp_sync *s, unsigned timeout_ms, struct json_object **event,
				char *errbuf, size_t errlen);

/* Closes the connection. Safe with NULL. */
void qmp_sync_close(struct qmp_sync *s);

#endif
