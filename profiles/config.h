/* The typed, validated form of a resolved profile: what the builder and the
 * supervisor consume. Produced from JSON by config_from_json(). */
#ifndef VMM_CONFIG_H
#define VMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "profiles/cpulist.h"
#include "vmm/base/error.h"

enum machine_type { MACHINE_Q35, MACHINE_PC };
enum pcie_placement { PCIE_ROOT_PORTS, PCIE_ROOT_BUS };
enum accel { ACCEL_AUTO, ACCEL_KVM, ACCEL_TCG };
enum firmware { FIRMWARE_BIOS, FIRMWARE_OVMF, FIRMWARE_OVMF_SECBOOT };
enum disk_bus { BUS_VIRTIO_BLK, BUS_SCSI, BUS_NVME, BUS_SATA, BUS_IDE };
enum hugepages { HUGEPAGES_NONE, HUGEPAGES_2M, HUGEPAGES_1G, HUGEPAGES_COUNT };
enum nic_type { NIC_USER, NIC_TAP, NIC_BRIDGE };
enum nic_model { NIC_VIRTIO, NIC_E1000, NIC_E1000E, NIC_RTL8139 };
enum display { DISPLAY_NONE, DISPLAY_GTK, DISPLAY_SDL, DISPLAY_VNC };
enum audio { AUDIO_NONE, AUDIO_PIPEWIRE, AUDIO_PULSEAUDIO };
enum disk_format { FORMAT_RAW, FORMAT_QCOW2 };
enum disk_cache { CACHE_NONE, CACHE_WRITEBACK, CACHE_WRITETHROUGH, CACHE_DIRECTSYNC, CACHE_UNSAFE };
enum disk_aio { AIO_THREADS, AIO_NATIVE, AIO_IO_URING };
enum restart_policy { RESTART_NO, RESTART_ON_CRASH, RESTART_ALWAYS };
/* migration.postcopy: post-copy only when vmm migrate asks (off), or on both ends, the source
 * switching to it after migration.postcopy_passes passes without convergence (auto). */
enum postcopy_mode { POSTCOPY_OFF, POSTCOPY_AUTO };
enum purpose { PURPOSE_GENERAL, PURPOSE_BENCHMARK };
enum guest_os { OS_OTHER, OS_LINUX, OS_WINDOWS };
enum disk_media { MEDIA_DISK, MEDIA_CDROM };

struct disk_config {
	char *id;
	char *file;
	char *serial;             /* what the guest reads as its serial (/dev/disk/by-id); default: the id */
	enum disk_format format;
	enum disk_bus bus;
	enum disk_cache cache;
	enum disk_aio aio;
	bool readonly;
	bool iothread;            /* its own iothread (for scsi: its own controller too) */
	unsigned iothreads;       /* virtio-blk: its queues spread over this many iothreads (iothread-vq-mapping); 0 or 1: one */
	struct cpulist iothread_pin;
	bool discard;             /* unmap discards, and zero writes */
	bool ssd;                 /* tell the guest it is not rotational */
	enum disk_media media;    /* a CD-ROM: "media": "cdrom", or by default a read-only *.iso */
	uint64_t create;          /* bytes: the image is made (qemu-img, of format) on a start that finds it missing; 0: never */
};

/* A host USB device given to the VM (usb-host on the xHCI controller): by vendor and product
 * id, or by where it is plugged (bus and port path). */
struct usb_config {
	char *id;                 /* the guest device's id: "usbN" by default */
	unsigned vendor, product; /* 0: by bus and port */
	unsigned bus;
	char *port;               /* "1.2": the port path on the bus */
};

/* A host input device (evdev) given to the guest through input-linux. */
struct input_config {
	char *evdev;              /* /dev/input/by-id/...-event-kbd */
	bool grab_all;            /* the toggle grabs every input-linux device of the VM */
	char *grab_toggle;        /* the key combination that toggles the grab (QEMU's names), NULL: QEMU's default */
};

struct nic_config {
	char *id;
	enum nic_type type;
	enum nic_model model;
	char *bridge;             /* type bridge */
	char *ifname;             /* type tap: an existing tap device */
	char *mac;                /* NULL: QEMU picks */
};

/* A host PCI device given to the VM (see passthrough/). */
struct passthrough_config {
	char *host;               /* "0000:01:00.0" */
	bool with_group;          /* also every other endpoint of its IOMMU group */
	char *rom;                /* an option ROM file to use instead of the device's own */
	bool x_vga;               /* legacy VGA ranges (a primary GPU for old guests) */
	bool multifunction;       /* its slot's functions go to the guest as one device */
};

/* One guest NUMA node. */
struct numa_config {
	struct cpulist cpus;      /* guest vCPUs */
	uint64_t size;
	int host_node;            /* -1: not bound */
};

/* The id of the disk that holds a VM's cloud-init seed, which its profile's disks cannot have. */
#define CLOUD_INIT_DISK_ID "cidata"

/* A cloud-init NoCloud seed vmm makes for the VM (vmm/launch/seed.h). */
struct cloud_init_config {
	char *hostname;            /* NULL: the VM's name */
	char *user;                /* a user to create, with sudo, or NULL */
	char **ssh_authorized_keys; /* NULL-terminated, may be NULL */
	char *password_hash;       /* the user's password as crypt(3) writes it, or NULL */
	char *user_data;           /* a file whose text is the whole user-data (instead of the above) */
	char *network_config;      /* a file whose text is network-config, or NULL: DHCP on every NIC */
};

struct vm_config {
	char *name;
	enum purpose purpose;     /* "benchmark": its results must measure the VM, not the host's caches (lint) */
	enum machine_type machine;
	enum pcie_placement pcie; /* q35: PCIe devices each on a root port of their own, or on pcie.0 */
	enum accel accel;
	enum firmware firmware;
	char *cpu_model;          /* NULL: chosen by accelerator */
	unsigned sockets, cores, threads;
	struct cpulist pin;       /* host CPU of each vCPU, in order; empty: not pinned */
	bool pin_auto;            /* cpu.pin "auto": the plan picks pin and the empty emulator/iothread pins (topology.h) */
	struct cpulist emulator_pin;
	bool hyperv;              /* Hyper-V enlightenments (Windows guests) */
	bool isolate;             /* the host's other tasks and IRQs kept off the pinned CPUs while the VM runs */
	uint64_t memory;          /* bytes */
	enum hugepages hugepages;
	bool hugepages_reserve;    /* vmm raises the host's pool by what the VM needs while it runs */
	bool prealloc, balloon;
	bool balloon_auto;        /* memory.balloon {"auto": true}: moved with the host's memory pressure */
	uint64_t balloon_min;     /* ... never below this */
	bool overcommit;          /* memory.size may be more than the host's memory (vmm/launch/plan-host.h) */
	bool shared_ram;          /* memory.shared: the guest RAM on a memfd that vmm upgrade does not copy */
	struct numa_config *numa;
	size_t n_numa;
	unsigned root_ports, max_cpus, mem_slots; /* hotplug; max_cpus 0: no more than booted */
	uint64_t max_memory;
	struct nic_config *nics;
	size_t n_nics;
	struct passthrough_config *passthrough;
	size_t n_passthrough;
	enum display display;
	enum audio audio;          /* AUDIO_NONE: no sound device */
	bool looking_glass;        /* an ivshmem memory for the Looking Glass client */
	uint64_t lg_size;
	char *lg_path;             /* its file (/dev/shm/...) or the kvmfr device */
	char *lg_user;             /* who owns the file (the desktop user); NULL: vmm's user */
	bool serial_console;      /* "console": "serial" (the default) or "none" */
	bool agent;               /* a guest agent channel (agent.sock) */
	uint64_t console_log_max; /* bytes console.log may hold before it is rotated (console_log.max_size) */
	unsigned console_log_keep; /* rotated copies kept: console.log.1 (newest) up to .N (console_log.keep) */
	bool panic;               /* a pvpanic device: a guest kernel panic ends the VM as crashed */
	char *kernel, *initrd, *append;
	struct disk_config *disks;
	size_t n_disks;
	unsigned shutdown_timeout; /* seconds */
	enum restart_policy restart;
	bool protected;            /* stop, kill and reset are refused */
	char *qemu_binary;
	char *qemu_user;           /* whom QEMU runs as (NULL: "vmm" when vmm is root); "root": no drop */
	char **extra_args;         /* NULL-terminated, may be NULL */
	enum postcopy_mode postcopy; /* migration.postcopy */
	unsigned postcopy_passes;  /* migration.postcopy_passes: passes before post-copy (auto) */
	enum guest_os os;          /* "os": "windows" gets Windows' clocks and power states */
	bool tpm;                  /* a TPM 2.0 (swtpm, started by the supervisor) */
	char *boot_from;           /* the disk that boots first (boot.from), NULL: profile order, disks before CD-ROMs */
	struct usb_config *usb;
	size_t n_usb;
	struct input_config *input;
	size_t n_input;
	struct cloud_init_config *cloud_init; /* NULL: none */
};

/* One table per enum, indexed by it. Where QEMU knows a value by its own name, the table
 * pairs the name profiles write with it: QEMU's name is what the builder writes and what the
 * probe looks for (an option value, a device type, a block driver). A table ends with { NULL }. */
struct enum_name {
	const char *profile;
	const char *qemu;
};

extern const struct enum_name nic_model_names[]; /* "virtio" is device virtio-net-pci */
extern const struct enum_name nic_type_names[];  /* -netdev types */
extern const struct enum_name format_names[];    /* block drivers */
extern const struct enum_name aio_names[];       /* the file driver's aio modes */
extern const struct enum_name display_names[];   /* -display back ends */
extern const struct enum_name audio_names[];     /* -audiodev drivers ("none": no sound device) */

/* The enums whose values QEMU knows by the names profiles write (or never sees): their
 * names, NULL-terminated. */
extern const char *const accel_names[];
extern const char *const machine_names[];
extern const char *const pcie_names[];   /* "root-ports" or "pcie.0" */
extern const char *const restart_names[];
extern const char *const postcopy_names[];
extern const char *const firmware_names[];
extern const char *const bus_names[];
extern const char *const cache_names[];
extern const char *const console_names[]; /* "serial" or "none" */
extern const char *const purpose_names[]; /* "general" or "benchmark" */
extern const char *const os_names[];      /* "other", "linux", "windows" */
extern const char *const media_names[];   /* "disk", "cdrom" */
extern const char *const grab_toggle_names[]; /* input-linux's grab-toggle values */

/* A size of huge pages: as profiles write it, in bytes, and the kernel's sysfs folder for it
 * (/sys/kernel/mm/hugepages/NAME). */
struct hugepage_size {
	const char *profile;
	uint64_t bytes;
	const char *sysfs;
};

#define HUGEPAGE_2M_BYTES (2ull << 20)
#define HUGEPAGE_1G_BYTES (1ull << 30)

/* Indexed by enum hugepages; the entry of HUGEPAGES_NONE is all zero. */
extern const struct hugepage_size hugepage_sizes[HUGEPAGES_COUNT];

/* The longest disk or NIC id: the builder's block node names add up to 5 characters to it,
 * and QEMU's node names have at most 31. */
#define DEVICE_ID_MAX 24
/* The longest disk serial: what virtio-blk, IDE and NVMe pass to the guest. */
#define DISK_SERIAL_MAX 20
/* The most iothreads one disk's queues are spread over. */
#define DISK_IOTHREADS_MAX 16

/* The most rotated copies of console.log a profile may keep (console.log.1 to .9). */
#define CONSOLE_LOG_KEEP_MAX 9

/* The name of a VM whose profile (file) names none: the file's name without its extension. */
char *config_file_name(const char *file);

/* The number of vCPUs a config boots with. */
unsigned config_vcpus(const struct vm_config *c);

/* Validates `json` (loaded from `file`, its paths expanded by the resolver) into *out. Every
 * problem becomes one line "FILE: PATH: what was expected" in err, FILE being the profile that
 * set the value (from origins, see resolve.h; may be NULL); returns 0 or -1. */
int config_from_json(struct json_object *json, const char *file, struct json_object *origins,
		     struct vm_config *out, struct verr *err);

/* Frees a cloud-init config (may be NULL). */
void cloud_init_free(struct cloud_init_config *ci);

/* Frees everything config_from_json() allocated. */
void config_free(struct vm_config *c);

/* Validates one disk given alone (a device to hot-add: a disks[] element) as a profile's is,
 * each problem one line "WHAT: KEY: what was expected" (what: "disk"); its serial defaults to
 * the id's first DISK_SERIAL_MAX characters. Returns 0, or -1 with err (and *d empty). */
int config_disk_from_json(struct json_object *json, const char *what, struct disk_config *d, struct verr *err);

/* The same for one NIC (a nics[] element). */
int config_nic_from_json(struct json_object *json, const char *what, struct nic_config *n, struct verr *err);

/* Frees what "usb" and "input" of c hold. */
void config_platform_free(struct vm_config *c);

/* Validates one USB device given alone (a device to hot-add: a usb[] element) as a profile's
 * is, problems "WHAT: KEY: ..."; its id defaults to "usb-VVVV-PPPP" or "usb-BUS-PORT". */
int config_usb_from_json(struct json_object *json, const char *what, struct usb_config *u, struct verr *err);

/* Frees what one USB device holds. */
void config_usb_free(struct usb_config *u);

/* Frees what one disk of config_disk_from_json() holds. */
void config_disk_free(struct disk_config *d);

/* Frees what one NIC of config_nic_from_json() holds. */
void config_nic_free(struct nic_config *n);

#endif
