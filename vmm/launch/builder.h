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
#define LAUNCH_AGENT_FD 6 /* only when the profile has a guest agent channel */
#define LAUNCH_RAM_FD 7   /* the guest RAM's memfd, only when build_shared_ram() */
#define LAUNCH_MIGRATION_FD 8 /* an incoming migration stream (vmm upgrade, vmm restore), when there is one */
#define LAUNCH_TPM_FD 9 /* the supervisor's connection to the VM's swtpm (tpm: true): QEMU, as its own user, cannot reach the run directory */

/* What the builder needs to know about one launch besides the profile. */
struct launch {
	enum accel accel;     /* resolved: ACCEL_KVM or ACCEL_TCG */
	const char *run_dir;  /* the VM's run directory (the VNC socket lives there) */
	const char *binary;   /* resolved QEMU binary path */
	const struct strv *data_dirs; /* -L each: a QEMU unpacked into a directory (qemu-prefix.h), or NULL */
	const char *fw_code;  /* UEFI: the firmware image (NULL: SeaBIOS) */
	const char *fw_vars;  /* UEFI: the VM's own copy of the vars template */
	const char *fw_code_format, *fw_vars_format; /* UEFI: their block formats ("raw", "qcow2") */
	bool no_sandbox;      /* the QEMU was built without seccomp (the probe says so) */
	bool pvpanic;         /* the QEMU has the ISA pvpanic device (the probe says so) */
	bool virtio_mem;      /* the QEMU has virtio-mem-pci, with prealloc when the VM needs it (the probe says so) */
	const bool *block_device; /* per disk: its file is a block device (NULL: none is) */
	const struct strv *hyperv; /* the Hyper-V enlightenments the QEMU has ("hv-relaxed=on"), or NULL */
	bool hpet;            /* the machine type has the hpet property (the probe says so) */
	bool port_hotplug;    /* pcie-root-port has the hotplug property (the probe says so) */
};

/* Appends the whole QEMU argv for config c to *argv (argv[0] = l->binary). Every PCI device
 * goes where identity id says; what it lacks (a device's address, a NIC's MAC, the UUID) is
 * created in it, for the plan to write when the VM starts. */
void build_argv(const struct vm_config *c, const struct launch *l, struct identity *id, struct strv *argv);

/* True when the guest RAM is shared (memory.shared, or huge pages): one shared file
 * backend on a memfd the supervisor creates and QEMU inherits as LAUNCH_RAM_FD (mem-path
 * /proc/self/fd/N, share=on; not /dev/fd/N, a link that not every /dev has): a new QEMU of the
 * same VM (vmm upgrade) maps the same pages, so a migration between them copies no RAM
 * (x-ignore-shared). A memfd rather than a file under /dev/shm: nothing to name, clean or leak
 * when the supervisor dies, and a named file for QEMU (mem-path), which x-ignore-shared needs.
 * Not the default for plain RAM: migrating it to another host reads every page of the memfd,
 * which allocates the guest's untouched RAM (plain RAM's untouched pages are the zero page, and
 * an idle guest migrates several times faster), and its pages are not merged by KSM and get
 * transparent huge pages only as /sys/kernel/mm/transparent_hugepage/shmem_enabled allows.
 * Always for huge pages (a hugetlb memfd), which lose nothing: allocated up front and never
 * merged, and an upgrade needs no second set of them. NUMA nodes keep their own backends (the
 * profile refuses memory.shared with them); an upgrade copies plain RAM. */
bool build_shared_ram(const struct vm_config *c);

/* The id of the virtio-mem device that holds the memory a running VM may be given. */
#define BUILD_VIRTIO_MEM_ID "vmem0"

/* True when the VM's memory can change while it runs (vmm set memory=SIZE): it has
 * hotplug.max_memory and the QEMU has virtio-mem; the argv then has a virtio-mem device,
 * BUILD_VIRTIO_MEM_ID, whose backend holds everything above memory.size. */
bool build_has_virtio_mem(const struct vm_config *c, const struct launch *l);

/* What the virtio-mem device plugs a whole number of: the huge page size, else 2 MiB (QEMU's
 * default on x86). */
uint64_t build_virtio_mem_block(const struct vm_config *c);

/* The identity's key of a PCI device or root port: KIND:NAME ("disk:root", "nic:net0", "hotplug:0"). */
char *build_pci_key(const char *kind, const char *name);

/* The id of iothread k of disk d: "io-ID", then "io-ID-1", "io-ID-2" (iothreads). */
char *build_iothread_id(const struct disk_config *d, unsigned k);

/* The id of the root port of a PCI key ("rp-disk-root", "rp-hotplug-0"). */
char *build_port_id(const char *key);

/* The QEMU objects of disk d (its file a block device or not) to hot-add, its PCI device on
 * root port port, in the order QEMU must create them: a list of {"option": "-blockdev",
 * "-object" or "-device", "json": the object as the command line would give it, which is also
 * the argument of blockdev-add, object-add or device_add}. NULL for a disk with no PCI device
 * of its own (bus sata or ide). */
struct json_object *build_hot_disk(const struct disk_config *d, bool block_device, const char *port);

/* The same for NIC n with MAC mac: its "-netdev" (netdev_add) and "-device". */
struct json_object *build_hot_nic(const struct nic_config *n, const char *mac, const char *port);

/* Escapes a value for QEMU's key=value option syntax (',' becomes ',,'). */
char *qemu_opt_escape(const char *value);

#endif
