/* Addressing a running VM by name from the CLI: its run directory, its sockets,
 * its supervisor's control socket, with one clear error for each way it can be missing.
 * Nothing here waits for ever on a wedged supervisor unless asked to. */
#ifndef VMM_VMREF_H
#define VMM_VMREF_H

#include <json-c/json.h>

#include "qmp/qmp-sync.h"
#include "vmm/base/error.h"

/* Milliseconds a supervisor gets to accept a connection, and to answer a request it answers
 * at once (status). */
#define VM_CONNECT_TIMEOUT_MS 5000
#define VM_ANSWER_TIMEOUT_MS 5000

/* Connects to socket SOCK ("qmp.sock", "console.sock", ...) of VM name within timeout_ms.
 * Returns the fd, -ESRCH with err when nothing listens there (the VM is not running, or its
 * QEMU runs without a supervisor), or -1 with err. */
int vm_connect(const char *name, const char *sock, unsigned timeout_ms, struct verr *err);

/* Sends one control request (args may be NULL; consumed) to VM name's supervisor and waits
 * up to timeout_ms (0: as long as the VM needs, for stop and kill) for the reply, connecting
 * within VM_CONNECT_TIMEOUT_MS or timeout_ms if shorter. Returns 0 with *ret (owned), -ESRCH
 * with err when the VM is not running (as vm_connect), -ECONNRESET with err when its supervisor
 * closed the connection unanswered, or -1 with err. */
int vm_request(const char *name, const char *request, struct json_object *args, unsigned timeout_ms,
	       struct json_object **ret, struct verr *err);

/* vm_request for the VM's status, asked again while its supervisor closes the connection
 * unanswered (it is ending: then -ESRCH, nobody listening), for up to timeout_ms. */
int vm_status(const char *name, unsigned timeout_ms, struct json_object **ret, struct verr *err);

/* The two halves of vm_request, for a reply that takes long while the caller does other
 * things: sends the request and returns the connection's fd (-ESRCH or -1 with err as
 * vm_request), then reads the reply from it within timeout_ms (0: no limit). */
int vm_request_send(const char *name, const char *request, struct json_object *args, unsigned timeout_ms,
		    struct verr *err);
int vm_request_reply(int fd, const char *name, unsigned timeout_ms, struct json_object **ret, struct verr *err);

/* Connects to VM name's QMP proxy (qmp.sock) and negotiates. Returns the client, or NULL with err. */
struct qmp_sync *vm_qmp_open(const char *name, struct verr *err);

/* Sends cmd (consumed) through VM name's QMP proxy and waits up to timeout_ms for its reply.
 * Returns 0 with *ret (owned; may be NULL), or -1 with err (a QMP error: "VM 'NAME': CLASS: desc"). */
int vm_qmp_call(const char *name, struct json_object *cmd, unsigned timeout_ms, struct json_object **ret,
		struct verr *err);

#endif
