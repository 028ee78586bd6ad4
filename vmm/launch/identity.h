/* A VM's identity: what its guest sees of its hardware that must not change from one start to
 * the next. The versioned machine type of the QEMU that first ran it (so a QEMU upgrade keeps
 * its hardware), an SMBIOS UUID, a MAC per NIC, and a PCI address on the root bus for every
 * PCI device (its own or its root port's), assigned once and kept: a device added later gets
 * an address after the others, and a removed device's root port stays, empty, so the bus
 * numbers the guest gave the ports behind it do not move.
 *
 * It lives in VMM_DATA_DIR/NAME/identity.json, created on the VM's first start and read ever
 * after; changing it is an explicit act (edit or remove the file: a removed one is made anew
 * on the next start, with the QEMU and devices of then). What it lacks is created while the
 * plan is made (in memory: vmm cmdline shows what start would create) and written by
 * plan_prepare(). The UUID and MACs are not random but derived, HMAC-SHA256 keyed by the
 * host's machine id, from the VM's data directory: the same on every plan of one VM on one
 * host, different for every other VM, and telling nothing of the machine id. */
#ifndef VMM_IDENTITY_H
#define VMM_IDENTITY_H

#include <stdbool.h>

#include <json-c/json.h>

#include "profiles/config.h"
#include "vmm/base/error.h"
#include "vmm/base/util.h"
#include "vmm/launch/probe.h"

struct identity {
	struct json_object *json; /* the file's content: version, machine, uuid, macs, pci */
	char *file;               /* where it is kept */
	char *secret;             /* the host's machine id: keys what is derived */
	char *seed;               /* the VM's data directory: what the derived values belong to */
	enum machine_type type;   /* the family of its machine (after identity_machine) */
	struct json_object *placed; /* the PCI keys the builder placed in this plan */
	bool changed;             /* created or extended since it was read: to be written */
};

/* A place on the root bus: a slot and function. */
struct pci_slot {
	unsigned slot, fn;
};

/* Reads the identity in file (none yet: an empty one, to be created) of the VM whose data
 * directory is dir. Returns 0, or -1 with err (a file that is not an identity). */
int identity_load(const char *file, const char *dir, struct identity *id, struct verr *err);

/* Settles the machine type: the recorded one, which this QEMU must have, or (none yet, or one
 * of another family than type: the profile changed machine.type) the version this QEMU gives
 * the alias, with the PCI addresses then made anew. Returns 0, or -1 with err. */
int identity_machine(struct identity *id, const struct qemu_caps *caps, enum machine_type type, struct verr *err);

/* The versioned machine type (after identity_machine). */
const char *identity_machine_type(const struct identity *id);

/* The SMBIOS UUID, created when there is none. */
const char *identity_uuid(struct identity *id);

/* The MAC of NIC nic_id, created when it has none. */
const char *identity_mac(struct identity *id, const char *nic_id);

/* The MAC NIC nic_id has, or would get, in a new string, recording nothing (a NIC hot-added
 * to a running VM: the same MAC each time it is added). */
char *identity_new_mac(const struct identity *id, const char *nic_id);

/* The recorded place of the PCI device or port key, and whether it is a root port; false when
 * the identity has none. */
bool identity_find(const struct identity *id, const char *key, bool *port, struct pci_slot *at);

/* Where the PCI device or port key goes: its recorded place when it is of this kind (a root
 * port, or a device on the root bus itself), else a new one (a port after every other port, a
 * device in the first free slot). Returns false when the root bus is full. */
bool identity_place(struct identity *id, const char *key, bool port, struct pci_slot *at);

/* The root ports recorded for devices this plan did not place (removed from the profile): their
 * keys, in the order of their places. */
void identity_unplaced_ports(const struct identity *id, struct strv *keys);

/* The recorded place of a root port key (from identity_unplaced_ports). */
struct pci_slot identity_port_at(const struct identity *id, const char *key);

/* Writes the identity to its file atomically when it was created or extended. Returns 0, or -1 with err. */
int identity_save(const struct identity *id, struct verr *err);

void identity_free(struct identity *id);

#endif
