/* The snapshot chain of a VM's disks: vmm's state in VMM_DATA_DIR/NAME/snapshots.json,
 * written by `vmm snapshot` and read by the plan. A profile names each disk's base file;
 * the file lists, per disk id, the qcow2 layers vmm put on top of it (bottom first, the
 * last one active: the plan opens it and QEMU its backing chain from the image headers),
 * and the snapshots, oldest first:
 *   {"disks": {ID: {"layers": [FILE, ...]}},
 *    "snapshots": [{"tag": T, "kind": "disk"|"full", "time": SECONDS,
 *                   "disks": [{"id": ID, "image": FILE, "format": "raw"|"qcow2",
 *                              "overlay": FILE (kind disk: the layer made on top of image)}]}]}
 * A disk-only snapshot froze `image` and made `overlay`; a full one lives inside `image`
 * (qcow2 internal snapshot with the RAM in the first disk). */
#ifndef VMM_CHAIN_H
#define VMM_CHAIN_H

#include <json-c/json.h>

#include "profiles/config.h"
#include "vmm/base/error.h"

#define CHAIN_FILE "snapshots.json"
#define CHAIN_LOCK "snapshots.lock" /* held (flock) while a snapshot is made, reverted or deleted */

/* The path of VM name's chain file. */
char *chain_file(const char *name);

/* Takes VM name's snapshot lock (creating its data directory). Returns the descriptor that holds
 * it, or -1 with err when another vmm holds it (one snapshot change at a time). */
int chain_lock(const char *name, struct verr *err);

/* Reads VM name's chain (an empty one when there is no file), checked. Returns 0 with *chain
 * (owned), or -1 with err naming the file and the JSON path. */
int chain_load(const char *name, struct json_object **chain, struct verr *err);

/* Checks a chain read from file: -1 with err naming the JSON path of what is not as above. */
int chain_check(const char *file, struct json_object *chain, struct verr *err);

/* Writes VM name's chain whole (a new file renamed over the old one). */
int chain_save(const char *name, struct json_object *chain, struct verr *err);

/* The active layer of disk id, or NULL when vmm put none on its base. */
const char *chain_active(struct json_object *chain, const char *id);

/* The snapshot named tag, or NULL. */
struct json_object *chain_snapshot(struct json_object *chain, const char *tag);

/* Makes each of c's disks that has layers open its active layer (qcow2). */
int chain_apply(struct vm_config *c, struct verr *err);

#endif
