#!/bin/bash
# VFIO on a real kernel: the Debian cloud kernel boots under TCG with a virtual IOMMU
# (intel-iommu, intel_iommu=on iommu=pt), sees the host's / read-only through virtiofs,
# and runs vfio-real-guest.sh with the vmm built here against emulated devices: a
# multifunction pair (virtio-net at 05.0, virtio-rng at 05.1, the GPU + audio stand-in)
# and an NVMe controller (bound by hand, then hot-added to a nested VM and removed). It must
# pass on a busy 2-core machine: one vCPU (two can soft-lock under TCG), no crypto self-tests,
# no timer check, and a watchdog that fails within 260 s (nested VMs start four times under
# TCG in TCG)
# with the console's last lines instead of waiting for CI's timeout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nested.sh"

truncate -s 64M "$T/nvme.img"
nested_run "$SRCDIR/tests/integration/vfio-real-guest.sh" 260 "intel_iommu=on iommu=pt" \
	-machine q35,kernel-irqchip=split -smp 1 -m 2G \
	-object memory-backend-memfd,id=mem,size=2G,share=on -machine memory-backend=mem \
	-device intel-iommu,intremap=on \
	-netdev user,id=n0 -device virtio-net-pci,netdev=n0,addr=0x5.0,multifunction=on \
	-device virtio-rng-pci,addr=0x5.1 \
	-drive file="$T/nvme.img",if=none,id=nv,format=raw -device nvme,drive=nv,serial=vmmtest,addr=0x6
