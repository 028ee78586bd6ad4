#include "vmm/launch/identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vmm/base/host.h"
#include "vmm/base/sha256.h"
#include "vmm/base/strict.h"
#include "vmm/base/util.h"

/* Bumped when the file's layout changes incompatibly. */
#define IDENTITY_VERSION 1
/* The kinds of PCI entries: a root port with a device behind it, or a device on the root bus. */
#define KIND_PORT "root_port"
#define KIND_DEVICE "device"

/* The slots of the root bus that vmm may use: q35's 0 is the host bridge and 0x1f the ICH9
 * functions; pc's 0 is the host bridge and 1 the PIIX3 functions. */
#define SLOTS 32
#define FUNCTIONS 8

/* The first and last usable slot of a machine's root bus. */
static void slot_range(enum machine_type type, unsigned *lo, unsigned *hi)
{
	*lo = type == MACHINE_Q35 ? 1 : 2;
	*hi = type == MACHINE_Q35 ? 0x1e : 0x1f;
}

/* Reads "00:SS.F" (bus 0 only). */
static bool parse_slot(const char *s, struct pci_slot *at)
{
	unsigned bus;
	char end;

	return s && text_matches(s, "xx:xx.x") && sscanf(s, "%2x:%2x.%1x%c", &bus, &at->slot, &at->fn, &end) == 3 && bus == 0 &&
	       at->slot < SLOTS && at->fn < FUNCTIONS;
}

/* The place and kind of a PCI entry; false when it is not one. */
static bool entry_slot(struct json_object *entry, bool *port, struct pci_slot *at)
{
	struct json_object *v;

	if (json_object_object_length(entry) != 1)
		return false;
	*port = json_object_object_get_ex(entry, KIND_PORT, &v);
	if (!*port && !json_object_object_get_ex(entry, KIND_DEVICE, &v))
		return false;
	return parse_slot(json_object_get_string(v), at) && (*port || at->fn == 0);
}

/* True when the members "macs" and "pci" are objects (an empty one when missing). */
static bool members_are_objects(struct json_object *j)
{
	static const char *const keys[] = { "macs", "pci" };
	struct json_object *v;

	for (size_t i = 0; i < 2; i++) {
		if (!json_object_object_get_ex(j, keys[i], &v))
			json_object_object_add(j, keys[i], v = json_object_new_object());
		if (!json_object_is_type(v, json_type_object))
			return false;
	}
	return true;
}

/* Checks what a read file holds: its members have the types and forms identity.json gives them,
 * and no two PCI entries share a place. */
static int check(struct identity *id, struct verr *err)
{
	struct json_object *j = id->json, *v;
	bool used[SLOTS][FUNCTIONS] = { { false } };
	char uuid[37];
	int64_t version;

	if (!json_object_is_type(j, json_type_object))
		return verr_set(err, 0, "'%s' is not a VM identity (a JSON object)", id->file);
	if (!json_int_member(j, "version", IDENTITY_VERSION, IDENTITY_VERSION, &version))
		return verr_set(err, 0, "'%s': \"version\" is not the integer %d (written by another vmm?)", id->file,
				IDENTITY_VERSION);
	if (json_object_object_get_ex(j, "machine", &v) && !json_object_is_type(v, json_type_string))
		return verr_set(err, 0, "'%s': \"machine\" is not a machine type", id->file);
	if (json_object_object_get_ex(j, "uuid", &v) &&
	    (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) != 36 ||
	     sscanf(json_object_get_string(v), "%*8x-%*4x-%*4x-%*4x-%12[0-9a-fA-F]", uuid) != 1 || strlen(uuid) != 12))
		return verr_set(err, 0, "'%s': \"uuid\" is not a UUID", id->file);
	if (!members_are_objects(j))
		return verr_set(err, 0, "'%s': \"macs\" and \"pci\" are not both JSON objects", id->file);
	json_object_object_get_ex(j, "macs", &v);
	json_object_object_foreach(v, nic, mac) {
		if (!json_object_is_type(mac, json_type_string))
			return verr_set(err, 0, "'%s': macs.%s is not a MAC address", id->file, nic);
	}
	json_object_object_get_ex(j, "pci", &v);
	json_object_object_foreach(v, key, entry) {
		struct pci_slot at;
		bool port;
		if (!entry_slot(entry, &port, &at))
			return verr_set(err, 0, "'%s': pci.%s is not {\"%s\": \"00:SS.F\"} or {\"%s\": \"00:SS.0\"}", id->file,
					key, KIND_PORT, KIND_DEVICE);
		if (used[at.slot][at.fn])
			return verr_set(err, 0, "'%s': pci.%s is at 00:%02x.%x, where another device is", id->file, key,
					at.slot, at.fn);
		used[at.slot][at.fn] = true;
	}
	return 0;
}

/* The object member key of a checked identity ("macs", "pci"). */
static struct json_object *section(const struct identity *id, const char *key)
{
	return json_object_object_get(id->json, key);
}

int identity_load(const char *file, const char *dir, struct identity *id, struct verr *err)
{
	*id = (struct identity){ .file = xstrdup(file), .seed = xstrdup(dir), .placed = json_object_new_object() };
	if (access(file, F_OK) < 0 && errno == ENOENT) {
		id->json = json_object_new_object();
		json_object_object_add(id->json, "version", json_object_new_int(IDENTITY_VERSION));
		id->changed = true;
	} else if (!(id->json = json_object_from_file(file)))
		return verr_set(err, 0, "cannot read the VM's identity '%s': %s", file, json_util_get_last_err());
	if (check(id, err) < 0)
		return -1;
	id->secret = host_machine_id(err);
	return id->secret ? 0 : -1;
}

/* The machine family a machine type belongs to. */
static enum machine_type family(const char *machine)
{
	return !strcmp(machine, machine_names[MACHINE_Q35]) || !strncmp(machine, "pc-q35-", 7) ? MACHINE_Q35 : MACHINE_PC;
}

int identity_machine(struct identity *id, const struct qemu_caps *caps, enum machine_type type, struct verr *err)
{
	struct json_object *v;
	const char *now;

	id->type = type;
	if (json_object_object_get_ex(id->json, "machine", &v) && family(json_object_get_string(v)) == type) {
		if (!caps_has_machine(caps, json_object_get_string(v)))
			return verr_set(err, 0, "this QEMU has no machine type '%s', the VM's since it was created: set "
					"\"machine\" in '%s' to one it has (vmm probe)", json_object_get_string(v), id->file);
		return 0;
	}
	now = caps_machine_version(caps, machine_names[type]);
	if (!now)
		return verr_set(err, 0, "this QEMU names no versioned machine type for '%s'", machine_names[type]);
	if (v)
		json_object_object_add(id->json, "pci", json_object_new_object());
	json_object_object_add(id->json, "machine", json_object_new_string(now));
	id->changed = true;
	return 0;
}

const char *identity_machine_type(const struct identity *id)
{
	return json_object_get_string(json_object_object_get(id->json, "machine"));
}

/* Derives 32 bytes for item that belong to this VM on this host. */
static void derive(const struct identity *id, const char *item, uint8_t out[SHA256_SIZE])
{
	_cleanup_free_ char *msg = xasprintf("vmm identity\n%s\n%s", id->seed, item);

	hmac_sha256(id->secret, strlen(id->secret), msg, strlen(msg), out);
}

/* Records a created string member key of section (the identity itself when NULL); returns it. */
static const char *record(struct identity *id, struct json_object *section, const char *key, char *value)
{
	json_object_object_add(section ? section : id->json, key, json_object_new_string(value));
	free(value);
	id->changed = true;
	return json_object_get_string(json_object_object_get(section ? section : id->json, key));
}

const char *identity_uuid(struct identity *id)
{
	struct json_object *v;
	uint8_t b[SHA256_SIZE];

	if (json_object_object_get_ex(id->json, "uuid", &v))
		return json_object_get_string(v);
	derive(id, "uuid", b);
	b[6] = (b[6] & 0x0f) | 0x40; /* the version and variant bits of a random UUID */
	b[8] = (b[8] & 0x3f) | 0x80;
	return record(id, NULL, "uuid",
		      xasprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
				b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]));
}

/* True when another NIC of the identity has mac. */
static bool mac_taken(struct json_object *macs, const char *mac)
{
	json_object_object_foreach(macs, nic, v) {
		(void)nic;
		if (!strcasecmp(json_object_get_string(v), mac))
			return true;
	}
	return false;
}

char *identity_new_mac(const struct identity *id, const char *nic_id)
{
	struct json_object *macs = section(id, "macs"), *v;
	char *mac = NULL;

	if (json_object_object_get_ex(macs, nic_id, &v))
		return xstrdup(json_object_get_string(v));
	/* QEMU's locally administered prefix and 24 derived bits; again while another NIC has them. */
	for (unsigned round = 0; !mac || mac_taken(macs, mac); round++) {
		_cleanup_free_ char *item = xasprintf("mac %s %u", nic_id, round);
		uint8_t b[SHA256_SIZE];
		free(mac);
		derive(id, item, b);
		mac = xasprintf("52:54:00:%02x:%02x:%02x", b[0], b[1], b[2]);
	}
	return mac;
}

const char *identity_mac(struct identity *id, const char *nic_id)
{
	struct json_object *macs = section(id, "macs"), *v;

	if (json_object_object_get_ex(macs, nic_id, &v))
		return json_object_get_string(v);
	return record(id, macs, nic_id, identity_new_mac(id, nic_id));
}

/* What the recorded PCI entries occupy, leaving out the entry skip: each place, whether a port
 * holds it, and the last port's place (its slot * FUNCTIONS + function, or -1 when none). */
struct occupied {
	bool used[SLOTS][FUNCTIONS], port[SLOTS][FUNCTIONS];
	int last_port;
};

/* Fills in what the PCI entries other than skip occupy. */
static void occupied(struct json_object *pci, const char *skip, struct occupied *o)
{
	*o = (struct occupied){ .last_port = -1 };
	json_object_object_foreach(pci, key, entry) {
		struct pci_slot at;
		bool port;
		if (!strcmp(key, skip) || !entry_slot(entry, &port, &at))
			continue;
		o->used[at.slot][at.fn] = true;
		o->port[at.slot][at.fn] = port;
		if (port && (int)(at.slot * FUNCTIONS + at.fn) > o->last_port)
			o->last_port = (int)(at.slot * FUNCTIONS + at.fn);
	}
}

/* True when a slot has nothing in it. */
static bool slot_free(const struct occupied *o, unsigned slot)
{
	for (unsigned f = 0; f < FUNCTIONS; f++)
		if (o->used[slot][f])
			return false;
	return true;
}

/* A new root port's place: the first free function after the last port (a slot of ports, or an
 * empty slot from its function 0), wrapping around to the gaps when the bus is full after it. */
static bool new_port(const struct occupied *o, unsigned lo, unsigned hi, struct pci_slot *at)
{
	unsigned first = lo * FUNCTIONS, end = (hi + 1) * FUNCTIONS, n = end - first;
	unsigned start = o->last_port < 0 ? first : (unsigned)o->last_port + 1;

	for (unsigned i = 0; i < n; i++) {
		unsigned devfn = first + (start - first + i) % n, s = devfn / FUNCTIONS, f = devfn % FUNCTIONS;
		if (!o->used[s][f] && (f ? o->port[s][0] : slot_free(o, s))) {
			*at = (struct pci_slot){ s, f };
			return true;
		}
	}
	return false;
}

bool identity_place(struct identity *id, const char *key, bool port, struct pci_slot *at)
{
	struct json_object *pci = section(id, "pci"), *entry;
	struct occupied o;
	unsigned lo, hi;
	bool was_port, found = false;

	json_object_object_add(id->placed, key, NULL);
	if (json_object_object_get_ex(pci, key, &entry) && entry_slot(entry, &was_port, at) && was_port == port)
		return true;
	occupied(pci, key, &o);
	slot_range(id->type, &lo, &hi);
	if (port)
		found = new_port(&o, lo, hi, at);
	for (unsigned s = lo; !port && !found && s <= hi; s++)
		if (slot_free(&o, s)) {
			*at = (struct pci_slot){ s, 0 };
			found = true;
		}
	if (!found)
		return false;
	entry = json_object_new_object();
	record(id, entry, port ? KIND_PORT : KIND_DEVICE, xasprintf("00:%02x.%x", at->slot, at->fn));
	json_object_object_add(pci, key, entry);
	return true;
}

bool identity_find(const struct identity *id, const char *key, bool *port, struct pci_slot *at)
{
	struct json_object *entry;

	return json_object_object_get_ex(section(id, "pci"), key, &entry) && entry_slot(entry, port, at);
}

struct pci_slot identity_port_at(const struct identity *id, const char *key)
{
	struct pci_slot at = { 0 };
	bool port;

	entry_slot(json_object_object_get(section(id, "pci"), key), &port, &at);
	return at;
}

void identity_unplaced_ports(const struct identity *id, struct strv *keys)
{
	struct json_object *pci = section(id, "pci");

	/* Ordered by place: at most SLOTS * FUNCTIONS entries, so a pass per place is cheap enough. */
	for (unsigned devfn = 0; devfn < SLOTS * FUNCTIONS; devfn++) {
		json_object_object_foreach(pci, key, entry) {
			struct pci_slot at;
			bool port;
			if (entry_slot(entry, &port, &at) && port && at.slot * FUNCTIONS + at.fn == devfn &&
			    !json_object_object_get_ex(id->placed, key, NULL))
				strv_push(keys, key);
		}
	}
}

int identity_save(const struct identity *id, struct verr *err)
{
	_cleanup_free_ char *dir = xstrdup(id->file);
	static const char *const order[] = { "version", "machine", "uuid", "macs", "pci" };
	struct json_object *ordered, *v;
	const char *text;
	int ret = 0;

	if (!id->changed)
		return 0;
	*strrchr(dir, '/') = '\0';
	if (mkdir_parents(dir, 0700) < 0)
		return verr_set(err, errno, "cannot create the VM's data directory '%s'", dir);
	ordered = json_object_new_object();
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (json_object_object_get_ex(id->json, order[i], &v))
			json_object_object_add(ordered, order[i], json_object_get(v));
	json_object_object_foreach(id->json, key, other) { /* what a person added, kept after */
		if (!json_object_object_get_ex(ordered, key, NULL))
			json_object_object_add(ordered, key, json_object_get(other));
	}
	text = json_object_to_json_string_ext(ordered, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							       JSON_C_TO_STRING_NOSLASHESCAPE);
	if (write_text_file(id->file, text) < 0)
		ret = verr_set(err, errno, "cannot write the VM's identity '%s'", id->file);
	json_object_put(ordered);
	return ret;
}

void identity_free(struct identity *id)
{
	json_object_put(id->json);
	json_object_put(id->placed);
	free(id->file);
	free(id->secret);
	free(id->seed);
	*id = (struct identity){ 0 };
}
