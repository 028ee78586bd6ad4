/* The walk of a profile into struct vm_config (config.h), shared by the files of the VM
 * schema (config.c: the VM, its CPUs, memory, boot and lifecycle; config-devices.c: its
 * devices): the state of one walk, and readers of the values the schema adds to jsonread's
 * (sizes, file paths, host CPU lists, enums, ids). Not for use outside the schema. */
#ifndef VMM_CONFIG_WALK_H
#define VMM_CONFIG_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "profiles/config.h"
#include "profiles/jsonread.h"
#include "vmm/base/util.h"

/* Memory sizes are whole numbers of this. */
#define MIB (1ull << 20)
/* The smallest memory size, of the VM or of a NUMA node. */
#define MEMORY_MIN (16 * MIB)
/* The most vCPUs a VM may have, booted or hot-plugged. */
#define VCPUS_MAX 1024

/* The state of one walk. */
struct walk {
	struct jreader jr; /* where problems go */
};

/* Reads an optional enum member (a string from names, NULL-terminated) into the enum lvalue field. */
#define cfg_get_enum(w, obj, path, key, names, field)           \
	do {                                                    \
		int v_ = (int)(field);                          \
		jr_oneof(&(w)->jr, obj, path, key, names, &v_); \
		(field) = v_;                                   \
	} while (0)

/* Reads an optional enum member (one of table's profile names) into the enum lvalue field. */
#define cfg_get_table_enum(w, obj, path, key, table, field)                  \
	do {                                                                 \
		_cleanup_free_ const char **names_ = cfg_enum_names(table); \
		cfg_get_enum(w, obj, path, key, names_, field);              \
	} while (0)

/* The profile names of an enum table, NULL-terminated, in a new array (of the table's strings). */
const char **cfg_enum_names(const struct enum_name *table);

/* Reads an optional path member (the resolver has expanded it): a non-empty string. */
void cfg_get_path(struct walk *w, struct json_object *obj, const char *path, const char *key, char **out);

/* Reads an optional size member ("8G"): a whole number of MiB, at least min. */
void cfg_get_size(struct walk *w, struct json_object *obj, const char *path, const char *key, uint64_t min,
		  uint64_t *out);

/* Reads an optional CPU list member ("2-3") of host CPUs (whether the host has them is the
 * plan's check: topology.h). */
void cfg_get_host_cpus(struct walk *w, struct json_object *obj, const char *path, const char *key,
		       struct cpulist *out);

/* Reports the first CPU of l (at path) at or above limit: "CPU 9 does not exist (the host has 8: 0-7)"
 * for what "CPU", owner "the host". */
void cfg_check_cpus(struct walk *w, const char *path, const struct cpulist *l, long limit, const char *what,
		    const char *owner);

/* True when s is a name QEMU takes whole, with nothing that could start another option:
 * 1 to max letters, digits, '-', '_' or '.'. */
bool cfg_valid_name(const char *s, size_t max);

/* Validates the devices (config-devices.c): "disks", "nics", "passthrough", "hotplug",
 * "display", "console" and "agent". */
void cfg_walk_devices(struct walk *w, struct json_object *json, struct vm_config *c);

/* Validates "looking_glass" and "audio" (config-desktop.c). */
void cfg_walk_desktop(struct walk *w, struct json_object *json, struct vm_config *c);

/* Validates "os", "tpm", "boot.from", "usb" and "input" (config-platform.c), the disks
 * already read. */
void cfg_walk_platform(struct walk *w, struct json_object *json, struct vm_config *c);

/* Reads disks[].media of one disk (at path): "disk" or "cdrom", by default a CD-ROM when
 * the disk is read-only and its file ends in .iso; a CD-ROM is read-only. */
void cfg_get_media(struct walk *w, struct json_object *d, const char *path, struct disk_config *disk);

/* Validates "cloud_init" (config-cloudinit.c). */
void cfg_walk_cloud_init(struct walk *w, struct json_object *json, struct vm_config *c);

#endif
