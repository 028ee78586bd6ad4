#!/bin/bash
# vmm run boots the guest: console on stdout and in the log, QMP status line, run dir
# and state file; a second run of the same VM is refused; SIGINT is a graceful stop
# that ends in guest power-off (exit 0) and leaves only the console log.
. "$(dirname "$0")/lib.sh"

cp "$PROFILES/guest.json" "$T/graceful.json"
start_vm graceful "$T/graceful.json"
wait_for "$T/graceful.out" '^vmm-guest: ready uptime=' 60
wait_for "$T/graceful.err" '^vmm: graceful: QEMU [0-9.]+ pid [0-9]+ \(tcg\), status running; console log ' 10
pass "console reaches the ready line; QMP query-status says running"

rd=$VMM_RUN_DIR/graceful
qpid=$(state_field graceful qemu_pid)
[ "$(state_field graceful supervisor_pid)" = "$VMM_PID" ] || fail "state.json supervisor_pid"
[ -n "$qpid" ] && kill -0 "$qpid" || fail "state.json qemu_pid $qpid is not running"
grep -q "qemu-system-x86_64" "/proc/$qpid/cmdline" || fail "qemu_pid is not QEMU"
grep -q '"qemu_version": "[0-9]' "$rd/state.json" || fail "state.json has no qemu_version"
[ "$(stat -c %a "$rd")" = 700 ] || fail "run dir mode $(stat -c %a "$rd")"
for s in monitor.sock console.sock; do
	[ -S "$rd/$s" ] && [ "$(stat -c %a "$rd/$s")" = 600 ] || fail "$s missing or not 0600"
done
grep -q '^vmm-guest: ready' "$rd/console.log" || fail "console.log lacks the ready line"
pass "state.json, 0700 run dir, 0600 sockets, console.log"

rc=0
"$VMM" run "$T/graceful.json" >"$T/second.out" 2>"$T/second.err" || rc=$?
[ "$rc" = 1 ] || fail "second run: exit $rc, expected 1"
grep -q "^vmm: VM 'graceful' is already running" "$T/second.err" || fail "second run: $(cat "$T/second.err")"
kill -0 "$qpid" || fail "the second run disturbed the first"
pass "a second run of the same VM is refused"

kill -INT "$VMM_PID"
wait_exit
[ "$RC" = 0 ] || fail "graceful stop: exit $RC, expected 0"
[ "$(tail -n1 "$T/graceful.err")" = "vmm: graceful: guest powered off" ] || fail "verdict: $(tail -n1 "$T/graceful.err")"
grep -q 'stopping: ACPI power button' "$T/graceful.err" || fail "no stop notice"
assert_gone "$qpid"
assert_clean_rundir graceful
pass "SIGINT: guest powered off, exit 0, QEMU gone, only console.log left"
