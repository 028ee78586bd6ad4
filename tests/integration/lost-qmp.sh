#!/bin/bash
# QEMU runs on after the supervisor lost its QMP connection: status still answers, QMP
# requests fail, and a stop ends the VM with SIGTERM, then SIGKILL when QEMU ignores it,
# instead of crashing the supervisor.
. "$(dirname "$0")/lib.sh"

# Cuts the supervisor's QMP connection to QEMU (QEMU keeps running): gdb makes the
# supervisor shut down its end of the socket QEMU accepted on monitor.sock. No input can
# do it any more (the proxy answers bad input itself), but a supervisor must survive it.
lose_qmp() {
	local sup qemu peer fd f
	sup=$(state_field "$1" supervisor_pid)
	qemu=$(state_field "$1" qemu_pid)
	peer=$(ss -xpn | awk -v path="$VMM_RUN_DIR/$1/monitor.sock" -v pid="pid=$qemu," \
		'$2 == "ESTAB" && $5 == path && index($0, pid) { print $8 }')
	[ -n "$peer" ] || fail "$1: no QMP connection of QEMU found: $(ss -xpn | grep monitor.sock)"
	for f in /proc/"$sup"/fd/*; do
		[ "$(readlink "$f")" = "socket:[$peer]" ] && fd=${f##*/}
	done
	[ -n "${fd:-}" ] || fail "$1: the supervisor holds no end of QMP socket $peer"
	gdb -p "$sup" -batch -ex "call (int)shutdown($fd, 2)" >"$T/gdb.out" 2>&1 || fail "gdb: $(cat "$T/gdb.out")"
	expect_rc 1 pause "$1"
	grep -q "QEMU is not running" "$T/last.err" ||
		fail "$1: the supervisor still has QMP (this test must find another way to lose it): $(cat "$T/last.err")"
}

start_detached l1 "$PROFILES/guest.json"
qemu=$(state_field l1 qemu_pid)
sup=$(state_field l1 supervisor_pid)
lose_qmp l1
kill -0 "$qemu" || fail "QEMU died with its QMP connection"
expect_rc 0 status l1 --json
[ "$(json_field qemu_pid <"$T/last.out")" = "$qemu" ] || fail "status after QMP was lost: $(cat "$T/last.out")"
pass "QMP lost: QEMU runs, status answers, pause fails"

expect_rc 3 stop l1
grep -q "forced off: QEMU was stopped by SIGTERM (its QMP connection was gone)" "$T/last.err" ||
	fail "stop without QMP: $(cat "$T/last.err")"
grep -q "stopping: the QMP connection to QEMU is gone, sending it SIGTERM" "$VMM_RUN_DIR/l1/vmm.log" ||
	fail "vmm.log: $(cat "$VMM_RUN_DIR/l1/vmm.log")"
assert_gone "$qemu"
assert_gone "$sup"
assert_clean_rundir l1
pass "vmm stop without QMP: SIGTERM, exit 3, supervisor and QEMU gone, run dir clean"

cp "$PROFILES/guest.json" "$T/l2.json"
start_vm l2 "$T/l2.json"
wait_for "$T/l2.out" '^vmm-guest: ready' 60
wait_for "$T/l2.err" 'status running' 10
qemu=$(state_field l2 qemu_pid)
lose_qmp l2
# A stopped QEMU cannot act on SIGTERM: only SIGKILL ends it.
kill -STOP "$qemu"
kill -INT "$VMM_PID"
wait_exit
[ "$RC" = 3 ] || fail "SIGINT without QMP: exit $RC, expected 3: $(tail -n3 "$T/l2.err")"
[ "$(tail -n1 "$T/l2.err")" = "vmm: l2: forced off: killed after QEMU ignored SIGTERM (its QMP connection was gone)" ] ||
	fail "verdict: $(tail -n1 "$T/l2.err")"
assert_gone "$qemu"
assert_clean_rundir l2
pass "SIGINT to vmm run without QMP: SIGTERM, then SIGKILL, exit 3"
