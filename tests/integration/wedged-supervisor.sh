#!/bin/bash
# A wedged supervisor does not hang the CLI: a ctl.sock that never answers, and one whose
# backlog is full (connect would block), make status and stop fail within their timeout,
# and vmm list shows them as not answering next to a VM that runs.
. "$(dirname "$0")/lib.sh"

start_detached d1 "$PROFILES/guest.json"
mkdir -m 700 "$VMM_RUN_DIR/mute" "$VMM_RUN_DIR/full"
# mute: accepts nothing, answers nothing. full: its backlog (0) holds one connection, so a
# connect waits for room.
python3 -c '
import socket, sys, time
mute = socket.socket(socket.AF_UNIX); mute.bind(sys.argv[1] + "/mute/ctl.sock"); mute.listen(64)
full = socket.socket(socket.AF_UNIX); full.bind(sys.argv[1] + "/full/ctl.sock"); full.listen(0)
held = socket.socket(socket.AF_UNIX); held.connect(sys.argv[1] + "/full/ctl.sock")
open(sys.argv[2], "w").close()
time.sleep(600)' "$VMM_RUN_DIR" "$T/wedged" &
VMM_PIDS+=($!)
wait_for_file() { local i; for ((i = 0; i < 100; i++)); do [ -e "$1" ] && return 0; sleep 0.05; done; fail "no $1"; }
wait_for_file "$T/wedged"

# Runs vmm expecting exit status RC within SECONDS (as expect_rc).
expect_rc_within() {
	local seconds=$1 start=$SECONDS
	shift
	expect_rc "$@"
	[ $((SECONDS - start)) -le "$seconds" ] || fail "vmm ${*:2} took $((SECONDS - start)) s"
}

expect_rc_within 7 1 status mute
[ "$(cat "$T/last.err")" = "vmm: VM 'mute': its supervisor did not answer within 5000 ms" ] ||
	fail "status of a mute supervisor: $(cat "$T/last.err")"
expect_rc_within 7 1 status full
[ "$(cat "$T/last.err")" = "vmm: VM 'full': its supervisor did not accept a connection on '$VMM_RUN_DIR/full/ctl.sock' within 5000 ms" ] ||
	fail "status with a full backlog: $(cat "$T/last.err")"
expect_rc_within 7 1 stop mute
grep -q "did not answer within 5000 ms" "$T/last.err" || fail "stop of a mute supervisor: $(cat "$T/last.err")"
pass "status and stop give up on a wedged supervisor within 5 s"

expect_rc_within 7 0 list
grep -Eq "^d1 +running +[0-9]+ +tcg" "$T/last.out" || fail "vmm list: $(cat "$T/last.out")"
grep -Eq "^mute +not-answering" "$T/last.out" || fail "vmm list, mute: $(cat "$T/last.out")"
grep -Eq "^full +not-answering" "$T/last.out" || fail "vmm list, full: $(cat "$T/last.out")"
expect_rc_within 7 0 list --json
[ "$(python3 -c 'import json,sys; print(" ".join(v["name"] + "=" + v["state"] for v in json.load(sys.stdin)))' <"$T/last.out")" = \
	"d1=running full=not-answering mute=not-answering" ] || fail "vmm list --json: $(cat "$T/last.out")"
pass "list shows the running VM and the wedged ones as not answering"

expect_rc 0 stop d1
pass "the running VM stops as usual"
