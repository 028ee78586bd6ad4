#!/bin/bash
# USB, input and boot order against the real QEMU: q35 gets a qemu-xhci controller (query-pci),
# a display a usb-tablet on it, usb[] usb-host devices (by vendor/product and by bus/port; QEMU
# takes a device that is not plugged in); disks get a bootindex each in profile order, CD-ROMs
# after them, boot.from first, and -boot strict=on leaves the kernel boot alone. input[]
# becomes input-linux: this host has no /dev/uinput to make an event device, so what is proven
# is that vmm refuses a missing evdev at start (not at vmm cmdline) and that QEMU's input-linux
# gets the path (it opens it and says it is no event device).
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data
truncate -s 16M "$T/data.raw"
truncate -s 1M "$T/install.iso"
disks="[{\"id\": \"data\", \"file\": \"$T/data.raw\", \"format\": \"raw\"},
 {\"id\": \"install\", \"file\": \"$T/install.iso\", \"format\": \"raw\", \"bus\": \"sata\", \"media\": \"cdrom\"}]"
usb='[{"vendor": "1d6b", "product": "0104"}, {"bus": 9, "port": "3.1", "id": "pinned"}]'

# Prints property PROP of peripheral device ID of VM NAME.
prop() {
	expect_rc 0 qmp "$1" qom-get "path=/machine/peripheral/$2" "property=$3"
	cat "$T/last.out"
}

"$VMM" start "$PROFILES/guest.json" --name u1 --set "disks=$disks" --set "usb=$usb" --set display=vnc \
	>"$T/u1.start.out" 2>"$T/u1.start.err" || fail "start u1"
wait_for "$VMM_RUN_DIR/u1/console.log" 'vmm-guest: ready' 60
expect_rc 0 qmp u1 query-pci
python3 - "$T/last.out" <<'PY' || fail "no xHCI controller in query-pci: $(cat "$T/last.out")"
import json, sys
def walk(devs):
    for d in devs:
        yield d
        yield from walk(d.get("pci_bridge", {}).get("devices", []))
sys.exit(not any(d.get("qdev_id") == "usb" and d["class_info"]["class"] == 0x0c03
                 for bus in json.load(open(sys.argv[1])) for d in walk(bus["devices"])))
PY
# The guest's USB devices: x-query-usb where the QEMU has it (the probe says), else the tablet's QOM.
if "$VMM" probe --json | python3 -c 'import json,sys; sys.exit("x-query-usb" not in json.load(sys.stdin)["commands"])'; then
	expect_rc 0 qmp u1 x-query-usb
	python3 -c 'import json,sys; sys.exit("QEMU USB Tablet" not in json.load(open(sys.argv[1]))["human-readable-text"])' \
		"$T/last.out" || fail "x-query-usb: $(cat "$T/last.out")"
else
	[ "$(prop u1 tablet0 attached)" = true ] || fail "the tablet is not attached"
fi
[ "$(prop u1 usb-1d6b-0104 vendorid)" = 7531 ] && [ "$(prop u1 usb-1d6b-0104 productid)" = 260 ] ||
	fail "usb-host by vendor/product"
[ "$(prop u1 pinned hostport)" = '"3.1"' ] && [ "$(prop u1 pinned hostbus)" = 9 ] || fail "usb-host by bus/port"
pass "q35 has qemu-xhci with a usb-tablet (a display) and usb-host devices by vendor/product and bus/port"

expect_rc 0 add u1 usb vendor=046d product=0c52
grep -q "usb 'usb-046d-0c52' added" "$T/last.out" || fail "add: $(cat "$T/last.out")"
[ "$(prop u1 usb-046d-0c52 vendorid)" = 1133 ] && [ "$(prop u1 usb-046d-0c52 productid)" = 3154 ] || fail "hot-added usb-host"
expect_rc 0 devices u1 --json
python3 - "$T/last.out" <<'PY' || fail "devices: $(cat "$T/last.out")"
import json, sys
sys.exit(not any(d["id"] == "usb-046d-0c52" and d["kind"] == "usb" and d["hotplugged"] for d in json.load(open(sys.argv[1]))))
PY
expect_rc 1 add u1 usb vendor=1d6b product=0104
grep -q "'usb-1d6b-0104' is a USB device of the VM's profile" "$T/last.err" || fail "duplicate: $(cat "$T/last.err")"
expect_rc 1 add u1 usb vendor=zz product=1
grep -q "usb: vendor: 'zz' is not a USB vendor id" "$T/last.err" || fail "bad vendor: $(cat "$T/last.err")"
expect_rc 0 remove u1 usb-046d-0c52
expect_rc 1 qmp u1 qom-get path=/machine/peripheral/usb-046d-0c52 property=vendorid
pass "vmm add NAME usb hot-plugs a usb-host on the xHCI controller, vmm remove takes it out; bad or taken ids are refused"

[ "$(prop u1 data bootindex)" = 1 ] && [ "$(prop u1 install bootindex)" = 2 ] || fail "boot order: data then install"
expect_rc 0 qmp u1 query-block
python3 - "$T/last.out" <<'PY' || fail "the CD-ROM: $(cat "$T/last.out")"
import json, sys
sys.exit(not any(b["qdev"].endswith("install") and b["removable"] and b["inserted"]["ro"] for b in json.load(open(sys.argv[1]))))
PY
expect_rc 0 stop u1
"$VMM" start "$PROFILES/guest.json" --name u2 --set "disks=$disks" --set boot.from=install \
	>"$T/u2.start.out" 2>"$T/u2.start.err" || fail "start u2"
wait_for "$VMM_RUN_DIR/u2/console.log" 'vmm-guest: ready' 60
[ "$(prop u2 install bootindex)" = 1 ] && [ "$(prop u2 data bootindex)" = 2 ] || fail "boot.from install"
expect_rc 0 stop u2
pass "disks boot in profile order before the CD-ROM (read-only, removable), boot.from puts the installer first; the kernel still boots"

evdev='input=[{"evdev": "'"$T"'/event-kbd", "grab_all": true, "grab_toggle": "ctrl-ctrl"}]'
"$VMM" cmdline --json "$PROFILES/guest.json" --name u3 --set "$evdev" >"$T/argv.json" || fail "cmdline with a missing evdev"
grep -q "\"qom-type\\\\\":\\\\\"input-linux\\\\\",\\\\\"id\\\\\":\\\\\"evdev0\\\\\",\\\\\"evdev\\\\\":\\\\\"$T/event-kbd\\\\\",\\\\\"grab_all\\\\\":true,\\\\\"grab-toggle\\\\\":\\\\\"ctrl-ctrl" "$T/argv.json" ||
	fail "argv: $(cat "$T/argv.json")"
expect_rc 2 start "$PROFILES/guest.json" --name u3 --set "$evdev"
grep -q "input\[0\].evdev: cannot open '$T/event-kbd'" "$T/last.err" || fail "missing evdev: $(cat "$T/last.err")"
[ -z "$(qemus u3)" ] || [ "$(qemus u3)" = 0 ] || fail "a QEMU runs"
touch "$T/event-kbd"
expect_rc 2 start "$PROFILES/guest.json" --name u3 --set "$evdev"
! grep -q "cannot open" "$T/last.err" && grep -q "event-kbd" "$T/last.err" || fail "QEMU's input-linux did not get the path: $(cat "$T/last.err")"
pass "input-linux: vmm cmdline shows it, start refuses a missing evdev, QEMU opens the one given"
