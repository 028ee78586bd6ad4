/* The builder's platform parts (builder-platform.c): Windows' clocks and power states, the
 * Hyper-V enlightenments, the TPM, the boot order, USB and host input devices; and the facts of
 * the probe they are decided from, never from QEMU's version. */
#ifndef VMM_BUILDER_PLATFORM_H
#define VMM_BUILDER_PLATFORM_H

#include <json-c/json.h>

#include "vmm/launch/builder.h"
#include "vmm/launch/probe.h"

/* The xHCI controller's id and its USB bus. */
#define BUILD_USB_CONTROLLER "usb"
#define BUILD_USB_BUS "usb.0"

/* Fills the launch facts of the platform from the probe: the Hyper-V enlightenments the CPU
 * model has (into hv, "hv-relaxed=on", ...; l->hyperv points at it), whether machine (an alias
 * such as "q35") has the hpet property and root ports the hotplug property. */
void platform_facts(const struct qemu_caps *caps, const char *machine, struct launch *l, struct strv *hv);

/* Checks at start what the platform needs of the host: each input device's evdev exists. */
int platform_check_host(const struct vm_config *c, struct verr *err);

/* The -cpu value: the profile's model or the accelerator's, with the Hyper-V enlightenments
 * under KVM when cpu.hyperv asks for them. */
char *build_cpu_model(const struct vm_config *c, const struct launch *l);

/* What -machine gets besides the type, firmware and memory (",hpet=off" for Windows), or "". */
const char *build_machine_options(const struct vm_config *c, const struct launch *l);

/* Windows' clocks and power states (os windows) and the TPM (tpm). */
void build_platform(const struct vm_config *c, const struct launch *l, struct strv *argv);

/* The bootindex of disk d of c: boot.from first, then the disks in profile order, then the CD-ROMs. */
int build_boot_index(const struct vm_config *c, const struct disk_config *d);

/* -boot strict=on when the VM has disks (only devices with a bootindex boot). */
void build_boot_strict(const struct vm_config *c, struct strv *argv);

/* q35's xHCI controller (and a USB tablet when there is a display), the host USB devices and
 * the host input devices. */
void build_usb(const struct vm_config *c, struct identity *id, struct strv *argv);

/* The usb-host device of a host USB device, on the xHCI controller (also what device_add gets). */
struct json_object *build_usb_host(const struct usb_config *u);

/* A UEFI flash image as block node `node` (what -machine pflash0/pflash1 names): its file,
 * under a qcow2 format node when format is "qcow2" (Fedora's OVMF). */
void build_flash_node(const char *node, const char *file, const char *format, bool read_only, struct strv *argv);

#endif
