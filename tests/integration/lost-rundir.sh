#!/bin/bash
# vmm always finds its QEMUs: a VM whose run directory was removed is listed (no-run-dir),
# start and run refuse its name (saying its pid) instead of starting a second QEMU, and a
# supervisor ends without touching what another one made in its place (a directory made
# again, or files made again in the same directory).
. "$(dirname "$0")/lib.sh"


# Waits until no QEMU of VM NAME runs (one killed is a zombie until its supervisor reaps it).
wait_no_qemu() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(qemus "$1")" = 0 ] && return 0
		sleep 0.05
	done
	fail "a QEMU of $1 still runs"
}

# Fails unless the run directory of l1 holds the files of the running supervisor SUP, and
# SUP answers (WHO: who might have removed them).
assert_files_of() {
	local f
	for f in lock ctl.sock qmp.sock monitor.sock console.sock state.json; do
		[ -e "$VMM_RUN_DIR/l1/$f" ] || fail "$2 removed $f"
	done
	expect_rc 0 status l1 --json
	[ "$(json_field supervisor_pid <"$T/last.out")" = "$1" ] || fail "status: $(cat "$T/last.out")"
}

start_detached l1 "$PROFILES/guest.json"
qemu=$(state_field l1 qemu_pid)
sup=$(state_field l1 supervisor_pid)
rm -rf "$VMM_RUN_DIR/l1"
expect_rc 0 list
grep -Eq "^l1 +no-run-dir +$qemu" "$T/last.out" || fail "vmm list: $(cat "$T/last.out")"
lost="VM 'l1' runs (QEMU pid $qemu) but its run directory '$VMM_RUN_DIR/l1' was removed or replaced"
for verb in start run; do
	expect_rc 1 "$verb" "$PROFILES/guest.json" --name l1
	grep -q "$lost" "$T/last.err" || fail "vmm $verb of a VM whose run directory is gone: $(cat "$T/last.err")"
done
[ "$(qemus l1)" = 1 ] || fail "a second QEMU of l1 runs"
for verb in status attach; do
	expect_rc 1 "$verb" l1
	grep -q "$lost" "$T/last.err" || fail "$verb: $(cat "$T/last.err")"
done
pass "run dir removed: list shows the QEMU, start and run refuse the name with its pid, status and attach say so"

# The supervisor is frozen while its QEMU dies and another supervisor starts in a new directory.
kill -STOP "$sup"
kill -9 "$qemu"
wait_no_qemu l1
start_detached l1 "$PROFILES/guest.json"
sup2=$(state_field l1 supervisor_pid)
kill -CONT "$sup"
assert_gone "$sup"
assert_files_of "$sup2" "the first supervisor"
pass "a supervisor whose directory was made again by another leaves the other's files alone"

# The same in one directory: the files of a frozen supervisor are removed and made again.
qemu2=$(state_field l1 qemu_pid)
kill -STOP "$sup2"
kill -9 "$qemu2"
wait_no_qemu l1
(cd "$VMM_RUN_DIR/l1" && rm -f lock ctl.sock qmp.sock monitor.sock console.sock state.json)
expect_rc 0 start "$PROFILES/guest.json" --name l1
sup3=$(state_field l1 supervisor_pid)
kill -CONT "$sup2"
assert_gone "$sup2"
assert_files_of "$sup3" "the second supervisor"
pass "a supervisor leaves the files made again in its directory by another alone"

# A reattached supervisor takes QEMU's sockets over: after kill -9 of QEMU they go too.
kill -9 "$sup3"
assert_gone "$sup3"
expect_rc 0 attach l1
qemu3=$(state_field l1 qemu_pid)
expect_rc 0 kill l1
assert_gone "$qemu3"
assert_clean_rundir l1
[ "$(qemus l1)" = 0 ] || fail "a QEMU of l1 runs"
pass "a reattached supervisor removes QEMU's sockets once QEMU is killed"
