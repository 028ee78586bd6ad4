#!/bin/bash
# What vmm must never do to the host or to its caller: keep the caller's open files for
# the VM's lifetime (in the supervisor or in QEMU).
. "$(dirname "$0")/lib.sh"

# Fails when process PID holds an open descriptor on FILE.
assert_not_open() {
	local pid=$1 file=$2 fd
	for fd in /proc/"$pid"/fd/*; do
		[ "$(readlink "$fd")" = "$file" ] && fail "process $pid ($(cat /proc/"$pid"/comm)) holds $file as fd ${fd##*/}"
	done
	return 0
}

# A caller's descriptors (vmm start 7>file, 8<file) reach neither the supervisor nor QEMU.
: >"$T/caller-out"
: >"$T/caller-in"
"$VMM" start "$PROFILES/guest.json" --name fds >"$T/fds.start.out" 2>"$T/fds.start.err" 7>"$T/caller-out" 8<"$T/caller-in" ||
	fail "vmm start: $(cat "$T/fds.start.err")"
sup=$(state_field fds supervisor_pid)
qemu=$(state_field fds qemu_pid)
for f in "$T/caller-out" "$T/caller-in"; do
	assert_not_open "$sup" "$f"
	assert_not_open "$qemu" "$f"
done
expect_rc 0 kill fds
pass "the caller's open files reach neither the supervisor nor QEMU"
