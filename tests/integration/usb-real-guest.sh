#!/bin/bash
# Runs inside the usb-real.sh guest (Debian's generic kernel with xHCI and USB HID, the host's
# / through virtiofs, no udevd): vmm usb list and vmm input list see QEMU's USB keyboard and
# tablet as the kernel shows them. Its last argument is the host's env file (VMM).
set -euo pipefail
. "${1:?}"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
T=/run/t
mkdir -p "$T"
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok - $*"; }

# The devices enumerate while the guest boots: wait for both event nodes.
for ((i = 0; i < 100; i++)); do
	[ "$(grep -l -E 'QEMU USB (Keyboard|Tablet)' /sys/class/input/input*/name 2>/dev/null | wc -l)" = 2 ] && break
	sleep 0.1
done
"$VMM" usb list --json >"$T/usb.json" || fail "usb list: $(cat "$T/usb.json")"
python3 - "$T/usb.json" <<'PY' || fail "usb list: $(cat "$T/usb.json")"
import json, sys
devs = json.load(open(sys.argv[1]))
names = sorted(d["name"] for d in devs if d["vendor"] == "0627" and not d["hub"])
assert names == ["QEMU USB Keyboard", "QEMU USB Tablet"], names
assert all(d["bus"] >= 1 and d["port"] for d in devs if d["vendor"] == "0627"), devs
assert any(d["hub"] and d["port"] == "" for d in devs), "no root hub"
PY
pass "vmm usb list: the keyboard and the tablet with bus and port, the root hubs marked"

"$VMM" input list --json >"$T/input.json" || fail "input list: $(cat "$T/input.json")"
python3 - "$T/input.json" <<'PY' || fail "input list: $(cat "$T/input.json")"
import json, os, sys
devs = {d["name"]: d for d in json.load(open(sys.argv[1]))}
assert devs["QEMU QEMU USB Keyboard"]["kind"] == "keyboard", devs
assert devs["QEMU QEMU USB Tablet"]["kind"] == "tablet", devs
assert all(os.path.exists(d["node"]) for d in devs.values()), devs
# No udevd in this guest: no by-id links, and vmm says so instead of making names up.
assert all(d["by_id"] is None for d in devs.values()), devs
PY
"$VMM" input list >"$T/input.out"
grep -q "udev gave no /dev/input/by-id" "$T/input.out" || fail "no word on the missing links: $(cat "$T/input.out")"
pass "vmm input list: the keyboard and the tablet told apart by their capabilities, no by-id links without udevd"
