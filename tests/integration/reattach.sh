#!/bin/bash
# kill -9 of the supervisor leaves QEMU running; vmm list shows it unsupervised; vmm attach
# (and vmm start) reconnect without restarting the guest, whose uptime keeps growing.
. "$(dirname "$0")/lib.sh"

start_orphan a1 "$PROFILES/guest.json"
qemu=$QEMU
up1=$UPTIME
kill -0 "$qemu" || fail "QEMU died with its supervisor"
expect_rc 0 list
grep -Eq "^a1 +no-supervisor +$qemu" "$T/last.out" || fail "vmm list: $(cat "$T/last.out")"
expect_rc 1 status a1
grep -q "has no supervisor (its QEMU, pid $qemu, still runs): 'vmm attach a1'" "$T/last.err" ||
	fail "status without supervisor: $(cat "$T/last.err")"
pass "supervisor killed: QEMU runs on, list and status say so"

expect_rc 0 attach a1
expect_rc 0 status a1 --json
[ "$(json_field state <"$T/last.out")" = running ] || fail "after attach: $(cat "$T/last.out")"
[ "$(json_field qemu_pid <"$T/last.out")" = "$qemu" ] || fail "attach started another QEMU"
up2=$(guest_uptime a1)
python3 -c "import sys; sys.exit(not float('$up2') > float('$up1'))" || fail "uptime went from $up1 to $up2"
[ "$(grep -c 'vmm-guest: ready' "$VMM_RUN_DIR/a1/console.log")" = 1 ] || fail "the guest booted again"
pass "vmm attach reconnects: same QEMU, uptime $up1 -> $up2 s, no reboot"

sup=$(state_field a1 supervisor_pid)
kill -9 "$sup"
assert_gone "$sup"
expect_rc 0 start "$PROFILES/guest.json" --name a1
[ "$(state_field a1 qemu_pid)" = "$qemu" ] || fail "vmm start replaced the running QEMU"
expect_rc 1 attach a1
grep -q "is already running (its supervisor holds" "$T/last.err" || fail "attach to a supervised VM: $(cat "$T/last.err")"
pass "vmm start of an unsupervised VM reconnects too; attach refuses a supervised VM"

expect_rc 0 stop a1
grep -q "guest powered off" "$T/last.err" || fail "stop after reattach: $(cat "$T/last.err")"
assert_gone "$qemu"
assert_clean_rundir a1
pass "stop after reattach powers the guest off"
