/* The manifest of a backup directory (`vmm backup`), DIR/manifest.json:
 *   {"vm": NAME, "bitmap": BITMAP, "profile": {the VM's resolved profile},
 *    "backups": [{"time": SECONDS, "kind": "full"|"incremental", "copied": BYTES,
 *                 "disks": [{"id": ID, "file": NAME IN DIR, "backing": NAME IN DIR (incremental),
 *                            "virtual_size": BYTES, "allocated": BYTES, "sha256": HEX}]}]}
 * A directory may come from anywhere (restore reads it): what is read is checked before use,
 * and a file it names is a plain name inside the directory. */
#ifndef VMM_MANIFEST_H
#define VMM_MANIFEST_H

#include <json-c/json.h>

#include "vmm/base/error.h"

#define MANIFEST "manifest.json"
#define BITMAP "vmm-backup" /* the persistent dirty bitmap in each qcow2 disk */
#define MANIFEST_VM "vm"
#define MANIFEST_BITMAP "bitmap"
#define MANIFEST_PROFILE "profile"
#define MANIFEST_BACKUPS "backups"

/* Checks a manifest read from file: -1 with err naming the JSON path of what is not as above. */
int manifest_check(const char *file, struct json_object *o, struct verr *err);

/* Reads dir's manifest, checked, or a new empty one for VM name when dir has none; name (may
 * be NULL: any) must be the VM it names. Returns 0 with *m (owned), or -1 with err. */
int manifest_load(const char *dir, const char *name, struct json_object **m, struct verr *err);

/* Writes dir's manifest whole (a new file renamed over the old one). */
int manifest_save(const char *dir, struct json_object *m, struct verr *err);

#endif
