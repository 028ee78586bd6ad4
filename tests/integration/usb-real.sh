#!/bin/bash
# USB and input on a real kernel: Debian's generic kernel (the cloud kernel has no xHCI or
# HID drivers; build-guest.sh generic) boots under TCG with QEMU's xHCI controller, a USB
# keyboard and a USB tablet, sees the host's / read-only through virtiofs, and runs
# usb-real-guest.sh with the vmm built here. One vCPU and a watchdog that fails within
# 2 minutes with the console's last lines.
. "$(dirname "$0")/lib.sh"

virtiofsd=/usr/lib/qemu/virtiofsd
generic=$VMM_CACHE_DIR/guest-generic
[ -x "$virtiofsd" ] || fail "no $virtiofsd (apt install qemu-system-x86)"
[ -f "$generic/vmlinuz" ] || fail "no generic-kernel guest in $generic (run ./bootstrap.sh or tests/guest/build-guest.sh generic)"
printf 'VMM=%s\n' "$VMM" >"$T/env"
"$virtiofsd" --socket-path="$T/vfs.sock" -o source=/ -o cache=none -o sandbox=chroot \
	>"$T/virtiofsd.log" 2>&1 &
VMM_PIDS+=($!)
for ((i = 0; i < 100; i++)); do [ -S "$T/vfs.sock" ] && break; sleep 0.05; done
[ -S "$T/vfs.sock" ] || fail "virtiofsd did not start: $(cat "$T/virtiofsd.log")"

qemu-system-x86_64 -nodefaults -display none -no-reboot -machine q35 -accel tcg \
	-cpu max -smp 1 -m 1G -object memory-backend-memfd,id=mem,size=1G,share=on -machine memory-backend=mem \
	-chardev socket,id=vfs,path="$T/vfs.sock" -device vhost-user-fs-pci,chardev=vfs,tag=hostroot \
	-device qemu-xhci,id=xhci -device usb-kbd,bus=xhci.0 -device usb-tablet,bus=xhci.0 \
	-kernel "$generic/vmlinuz" -initrd "$generic/initrd.img" \
	-append "console=ttyS0 cryptomgr.notests vmm.hostfs=hostroot:$SRCDIR/tests/integration/usb-real-guest.sh:$T/env" \
	-serial file:"$T/console.out" &
qemu=$!
VMM_PIDS+=($qemu)
for ((i = 0; i < 1200; i++)); do
	grep -q "vmm-guest: hostfs script exited" "$T/console.out" 2>/dev/null && break
	kill -0 "$qemu" 2>/dev/null || fail "the nested QEMU exited before the guest's verdict: $(tail -n 20 "$T/console.out")"
	sleep 0.1
done
grep -q "vmm-guest: hostfs script exited" "$T/console.out" ||
	fail "no verdict from the guest within 120 s: $(tail -n 20 "$T/console.out")"
grep -E "^(ok|FAIL)" "$T/console.out" | tr -d '\r'
grep -q "vmm-guest: hostfs script exited 0" "$T/console.out" || fail "the guest's checks failed"
