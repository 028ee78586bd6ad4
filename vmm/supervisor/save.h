/* vmm save: migrates a running guest into a new file (CTL_ARG_FILE, an absolute path that does
 * not exist; written as FILE.partial until complete): a header with what vmm restore needs
 * (savefile.h), then QEMU's stream, which QEMU writes into a pipe (getfd) that the supervisor
 * copies into the file (fd: on a regular file is deprecated since QEMU 9.1). The RAM is copied
 * whatever its backend (x-ignore-shared off). Once the file is complete the VM ends, saved
 * (VM_SAVED), and the request gets how it ended, like a stop. A failure removes the partial
 * file and leaves the guest running, as does a cancel. CTL_ARG_BANDWIDTH caps the stream (a save
 * that must not take the disk's whole bandwidth; no time limit then). The migration steps on QEMU are upgrade.c's. */
#ifndef VMM_SAVE_H
#define VMM_SAVE_H

#include <json-c/json.h>

#include "vmm/supervisor/control.h"

struct sup;

/* save: starts saving the VM into args' CTL_ARG_FILE; answers conn once it has ended, saved. */
void save_request(struct sup *s, struct control_conn *conn, struct json_object *args);

/* save-cancel: cancels the save under way (migrate_cancel; the save's request fails saying it was
 * cancelled, its partial file goes, the guest runs on); answers conn at once. */
void save_cancel_request(struct sup *s, struct control_conn *conn);

#endif
