#!/bin/bash
# vmm save cancelled: Ctrl-C on vmm save, or vmm save NAME --cancel from elsewhere, cancels the save
# mid-way (migrate_cancel): FILE.partial goes, FILE is not made, the guest runs on (not paused, its
# agent answers, status "running") and vmm save exits 1 saying it was cancelled. The save is kept
# from ever finishing by --bandwidth 1M and a guest that keeps rewriting 8 MiB (vmm.dirty=8): it
# cannot converge within the 300 ms downtime limit, so the cancel always comes mid-way.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data

"$VMM" start "$PROFILES/guest-agent.json" --name sc --set 'boot.append=console=ttyS0 quiet vmm.dirty=8' \
	>/dev/null 2>"$T/start.err" || fail "start: $(cat "$T/start.err")"
wait_boots sc 1
expect_rc 0 wait sc agent --timeout 60

expect_rc 1 save sc --cancel
grep -q "no save is under way" "$T/last.err" || fail "cancel without a save: $(cat "$T/last.err")"
pass "a cancel without a save is refused: $(cat "$T/last.err")"
expect_rc 1 save sc "$T/never" --bandwidth fast
grep -q -- "--bandwidth 'fast': expected bytes per second" "$T/last.err" && [ ! -e "$T/never" ] ||
	fail "a bad --bandwidth: $(cat "$T/last.err")"
pass "a bad --bandwidth is refused before anything starts: $(cat "$T/last.err")"

# Waits until the save into FILE has written 256 KiB of the guest (it is mid-way); sets keeper
# (the process that keeps its pipe open: it must be gone once the save ended).
wait_saving() {
	local i
	for ((i = 0; i < 1200; i++)); do
		if [ "$(stat -c %s "$1.partial" 2>/dev/null || echo 0)" -gt 262144 ]; then
			keeper=$(sed -n 's/.*"keeper": *\([0-9]*\).*/\1/p' "$VMM_RUN_DIR/sc/save.json")
			return 0
		fi
		kill -0 "$saver" 2>/dev/null || fail "the save ended: $(cat "$T/save.err")"
		sleep 0.05
	done
	fail "the save into $1 did not get going: $(cat "$T/save.err")"
}

# Checks that the save into FILE ended cancelled (exit 1) and left nothing (no file, no keeper);
# the VM runs on.
assert_cancelled() {
	local rc=0 qemu
	wait "$saver" || rc=$?
	qemu=$(state_field sc qemu_pid)
	[ "$rc" = 1 ] && grep -q "save failed: cancelled; QEMU pid $qemu runs the guest on" "$T/save.err" ||
		fail "the cancelled save: exit $rc: $(cat "$T/save.err")"
	[ ! -e "$1.partial" ] && [ ! -e "$1" ] || fail "the cancelled save left $(ls "$T")"
	assert_gone "$keeper"
	expect_rc 0 status sc --json
	[ "$(json_field state <"$T/last.out")" = running ] || fail "status after the cancel: $(cat "$T/last.out")"
	expect_rc 0 qmp sc query-status
	[ "$(json_field status <"$T/last.out")" = running ] || fail "QEMU after the cancel: $(cat "$T/last.out")"
	expect_rc 0 agent sc exec echo alive
	grep -q alive "$T/last.out" || fail "the guest agent after the cancel: $(cat "$T/last.out")"
}

"$VMM" save sc "$T/ctrl-c" --bandwidth 1M >"$T/save.out" 2>"$T/save.err" &
saver=$!
wait_saving "$T/ctrl-c"
kill -INT "$saver"
assert_cancelled "$T/ctrl-c"
grep -q "cancelling the save of sc" "$T/save.err" || fail "Ctrl-C said: $(cat "$T/save.err")"
pass "Ctrl-C cancels the save mid-way, nothing is left, the guest runs on: $(tail -n 1 "$T/save.err")"

"$VMM" save sc "$T/other" --bandwidth 1M >"$T/save.out" 2>"$T/save.err" &
saver=$!
wait_saving "$T/other"
# Meanwhile the guest's devices stay as the save has them, and it goes nowhere else.
truncate -s 16M "$T/extra.raw"
expect_rc 1 add sc disk id=extra file="$T/extra.raw" format=raw
grep -q "cannot add: the guest is moving (a save or an upgrade is under way)" "$T/last.err" ||
	fail "a hot-add during the save: $(cat "$T/last.err")"
expect_rc 1 set sc cpus=2
grep -q "cannot set: the guest is moving" "$T/last.err" || fail "set during the save: $(cat "$T/last.err")"
expect_rc 1 migrate sc "unix:$T/nowhere.sock"
grep -q "VM 'sc' is being saved or upgraded" "$T/last.err" || fail "a migration during the save: $(cat "$T/last.err")"
expect_rc 0 save sc --cancel
grep -q "cancelling the save of sc" "$T/last.err" || fail "--cancel said: $(cat "$T/last.err")"
assert_cancelled "$T/other"
pass "vmm save --cancel from elsewhere cancels it the same (a hot-add, set or migrate meanwhile refused): $(tail -n 1 "$T/save.err")"

# A save that fills its file system (a 4 MiB tmpfs) fails the same way: the partial file and the
# pipe's keeper go, the guest runs on.
mkdir "$T/small"
mount -t tmpfs -o size=4m vmm-savecancel "$T/small"
"$VMM" save sc "$T/small/full" >"$T/save.out" 2>"$T/save.err" &
saver=$!
for ((i = 0; i < 600; i++)); do
	keeper=$(sed -n 's/.*"keeper": *\([0-9]*\).*/\1/p' "$VMM_RUN_DIR/sc/save.json" 2>/dev/null || true)
	[ -n "$keeper" ] || ! kill -0 "$saver" 2>/dev/null && break
	sleep 0.01
done
rc=0
wait "$saver" || rc=$?
[ "$rc" = 1 ] && grep -q "save failed: cannot write '$T/small/full.partial': No space left on device" "$T/save.err" ||
	fail "a save filling its file system: exit $rc: $(cat "$T/save.err")"
[ -z "$(ls -A "$T/small")" ] || fail "the failed save left $(ls -A "$T/small")"
[ -z "$keeper" ] || assert_gone "$keeper"
expect_rc 0 qmp sc query-status
[ "$(json_field status <"$T/last.out")" = running ] || fail "QEMU after the failed save: $(cat "$T/last.out")"
expect_rc 0 agent sc exec echo alive
pass "a save filling its file system fails, leaves nothing, the guest runs on: $(cat "$T/save.err")"

expect_rc 0 stop sc
assert_clean_rundir sc
