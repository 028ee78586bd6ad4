/* vmm upgrade: moves a running VM into a new QEMU process on the same host, under the same
 * name and run directory, without stopping the guest. The new QEMU (the same binary, or
 * another: its own plan, probed, with the VM's versioned machine type from its identity)
 * starts with -incoming defer on sockets the supervisor bound beside the current ones
 * ("new-" names), inherits the guest RAM's memfd (build_shared_ram: nothing of the RAM is
 * copied, x-ignore-shared, when both QEMUs have that capability) and one end of a socket
 * pair; the current QEMU gets the other end (getfd) and migrates into it. Once the new QEMU
 * runs the guest, its sockets take the usual names (rename), the supervisor takes it over
 * (QMP, serial console, agent, QMP proxy: qmp.sock clients are disconnected and connect
 * again) and the old QEMU, which has handed everything over, is killed. Before
 * that, any failure (no plan for the new QEMU, a QEMU that dies or fails to load, a timeout)
 * leaves the old QEMU running the guest (migrate_cancel, or cont once it had handed over)
 * and nothing of the new one. What a new QEMU could not have is refused before the guest
 * is touched: hot-added devices (they exist only in the current QEMU), passthrough devices, a
 * TPM (swtpm). */
#ifndef VMM_UPGRADE_H
#define VMM_UPGRADE_H

#include <json-c/json.h>

#include "vmm/base/error.h"
#include "vmm/launch/plan.h"
#include "vmm/supervisor/control.h"

struct sup;
struct upgrade;

/* Milliseconds an upgrade may take from the new QEMU's start until it runs the guest. */
#define UPGRADE_TIMEOUT_MS 60000

/* Makes *fd the memfd that holds the guest RAM of plan p when build_shared_ram() says so,
 * sized, for QEMU to inherit as LAUNCH_RAM_FD (-1 when the plan has no shared RAM). Returns 0,
 * or -1 with err. */
int upgrade_ram_create(const struct plan *p, int *fd, struct verr *err);

/* upgrade: starts moving the VM into a new QEMU (args: CTL_ARG_QEMU, the binary; none: the
 * current plan's); answers conn once the new QEMU runs the guest, or why not. */
void upgrade_request(struct sup *s, struct control_conn *conn, struct json_object *args);

/* The current QEMU is gone (or the supervisor ends): an upgrade or save under way fails,
 * leaving nothing of its new QEMU or file. */
void upgrade_abort(struct sup *s);

/* Frees what upgrade_request left after its end (a plan the VM now runs on). */
void upgrade_free(struct sup *s);

#endif
