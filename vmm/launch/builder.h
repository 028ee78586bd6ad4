/* The QEMU command-line builder: a validated config plus the facts of one launch and the VM's
 * identity become an argv. Pure: it runs nothing and touches no file. */
#ifndef VMM_BUILDER_H
#define VMM_BUILDER_H

#include "profiles/config.h"
#include "vmm/base/util.h"
#include "vmm/launch/identity.h"

/* Fixed descriptor numbers QEMU inherits its listening sockets on. */
#define LAUNCH_MONITOR_FD 3
#define LAUNCH_CONSOLE_FD 4
#define LAUNCH_PROXY_MONITOR_FD 5

/* What the builder needs to know about one launch besides the profile. */
struct launch {
	enum accel accel;     /* resolved: ACCEL_KVM or ACCEL_TCG */
	const char *run_dir;  /* the VM's run directory (the agent and VNC sockets live there) */
	const char *binary;   /* resolved QEMU binary path */
	const struct strv *data_dirs; /* -L each: a QEMU unpacked into a directory (qemu-prefix.h), or NULL */
	const char *fw_code;  /* UEFI: the firmware image (NULL: SeaBIOS) */
	const char *fw_vars;  /* UEFI: the VM's own copy of the vars template */
	bool no_sandbox;      /* the QEMU was built without seccomp (the probe says so) */
	bool pvpanic;         /* the QEMU has the ISA pvpanic device (the probe says so) */
	const bool *block_device; /* per disk: its file is a block device (NULL: none is) */
};

/* Appends the whole QEMU argv for config c to *argv (argv[0] = l->binary). Every PCI device
 * goes where identity id says; what it lacks (a device's address, a NIC's MAC, the UUID) is
 * created in it, for the plan to write when the VM starts. */
void build_argv(const struct vm_config *c, const struct launch *l, struct identity *id, struct strv *argv);

/* Escapes a value for QEMU's key=value option syntax (',' becomes ',,'). */
char *qemu_opt_escape(const char *value);

#endif
