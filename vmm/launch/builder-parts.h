/* What the two files of the command-line builder share (builder.c: the machine, firmware,
 * chardevs, passthrough and the argv; builder-devices.c: PCI places, disks and NICs):
 * QEMU's JSON option objects, and where a disk's or NIC's objects go. A sink is either the
 * command line (boot) or a list of objects for QMP to create one by one (hot-add), so a
 * hot-added disk is exactly the node graph and devices the same disk gets at boot. Not for
 * use outside the builder. */
#ifndef VMM_BUILDER_PARTS_H
#define VMM_BUILDER_PARTS_H

#include <json-c/json.h>

#include "vmm/launch/builder.h"

/* Where a device's objects go. */
struct sink {
	struct strv *argv;        /* boot: appended as OPTION JSON; placed by the identity */
	struct json_object *list; /* hot-add: appended as {"option": OPTION, "json": OBJECT} */
	const char *port;         /* hot-add: the root port its PCI device goes on */
};

/* Appends `option` followed by obj in QEMU's JSON syntax; consumes obj. */
static inline void push_json(struct strv *argv, const char *option, struct json_object *obj)
{
	strv_push(argv, option);
	strv_push(argv, json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
}

/* Adds a string member (these put_* shorthands build the JSON options). */
static inline void put_str(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

/* Adds a boolean member. */
static inline void put_bool(struct json_object *o, const char *k, bool v)
{
	json_object_object_add(o, k, json_object_new_boolean(v));
}

/* Adds an integer member. */
static inline void put_int(struct json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

/* A new {"driver": driver, "id": id} device object. */
static inline struct json_object *device(const char *driver, const char *id)
{
	struct json_object *d = json_object_new_object();

	put_str(d, "driver", driver);
	if (id)
		put_str(d, "id", id);
	return d;
}

/* Sets a device's "addr" on its bus. */
static inline void put_addr(struct json_object *dev, struct pci_slot at)
{
	_cleanup_free_ char *addr = xasprintf("0x%x.0x%x", at.slot, at.fn);

	put_str(dev, "addr", addr);
}

/* Sends one object to the sink (option "-blockdev", "-object", "-netdev" or "-device"); consumes obj. */
void emit(struct sink *out, const char *option, struct json_object *obj);

/* A root port for a PCI key, where the identity puts it; returns its id, or NULL when the root
 * bus is full (QEMU then says where the device cannot go). */
char *push_port(struct identity *id, const char *key, struct strv *argv);

/* push_port() for a device that stays (passthrough): its port's hot-plugging off when
 * hotplug_off (and QEMU has the property), so the guest offers no eject. */
char *push_fixed_port(struct identity *id, const char *key, bool hotplug_off, struct strv *argv);

/* The root port of a PCI key at its place on pcie.0 (a place the identity gave it); returns its id. */
char *push_port_at(const char *key, struct pci_slot at, struct strv *argv);

/* Places a PCI device (key: what the identity knows it by; pcie: a PCIe device): hot-added,
 * on the sink's root port; at boot where the identity says, its root port pushed first. */
void place_pci(const struct vm_config *c, struct identity *id, const char *key, bool pcie, struct json_object *dev,
	       struct sink *out);

/* Counters for disks that share a controller's buses (boot only: sata and ide). */
struct bus_slots {
	unsigned sata, ide;
	bool sata_controller;
};

/* The block nodes, iothread, controller and device of one disk (a block device's or a file's);
 * c, id and slots are the boot's (NULL when hot-added). */
void build_disk(const struct vm_config *c, struct identity *id, const struct disk_config *d, bool block_device,
		struct bus_slots *slots, struct sink *out);

/* The -netdev backend and -device front end of one NIC with MAC mac; c and id are the boot's
 * (NULL when hot-added). */
void build_nic(const struct vm_config *c, struct identity *id, const struct nic_config *n, const char *mac,
	       struct sink *out);

/* Looking Glass's ivshmem memory and the sound card (builder-desktop.c), as the profile asks. */
void build_desktop(const struct vm_config *c, struct identity *id, struct strv *argv);

#endif
