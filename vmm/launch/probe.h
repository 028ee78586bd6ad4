/* What a QEMU binary can do, asked of the binary itself (-machine none, QMP:
 * query-version, query-commands, qom-list-types, query-machines with the versioned machine
 * each alias stands for and those deprecated, plus the sandbox
 * option and the aio modes from the QMP schema), cached in $VMM_CACHE_DIR/qemu-caps keyed
 * by the binary's path, size and mtime, so each binary is probed once, not per start. */
#ifndef VMM_PROBE_H
#define VMM_PROBE_H

#include <stdbool.h>

#include <json-c/json.h>

#include "profiles/config.h"
#include "vmm/base/error.h"

struct qemu_caps {
	struct json_object *json; /* the cached probe: version, machines, types, commands, ... */
	bool from_cache;
};

/* Probes binary (an absolute path) or loads its cached probe. */
int probe_qemu(const char *binary, struct qemu_caps *caps, struct verr *err);

/* Reads a recorded probe instead of asking a binary (a stand-in QEMU: $VMM_PROBE_FILE). */
int probe_load(const char *file, struct qemu_caps *caps, struct verr *err);

/* True when QEMU knows the QOM type (a device, object or machine class). */
bool caps_has_type(const struct qemu_caps *caps, const char *type);

/* True when QEMU has the QMP command ("snapshot-save"). */
bool caps_has_command(const struct qemu_caps *caps, const char *command);

/* True when QOM type `type` has the property (asked of the CPU model max-x86_64-cpu,
 * pcie-root-port, and the machine types "q35" and "pc" stand for, as "pc-q35-7.2-machine"). */
bool caps_has_property(const struct qemu_caps *caps, const char *type, const char *property);

/* True when QEMU has the machine type (a name or an alias such as "q35"). */
bool caps_has_machine(const struct qemu_caps *caps, const char *machine);

/* True when QEMU marks the machine type deprecated: a later QEMU will not have it. */
bool caps_machine_deprecated(const struct qemu_caps *caps, const char *machine);

/* The versioned machine type an alias stands for in this QEMU ("q35": "pc-q35-7.2"), or NULL. */
const char *caps_machine_version(const struct qemu_caps *caps, const char *alias);

/* True when the QEMU is version major.minor or later. */
bool caps_version_at_least(const struct qemu_caps *caps, int major, int minor);

/* True when QEMU has -sandbox (built with seccomp). */
bool caps_has_sandbox(const struct qemu_caps *caps);

/* Checks that the QEMU can build what config c asks for: one error line per gap. */
int caps_check(const struct qemu_caps *caps, const struct vm_config *c, struct verr *err);

void qemu_caps_free(struct qemu_caps *caps);

#endif
