/* UEFI firmware, found the way QEMU's own tools find it: through the firmware
 * descriptors (docs/interop/firmware.json) in /etc/qemu/firmware, ~/.config/qemu/firmware
 * and /usr/share/qemu/firmware, where a file name in an earlier directory hides the same
 * name in a later one, and descriptors are tried in file-name order. */
#ifndef VMM_FIRMWARE_H
#define VMM_FIRMWARE_H

#include "profiles/config.h"
#include "vmm/base/error.h"

struct firmware_files {
	char *code;          /* the read-only executable flash image */
	char *vars_template; /* the NVRAM template a VM's own vars are copied from */
	char *descriptor;    /* the descriptor that named them */
	char *code_format;   /* their block formats, as the descriptor says: "raw" or "qcow2" */
	char *vars_format;
};

/* Finds the flash images for fw (ovmf or ovmf-secboot) on machine type mt. The search
 * directories come from $VMM_FIRMWARE_PATH (colon-separated) when set. */
int firmware_find(enum firmware fw, enum machine_type mt, struct firmware_files *out, struct verr *err);

void firmware_files_free(struct firmware_files *f);

#endif
