/* A QEMU unpacked from Debian packages into a directory (dpkg-deb -x) instead of installed,
 * beside the system's: its binary is ROOT/usr/bin/qemu-system-x86_64, but the paths built into
 * it name /usr, where it would find the system QEMU's firmware and modules (and a module of
 * another QEMU build aborts it). vmm tells it where its own are: -L for each of its firmware
 * directories under ROOT (searched before the built-in ones, which stay as a fallback), and
 * QEMU_MODULE_DIR for its modules. A binary anywhere else (/usr/bin, or one built with its own
 * --prefix) gets neither. Decided from the binary's real path and what exists under ROOT. */
#ifndef VMM_QEMU_PREFIX_H
#define VMM_QEMU_PREFIX_H

#include "vmm/base/util.h"

struct qemu_prefix {
	struct strv data_dirs; /* "-L DIR" for each, in this order (none: an installed QEMU) */
	struct strv env;       /* "QEMU_MODULE_DIR=DIR" when it has modules, for QEMU's environment */
};

/* Finds what binary (a path) needs if it was unpacked into a directory; empty lists otherwise. */
void qemu_prefix_find(const char *binary, struct qemu_prefix *q);

void qemu_prefix_free(struct qemu_prefix *q);

#endif
