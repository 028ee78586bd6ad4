#!/bin/bash
# Hostile requests on a VM's control socket (ctl.sock), as a buggy script would send them:
# each gets one error and the same supervisor answers the next request. A block request whose
# commands are not a list, or whose command names are not strings, once crashed the supervisor
# (it looked for the images to open to QEMU's user before checking the request).
# 8 vmm add --persist at once all land in the live layer (each rewrote it from what it read,
# losing another's), and 8 vmm remove --persist at once take them all out; a live layer that is
# no JSON object refuses add --persist and remove --persist before the VM changes (the device
# was added or removed, then the command failed), and one with an id that is no string crashed
# vmm remove --persist. A disk whose image another disk of the VM has (either writable) is
# refused before QEMU sees it: QEMU's image lock failed its device_add, and for an NVMe disk
# the undo failed too ('Node ... is in use'), leaving it "removing" with its nodes in QEMU.
# A request over the 64 KiB a supervisor reads (vmm agent exec of a long argument) is refused by
# the CLI, saying so, where the supervisor's hang-up said only 'closed the connection'.
# Numbers and booleans of a request are of their JSON type or refused: json-c read the version
# "1" (or 1.0, true) as 1, and the string "false" of balloon's stats or block's freeze as true.
. "$(dirname "$0")/lib.sh"

export VMM_DATA_DIR=$T/data
layer=$VMM_DATA_DIR/c1/live.json
"$VMM" start "$PROFILES/guest.json" --name c1 --set hotplug.root_ports=8 --set memory.balloon=true >/dev/null 2>"$T/start.err" ||
	fail "start: $(cat "$T/start.err")"
wait_boots c1 1
sup=$(state_field c1 supervisor_pid)

# Sends each argument as one request line on its own connection; prints each reply line.
ctl() {
	python3 - "$VMM_RUN_DIR/c1/ctl.sock" "$@" <<'PY'
import socket, sys
for line in sys.argv[2:]:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sys.argv[1])
    s.sendall(line.encode() + b"\n")
    print(s.makefile().readline().strip() or "(no reply)")
    s.close()
PY
}

# Expects request REQUEST to be answered with error ERROR.
refused() {
	local got
	got=$(ctl "$1") || fail "request $1: $got"
	[ "$got" = "{\"error\":\"$2\"}" ] || fail "request $1: got $got"
	kill -0 "$sup" || fail "request $1 ended the supervisor: $(tail -n 3 "$VMM_RUN_DIR/c1/vmm.log")"
}

list='commands: expected a list of 1 to 64 QMP commands'
cmd='commands[0]: expected {\"execute\": NAME, \"arguments\": {...}} with a block command as NAME'
refused '{"request": "block", "version": 1, "commands": "x"}' "$list"
refused '{"request": "block", "version": 1, "commands": {"execute": "blockdev-add"}}' "$list"
refused '{"request": "block", "version": 1, "commands": [{"execute": null}]}' "$cmd"
refused '{"request": "block", "version": 1, "commands": [{"execute": 5, "arguments": {"filename": "/x"}}]}' "$cmd"
refused '{"request": "block", "version": 1, "commands": [7]}' "$cmd"
expect_rc 0 status c1
pass "block requests of commands that are no list or unnamed: refused, the supervisor carries on"

ver="control protocol version mismatch (the supervisor speaks version 1): this vmm binary and the VM's supervisor differ"
for v in '"1"' 1.0 true null 2; do refused "{\"request\": \"status\", \"version\": $v}" "$ver"; done
refused '{"request": "status"}' "$ver"
refused '{"request": "stop", "version": 1, "timeout": "5"}' 'timeout: expected seconds from 0 to 3600'
refused '{"request": "stop", "version": 1, "timeout": 5.0}' 'timeout: expected seconds from 0 to 3600'
refused '{"request": "balloon", "version": 1, "stats": "false"}' 'stats: expected true or false'
refused '{"request": "balloon", "version": 1, "wait": "0"}' "wait: expected a count of the balloon's changes (an integer)"
refused '{"request": "block", "version": 1, "commands": [{"execute": "query-jobs"}], "freeze": "false"}' \
	'freeze: expected true or false'
expect_rc 0 status c1
expect_rc 0 balloon c1 --stats
pass "a version, timeout, stats, wait or freeze of another JSON type: refused, the supervisor carries on"

for i in 1 2 3 4 5 6 7 8; do "$VMM" add c1 nic id=n$i --persist >/dev/null 2>"$T/add$i.err" & done
wait
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); ids=sorted(x["id"] for x in d["nics"])
assert ids == ["n%d" % i for i in range(1, 9)], ids' "$layer" || fail "live layer after 8 adds: $(cat "$layer" "$T"/add*.err)"
for i in 1 2 3 4 5 6 7 8; do "$VMM" remove c1 n$i --persist >/dev/null 2>"$T/remove$i.err" & done
wait
[ ! -e "$layer" ] || fail "live layer after 8 removals: $(cat "$layer" "$T"/remove*.err)"
expect_rc 0 devices c1
! grep -q hot-added "$T/last.out" || fail "devices after 8 removals: $(cat "$T/last.out")"
pass "8 vmm add --persist at once: all 8 in the live layer; 8 vmm remove --persist at once: none left"

echo '{"nics": [' >"$layer"
expect_rc 1 add c1 nic id=n9 --persist
grep -q "live.json: expected a JSON object" "$T/last.err" || fail "add to a corrupt layer: $(cat "$T/last.err")"
expect_rc 0 devices c1
! grep -q n9 "$T/last.out" || fail "n9 was added: $(cat "$T/last.out")"
expect_rc 0 add c1 nic id=n9
expect_rc 1 remove c1 n9 --persist
grep -q "live.json: expected a JSON object" "$T/last.err" || fail "remove with a corrupt layer: $(cat "$T/last.err")"
expect_rc 0 devices c1
grep -q n9 "$T/last.out" || fail "n9 was removed: $(cat "$T/last.out")"
echo '{"nics": [{"id": null}]}' >"$layer"
expect_rc 0 remove c1 n9 --persist
expect_rc 1 remove c1 n10 --persist
grep -q "the VM has no hot-added device 'n10'" "$T/last.err" || fail "remove with a null id in the layer: $(cat "$T/last.err")"
pass "a corrupt live layer refuses add and remove --persist before the VM changes; an id that is null is no crash"

truncate -s 1M "$T/img.raw"
before=$(qemu_objects c1)
expect_rc 0 add c1 disk id=d1 file="$T/img.raw" format=raw
with_d1=$(qemu_objects c1)
for bus in nvme virtio-blk scsi; do
	expect_rc 1 add c1 disk id=d2 file="$T/img.raw" format=raw bus=$bus
	grep -q "disk: file: '$T/img.raw' is the image of disk 'd1' already" "$T/last.err" || fail "$bus: $(cat "$T/last.err")"
	[ "$(qemu_objects c1)" = "$with_d1" ] || fail "a refused $bus disk changed QEMU: $(diff <(echo "$with_d1") <(qemu_objects c1))"
done
expect_rc 1 add c1 disk id=d2 file="$T/img.raw" format=raw bus=nvme readonly=true
grep -q "is the image of disk 'd1' already" "$T/last.err" || fail "read-only beside a writable: $(cat "$T/last.err")"
expect_rc 0 remove c1 d1
expect_rc 0 add c1 disk id=r1 file="$T/img.raw" format=raw readonly=true
expect_rc 0 add c1 disk id=r2 file="$T/img.raw" format=raw readonly=true bus=nvme
expect_rc 0 remove c1 r2
expect_rc 0 remove c1 r1
[ "$(qemu_objects c1)" = "$before" ] || fail "QEMU kept something: $(diff <(echo "$before") <(qemu_objects c1))"
pass "an image another disk of the VM writes (or reads, for a writable one) is refused before QEMU; two read-only share one"

pad=$(head -c 70000 /dev/zero | tr '\0' a)
expect_rc 1 agent c1 --raw "{\"execute\": \"guest-ping\", \"arguments\": {\"x\": \"$pad\"}}"
grep -Eq "VM 'c1': the request is [0-9]+ bytes, over the 64 KiB its supervisor takes" "$T/last.err" ||
	fail "a long request: $(cat "$T/last.err")"
expect_rc 1 agent c1 --raw "{\"execute\": \"guest-ping\", \"arguments\": {\"x\": \"${pad:0:60000}\"}}"
grep -q "has no guest agent channel" "$T/last.err" || fail "a request under 64 KiB: $(cat "$T/last.err")"
pass "a request over 64 KiB is refused by the CLI, saying so; one under it reaches the supervisor"

expect_rc 0 stop c1
assert_clean_rundir c1
