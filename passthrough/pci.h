/* Host PCI devices as sysfs shows them ($VMM_SYSFS_ROOT, default /sys, so tests can use a
 * fake tree): identity, class, driver, IOMMU group, reset methods, boot VGA. */
#ifndef PASSTHROUGH_PCI_H
#define PASSTHROUGH_PCI_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/base/error.h"

/* Bytes of a normalized PCI address "dddd:bb:dd.f" and its NUL. */
#define PCI_BDF_SIZE 13

struct pci_dev {
	char bdf[PCI_BDF_SIZE];           /* "0000:01:00.0" */
	unsigned vendor, device;
	unsigned class;         /* 24 bits: class, subclass, prog-if */
	char driver[64];        /* "" when none */
	int group;              /* IOMMU group, -1 when none (IOMMU off) */
	bool bridge;            /* a PCI bridge (may stay with the host) */
	bool boot_vga;          /* the firmware's boot display */
	char reset[96];         /* reset_method contents, "" when none */
};

/* Normalizes a PCI address ("01:00.0" or "0000:01:00.0") to "0000:01:00.0" in out;
 * returns false when it is not one. */
bool pci_address_parse(const char *s, char out[PCI_BDF_SIZE]);

/* True when two normalized addresses are functions of one device (same domain, bus, slot). */
bool pci_same_slot(const char *a, const char *b);

/* The function number of a normalized address ("0000:01:00.1" -> 1). */
unsigned pci_function(const char *bdf);

/* The sysfs root in use. */
const char *pci_sysfs_root(void);

/* Reads one device. Returns 0, or -1 with err when it does not exist. */
int pci_read(const char *bdf, struct pci_dev *out, struct verr *err);

/* Reads every device, sorted by IOMMU group, then address. */
int pci_list(struct pci_dev **out, size_t *n, struct verr *err);

/* The devices of IOMMU group g, sorted by address. */
int pci_group(int g, struct pci_dev **out, size_t *n, struct verr *err);

#endif
