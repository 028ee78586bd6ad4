#!/bin/bash
# USB and input on a real kernel: Debian's generic kernel (the cloud kernel has no xHCI or
# HID drivers; build-guest.sh generic) boots under TCG with QEMU's xHCI controller, a USB
# keyboard and a USB tablet, sees the host's / read-only through virtiofs, and runs
# usb-real-guest.sh with the vmm built here (nested.sh). One vCPU and a watchdog that fails
# within 240 s with the console's last lines (a nested VM starts under TCG in TCG).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nested.sh"

nested_guest=$VMM_CACHE_DIR/guest-generic
[ -f "$nested_guest/vmlinuz" ] ||
	fail "no generic-kernel guest in $nested_guest (run ./bootstrap.sh or tests/guest/build-guest.sh generic)"

# Sends one QMP command (JSON) to the outer QEMU.
outer_qmp() {
	python3 - "$T/outer.sock" "$1" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
f.readline()
for cmd in ('{"execute": "qmp_capabilities"}', sys.argv[2]):
    f.write(cmd + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            break
    if "error" in r:
        sys.exit("QMP: " + r["error"]["desc"])
PY
}
# The host's side of the replug: the keyboard leaves the outer QEMU and comes back at its
# port when the guest asks on its console.
(
	wait_for "$T/console.out" '^vmm-usb: unplug-now' 240
	outer_qmp '{"execute": "device_del", "arguments": {"id": "kbd0"}}'
	wait_for "$T/console.out" '^vmm-usb: replug-now' 60
	outer_qmp '{"execute": "device_add", "arguments": {"driver": "usb-kbd", "id": "kbd0", "bus": "xhci.0", "port": "1"}}'
) >"$T/replug.log" 2>&1 &
VMM_PIDS+=($!)
nested_run "$SRCDIR/tests/integration/usb-real-guest.sh" 240 "" \
	-machine q35 -smp 1 -m 1G -object memory-backend-memfd,id=mem,size=1G,share=on -machine memory-backend=mem \
	-qmp unix:"$T/outer.sock",server=on,wait=off \
	-device qemu-xhci,id=xhci -device usb-kbd,bus=xhci.0,id=kbd0,port=1 -device usb-tablet,bus=xhci.0,port=2
