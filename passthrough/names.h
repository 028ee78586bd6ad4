/* Vendor and device names from pci.ids, through libpci (whose default error handler
 * would exit the process: vmm installs one that returns here instead). */
#ifndef PASSTHROUGH_NAMES_H
#define PASSTHROUGH_NAMES_H

#include <stddef.h>

/* Writes "Vendor Device" for the ids into buf, or "" when pci.ids does not know them. */
void pci_name(unsigned vendor, unsigned device, char *buf, size_t size);

/* Releases libpci. */
void pci_names_free(void);

#endif
