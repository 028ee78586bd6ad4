/* The typed, validated form of a resolved profile: what the builder and the
 * supervisor consume. Produced from JSON by config_from_json(). */
#ifndef VMM_CONFIG_H
#define VMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "error.h"

enum machine_type { MACHINE_Q35, MACHINE_PC };
enum accel { ACCEL_AUTO, ACCEL_KVM, ACCEL_TCG };
enum firmware { FIRMWARE_BIOS };
enum disk_bus { BUS_VIRTIO_BLK, BUS_SCSI };
enum disk_format { FORMAT_RAW, FORMAT_QCOW2 };
enum disk_cache { CACHE_NONE, CACHE_WRITEBACK, CACHE_WRITETHROUGH, CACHE_DIRECTSYNC, CACHE_UNSAFE };
enum disk_aio { AIO_THREADS, AIO_NATIVE, AIO_IO_URING };
enum restart_policy { RESTART_NO, RESTART_ON_CRASH, RESTART_ALWAYS };

struct disk_config {
	char *id;
	char *file;
	enum disk_format format;
	enum disk_bus bus;
	enum disk_cache cache;
	enum disk_aio aio;
	bool readonly;
};

struct vm_config {
	char *name;
	enum machine_type machine;
	enum accel accel;
	enum firmware firmware;
	char *cpu_model;          /* NULL: chosen by accelerator */
	unsigned sockets, cores, threads;
	uint64_t memory;          /* bytes */
	char *kernel, *initrd, *append;
	struct disk_config *disks;
	size_t n_disks;
	unsigned shutdown_timeout; /* seconds */
	enum restart_policy restart;
	bool protected;            /* stop, kill and reset are refused */
	char *qemu_binary;
	char **extra_args;         /* NULL-terminated, may be NULL */
};

/* Where ${VAR} in profile paths points; every field is an absolute directory. */
struct config_dirs {
	const char *cache;   /* ${VMM_CACHE_DIR} */
	const char *data;    /* ${VMM_DATA_DIR} */
};

/* Names of the enum values, as written in profiles. */
extern const char *const accel_names[];
extern const char *const machine_names[];
extern const char *const restart_names[];

/* True when name is a valid VM name: a letter, then up to 63 letters, digits, '-', '_' or '.'. */
bool vm_name_valid(const char *name);

/* Validates `json` (loaded from `file`) into *out. Every problem becomes one
 * line "FILE: PATH: what was expected" in err; returns 0 or -1. */
int config_from_json(struct json_object *json, const char *file, const struct config_dirs *dirs,
		     struct vm_config *out, struct verr *err);

/* Frees everything config_from_json() allocated. */
void config_free(struct vm_config *c);

#endif
