/* What the files of hot-plugging share (hotplug.c: requests, checks, the device list and its
 * record; hotplug-steps.c: the QMP steps of an add or a removal, and their undo;
 * hotplug-cpus.c: vCPUs, added and removed in batches; hotplug-memory.c: memory through
 * virtio-mem; hotplug-vfio.c: host PCI devices): the hot-added devices and their state.
 * Not for use outside hot-plugging. */
#ifndef VMM_HOTPLUG_DEV_H
#define VMM_HOTPLUG_DEV_H

#include <stdbool.h>

#include "vmm/supervisor/hotplug.h"

/* Where a hot-added device is. */
enum hp_state { HP_ADDING, HP_PRESENT, HP_REMOVING };

/* What a hot-added device is; hp_kind_names has the names the protocol and the record use. */
enum hp_kind { HP_DISK, HP_NIC, HP_CPU, HP_USB, HP_VFIO };
extern const char *const hp_kind_names[];

/* What a device of kind is called in messages ("disk", "NIC", "vCPU"). */
const char *hp_kind_word(enum hp_kind kind);

struct hp_batch;

struct hp_device {
	struct hotplug *hp;
	char *id;
	enum hp_kind kind;
	struct json_object *config; /* as added: a disks[] or nics[] element, a vCPU's device_add */
	char *type;                 /* a disk's bus, a NIC's model, a vCPU's QOM type */
	char *detail;               /* a disk's file, a NIC's MAC, NULL */
	int port;                   /* its root port: hotplug.root_ports' number port; -1 for a vCPU */
	struct json_object *parts;  /* its QEMU objects in the order of creation (build_hot_disk) */
	size_t done;                /* how many of parts exist in QEMU */
	enum hp_state state;
	struct control_conn *conn;  /* the request waiting for this device, or NULL */
	struct hp_batch *batch;     /* else the batch of vCPUs waiting for it, or NULL */
	char *failure;              /* why its add failed (said once it is undone), or NULL */
	struct event *timer;        /* the guest's time to release it */
	struct event *retry;        /* the next try of a block node still in use (BUSY_TRIES) */
	unsigned busy;              /* the tries of that node so far */
	bool releasing;             /* device_del of parts[done - 1] sent, DEVICE_DELETED not seen */
	bool asked;                 /* device_del answered (the guest was asked) */
	bool released;              /* DEVICE_DELETED came */
	bool unsure;                /* its add or removal was under way when a supervisor ended: QEMU may
				     * lack any of its objects, and a reattached supervisor removes it */
	bool undoing;               /* that removal is under way, with no request waiting for it */
	struct strv hosts;          /* a VFIO device's host devices, bound to vfio-pci for it */
};

/* A change of the VM's memory (hotplug-memory.c). */
struct hp_memory {
	struct control_conn *conn;  /* the set memory=SIZE under way, or NULL */
	uint64_t want;              /* the plugged size it asked of the virtio-mem device */
	uint64_t plugged;           /* the size the device last reported */
	bool waiting;               /* QEMU was asked: its size events may end the request */
	struct event *timer;        /* the guest's time to get there */
};

struct hotplug {
	struct event_base *base;
	struct qmp_client *const *qmp; /* the supervisor's QMP client (NULL once gone), for steps on a timer */
	const struct plan *plan;
	const struct vm_state *vm;
	struct rundir *rd;          /* where HOTPLUG_FILE is kept */
	bool saved;                 /* HOTPLUG_FILE was written (or taken over) */
	struct hp_device **devs;    /* the hot-added devices, in the order of their adds */
	size_t n;
	struct hp_batch *batch;     /* the change of vCPUs under way, or NULL */
	struct hp_memory mem;
	struct json_object *again;  /* the records of the devices the next QEMU (a restart) gets again */
	bool cpu_removed;           /* a vCPU was removed from this QEMU (TCG cannot plug one after that) */
};

/* A new device of config (not listed yet): id, kind, QOM objects parts (consumed), root port
 * (-1: none). */
struct hp_device *hp_new_device(struct hotplug *hp, struct json_object *config, const char *id, enum hp_kind kind,
				struct json_object *parts, int port);

/* Refuses the id of a new device (what: "disk", "nic", "vfio") when the VM has a device with it. */
int hp_check_new_id(const struct hotplug *hp, const char *what, const char *id, struct verr *err);

/* A free root port of hotplug.root_ports for a new device: want when it is one (>= 0), else the first. */
int hp_free_port(const struct hotplug *hp, int want, int *port, struct verr *err);

/* The id of root port number port of hotplug.root_ports ("rp-hotplug-0"), in a new string. */
char *hp_port_id(int port);

/* The checked VFIO device of an add or of the record (json: {"host", "with_group"}), on root
 * port want (as hp_free_port); bind: its host devices are bound to vfio-pci for the VM (the
 * record's are bound already). NULL with err, nothing bound. */
struct hp_device *hp_prepare_vfio(struct hotplug *hp, struct json_object *json, int want, bool bind, struct verr *err);

/* Gives the host devices of VFIO device d back to their drivers, unless QEMU still runs with
 * them (a reattach given up); says what it did. */
void hp_vfio_restore(struct hp_device *d);

/* Puts a new device on the list. */
void hp_list_add(struct hotplug *hp, struct hp_device *d);

/* The hot-added device with id, or NULL. */
struct hp_device *hp_find(const struct hotplug *hp, const char *id);

/* Records the hot-added devices in the run directory, for a supervisor that reattaches. */
void hp_save(struct hotplug *hp);

/* Creates the device's objects from parts[done] on, then answers its add. */
void hp_step_add(struct hp_device *d, struct qmp_client *qmp);

/* Deletes the device's objects from parts[done - 1] down, then forgets it and answers its
 * removal (or its failed add). */
void hp_step_remove(struct hp_device *d, struct qmp_client *qmp);

/* DEVICE_DELETED for QEMU device id at QOM path (either may be NULL): moves on the removal that
 * waits for it. */
void hp_released(struct hotplug *hp, struct qmp_client *qmp, const char *device, const char *path);

/* The add or removal of a vCPU of batch b is over (the vCPU no longer belongs to b): failure
 * NULL when it is done; qmp NULL when no QMP step may follow. */
void hp_batch_done(struct hp_batch *b, const char *failure, struct qmp_client *qmp);

/* Fails the batch under way (QEMU ended), forgetting it. */
void hp_batch_abort(struct hotplug *hp);

/* A vCPU of the record (its device_add arguments, json) taken back as present; NULL with err. */
struct hp_device *hp_cpu_device(struct hotplug *hp, struct json_object *json, struct verr *err);

/* set memory=SIZE (json: a size such as "4G", or bytes): through the virtio-mem device. */
void hp_memory_set(struct hotplug *hp, struct qmp_client *qmp, struct control_conn *conn, struct json_object *json);

/* MEMORY_DEVICE_SIZE_CHANGE (its data): the memory the guest plugged. */
void hp_memory_event(struct hotplug *hp, struct json_object *data);

/* Fails the change of memory under way (QEMU ended) and frees its timer. */
void hp_memory_abort(struct hotplug *hp);

/* The checked host USB device of an add (hotplug-usb.c), with its usb-host device; NULL with err. */
struct hp_device *hp_prepare_usb(struct hotplug *hp, struct json_object *json, struct verr *err);

/* The list entry of a hot-added device (DEV_KEY_*). */
struct json_object *hp_describe(const struct hp_device *d);

/* Takes the device off the list and frees it (a VFIO device's host devices go back to their
 * drivers: hp_vfio_restore). */
void hp_forget(struct hp_device *d);

#endif
