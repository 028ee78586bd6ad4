#!/bin/bash
# VFIO on a real kernel: the Debian cloud kernel boots under TCG with a virtual IOMMU
# (intel-iommu, intel_iommu=on iommu=pt), sees the host's / read-only through virtiofs,
# and runs vfio-real-guest.sh with the vmm built here against emulated devices: a
# multifunction pair (virtio-net at 05.0, virtio-rng at 05.1, the GPU + audio stand-in)
# and an NVMe controller.
. "$(dirname "$0")/lib.sh"

virtiofsd=/usr/lib/qemu/virtiofsd
[ -x "$virtiofsd" ] || fail "no $virtiofsd (apt install qemu-system-x86)"
truncate -s 64M "$T/nvme.img"
cat >"$T/env" <<EOF2
VMM=$VMM
SRCDIR=$SRCDIR
GUEST=$GUEST
EOF2
"$virtiofsd" --socket-path="$T/vfs.sock" -o source=/ -o cache=none -o sandbox=chroot \
	>"$T/virtiofsd.log" 2>&1 &
VMM_PIDS+=($!)
for ((i = 0; i < 100; i++)); do [ -S "$T/vfs.sock" ] && break; sleep 0.05; done
[ -S "$T/vfs.sock" ] || fail "virtiofsd did not start: $(cat "$T/virtiofsd.log")"

qemu-system-x86_64 -nodefaults -display none -no-reboot -machine q35,kernel-irqchip=split -accel tcg \
	-cpu max -smp 2 -m 2G -object memory-backend-memfd,id=mem,size=2G,share=on -machine memory-backend=mem \
	-device intel-iommu,intremap=on \
	-chardev socket,id=vfs,path="$T/vfs.sock" -device vhost-user-fs-pci,chardev=vfs,tag=hostroot,addr=0x3 \
	-netdev user,id=n0 -device virtio-net-pci,netdev=n0,addr=0x5.0,multifunction=on \
	-device virtio-rng-pci,addr=0x5.1 \
	-drive file="$T/nvme.img",if=none,id=nv,format=raw -device nvme,drive=nv,serial=vmmtest,addr=0x6 \
	-kernel "$GUEST/vmlinuz" -initrd "$GUEST/initrd.img" \
	-append "console=ttyS0 intel_iommu=on iommu=pt vmm.hostfs=hostroot:$SRCDIR/tests/integration/vfio-real-guest.sh:$T/env" \
	-serial file:"$T/console.out" &
VMM_PIDS+=($!)
wait_for "$T/console.out" "vmm-guest: hostfs script exited" 600
grep -E "^(ok|FAIL|SKIP)" "$T/console.out" | tr -d '\r'
grep -q "vmm-guest: hostfs script exited 0" "$T/console.out" || fail "the guest's checks failed"
