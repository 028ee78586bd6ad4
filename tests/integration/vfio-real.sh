#!/bin/bash
# VFIO on a real kernel: the Debian cloud kernel boots under TCG with a virtual IOMMU
# (intel-iommu, intel_iommu=on iommu=pt), sees the host's / read-only through virtiofs,
# and runs vfio-real-guest.sh with the vmm built here against emulated devices: a
# multifunction pair (virtio-net at 05.0, virtio-rng at 05.1, the GPU + audio stand-in)
# and an NVMe controller (bound by hand, then hot-added to a nested VM and removed). It must pass on a busy 2-core machine: one vCPU (two can
# soft-lock under TCG), no crypto self-tests, no timer check (a loaded host can make the
# kernel's check of the timer through the remapped IO-APIC fail and panic), and a watchdog that fails within 200 s (nested VMs start three times under TCG in TCG)
# with the console's last lines instead of waiting for CI's timeout.
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
	-cpu max -smp 1 -m 2G -object memory-backend-memfd,id=mem,size=2G,share=on -machine memory-backend=mem \
	-device intel-iommu,intremap=on \
	-chardev socket,id=vfs,path="$T/vfs.sock" -device vhost-user-fs-pci,chardev=vfs,tag=hostroot,addr=0x3 \
	-netdev user,id=n0 -device virtio-net-pci,netdev=n0,addr=0x5.0,multifunction=on \
	-device virtio-rng-pci,addr=0x5.1 \
	-drive file="$T/nvme.img",if=none,id=nv,format=raw -device nvme,drive=nv,serial=vmmtest,addr=0x6 \
	-kernel "$GUEST/vmlinuz" -initrd "$GUEST/initrd.img" \
	-append "console=ttyS0 intel_iommu=on iommu=pt cryptomgr.notests no_timer_check vmm.hostfs=hostroot:$SRCDIR/tests/integration/vfio-real-guest.sh:$T/env" \
	-serial file:"$T/console.out" &
qemu=$!
VMM_PIDS+=($qemu)
# The watchdog: the guest's verdict within 200 s, or the console's tail (fail prints it).
deadline=$((SECONDS + 200))
while ((SECONDS < deadline)); do
	grep -q "vmm-guest: hostfs script exited" "$T/console.out" 2>/dev/null && break
	kill -0 "$qemu" 2>/dev/null || fail "the nested QEMU exited before the guest's verdict"
	! grep -q "Kernel panic" "$T/console.out" 2>/dev/null || fail "the guest's kernel panicked"
	sleep 0.1
done
grep -q "vmm-guest: hostfs script exited" "$T/console.out" || fail "no verdict from the nested guest within 200 s"
grep -E "^(ok|FAIL|SKIP)" "$T/console.out" | tr -d '\r'
grep -q "vmm-guest: hostfs script exited 0" "$T/console.out" || fail "the guest's checks failed"
