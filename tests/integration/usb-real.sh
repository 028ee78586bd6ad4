#!/bin/bash
# USB and input on a real kernel: Debian's generic kernel (the cloud kernel has no xHCI or
# HID drivers; build-guest.sh generic) boots under TCG with QEMU's xHCI controller, a USB
# keyboard and a USB tablet, sees the host's / read-only through virtiofs, and runs
# usb-real-guest.sh with the vmm built here (nested.sh). One vCPU and a watchdog that fails
# within 160 s with the console's last lines.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nested.sh"

nested_guest=$VMM_CACHE_DIR/guest-generic
[ -f "$nested_guest/vmlinuz" ] ||
	fail "no generic-kernel guest in $nested_guest (run ./bootstrap.sh or tests/guest/build-guest.sh generic)"
nested_run "$SRCDIR/tests/integration/usb-real-guest.sh" 160 "" \
	-machine q35 -smp 1 -m 1G -object memory-backend-memfd,id=mem,size=1G,share=on -machine memory-backend=mem \
	-device qemu-xhci,id=xhci -device usb-kbd,bus=xhci.0 -device usb-tablet,bus=xhci.0
