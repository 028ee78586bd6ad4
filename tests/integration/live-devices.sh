#!/bin/bash
# Hot-added devices outlive their QEMU: a QEMU restarted by lifecycle.restart (kill -9, on-crash)
# gets the hot-added disk again on its root port (QEMU's block nodes, the guest's /sys/block);
# vmm add --persist also writes the disk into the VM's live layer (VMM_DATA_DIR/NAME/live.json),
# so vmm cmdline shows it and the next vmm start has it from boot; vmm remove --persist takes
# it out again.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data
layer=$VMM_DATA_DIR/lv/live.json
start() {
	"$VMM" start "$PROFILES/guest-restart.json" --name lv --set hotplug.root_ports=2 >"$T/start.out" 2>"$T/start.err" ||
		fail "start: $(cat "$T/start.err")"
}

# Runs COMMAND in the guest and prints its output between "<" and ">" (one line).
guest() {
	python3 "$SRCDIR/tests/integration/console.py" "$VMM" lv "echo \"<\"\$($1)\">\"" '<[^<>$]*>' | sed -e 's/[<>]//g' -e 's/^ *//' -e 's/ *$//'
}

# Prints field KEY of device ID in vmm devices --json ("" when there is no such device).
device_field() {
	"$VMM" devices lv --json | python3 -c 'import json,sys
for d in json.load(sys.stdin):
    if d["id"] == sys.argv[1]: print(d.get(sys.argv[2], ""))' "$1" "$2"
}

truncate -s 16M "$T/data1.raw" "$T/data2.raw"
start
wait_boots lv 1
expect_rc 0 add lv disk id=data1 file="$T/data1.raw" format=raw
qemu=$(state_field lv qemu_pid)
kill -9 "$qemu"
for ((i = 0; i < 600; i++)); do
	[ "$(device_field data1 state)" = present ] && [ "$(state_field lv qemu_pid)" != "$qemu" ] && break
	sleep 0.1
done
[ "$(state_field lv qemu_pid)" != "$qemu" ] || fail "no new QEMU after the crash"
[ "$(device_field data1 state)/$(device_field data1 port)" = present/rp-hotplug-0 ] ||
	fail "data1 after the restart: $("$VMM" devices lv)"
grep -q "adding disk 'data1' again" "$VMM_RUN_DIR/lv/vmm.log" || fail "vmm.log: $(cat "$VMM_RUN_DIR/lv/vmm.log")"
expect_rc 0 qmp lv query-named-block-nodes
grep -q '"data1-fmt"' "$T/last.out" || fail "QEMU has no data1-fmt: $(cat "$T/last.out")"
wait_boots lv 2 shell
[ "$(guest 'for i in $(seq 100); do [ -e /sys/block/vda ] && break; sleep 0.1; done; cat /sys/block/vda/serial')" = data1 ] ||
	fail "the restarted guest has no vda with serial data1: $(guest 'ls /sys/block')"
pass "kill -9 of QEMU, restart on-crash: the hot-added disk is added again on its root port and the guest sees it"

expect_rc 0 add lv disk id=data2 file="$T/data2.raw" format=raw --persist
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [x["id"] for x in d["disks"]] == ["data2"], d' "$layer" ||
	fail "live layer: $(cat "$layer" 2>&1)"
expect_rc 0 cmdline "$PROFILES/guest-restart.json" --name lv
grep -q "data2.raw" "$T/last.out" || fail "vmm cmdline has no data2: $(cat "$T/last.out")"
expect_rc 0 stop lv
start
wait_boots lv 3
[ "$(device_field data2 hotplugged)/$(device_field data2 state)" = False/present ] || fail "devices: $("$VMM" devices lv)"
[ -z "$(device_field data1 state)" ] || fail "data1 (not persisted) came back: $("$VMM" devices lv)"
expect_rc 0 qmp lv query-named-block-nodes
grep -q '"data2-fmt"' "$T/last.out" || fail "QEMU has no data2-fmt: $(cat "$T/last.out")"
pass "vmm add --persist: the disk is in the live layer, vmm cmdline has it, the next start has it from boot"

expect_rc 0 remove lv data2 --persist
grep -q "'data2' is out of the live layer: the VM keeps it until it stops" "$T/last.out" || fail "remove: $(cat "$T/last.out")"
[ ! -e "$layer" ] || fail "live layer left: $(cat "$layer")"
expect_rc 0 cmdline "$PROFILES/guest-restart.json" --name lv
! grep -q "data2.raw" "$T/last.out" || fail "vmm cmdline still has data2"
expect_rc 0 add lv disk id=data3 file="$T/data1.raw" format=raw --persist
expect_rc 0 remove lv data3 --persist
[ ! -e "$layer" ] && [ -z "$(device_field data3 state)" ] || fail "data3 left: $(cat "$layer" 2>&1)"
expect_rc 1 add lv vfio host=00:01.0 --persist
grep -q "a VFIO device is not kept in the live layer, only disks and NICs" "$T/last.err" || fail "vfio --persist: $(cat "$T/last.err")"
echo '{"disks": [{"id": "bad", "file": "/nonexistent", "format": "raw"}], "nicks": []}' >"$layer"
expect_rc 1 cmdline "$PROFILES/guest-restart.json" --name lv
grep -q "live.json: nicks: unknown key" "$T/last.err" || fail "a bad live layer: $(cat "$T/last.err")"
rm "$layer"
expect_rc 0 kill lv
assert_clean_rundir lv
pass "vmm remove --persist takes a device out of the live layer (a hot-added one out of the VM too); errors in it name live.json"
