/* Block operations of a running VM, for snapshots, backups and block jobs (CTL_REQ_BLOCK):
 * a short list of QMP block commands (BLOCK_COMMANDS: node adds and deletes, transactions,
 * jobs and their queries, bitmaps, internal snapshots) run one after the other in the order
 * given, the first failure ending the list; with CTL_ARG_FREEZE, inside a freeze of the
 * guest's filesystems through its agent (guest-fsfreeze-freeze before the first command,
 * guest-fsfreeze-thaw after the last, also after a failure). A guest whose agent does not
 * answer is not frozen: the reply says why (BLOCK_KEY_FREEZE_ERROR) and the commands run
 * anyway. The reply times what the guest felt: the QMP commands (a transaction drains the
 * disks' I/O while it runs) and the freeze. The CLI decides what to run (vmm/cli/blockvm.h);
 * the supervisor holds QMP and the agent, and never leaves the guest frozen. A protected VM
 * refuses what its QMP proxy refuses of these (snapshot-load: the running state replaced). */
#ifndef VMM_BLOCKOPS_H
#define VMM_BLOCKOPS_H

#include <json-c/json.h>

#include "qmp/qmp.h"
#include "vmm/supervisor/agent.h"
#include "vmm/supervisor/control.h"

/* Told the node-name of each blockdev-add's node QEMU has deleted (a blockdev-del that succeeded). */
typedef void (*blockops_deleted_fn)(const char *node, void *arg);

/* Handles CTL_REQ_BLOCK while QEMU runs; agent is NULL when the VM has no agent channel, qmp
 * points at where the supervisor keeps its QMP client; protected_in names the profile of a
 * protected VM (NULL: not protected), which refuses snapshot-load as its proxy does; deleted
 * (with arg) is called for each node the request deletes. */
void blockops_request(struct agent *agent, struct qmp_client *const *qmp, const char *protected_in,
		      struct control_conn *conn, struct json_object *args, blockops_deleted_fn deleted, void *arg);

#endif
