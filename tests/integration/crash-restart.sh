#!/bin/bash
# kill -9 of QEMU is reported as crashed, and lifecycle.restart on-crash starts it again;
# vmm kill ends it for good. restart "always" also starts a guest that powered itself off,
# but not one stopped with vmm stop. The back-off doubles and a burst of restarts ends it.
. "$(dirname "$0")/lib.sh"

start_detached r1 "$PROFILES/guest-restart.json"
qemu=$(state_field r1 qemu_pid)
sup=$(state_field r1 supervisor_pid)
kill -9 "$qemu"
wait_for "$VMM_RUN_DIR/r1/vmm.log" "QEMU crashed: killed by SIGKILL" 5
pass "kill -9 of QEMU is reported as crashed"

wait_for "$VMM_RUN_DIR/r1/vmm.log" "restarting in" 5
for ((i = 0; i < 200; i++)); do
	new=$(state_field r1 qemu_pid)
	[ -n "$new" ] && [ "$new" != "$qemu" ] && kill -0 "$new" 2>/dev/null && break
	sleep 0.05
done
[ "$new" != "$qemu" ] || fail "no new QEMU after the crash"
wait_boots r1 2
expect_rc 0 status r1 --json
[ "$(json_field restarts <"$T/last.out")" = 1 ] || fail "status: $(cat "$T/last.out")"
[ "$(json_field last_end <"$T/last.out")" = crashed ] || fail "status: $(cat "$T/last.out")"
[ "$(json_field supervisor_pid <"$T/last.out")" = "$sup" ] || fail "the supervisor changed"
pass "on-crash restarts it (same supervisor, new QEMU, guest boots, restarts=1)"

expect_rc 0 kill r1
grep -q "forced off: killed (vmm kill)" "$T/last.err" || fail "kill: $(cat "$T/last.err")"
assert_gone "$new"
assert_gone "$sup"
assert_clean_rundir r1
pass "vmm kill ends it without a restart"

sed 's/"on-crash"/"always"/' "$PROFILES/guest-restart.json" >"$T/always.json"
start_detached r2 "$T/always.json"
qemu=$(state_field r2 qemu_pid)
expect_rc 0 qmp r2 system_powerdown
wait_for "$VMM_RUN_DIR/r2/vmm.log" "guest powered off" 20
wait_for "$VMM_RUN_DIR/r2/vmm.log" "restarting in .* \(lifecycle.restart is always\)" 5
wait_boots r2 2
[ "$(state_field r2 qemu_pid)" != "$qemu" ] || fail "no new QEMU"
expect_rc 0 stop r2
grep -q "guest powered off" "$T/last.err" || fail "stop: $(cat "$T/last.err")"
assert_clean_rundir r2
pass "restart always: a guest power-off restarts it; vmm stop does not"

# The burst limit: after 5 restarts within a minute the supervisor gives up.
"$VMM" start "$PROFILES/guest-restart.json" --name r3 --set 'qemu.extra_args=["-S"]' >/dev/null 2>"$T/r3.err" ||
	fail "start r3: $(cat "$T/r3.err")"
sup=$(state_field r3 supervisor_pid)
for ((n = 1; n <= 6; n++)); do
	qemu=$(state_field r3 qemu_pid)
	kill -9 "$qemu"
	[ "$n" = 6 ] && break
	for ((i = 0; i < 400; i++)); do
		new=$(state_field r3 qemu_pid 2>/dev/null || true)
		[ -n "$new" ] && [ "$new" != "$qemu" ] && "$VMM" status r3 --json 2>/dev/null | grep -q '"state": "prelaunch"' && break
		sleep 0.05
	done
	[ "$i" -lt 400 ] || fail "restart $n did not happen: $(cat "$VMM_RUN_DIR/r3/vmm.log")"
done
assert_gone "$sup"
grep -q "not restarting: 5 restarts within 60 s" "$VMM_RUN_DIR/r3/vmm.log" || fail "no give-up: $(cat "$VMM_RUN_DIR/r3/vmm.log")"
[ "$(grep -c 'restarting in' "$VMM_RUN_DIR/r3/vmm.log")" = 5 ] || fail "expected 5 restarts: $(cat "$VMM_RUN_DIR/r3/vmm.log")"
grep -q "restarting in 8000 ms" "$VMM_RUN_DIR/r3/vmm.log" || fail "the back-off did not double: $(cat "$VMM_RUN_DIR/r3/vmm.log")"
pass "restart back-off doubles (0.5 s to 8 s) and the supervisor gives up after 5 restarts in a minute"
