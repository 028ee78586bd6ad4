/* Hot-plugging into a running VM, the supervisor's part of add, remove, devices and set
 * (protocol.h). A disk or NIC to add is checked by the profile schema (the keys of a profile's
 * disks[] or nics[] element), against the VM's other devices (its id, its serial), and on the
 * host (its file); it gets a free root port of hotplug.root_ports; then its QEMU objects, the
 * same the builder gives a device at boot (build_hot_disk, build_hot_nic), are created one by
 * one over QMP (blockdev-add, object-add, netdev_add, device_add). A removal deletes them in the
 * other order: device_del, then the DEVICE_DELETED event that says the guest let the device go
 * (never a poll), then blockdev-del, object-del or netdev_del; the port is free again. A step
 * that fails undoes what was done, so a failed add leaves nothing. A guest that does not
 * release a device within CTL_RELEASE_TIMEOUT_MS fails the request and the device stays
 * "removing" until the event comes. set cpus=N adds vCPUs (devices of their own, one at a
 * time, up to hotplug.max_cpus) or removes the hot-added ones; set memory=SIZE has the VM's
 * virtio-mem device plug or unplug memory (up to hotplug.max_memory). Hot-added devices last
 * as long as their supervisor: a QEMU restarted by the restart policy gets the disks, NICs and
 * VFIO devices again (not the vCPUs or memory); they are recorded in the run directory
 * (HOTPLUG_FILE), so a supervisor that reattaches to the QEMU knows them; one whose add or
 * removal was under way when its supervisor ended is removed by the one that reattaches (what
 * QEMU lacks of it counts as gone).
 * Knows nothing of the supervisor: it is handed the QMP client and the control connection of
 * each request. */
#ifndef VMM_HOTPLUG_H
#define VMM_HOTPLUG_H

#include <event2/event.h>
#include <json-c/json.h>

#include "qmp/qmp.h"
#include "vmm/launch/plan.h"
#include "vmm/supervisor/control.h"
#include "vmm/supervisor/state.h"

/* The record of the hot-added devices of the current QEMU in the run directory. */
#define HOTPLUG_FILE "hotplug.json"

struct hotplug;

/* The hot-plugging of VM plan (its devices, ports and identity) whose QEMU is vm's, logging
 * to vm, its record in run directory rd. */
struct hotplug *hotplug_new(struct event_base *base, const struct plan *plan, const struct vm_state *vm,
			    struct rundir *rd, struct qmp_client *const *qmp);

/* A new QEMU answers: the disks, NICs and VFIO devices hot-added to the one before it (a restart
 * by the restart policy) are added again, on the same root ports; a reattached QEMU's devices
 * whose add or removal a supervisor left part-way are removed. */
void hotplug_ready(struct hotplug *hp, struct qmp_client *qmp);

/* Reattached to a running QEMU: takes back the devices an earlier supervisor hot-added to it. */
void hotplug_reattach(struct hotplug *hp);

/* Frees it (after hotplug_reset). Safe with NULL. */
void hotplug_free(struct hotplug *hp);

/* add: checks and hot-adds the device of args through qmp (a running QEMU's); answers conn. */
void hotplug_add(struct hotplug *hp, struct qmp_client *qmp, struct control_conn *conn, struct json_object *args);

/* remove: removes the hot-added device args names through qmp; answers conn. */
void hotplug_remove(struct hotplug *hp, struct qmp_client *qmp, struct control_conn *conn, struct json_object *args);

/* set: changes the number of vCPUs (args' CTL_ARG_CPUS) through qmp, adding or removing them one
 * at a time (hotplug.max_cpus), or the memory (CTL_ARG_MEMORY) through the VM's virtio-mem
 * device (hotplug.max_memory); answers conn. */
void hotplug_set(struct hotplug *hp, struct qmp_client *qmp, struct control_conn *conn, struct json_object *args);

/* devices: the profile's disks and NICs, then the hot-added devices (vCPUs too), each with its
 * port and state. */
struct json_object *hotplug_devices(const struct hotplug *hp);

/* A QMP event from QEMU (DEVICE_DELETED moves a removal on). */
void hotplug_event(struct hotplug *hp, struct qmp_client *qmp, const char *name, struct json_object *msg);

/* QEMU is gone: forgets every hot-added device, failing the requests under way. */
void hotplug_reset(struct hotplug *hp);

#endif
