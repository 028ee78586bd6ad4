#!/bin/bash
# QEMU runs on after the supervisor lost its QMP connection (QEMU answers a command that
# is not valid UTF-8 with an error that carries no id, which the QMP client takes for a
# broken connection): status still answers, QMP requests fail, and a stop ends the VM
# with SIGTERM, then SIGKILL when QEMU ignores it, instead of crashing the supervisor.
. "$(dirname "$0")/lib.sh"

# Sends one command with invalid UTF-8 through the VM's qmp.sock; waits until the proxy
# (freed with the supervisor's QMP connection) closes the client.
lose_qmp() {
	python3 - "$VMM_RUN_DIR/$1/qmp.sock" <<'PY' || fail "$1: the proxy did not close after the bad command"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(20)
s.connect(sys.argv[1])
f = s.makefile("rb")
f.readline()
s.sendall(b'{"execute": "qmp_capabilities"}\n')
f.readline()
s.sendall(b'{"execute": "\xff\xfe"}\n')
sys.exit(0 if f.readline() == b"" else 1)
PY
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
