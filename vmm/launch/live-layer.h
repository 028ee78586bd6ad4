/* A VM's live layer: VMM_DATA_DIR/NAME/live.json, a profile layer holding the disks and NICs
 * that `vmm add --persist` hot-added ({"disks": [...], "nics": [...]}, each element as in a
 * profile). Every plan of the VM (cmdline, run, start) applies it on top of the profile, its
 * -p layers and --set, as one more layer (its elements merge by id), so the next start has
 * those devices from boot; `vmm remove --persist` takes a device out of it. Errors in it name
 * the file like any profile's. */
#ifndef VMM_LIVE_LAYER_H
#define VMM_LIVE_LAYER_H

#include <json-c/json.h>

#include "profiles/resolve.h"
#include "vmm/base/error.h"

#define LIVE_LAYER_FILE "live.json"

/* The live layer of VM name (a new string; the file may not exist). */
char *live_layer_path(const char *name);

/* Applies VM name's live layer, when it has one, to resolved profile r (name NULL: the one r
 * names, or its file's). Returns 0, or -1 with err. */
int live_layer_apply(struct resolved *r, const char *name, struct verr *err);

/* Checks that VM name's live layer can be changed: no file, or a JSON object. Returns 0, or -1
 * with err. */
int live_layer_check(const char *name, struct verr *err);

/* Writes device (an element of list "disks" or "nics", with its "id") into VM name's live layer,
 * replacing an element with its id, under a lock against another vmm's change of the layer.
 * Returns 0, or -1 with err and the file as it was. */
int live_layer_put(const char *name, const char *list, struct json_object *device, struct verr *err);

/* Takes the device with id out of VM name's live layer (under the same lock). Returns 1 when it was there, 0 when not,
 * -1 with err. */
int live_layer_drop(const char *name, const char *id, struct verr *err);

#endif
