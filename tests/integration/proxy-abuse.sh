#!/bin/bash
# Clients that abuse the QMP proxy hurt neither the VM nor each other
# (tests/integration/proxy-abuse.py): a flood to a frozen QEMU leaves the supervisor under
# 32 MiB; descriptors pass with getfd and add-fd; a 4 MB message is refused and a reply
# over 8 MiB reaches a client that reads; while one client keeps 60 slow queries queued,
# another's query-status takes no longer than while it keeps 2 (QEMU is as busy: only the
# queue differs), its exec-oob takes 10 ms at most (on a machine so loaded that one of A's commands takes over
# 20 ms: less than half of that) and vmm pause answers at once; a client that queues 400 slow queries and hangs up does not
# hold up vmm stop: the guest powers off within a second.
. "$(dirname "$0")/lib.sh"

# Runs one check of proxy-abuse.py against the VM's qmp.sock.
abuse() {
	python3 "$SRCDIR/tests/integration/proxy-abuse.py" "$1" "$VMM_RUN_DIR/a1/qmp.sock" "${@:2}" >"$T/abuse.out" 2>&1 ||
		fail "$1: $(cat "$T/abuse.out")"
	cat "$T/abuse.out"
}

start_detached a1 "$PROFILES/guest.json"
qemu=$(state_field a1 qemu_pid)
sup=$(state_field a1 supervisor_pid)

kill -STOP "$qemu"
abuse flood 3
peak=$(awk '/^VmHWM:/ {print $2}' "/proc/$sup/status")
kill -CONT "$qemu"
[ "$peak" -lt $((32 * 1024)) ] || fail "a flood to a frozen QEMU took the supervisor to $peak KiB"
expect_rc 0 qmp a1 query-status
pass "a flood to a frozen QEMU: the supervisor peaked at $peak KiB; thawed, QMP works"

abuse fds
abuse big-message
abuse big-reply
kill -0 "$qemu" || fail "QEMU died"
pass "descriptors with getfd and add-fd; a 4 MB message refused; a reply over 8 MiB read whole"

abuse fairness "$VMM" a1
pass "one client's queue slows no other, nor exec-oob, nor vmm pause"

abuse vanish 400
start=$(date +%s%N)
expect_rc 0 stop a1
took=$((($(date +%s%N) - start) / 1000000))
grep -q "a1: guest powered off" "$T/last.out" "$T/last.err" || fail "stop: $(cat "$T/last.out" "$T/last.err")"
[ "$took" -le 1000 ] || fail "vmm stop took $took ms after a client queued 400 slow queries and left"
assert_gone "$qemu"
pass "400 slow queries queued by a client that left: vmm stop powered the guest off in $took ms"
