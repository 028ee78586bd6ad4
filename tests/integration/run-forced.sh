#!/bin/bash
# A guest that ignores the power button: after shutdown_timeout vmm sends quit (exit 3,
# forced off); a second SIGINT escalates at once without waiting for the timeout.
. "$(dirname "$0")/lib.sh"

cp "$PROFILES/guest-noacpi.json" "$T/forced.json"
start_vm forced "$T/forced.json"
wait_for "$T/forced.out" '^vmm-guest: ready' 60
wait_for "$T/forced.err" 'status running' 10
qpid=$(state_field forced qemu_pid)
kill -INT "$VMM_PID"
wait_exit
[ "$RC" = 3 ] || fail "timeout: exit $RC, expected 3"
grep -q 'stopping: the guest did not power off, sending quit' "$T/forced.err" || fail "no quit notice"
[ "$(tail -n1 "$T/forced.err")" = "vmm: forced: forced off: QEMU quit before the guest powered off" ] ||
	fail "verdict: $(tail -n1 "$T/forced.err")"
assert_gone "$qpid"
assert_clean_rundir forced
pass "power button ignored: quit after shutdown_timeout, exit 3"

sed 's/"shutdown_timeout": 1/"shutdown_timeout": 600/' "$PROFILES/guest-noacpi.json" >"$T/forced.json"
start_vm forced "$T/forced.json"
wait_for "$T/forced.out" '^vmm-guest: ready' 60
wait_for "$T/forced.err" 'status running' 10
kill -INT "$VMM_PID"
wait_for "$T/forced.err" 'stopping: ACPI power button, up to 600 s' 5
start=$(date +%s)
kill -INT "$VMM_PID"
wait_exit
[ "$RC" = 3 ] || fail "second SIGINT: exit $RC, expected 3"
[ $(($(date +%s) - start)) -lt 10 ] || fail "the second SIGINT did not escalate"
pass "a second SIGINT escalates to quit at once"
