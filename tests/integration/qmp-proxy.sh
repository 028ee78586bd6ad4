#!/bin/bash
# The QMP proxy (qmp.sock): 20 concurrent plain-QMP clients each pipelining 200 commands
# get every reply with their own ids and no foreign ones; events reach every client;
# vmm qmp types its arguments and reports QMP errors; a QEMU frozen with SIGSTOP makes
# commands time out while vmm status still answers; a client that never reads its replies
# is dropped without holding up anyone else.
. "$(dirname "$0")/lib.sh"

start_detached p1 "$PROFILES/guest.json"
qemu=$(state_field p1 qemu_pid)
sock=$VMM_RUN_DIR/p1/qmp.sock

python3 "$SRCDIR/tests/integration/qmp-clients.py" "$sock" --clients 20 --commands 200 >"$T/flood.out" 2>&1 ||
	fail "proxy flood: $(cat "$T/flood.out")"
pass "20 clients x 200 pipelined commands: every reply, own ids only, in order"

python3 "$SRCDIR/tests/integration/qmp-clients.py" "$sock" --clients 20 --commands 3 --events STOP,RESUME \
	>"$T/events.out" 2>&1 &
clients=$!
wait_for "$T/events.out" "negotiated 20" 30
expect_rc 0 pause p1
expect_rc 0 resume p1
wait "$clients" || fail "events: $(cat "$T/events.out")"
pass "STOP and RESUME reach all 20 clients"

python3 "$SRCDIR/tests/integration/qmp-clients.py" "$sock" --clients 5 --commands 100 --slow >"$T/slow.out" 2>&1 ||
	fail "slow client: $(cat "$T/slow.out")"
expect_rc 0 qmp p1 query-status
expect_rc 0 status p1 --json
[ "$(json_field qmp_clients <"$T/last.out")" = 0 ] || fail "clients left connected: $(cat "$T/last.out")"
pass "a client that never reads is dropped; the others, QEMU and the supervisor carry on"

expect_rc 0 qmp p1 qom-get path=/machine property=type
grep -Eq '^"pc-q35-[0-9.]+-machine"$' "$T/last.out" || fail "qom-get: $(cat "$T/last.out")"
expect_rc 0 qmp p1 --raw '{"execute": "query-name"}'
[ "$(json_field name <"$T/last.out")" = p1 ] || fail "--raw: $(cat "$T/last.out")"
expect_rc 0 qmp p1 human-monitor-command command-line='info status'
grep -q 'VM status: running' "$T/last.out" || fail "typed string argument: $(cat "$T/last.out")"
expect_rc 1 qmp p1 query-nothing
grep -q "VM 'p1': CommandNotFound: The command query-nothing has not been found" "$T/last.err" ||
	fail "QMP error: $(cat "$T/last.err")"
expect_rc 1 qmp p1 qom-get path=/machine property=42
grep -q "GenericError" "$T/last.err" || fail "typed number argument: $(cat "$T/last.err")"
expect_rc 1 qmp p1 --raw '[1'
grep -q "expected a JSON object" "$T/last.err" || fail "bad --raw: $(cat "$T/last.err")"
pass "vmm qmp: typed key=value arguments, --raw, QMP errors with class and description"

kill -STOP "$qemu"
expect_rc 1 qmp p1 --timeout 1 query-status
grep -q "no reply within 1000 ms" "$T/last.err" || fail "frozen QEMU: $(cat "$T/last.err")"
expect_rc 0 status p1 --json
[ "$(json_field state <"$T/last.out")" = running ] || fail "status of a frozen QEMU: $(cat "$T/last.out")"
expect_rc 1 pause p1
grep -q "did not answer" "$T/last.err" || fail "pause of a frozen QEMU: $(cat "$T/last.err")"
kill -CONT "$qemu"
expect_rc 0 qmp p1 query-status
pass "frozen QEMU: commands time out, status still answers; thawed, QMP works again"

expect_rc 0 kill p1
assert_gone "$qemu"
