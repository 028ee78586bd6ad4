/* The file vmm save writes and vmm restore reads: a header vmm writes, then QEMU's migration
 * stream (what `migrate` wrote to the descriptor after it, read back by -incoming from the
 * same offset). The header is two lines: SAVEFILE_MAGIC, then one JSON object with what a
 * restore needs to start the same VM again on this host: its name, the profile path it came
 * from and the resolved profile (the identity, with the machine type and device addresses,
 * stays in the VM's data directory), when it was saved and by which QEMU. One file, so a
 * saved VM cannot lose its description on the way. The header is untrusted input when read
 * (tests/fuzz/fuzz-savefile.c). */
#ifndef VMM_SAVEFILE_H
#define VMM_SAVEFILE_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "vmm/base/error.h"
#include "vmm/launch/plan.h"

#define SAVEFILE_MAGIC "vmm-saved-vm 1"
/* The longest header read back. */
#define SAVEFILE_HEADER_MAX (1 << 20)

/* The header's keys. */
#define SAVEFILE_KEY_NAME "name"
#define SAVEFILE_KEY_PROFILE_PATH "profile_path"
#define SAVEFILE_KEY_PROFILE "profile"
#define SAVEFILE_KEY_SAVED "saved"               /* seconds since the epoch */
#define SAVEFILE_KEY_QEMU_VERSION "qemu_version" /* the QEMU that saved it */

/* Writes the header for VM p (QEMU version version) at fd's offset. */
int savefile_write_header(int fd, const struct plan *p, const char *version, struct verr *err);

/* Parses the header at the start of buf (len bytes of file): *used is its length, *vm the VM's
 * name, *path the profile path, *profile the resolved profile (a new reference). Returns 0, or
 * -1 with err naming file and what is wrong. */
int savefile_parse(const char *buf, size_t len, const char *file, size_t *used, char **vm, char **path,
		   struct json_object **profile, struct verr *err);

/* Reads the header of save file (open as fd) and leaves fd at the start of QEMU's stream. */
int savefile_read_header(int fd, const char *file, char **vm, char **path, struct json_object **profile,
			 struct verr *err);

#endif
