#!/bin/bash
# vmm attach never kills a QEMU it did not start: a QEMU that does not answer QMP (here
# stopped with SIGSTOP) makes attach report and give up after 30 s, and a stop while it
# waits abandons it too; the QEMU stays as it was, its run directory too, and once it runs
# again attach reconnects to the same guest.
. "$(dirname "$0")/lib.sh"

# Fails unless process PID is still there and stopped (SIGSTOP), with its files in the run dir.
assert_left_alone() {
	[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = T ] || fail "QEMU $1 is gone or running"
	for f in monitor.sock serial.sock state.json; do
		[ -e "$VMM_RUN_DIR/z1/$f" ] || fail "QEMU's $f was removed"
	done
	expect_rc 0 list
	grep -Eq "^z1 +no-supervisor +$1" "$T/last.out" || fail "vmm list: $(cat "$T/last.out")"
}

start_orphan z1 "$PROFILES/guest.json"
qemu=$QEMU
up1=$UPTIME
kill -STOP "$qemu"
expect_rc 2 attach z1
grep -q "failed to reconnect: QEMU pid $qemu did not answer QMP within 30 s (is it stopped, or does another process hold its monitor?); it runs on, untouched" "$T/last.err" ||
	fail "attach to a stopped QEMU: $(cat "$T/last.err")"
assert_left_alone "$qemu"
pass "attach to a stopped QEMU gives up after 30 s and leaves it and its files alone"

"$VMM" attach z1 >"$T/z1.attach.out" 2>"$T/z1.attach.err" &
attach=$!
for ((i = 0; i < 100; i++)); do
	"$VMM" status z1 >/dev/null 2>&1 && break
	sleep 0.05
done
expect_rc 2 stop z1
grep -q "reconnect abandoned: stopped before QEMU pid $qemu answered QMP; it runs on, untouched" "$T/last.err" ||
	fail "stop during attach: $(cat "$T/last.err")"
rc=0
wait "$attach" || rc=$?
[ "$rc" = 2 ] || fail "attach exited $rc: $(cat "$T/z1.attach.err")"
assert_left_alone "$qemu"
pass "a stop while attach waits abandons the attach, not the guest"

kill -CONT "$qemu"
expect_rc 0 attach z1
[ "$(state_field z1 qemu_pid)" = "$qemu" ] || fail "attach started another QEMU"
up2=$(guest_uptime z1)
python3 -c "import sys; sys.exit(not float('$up2') > float('$up1'))" || fail "uptime went from $up1 to $up2"
[ "$(grep -c 'vmm-guest: ready' "$VMM_RUN_DIR/z1/console.log")" = 1 ] || fail "the guest booted again"
expect_rc 0 stop z1
grep -q "guest powered off" "$T/last.err" || fail "stop: $(cat "$T/last.err")"
assert_clean_rundir z1
pass "once QEMU runs again, attach reconnects to the same guest (uptime $up1 -> $up2 s)"
