/* The guest as its agent shows it, for the verbs that ask it (agent, ip, wait): one agent
 * command through the VM's supervisor (which serialises, synchronises and times out: see
 * vmm/supervisor/agent.h), a file of the guest read whole, and base64. */
#ifndef VMM_GUEST_H
#define VMM_GUEST_H

#include <stddef.h>

#include <json-c/json.h>

#include "vmm/base/error.h"

/* Seconds an agent command gets unless told otherwise. */
#define GUEST_AGENT_SECONDS 10

/* Runs the agent command execute (arguments: NULL or an object, consumed) in VM name, giving
 * the agent seconds to answer it. Returns 0 with *ret (owned; NULL or {} for a command that
 * answers nothing), -ESRCH with err when the VM is not running, or -1 with err. */
int guest_agent(const char *name, const char *execute, struct json_object *arguments, unsigned seconds,
		struct json_object **ret, struct verr *err);

/* Reads the guest's file path whole (at most max bytes) through the agent. Returns 0 with *out
 * (owned, NUL-terminated) and *len, or -1 with err. */
int guest_read_file(const char *name, const char *path, size_t max, char **out, size_t *len, struct verr *err);

/* The exit status of a command the agent says has ended (guest-exec-status's st): its exit code
 * (255 for one an exit status cannot carry, such as Windows' 0xC0000005), 128 + the signal that
 * killed it, 0 when st says neither; -1 when either is no integer (or no signal number). */
int guest_exec_code(struct json_object *st);

/* Decodes base64 text (padding optional, whitespace skipped). Returns 0 with *out (owned,
 * NUL-terminated) and *len, or -1 when it is not base64. */
int base64_decode(const char *in, char **out, size_t *len);

#endif
