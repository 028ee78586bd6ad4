/* The VM's own UEFI variables: copied once from its firmware's vars template and tied to it
 * (efivars.json beside them records the template's path, size and format). */
#ifndef VMM_NVRAM_H
#define VMM_NVRAM_H

#include <stdbool.h>

#include "vmm/base/error.h"
#include "vmm/launch/firmware.h"

/* Makes sure the vars file (VMM_DATA_DIR/NAME/efivars.fd) exists and belongs to fw's template:
 * copies the template when there is none; refuses vars copied from another template (or, with
 * no record, of another size) unless reset, which moves them aside to VARS.old and copies the
 * template anew. Vars from before the record that fit get their record. Returns 0 or -1. */
int nvram_prepare(const char *vars, const struct firmware_files *fw, bool reset, struct verr *err);

#endif
