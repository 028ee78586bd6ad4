#!/bin/bash
# kill -9 of QEMU under vmm run: reported as crashed (exit 4) with the signal, nothing left.
. "$(dirname "$0")/lib.sh"

cp "$PROFILES/guest.json" "$T/crash.json"
start_vm crash "$T/crash.json"
wait_for "$T/crash.out" '^vmm-guest: ready' 60
wait_for "$T/crash.err" 'status running' 10
qpid=$(state_field crash qemu_pid)
kill -9 "$qpid"
wait_exit
[ "$RC" = 4 ] || fail "exit $RC, expected 4"
[ "$(tail -n1 "$T/crash.err")" = "vmm: crash: QEMU crashed: killed by SIGKILL" ] || fail "verdict: $(tail -n1 "$T/crash.err")"
assert_clean_rundir crash
pass "QEMU killed: 'QEMU crashed: killed by SIGKILL', exit 4"
