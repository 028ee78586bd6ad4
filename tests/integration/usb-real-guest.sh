#!/bin/bash
# Runs inside the usb-real.sh guest (Debian's generic kernel with xHCI and USB HID, the host's
# / through virtiofs, no udevd): vmm usb list and vmm input list see QEMU's USB keyboard and
# tablet as the kernel shows them, and a nested VM (vmm start) gets the keyboard as a usb-host
# device (by bus and port, as vmm usb list shows them) and the tablet's event node through
# input-linux. Its last argument is the host's env file (VMM, GUEST).
set -euo pipefail
. "${1:?}"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin VMM_RUN_DIR=/run/vmm VMM_CACHE_DIR=/run/cache VMM_DATA_DIR=/run/data
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

# The keyboard's place and the tablet's node, as vmm lists them.
kbd=$(python3 -c 'import json,sys
d = next(d for d in json.load(open(sys.argv[1])) if d["name"] == "QEMU USB Keyboard")
print(d["bus"], d["port"])' "$T/usb.json")
bus=${kbd% *} port=${kbd#* }
evdev=$(python3 -c 'import json,sys
print(next(d["node"] for d in json.load(open(sys.argv[1])) if d["name"] == "QEMU QEMU USB Tablet"))' "$T/input.json")
cat >"$T/nested.json" <<EOF2
{ "name": "nested", "machine": { "type": "q35", "accel": "tcg" }, "memory": { "size": "128M" },
  "boot": { "kernel": "$GUEST/vmlinuz", "initrd": "$GUEST/initrd.img" },
  "usb": [{ "bus": $bus, "port": "$port", "id": "kbd" }], "input": [{ "evdev": "$evdev" }],
  "lifecycle": { "shutdown_timeout": 5 } }
EOF2
"$VMM" start "$T/nested.json" 2>"$T/start.err" || fail "nested start: $(cat "$T/start.err")"
qpid=$(sed -n 's/.*"qemu_pid": *\([0-9]*\).*/\1/p' "$VMM_RUN_DIR/nested/state.json")
# input-linux holds the tablet's event node open (QEMU's fd on it).
ls -l "/proc/$qpid/fd" | grep -q " -> $evdev\$" || fail "the nested QEMU does not hold $evdev open"
pass "a nested VM gets the host's tablet through input-linux ($evdev, held open by its QEMU)"
# usb-host opens the keyboard once libusb finds it at bus $bus, port $port (QEMU looks while
# the VM runs, hence no -S here): then it is attached.
end=$((SECONDS + 30))
while ((SECONDS < end)); do
	"$VMM" qmp nested qom-get path=/machine/peripheral/kbd property=attached >"$T/attached" ||
		fail "qom-get kbd: $(cat "$T/attached")"
	[ "$(cat "$T/attached")" = true ] && break
	sleep 0.5
done
[ "$(cat "$T/attached")" = true ] ||
	fail "the host keyboard is not attached in the nested VM: $(tail -n 5 "$VMM_RUN_DIR/nested/vmm.log")"
pass "a nested VM gets the host's keyboard through usb-host (bus $bus port $port, attached)"

# Unplugged and plugged again on the host (usb-real.sh does it from the outer QEMU when asked
# on the console): the nested VM loses the keyboard and gets it back at its port. QEMU's
# usb-host finds a device through libusb, which hears of new ones from udevd: this guest runs
# the host's systemd-udevd for it.
mkdir -p /run/udev
/lib/systemd/systemd-udevd --daemon || fail "systemd-udevd did not start"
# Waits up to 30 s for the keyboard's attached property to be $1.
attached_is() {
	local end=$((SECONDS + 30))
	while ((SECONDS < end)); do
		"$VMM" qmp nested qom-get path=/machine/peripheral/kbd property=attached >"$T/attached" || return 1
		[ "$(cat "$T/attached")" = "$1" ] && return 0
		sleep 0.5
	done
	return 1
}
echo "vmm-usb: unplug-now"
attached_is false || fail "the keyboard was unplugged on the host, the nested VM still has it"
echo "vmm-usb: replug-now"
attached_is true || fail "the keyboard was plugged in again, the nested VM did not get it back"
"$VMM" stop nested --timeout 1 >/dev/null 2>&1 || true
pass "unplugged on the host, the nested VM loses the keyboard; plugged in again, it has it back"
