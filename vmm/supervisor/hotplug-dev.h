/* What the two files of hot-plugging share (hotplug.c: requests, checks and the device list;
 * hotplug-steps.c: the QMP steps of an add or a removal, and their undo): the hot-added
 * devices and their state. Not for use outside hot-plugging. */
#ifndef VMM_HOTPLUG_DEV_H
#define VMM_HOTPLUG_DEV_H

#include <stdbool.h>

#include "vmm/supervisor/hotplug.h"

/* Where a hot-added device is. */
enum hp_state { HP_ADDING, HP_PRESENT, HP_REMOVING };

struct hp_device {
	struct hotplug *hp;
	char *id;
	bool nic;                   /* else a disk */
	struct json_object *config; /* the device as added: a disks[] or nics[] element */
	char *type;                 /* a disk's bus, a NIC's model */
	char *detail;               /* a disk's file, a NIC's MAC */
	unsigned port;              /* its root port: hotplug.root_ports' number port */
	struct json_object *parts;  /* its QEMU objects in the order of creation (build_hot_disk) */
	size_t done;                /* how many of parts exist in QEMU */
	enum hp_state state;
	struct control_conn *conn;  /* the request waiting for this device, or NULL */
	char *failure;              /* why its add failed (said once it is undone), or NULL */
	struct event *timer;        /* the guest's time to release it */
	bool releasing;             /* device_del of parts[done - 1] sent, DEVICE_DELETED not seen */
	bool asked;                 /* device_del answered (the guest was asked) */
	bool released;              /* DEVICE_DELETED came */
};

struct hotplug {
	struct event_base *base;
	const struct plan *plan;
	const struct vm_state *vm;
	struct rundir *rd;          /* where HOTPLUG_FILE is kept */
	bool saved;                 /* HOTPLUG_FILE was written (or taken over) */
	struct hp_device **devs;    /* the hot-added devices, in the order of their adds */
	size_t n;
};

/* Records the hot-added devices in the run directory, for a supervisor that reattaches. */
void hp_save(struct hotplug *hp);

/* Creates the device's objects from parts[done] on, then answers its add. */
void hp_step_add(struct hp_device *d, struct qmp_client *qmp);

/* Deletes the device's objects from parts[done - 1] down, then forgets it and answers its
 * removal (or its failed add). */
void hp_step_remove(struct hp_device *d, struct qmp_client *qmp);

/* DEVICE_DELETED for QEMU device id: moves on the removal that waits for it. */
void hp_released(struct hotplug *hp, struct qmp_client *qmp, const char *id);

/* The list entry of a hot-added device (DEV_KEY_*). */
struct json_object *hp_describe(const struct hp_device *d);

/* Takes the device off the list and frees it. */
void hp_forget(struct hp_device *d);

#endif
