/* Addressing a running VM by name from the CLI: its run directory, its sockets,
 * its supervisor's control socket, with one clear error for each way it can be missing. */
#ifndef VMM_VMREF_H
#define VMM_VMREF_H

#include <json-c/json.h>

#include "vmm/base/error.h"

/* Connects to socket SOCK ("qmp.sock", "console.sock", ...) of VM name. Returns the fd. */
int vm_connect(const char *name, const char *sock, struct verr *err);

/* Sends one control request (args may be NULL; consumed) to VM name's supervisor and waits
 * up to timeout_ms (0: forever) for the reply. Returns 0 with *ret (owned) or -1 with err. */
int vm_request(const char *name, const char *request, struct json_object *args, unsigned timeout_ms,
	       struct json_object **ret, struct verr *err);

#endif
