/* The destination of vmm migrate over ssh (ssh://[USER@]HOST): vmm runs ssh with an argv
 * list ($VMM_SSH, default "ssh", in batch mode), which runs `vmm start - --json --incoming
 * tcp:0.0.0.0:PORT --name NAME` on HOST with the VM's resolved profile on stdin (a port
 * picked at random from MIGRATE_SSH_PORTS), and returns once that destination listens, with
 * the URI to migrate to (tcp:HOST:PORT). The --tls directory must be at the same path there. */
#ifndef VMM_MIGRATE_SSH_H
#define VMM_MIGRATE_SSH_H

#include <stdbool.h>

#include "vmm/base/error.h"

/* The ports a destination started over ssh listens on, one picked at random. */
#define MIGRATE_SSH_PORT_FIRST 49200
#define MIGRATE_SSH_PORTS 10000

/* True when dest is an ssh:// destination. */
bool migrate_ssh_dest(const char *dest);

/* Starts VM name's destination as dest says (ssh://[USER@]HOST), with --postcopy, --tls dir
 * (NULL: none) and --copy-storage as given to vmm migrate; *uri: where to migrate (malloc'd).
 * Returns 0, or -1 with err. */
int migrate_ssh_start(const char *name, const char *dest, bool postcopy, const char *tls_dir, bool copy_storage,
		      char **uri, struct verr *err);

#endif
