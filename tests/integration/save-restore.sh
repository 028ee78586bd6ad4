#!/bin/bash
# vmm save and vmm restore: a running guest is saved into a file (a header naming the VM and its
# profile, then QEMU's stream, written through a pipe: no fd:-to-a-file deprecation warning on
# any QEMU), after which the VM has ended, saved; vmm restore FILE brings it back with the same
# devices: its uptime continues (no reboot), a marker written to its disk before is there, the
# console and agent answer. A file that exists is not overwritten; a file that is not a saved VM,
# or a restore while the VM runs, is refused.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data

truncate -s 16M "$T/data.raw"
"$VMM" start "$PROFILES/guest-agent.json" --name sr \
	--set "disks=[{\"id\": \"data\", \"file\": \"$T/data.raw\", \"format\": \"raw\"}]" \
	>/dev/null 2>"$T/start.err" || fail "start: $(cat "$T/start.err")"
wait_boots sr 1 shell
expect_rc 0 wait sr agent --timeout 60

# Prints the guest's uptime in seconds (through the guest agent).
uptime_of() {
	"$VMM" agent sr exec cut -d" " -f1 /proc/uptime 2>"$T/agent.err" | tr -d '\n' || fail "agent: $(cat "$T/agent.err")"
}

marker=vmm-marker-$RANDOM$RANDOM
"$VMM" agent sr exec sh -c "echo $marker | dd of=/dev/vda conv=fsync 2>/dev/null" >/dev/null 2>"$T/agent.err" ||
	fail "writing the marker: $(cat "$T/agent.err")"
touch "$T/exists"
expect_rc 1 save sr "$T/exists"
grep -q "it exists" "$T/last.err" && [ ! -s "$T/exists" ] || fail "save over a file: $(cat "$T/last.err")"
pass "an existing file is not overwritten: $(cat "$T/last.err")"
ln -s "$T/nowhere" "$T/dangling"
expect_rc 1 save sr "$T/dangling"
grep -q "it exists" "$T/last.err" && [ -L "$T/dangling" ] && [ ! -e "$T/nowhere" ] ||
	fail "save to a dangling symlink: $(cat "$T/last.err")"
pass "a dangling symlink is not replaced nor followed: $(cat "$T/last.err")"

# A file appearing while the save runs (its supervisor stopped mid-way to make one) is not
# overwritten either: the save fails, its partial file goes, the guest runs on. Tried again
# should the save be done before the supervisor is stopped.
sup=$(state_field sr supervisor_pid)
for try in 1 2 3 4 5; do
	"$VMM" save sr "$T/race$try" >"$T/race.out" 2>"$T/race.err" &
	saver=$!
	while [ ! -e "$T/race$try.partial" ] && kill -0 "$saver" 2>/dev/null; do :; done
	kill -STOP "$sup"
	[ -e "$T/race$try.partial" ] && break
	kill -CONT "$sup"
	wait "$saver" || true
	[ "$(state_field sr supervisor_pid)" = "$sup" ] || fail "the save to race$try ended the VM: $(cat "$T/race.err")"
done
echo appeared >"$T/race$try"
kill -CONT "$sup"
rc=0
wait "$saver" || rc=$?
[ "$rc" = 1 ] && grep -q "it appeared while saving" "$T/race.err" && [ "$(cat "$T/race$try")" = appeared ] &&
	[ ! -e "$T/race$try.partial" ] || fail "a file appearing during the save: exit $rc: $(cat "$T/race.err")"
expect_rc 0 status sr --json
[ "$(json_field state <"$T/last.out")" = running ] || fail "status after the failed save: $(cat "$T/last.out")"
expect_rc 0 qmp sr query-status
[ "$(json_field status <"$T/last.out")" = running ] || fail "QEMU after the failed save: $(cat "$T/last.out")"
pass "a file appearing during the save is not overwritten, the guest runs on: $(cat "$T/race.err")"

before=$(uptime_of)
old=$(state_field sr qemu_pid)
# QEMU stopped a moment (the save waits for it): an upgrade meanwhile is refused, saying why.
kill -STOP "$old"
"$VMM" save sr "$T/sr.saved" >"$T/save.out" 2>"$T/save.err" &
saver=$!
wait_for "$VMM_RUN_DIR/sr/vmm.log" "saving to $T/sr.saved" 30
expect_rc 1 upgrade sr
kill -CONT "$old"
grep -q "cannot upgrade: a save is under way" "$T/last.err" || fail "upgrade during a save: $(cat "$T/last.err")"
wait "$saver" || fail "save: $(cat "$T/save.err")"
grep -q "saved to $T/sr.saved" "$T/save.err" || fail "save said: $(cat "$T/save.err")"
assert_gone "$old"
[ "$(head -n 1 "$T/sr.saved")" = "vmm-saved-vm 1" ] && [ ! -e "$T/sr.saved.partial" ] || fail "the save file"
expect_rc 3 status sr --json
[ "$(json_field last_end <"$T/last.out")" = saved ] || fail "status after the save: $(cat "$T/last.out")"
pass "saved ($(stat -c %s "$T/sr.saved") bytes), the VM ended: $(json_field last_end_message <"$T/last.out")"

printf 'not a saved VM\n' >"$T/junk"
expect_rc 1 restore "$T/junk"
grep -q "is not a VM saved by vmm save" "$T/last.err" || fail "restore junk: $(cat "$T/last.err")"
pass "a file that is no saved VM is refused: $(cat "$T/last.err")"

head -n 2 "$T/sr.saved" >"$T/cut"
expect_rc 1 restore "$T/cut"
grep -q "'$T/cut' has nothing of the guest after its header" "$T/last.err" && [ "$(qemus sr)" = 0 ] ||
	fail "restore of a header alone: $(cat "$T/last.err")"
pass "a save file cut after its header is refused (QEMU waited for the stream for ever): $(cat "$T/last.err")"

expect_rc 0 restore "$T/sr.saved"
expect_rc 0 status sr --json
[ "$(json_field state <"$T/last.out")" = running ] || fail "status after the restore: $(cat "$T/last.out")"
after=$(uptime_of)
awk -v a="$before" -v b="$after" 'BEGIN { exit !(b >= a) }' || fail "uptime went from $before to $after s: the guest rebooted"
[ "$(grep -c 'vmm-guest: ready' "$VMM_RUN_DIR/sr/console.log")" = 1 ] || fail "the guest booted again"
got=$("$VMM" agent sr exec head -c ${#marker} /dev/vda 2>"$T/agent.err") || fail "agent: $(cat "$T/agent.err")"
[ "$got" = "$marker" ] || fail "the disk has '$got', not the marker '$marker'"
out=$(python3 "$SRCDIR/tests/integration/console.py" "$VMM" sr 'echo con$((6*7))sole' 'con42sole') ||
	fail "console after the restore: $out"
! grep -q deprecated "$VMM_RUN_DIR/sr/vmm.log" || fail "QEMU warned: $(grep deprecated "$VMM_RUN_DIR/sr/vmm.log")"
pass "restored: uptime $before s → $after s, no second boot, the disk's marker there, console and agent answer"

expect_rc 1 restore "$T/sr.saved"
grep -q "sr" "$T/last.err" || fail "restore while it runs: $(cat "$T/last.err")"
[ "$(qemus sr)" = 1 ] || fail "$(qemus sr) QEMUs of the VM after a second restore"
pass "a restore while the VM runs is refused: $(cat "$T/last.err")"

# QEMU killed while it saves (its supervisor stopped meanwhile: it learns both at once): the save
# fails saying that QEMU is gone, not that it runs the guest on; no partial file is left.
sup=$(state_field sr supervisor_pid)
qemu=$(state_field sr qemu_pid)
"$VMM" save sr "$T/killed" >"$T/killed.out" 2>"$T/killed.err" &
saver=$!
while [ ! -e "$T/killed.partial" ] && kill -0 "$saver" 2>/dev/null; do :; done
kill -STOP "$sup"
kill -9 "$qemu"
kill -CONT "$sup"
rc=0
wait "$saver" || rc=$?
[ "$rc" = 1 ] && grep -q "save failed: .*; QEMU pid $qemu is gone, and the guest with it$" "$T/killed.err" &&
	[ ! -e "$T/killed.partial" ] && [ ! -e "$T/killed" ] || fail "QEMU killed during the save: exit $rc: $(cat "$T/killed.err")"
expect_rc 3 status sr --json
[ "$(json_field last_end <"$T/last.out")" = crashed ] || fail "status after QEMU was killed: $(cat "$T/last.out")"
pass "QEMU killed during the save: $(cat "$T/killed.err")"
assert_clean_rundir sr
