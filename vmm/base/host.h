/* Facts about the host that vmm decides on: is KVM usable, where is a program. */
#ifndef VMM_HOST_H
#define VMM_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/base/error.h"

/* True when /dev/kvm opens read-write, speaks API version 12 and can create a VM. */
bool kvm_usable(void);

/* The host's CPU count; $VMM_HOST_CPUS stands in for another host (golden tests of big profiles). */
long host_cpu_count(void);

/* The host's memory in bytes (MemTotal of $VMM_PROC_ROOT/meminfo, default /proc: a stand-in
 * host for tests), 0 when unreadable. */
uint64_t host_memory(void);

/* The host's secret that keys what vmm derives for it (vmm/launch/identity.h): systemd's
 * /etc/machine-id, else D-Bus's copy, else this boot's id; $VMM_MACHINE_ID stands in for
 * another host (golden tests). Never to be shown as it is. malloc'd, or NULL with an error. */
char *host_machine_id(struct verr *err);

/* The QEMU binary of a profile that names none (qemu.binary): $VMM_QEMU when set, else
 * qemu-system-x86_64 (found on $PATH). */
const char *default_qemu(void);

/* Resolves a program name through $PATH (a name with '/' is taken as is).
 * Returns a malloc'd path of an executable file, or NULL with an error. */
char *find_program(const char *name, struct verr *err);

/* The /proc in use: $VMM_PROC_ROOT stands in for another host's (tests). */
const char *host_proc_root(void);

/* Directory defaults: $VMM_RUN_DIR (/run/vmm for root, else $XDG_RUNTIME_DIR/vmm; resolved:
 * absolute, its existing part without symbolic links, no "." or ".."),
 * $VMM_CACHE_DIR (~/.cache/vmm), $VMM_DATA_DIR (~/.local/share/vmm). malloc'd, or NULL with an error. */
char *run_base_dir(struct verr *err);

/* Waits for an exclusive lock on FILE in the run base directory (made when missing, never
 * removed), which serialises host-wide changes of all VMs. Returns its fd, or -1 with err. */
int run_base_lock(const char *file, struct verr *err);
char *cache_dir(void);
char *data_dir(void);

#endif
