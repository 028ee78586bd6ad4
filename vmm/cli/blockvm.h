/* What the snapshot, backup and jobs verbs share: QMP block commands run by a VM's supervisor
 * (CTL_REQ_BLOCK, vmm/supervisor/blockops.h), the node QEMU opened an image file as, block
 * jobs followed to their end with a progress line, qemu-img run as a program, and the plan
 * of a running VM (its profile as state.json recorded it, the snapshot chain applied). */
#ifndef VMM_BLOCKVM_H
#define VMM_BLOCKVM_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "vmm/base/error.h"
#include "vmm/base/util.h"
#include "vmm/launch/plan.h"

/* {"execute": execute, "arguments": arguments} (arguments consumed, may be NULL). */
struct json_object *qmp_command(const char *execute, struct json_object *arguments);

/* Runs commands (a list of qmp_command()s, consumed) in VM name's QEMU, the guest frozen
 * around them when freeze. Returns 0 with *ret (owned: BLOCK_KEY_*), or -1 with err. */
int block_run(const char *name, struct json_object *commands, bool freeze, struct json_object **ret, struct verr *err);

/* Runs one command; *ret (owned; may be NULL when not wanted) is what it returned. */
int block_call(const char *name, const char *execute, struct json_object *arguments, struct json_object **ret,
	       struct verr *err);

/* The name of the format node QEMU opened file as (a disk's layer), its virtual size in *size
 * (may be NULL). NULL with err when QEMU has no such node. */
char *block_node(const char *name, const char *file, uint64_t *size, struct verr *err);

/* Follows jobs ids (started with auto-dismiss false) until each has concluded, a progress line
 * for what on stderr; a job that becomes ready (an active commit) is completed. Dismisses them.
 * Returns 0 with the bytes they copied in *bytes (may be NULL), or -1 with err when one failed. */
int block_jobs_wait(const char *name, const struct strv *ids, const char *what, int64_t *bytes, struct verr *err);

/* Runs qemu-img (VMM_QEMU_IMG, else the one on PATH) with args (NULL-terminated) through
 * tool_run (vmm/launch/tool.h). Returns 0 with its output in *out (owned; out may be NULL), or
 * -1 with err quoting what it said. */
int qemu_img(const char *const *args, char **out, struct verr *err);

/* True when VM name runs (its supervisor answers). */
bool vm_running(const char *name);

/* The plan VM name runs with: its recorded profile, the snapshot chain applied; -1 with err
 * when it does not run. */
int vm_plan(const char *name, struct plan *p, struct verr *err);

/* "12.3 MiB" for a person. */
char *bytes_text(uint64_t bytes);

#endif
