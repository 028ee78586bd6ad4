/* The unix:PATH of a migration, checked before QEMU listens there (vmm start --incoming) or
 * connects to it (vmm migrate): QEMU's user is granted the path (or its directory), and a
 * listening QEMU removes whatever the path names first. So PATH is absolute (the supervisor
 * works from /), never in vmm's run base (the VMs' own sockets), a listening one names
 * nothing yet and is not in a directory above the run base (QEMU's user may write in its
 * directory), and one to connect to that exists is a socket. tcp: URIs pass. */
#ifndef VMM_MIGRATE_URI_H
#define VMM_MIGRATE_URI_H

#include <stdbool.h>

#include "vmm/base/error.h"

/* Checks uri for a QEMU that listens there (listen) or connects to it. Returns 0, or -1 with err. */
int migrate_uri_check(const char *uri, bool listen, struct verr *err);

#endif
