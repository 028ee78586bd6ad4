#!/bin/bash
# Builds a stand-in host under ROOT for the VFIO tests: ROOT/sys (PCI devices, drivers,
# IOMMU groups, block devices, NICs, framebuffers), ROOT/proc (mounts, swaps, routes) and
# ROOT/dev. Group 1: a bridge, a GPU and its HDMI audio (the passthrough pair); group 2:
# the NVMe holding / ; group 3: the NIC of the default route; group 4: the boot GPU with a
# framebuffer console (a reset-bug model); group 5: a NIC without a reset method; group 6:
# a multifunction virtio pair; group 7: two NICs in different slots (no ACS between them);
# group 9: a second GPU whose DRM device Xorg holds open.
set -euo pipefail
root=$1
sys=$root/sys
mkdir -p "$sys/bus/pci/devices" "$sys/bus/pci/drivers" "$sys/kernel/iommu_groups" "$sys/block" \
	"$sys/class/net" "$sys/class/graphics" "$root/proc/self" "$root/proc/net" "$root/dev"
touch "$sys/bus/pci/drivers_probe"
for drv in pcieport nouveau snd_hda_intel nvme igb amdgpu e1000e virtio-pci vfio-pci; do
	mkdir -p "$sys/bus/pci/drivers/$drv"
	touch "$sys/bus/pci/drivers/$drv/bind" "$sys/bus/pci/drivers/$drv/unbind"
done

# device BDF VENDOR DEVICE CLASS GROUP DRIVER RESET [BOOT_VGA]
device() {
	local d=$sys/bus/pci/devices/$1
	mkdir -p "$d" "$sys/kernel/iommu_groups/$5/devices"
	echo "0x$2" >"$d/vendor"
	echo "0x$3" >"$d/device"
	echo "0x$4" >"$d/class"
	echo "(null)" >"$d/driver_override"
	echo "${7:-}" >"$d/reset_method"
	echo "${8:-0}" >"$d/boot_vga"
	echo "$6" >"$d/.native_driver"
	ln -s "../../../../kernel/iommu_groups/$5" "$d/iommu_group"
	ln -s "../../../../bus/pci/devices/$1" "$sys/kernel/iommu_groups/$5/devices/$1"
	[ -n "$6" ] && ln -s "../../drivers/$6" "$d/driver"
	return 0
}
device 0000:00:01.0 8086 1901 060400 1 pcieport ""
device 0000:01:00.0 10de 1b80 030000 1 nouveau "flr bus"
device 0000:01:00.1 10de 10f0 040300 1 snd_hda_intel "flr"
device 0000:02:00.0 144d a808 010802 2 nvme "flr"
device 0000:03:00.0 8086 1533 020000 3 igb "flr"
device 0000:04:00.0 1002 67df 030000 4 amdgpu "bus" 1
device 0000:05:00.0 8086 10d3 020000 5 e1000e ""
device 0000:06:00.0 1af4 1041 020000 6 virtio-pci "flr"
device 0000:06:00.1 1af4 1044 00ff00 6 virtio-pci "flr"
device 0000:07:00.0 8086 10d3 020000 7 e1000e "flr"
device 0000:08:00.0 8086 10d3 020000 7 e1000e "flr"
device 0000:09:00.0 10de 1c82 030000 9 nouveau "flr bus"

# The NVMe's disk and partitions; / is on its first partition.
disk=$sys/bus/pci/devices/0000:02:00.0/nvme/nvme0/nvme0n1
mkdir -p "$disk/nvme0n1p1" "$disk/nvme0n1p2"
echo 259:0 >"$disk/dev"
echo 259:1 >"$disk/nvme0n1p1/dev"
echo 1 >"$disk/nvme0n1p1/partition"
echo 259:2 >"$disk/nvme0n1p2/dev"
echo 2 >"$disk/nvme0n1p2/partition"
ln -s ../bus/pci/devices/0000:02:00.0/nvme/nvme0/nvme0n1 "$sys/block/nvme0n1"
cat >"$root/proc/self/mountinfo" <<EOM
22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p1 rw
23 22 0:21 / /proc rw,nosuid shared:2 - proc proc rw
EOM
printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n' >"$root/proc/swaps"

# The default route leaves through eth0, the igb NIC; the boot GPU shows fb0.
mkdir -p "$sys/class/net/eth0" "$sys/class/net/eth1" "$sys/class/graphics/fb0"
ln -s ../../../bus/pci/devices/0000:03:00.0 "$sys/class/net/eth0/device"
ln -s ../../../bus/pci/devices/0000:05:00.0 "$sys/class/net/eth1/device"
ln -s ../../../bus/pci/devices/0000:04:00.0 "$sys/class/graphics/fb0/device"
mkdir -p "$sys/class/drm/card1" "$sys/class/drm/card1-HDMI-A-1" "$root/proc/4242/fd"
ln -s ../../../bus/pci/devices/0000:09:00.0 "$sys/class/drm/card1/device"
ln -s /dev/dri/card1 "$root/proc/4242/fd/7"
echo Xorg >"$root/proc/4242/comm"
cat >"$root/proc/net/route" <<EOM
Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth0	00000000	0100A8C0	0003	0	0	0	00000000	0	0	0
eth0	0000A8C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
eth1	0000000A	00000000	0001	0	0	0	000000FF	0	0	0
EOM
