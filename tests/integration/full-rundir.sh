#!/bin/bash
# A full run filesystem (a small tmpfs as the run base): a restart whose state cannot be
# written fails, its QEMU killed, and state.json keeps no old QEMU pid; a first start fails
# the same way; once there is room the VM starts again, once.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "SKIP: mounting a tmpfs needs root"; exit 77; }
mkdir "$T/fs"
mount -t tmpfs -o size=256k,mode=0755 tmpfs "$T/fs" || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
export VMM_RUN_DIR=$T/fs/run


# Fills the filesystem of the run base.
fill() { dd if=/dev/zero of="$T/fs/fill" bs=4k 2>/dev/null || true; }

start_detached f1 "$PROFILES/guest-restart.json"
qemu=$(state_field f1 qemu_pid)
sup=$(state_field f1 supervisor_pid)
fill
kill -9 "$qemu"
assert_gone "$sup"
[ "$(qemus f1)" = 0 ] || fail "a QEMU of f1 runs although its state could not be written"
if [ -f "$VMM_RUN_DIR/f1/state.json" ]; then
	! grep -q "\"qemu_pid\": *$qemu\b" "$VMM_RUN_DIR/f1/state.json" || fail "state.json still names QEMU $qemu"
fi
rm "$T/fs/fill"
expect_rc 0 start "$PROFILES/guest-restart.json" --name f1
[ "$(qemus f1)" = 1 ] || fail "$(qemus f1) QEMUs of f1 run"
[ "$(state_field f1 qemu_pid)" != "$qemu" ] || fail "state.json names the old QEMU"
expect_rc 0 kill f1
pass "a restart on a full run filesystem fails with no QEMU left; the next start runs one"

fill
expect_rc 2 start "$PROFILES/guest.json" --name f2
grep -q "failed to start: cannot write '$VMM_RUN_DIR/f2/state.json.tmp': No space left on device" "$T/last.err" ||
	grep -q "failed to start: cannot write '$VMM_RUN_DIR/f2/state.json': No space left on device" "$T/last.err" ||
	fail "start on a full run filesystem: $(cat "$T/last.err")"
[ "$(qemus f2)" = 0 ] || fail "a QEMU of f2 runs"
rm "$T/fs/fill"
pass "a first start on a full run filesystem fails, nothing left running"
