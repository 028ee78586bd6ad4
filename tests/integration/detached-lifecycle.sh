#!/bin/bash
# vmm start/list/status/pause/resume/reset/stop on a detached guest, states checked
# through the supervisor and through QMP; a graceful stop reaches guest power-off.
. "$(dirname "$0")/lib.sh"

start_detached d1 "$PROFILES/guest.json"
grep -q "QEMU .* pid [0-9]*" "$T/d1.start.err" || fail "vmm start did not say which QEMU runs"
qemu=$(state_field d1 qemu_pid)
sup=$(state_field d1 supervisor_pid)
kill -0 "$qemu" && kill -0 "$sup" || fail "QEMU or supervisor not running"
[ "$(stat -c %a "$VMM_RUN_DIR/d1")" = 700 ] || fail "run dir is not 0700"
for s in qmp.sock ctl.sock console.sock; do
	[ "$(stat -c %a "$VMM_RUN_DIR/d1/$s")" = 600 ] || fail "$s is not 0600"
done
pass "vmm start returns with the guest running; run dir 0700, sockets 0600"

expect_rc 0 list
grep -Eq "^d1 +running +$qemu +tcg" "$T/last.out" || fail "vmm list: $(cat "$T/last.out")"
expect_rc 0 list --json
[ "$(python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["state"])' <"$T/last.out")" = running ] ||
	fail "vmm list --json: $(cat "$T/last.out")"
expect_rc 0 status d1 --json
[ "$(json_field state <"$T/last.out")" = running ] || fail "status: $(cat "$T/last.out")"
[ "$(json_field qemu_pid <"$T/last.out")" = "$qemu" ] || fail "status names another QEMU"
pass "list and status show it running"

"$VMM" events d1 --wait STOP --timeout 20 >"$T/stop-event.out" 2>&1 &
ev=$!
sleep 0.3
expect_rc 0 pause d1
wait "$ev" || fail "vmm events --wait STOP: $(cat "$T/stop-event.out")"
grep -q '"event":"STOP"' "$T/stop-event.out" || fail "no STOP event printed"
expect_rc 0 status d1 --json
[ "$(json_field state <"$T/last.out")" = paused ] || fail "state after pause: $(cat "$T/last.out")"
expect_rc 0 qmp d1 query-status
[ "$(json_field status <"$T/last.out")" = paused ] || fail "QEMU says: $(cat "$T/last.out")"
expect_rc 0 resume d1
expect_rc 0 status d1 --json
[ "$(json_field state <"$T/last.out")" = running ] || fail "state after resume: $(cat "$T/last.out")"
pass "pause and resume change the state (STOP event, query-status agrees)"

before=$(grep -c 'vmm-guest: ready' "$VMM_RUN_DIR/d1/console.log")
"$VMM" events d1 --wait RESET --timeout 20 >"$T/reset-event.out" 2>&1 &
ev=$!
sleep 0.3
expect_rc 0 reset d1
wait "$ev" || fail "no RESET event: $(cat "$T/reset-event.out")"
for ((i = 0; i < 600; i++)); do
	[ "$(grep -c 'vmm-guest: ready' "$VMM_RUN_DIR/d1/console.log")" -gt "$before" ] && break
	sleep 0.1
done
[ "$i" -lt 600 ] || fail "the guest did not boot again after reset"
[ "$(state_field d1 qemu_pid)" = "$qemu" ] || fail "reset replaced QEMU"
pass "reset reboots the guest in the same QEMU"

expect_rc 0 stop d1
grep -q "guest powered off" "$T/last.err" || fail "stop: $(cat "$T/last.err")"
assert_clean_rundir d1
assert_gone "$qemu"
assert_gone "$sup"
grep -q "guest powered off" "$VMM_RUN_DIR/d1/vmm.log" || fail "vmm.log does not tell how the VM ended"
pass "stop powers the guest off; QEMU and supervisor gone, run dir clean"

expect_rc 3 status d1
grep -q "^state:      ended (powered-off)" "$T/last.out" || fail "status of a stopped VM: $(cat "$T/last.out")"
expect_rc 0 logs d1
grep -q "vmm-guest: ready" "$T/last.out" || fail "vmm logs shows no console output"
expect_rc 0 logs d1 --supervisor
grep -q "guest powered off" "$T/last.out" || fail "vmm logs --supervisor: $(cat "$T/last.out")"
expect_rc 0 logs d1 --json
[ "$(python3 -c 'import json,sys; print("vmm-guest: ready" in json.load(sys.stdin)["text"])' <"$T/last.out")" = True ] ||
	fail "vmm logs --json: $(head -c 300 "$T/last.out")"
pass "a stopped VM: status says how it ended (exit 3), logs remain"

start_detached d1 "$PROFILES/guest.json"
expect_rc 3 stop d1 --timeout 0
grep -q "forced off: QEMU quit before the guest powered off" "$T/last.err" || fail "stop --timeout 0: $(cat "$T/last.err")"
expect_rc 0 start "$PROFILES/guest.json" --name d1
expect_rc 0 kill d1
pass "stop --timeout 0 forces the VM off (exit 3); the VM can be started again at once"
