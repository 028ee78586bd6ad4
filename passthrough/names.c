#include "passthrough/names.h"

#include <setjmp.h>
#include <stdio.h>

#include <pci/pci.h>

static struct pci_access *pacc;
static jmp_buf on_error;

/* libpci's error handler must not return: jump back to the lookup that failed. */
static void __attribute__((noreturn, format(printf, 1, 2))) fail(char *msg, ...)
{
	(void)msg;
	longjmp(on_error, 1);
}

/* libpci's warnings are not for vmm's users. */
static void __attribute__((format(printf, 1, 2))) quiet(char *msg, ...)
{
	(void)msg;
}

void pci_name(unsigned vendor, unsigned device, char *buf, size_t size)
{
	char name[256];

	buf[0] = '\0';
	if (setjmp(on_error))
		return;
	if (!pacc) {
		pacc = pci_alloc();
		pacc->error = fail;
		pacc->warning = quiet;
		pci_init(pacc);
	}
	/* From pci.ids only: libpci's udev hwdb path leaks its udev handle when there is no hwdb. */
	if (pci_lookup_name(pacc, name, sizeof(name),
			    PCI_LOOKUP_VENDOR | PCI_LOOKUP_DEVICE | PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB, vendor, device))
		snprintf(buf, size, "%s", name);
}

void pci_names_free(void)
{
	if (pacc)
		pci_cleanup(pacc);
	pacc = NULL;
}
