#!/bin/bash
# A supervisor killed (kill -9) in the middle of vmm add or vmm remove leaves nothing half-done:
# the supervisor that reattaches removes what the add had created in QEMU, or finishes the
# removal (objects QEMU no longer has count as gone), so that vmm devices is truthful, QEMU
# keeps nothing of the device and its id and root port can be used again. gdb kills the
# supervisor as it is about to send the Nth QMP command of the add or removal. A hot-added disk
# whose image was deleted since (QEMU keeps it open) is taken back by a reattached supervisor,
# not forgotten while QEMU has it (the next add went onto its root port).
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data

truncate -s 16M "$T/data1.raw"
"$VMM" start "$PROFILES/guest.json" --name hk --set hotplug.root_ports=1 >/dev/null 2>"$T/start.err" ||
	fail "start: $(cat "$T/start.err")"
wait_boots hk 1


# Runs vmm ARGS... while gdb kills the supervisor as it is about to send its Nth QMP command
# (a writev of '{"execute"...'), then reattaches a supervisor and waits for PATTERN in what it
# said (vmm attach's output, then vmm.log).
killed_during() {
	local n=$1 pattern=$2 sup i
	shift 2
	sup=$(state_field hk supervisor_pid)
	: >"$VMM_RUN_DIR/hk/vmm.log"
	gdb -p "$sup" -batch -ex 'break writev if (*(char **)$rsi)[3] == 120' -ex "ignore 1 $((n - 1))" \
		-ex continue -ex kill >"$T/gdb.out" 2>&1 &
	for ((i = 0; i < 600; i++)); do
		[ "$(awk '/^TracerPid:/ {print $2}' "/proc/$sup/status")" != 0 ] && break
		sleep 0.05
	done
	expect_rc 1 "$@"
	grep -q "closed the connection without a reply" "$T/last.err" || fail "vmm $*: $(cat "$T/last.err")"
	wait $! || fail "gdb: $(cat "$T/gdb.out")"
	assert_gone "$sup"
	expect_rc 0 attach hk
	for ((i = 0; i < 600; i++)); do
		cat "$T/last.err" "$VMM_RUN_DIR/hk/vmm.log" >"$T/said.txt"
		grep -q "$pattern" "$T/said.txt" && return 0
		sleep 0.05
	done
	fail "no '$pattern' from the reattached supervisor: $(cat "$T/said.txt")"
}

before=$(qemu_objects hk)
# The 5th command of a scsi disk with an iothread: its scsi-hd; its controller is in the guest.
killed_during 5 "the add of 'data1' was cut short; nothing of it is left" \
	add hk disk id=data1 file="$T/data1.raw" format=raw bus=scsi iothread=true
grep -q "removing disk 'data1': its add was under way when a supervisor ended" "$T/said.txt" ||
	fail "the reattached supervisor said: $(cat "$T/said.txt")"
expect_rc 0 devices hk
! grep -q data1 "$T/last.out" || fail "vmm devices still lists data1: $(cat "$T/last.out")"
[ "$(qemu_objects hk)" = "$before" ] || fail "QEMU kept something of data1: $(diff <(echo "$before") <(qemu_objects hk))"
pass "killed during an add: the reattached supervisor removed what QEMU had of it"

expect_rc 0 add hk disk id=data1 file="$T/data1.raw" format=raw bus=scsi iothread=true
# The 4th command of its removal: blockdev-del of its format node, its iothread deleted.
killed_during 4 "disk 'data1' removed" remove hk data1
expect_rc 0 devices hk
! grep -q data1 "$T/last.out" || fail "vmm devices still lists data1: $(cat "$T/last.out")"
[ "$(qemu_objects hk)" = "$before" ] || fail "QEMU kept something of data1: $(diff <(echo "$before") <(qemu_objects hk))"
expect_rc 0 add hk disk id=data1 file="$T/data1.raw" format=raw
expect_rc 0 remove hk data1
pass "killed during a removal: the reattached supervisor finished it; id and root port free again"

truncate -s 1M "$T/gone.raw"
expect_rc 0 add hk disk id=gone file="$T/gone.raw" format=raw
rm "$T/gone.raw"
sup=$(state_field hk supervisor_pid)
kill -9 "$sup"
assert_gone "$sup"
expect_rc 0 attach hk
! grep -q "forgotten" "$T/last.err" || fail "attach: $(cat "$T/last.err")"
expect_rc 0 devices hk
grep -Eq "^gone +disk .* present +hot-added" "$T/last.out" || fail "devices after the reattach: $(cat "$T/last.out")"
expect_rc 1 add hk disk id=data1 file="$T/data1.raw" format=raw
grep -q "no free root port" "$T/last.err" || fail "an add beside it: $(cat "$T/last.err")"
expect_rc 0 remove hk gone
[ "$(qemu_objects hk)" = "$before" ] || fail "QEMU kept something of gone: $(diff <(echo "$before") <(qemu_objects hk))"
pass "a hot-added disk whose image was deleted: taken back on reattach, its root port taken, removed"

expect_rc 0 stop hk
assert_clean_rundir hk
