/* The name tables of config.h's enums, in one place: every reader of a name reads it here. */
#include "profiles/config.h"

#include <stddef.h>

const char *const machine_names[] = { "q35", "pc", NULL };
const char *const pcie_names[] = { "root-ports", "pcie.0", NULL };
const char *const accel_names[] = { "auto", "kvm", "tcg", NULL };
const char *const restart_names[] = { "no", "on-crash", "always", NULL };
const char *const postcopy_names[] = { "off", "auto", NULL };
const char *const firmware_names[] = { "bios", "ovmf", "ovmf-secboot", NULL };
const char *const bus_names[] = { "virtio-blk", "scsi", "nvme", "sata", "ide", NULL };
const char *const console_names[] = { "serial", "none", NULL };
const char *const purpose_names[] = { [PURPOSE_GENERAL] = "general", [PURPOSE_BENCHMARK] = "benchmark", NULL };
const char *const os_names[] = { "other", "linux", "windows", NULL };
const char *const media_names[] = { "disk", "cdrom", NULL };
const char *const grab_toggle_names[] = { "ctrl-ctrl", "alt-alt", "shift-shift", "meta-meta", "scrolllock",
					  "ctrl-scrolllock", NULL };
const char *const cache_names[] = { "none", "writeback", "writethrough", "directsync", "unsafe", NULL };

const struct enum_name nic_model_names[] = {
	[NIC_VIRTIO] = { "virtio", "virtio-net-pci" },
	[NIC_E1000] = { "e1000", "e1000" },
	[NIC_E1000E] = { "e1000e", "e1000e" },
	[NIC_RTL8139] = { "rtl8139", "rtl8139" },
	{ NULL, NULL },
};
const struct enum_name nic_type_names[] = {
	[NIC_USER] = { "user", "user" },
	[NIC_TAP] = { "tap", "tap" },
	[NIC_BRIDGE] = { "bridge", "bridge" },
	{ NULL, NULL },
};
const struct enum_name format_names[] = {
	[FORMAT_RAW] = { "raw", "raw" },
	[FORMAT_QCOW2] = { "qcow2", "qcow2" },
	{ NULL, NULL },
};
const struct enum_name aio_names[] = {
	[AIO_THREADS] = { "threads", "threads" },
	[AIO_NATIVE] = { "native", "native" },
	[AIO_IO_URING] = { "io_uring", "io_uring" },
	{ NULL, NULL },
};
const struct enum_name display_names[] = {
	[DISPLAY_NONE] = { "none", "none" },
	[DISPLAY_GTK] = { "gtk", "gtk" },
	[DISPLAY_SDL] = { "sdl", "sdl" },
	[DISPLAY_VNC] = { "vnc", "vnc" },
	{ NULL, NULL },
};

const struct hugepage_size hugepage_sizes[HUGEPAGES_COUNT] = {
	[HUGEPAGES_2M] = { "2M", HUGEPAGE_2M_BYTES, "hugepages-2048kB" },
	[HUGEPAGES_1G] = { "1G", HUGEPAGE_1G_BYTES, "hugepages-1048576kB" },
};
