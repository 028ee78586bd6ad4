#!/bin/bash
# vmm save with its supervisor killed (kill -9) mid-way: the save is recorded in the run directory
# (save.json) and a process of its own keeps the pipe QEMU writes into open, so QEMU waits rather
# than failing (and no such process is left once the save ended); the next
# supervisor (vmm attach) asks QEMU how the save goes and finishes it as the first would have.
# The save is kept mid-way whenever the supervisor is killed by --bandwidth 1M and a guest that
# keeps rewriting 8 MiB (vmm.dirty=8: no convergence within the 300 ms downtime limit), so the
# branch taken is always "under way": first the attached supervisor goes on copying and, once
# the cap is lifted (migrate-set-parameters through vmm qmp), the save completes: the VM ended
# as saved, the file restores and no partial file is left; then, killed again mid-way and
# attached, a vmm save --cancel leaves no file and the guest runs on; last, cancelled on QEMU's
# own monitor while no supervisor runs, then attached: no file, the guest runs on.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data

"$VMM" start "$PROFILES/guest-agent.json" --name sk --set 'boot.append=console=ttyS0 quiet vmm.dirty=8' \
	>/dev/null 2>"$T/start.err" || fail "start: $(cat "$T/start.err")"
wait_boots sk 1
expect_rc 0 wait sk agent --timeout 60

# Starts a save into FILE at 1 MiB/s, waits until it wrote 256 KiB of the guest, then kills the
# supervisor (kill -9) and (unless a second argument says not to) attaches another; the save's
# client loses its supervisor.
save_then_kill() {
	local sup qemu i
	sup=$(state_field sk supervisor_pid)
	qemu=$(state_field sk qemu_pid)
	"$VMM" save sk "$1" --bandwidth 1M >"$T/save.out" 2>"$T/save.err" &
	saver=$!
	for ((i = 0; i < 1200; i++)); do
		[ "$(stat -c %s "$1.partial" 2>/dev/null || echo 0)" -gt 262144 ] && break
		kill -0 "$saver" 2>/dev/null || fail "the save ended: $(cat "$T/save.err")"
		sleep 0.05
	done
	[ -f "$VMM_RUN_DIR/sk/save.json" ] || fail "no save.json: $(ls "$VMM_RUN_DIR/sk")"
	keeper=$(sed -n 's/.*"keeper": *\([0-9]*\).*/\1/p' "$VMM_RUN_DIR/sk/save.json")
	[ -n "$keeper" ] && [ "$keeper" != 0 ] && kill -0 "$keeper" || fail "no keeper of the pipe: $(cat "$VMM_RUN_DIR/sk/save.json")"
	kill -9 "$sup"
	assert_gone "$sup"
	wait "$saver" && fail "the save's client succeeded without its supervisor: $(cat "$T/save.err")"
	kill -0 "$qemu" || fail "QEMU ended with its supervisor"
	[ -e "$1.partial" ] || fail "the partial file went with the supervisor"
	[ -z "${2:-}" ] || return 0
	expect_rc 0 attach sk
	[ "$(state_field sk qemu_pid)" = "$qemu" ] || fail "attach started another QEMU"
	wait_for "$VMM_RUN_DIR/sk/vmm.log" "the save to $1 its supervisor left is active in QEMU" 30
}

before=$(guest_uptime sk)
save_then_kill "$T/done"
expect_rc 0 qmp sk migrate-set-parameters max-bandwidth=107374182400
for ((i = 0; i < 1200; i++)); do
	rc=0
	"$VMM" status sk --json >"$T/status.json" 2>/dev/null || rc=$?
	[ "$rc" = 3 ] && break
	sleep 0.05
done
[ "$(json_field last_end <"$T/status.json")" = saved ] || fail "status after the resumed save: $(cat "$T/status.json")"
json_field last_end_message <"$T/status.json" | grep -q "saved to $T/done" || fail "status: $(cat "$T/status.json")"
[ "$(head -n 1 "$T/done")" = "vmm-saved-vm 1" ] && [ ! -e "$T/done.partial" ] || fail "the save file: $(ls "$T")"
assert_clean_rundir sk
assert_gone "$keeper"
pass "killed mid-way, the save goes on under the next supervisor and completes: $(json_field last_end_message <"$T/status.json")"

expect_rc 0 restore "$T/done"
after=$(guest_uptime sk)
awk -v a="$before" -v b="$after" 'BEGIN { exit !(b >= a) }' || fail "uptime went from $before to $after s: the guest rebooted"
[ "$(grep -c 'vmm-guest: ready' "$VMM_RUN_DIR/sk/console.log")" = 1 ] || fail "the guest booted again"
expect_rc 0 agent sk exec echo alive
grep -q alive "$T/last.out" || fail "the guest agent after the restore: $(cat "$T/last.out")"
pass "the file restores: uptime $before s → $after s, no second boot, the agent answers"

save_then_kill "$T/cancelled"
expect_rc 0 save sk --cancel
for ((i = 0; i < 600; i++)); do
	[ ! -e "$VMM_RUN_DIR/sk/save.json" ] && break
	sleep 0.05
done
[ ! -e "$T/cancelled.partial" ] && [ ! -e "$T/cancelled" ] && [ ! -e "$VMM_RUN_DIR/sk/save.json" ] ||
	fail "the cancelled save left: $(ls "$T" "$VMM_RUN_DIR/sk")"
assert_gone "$keeper"
expect_rc 0 status sk --json
[ "$(json_field state <"$T/last.out")" = running ] || fail "status after the cancel: $(cat "$T/last.out")"
expect_rc 0 qmp sk query-status
[ "$(json_field status <"$T/last.out")" = running ] || fail "QEMU after the cancel: $(cat "$T/last.out")"
expect_rc 0 agent sk exec echo alive
grep -q alive "$T/last.out" || fail "the guest agent after the cancel: $(cat "$T/last.out")"
pass "killed mid-way again and attached, vmm save --cancel leaves no file and the guest runs on"

# Cancelled on QEMU's own monitor while no supervisor runs (migrate_cancel: QEMU stays "cancelling"
# while it cannot write into the full pipe), then attached: the stream is drained until QEMU has
# cancelled, the partial file goes, the guest runs on.
save_then_kill "$T/qemu-cancelled" noattach
mon=$VMM_RUN_DIR/sk/monitor.sock
python3 "$SRCDIR/tests/integration/monitor-qmp.py" "$mon" migrate_cancel >/dev/null || fail "migrate_cancel"
st=$(python3 "$SRCDIR/tests/integration/monitor-qmp.py" "$mon" query-migrate | json_field status)
[ "$st" = cancelling ] || [ "$st" = cancelled ] || fail "QEMU's save after migrate_cancel: $st"
expect_rc 0 attach sk
wait_for "$VMM_RUN_DIR/sk/vmm.log" "save failed: QEMU's migration into the file is cancelled|save failed: the migration cancelled" 30
[ ! -e "$T/qemu-cancelled.partial" ] && [ ! -e "$T/qemu-cancelled" ] && [ ! -e "$VMM_RUN_DIR/sk/save.json" ] ||
	fail "the save cancelled in QEMU left: $(ls "$T" "$VMM_RUN_DIR/sk")"
assert_gone "$keeper"
expect_rc 0 qmp sk query-status
[ "$(json_field status <"$T/last.out")" = running ] || fail "QEMU after its own cancel: $(cat "$T/last.out")"
expect_rc 0 agent sk exec echo alive
grep -q alive "$T/last.out" || fail "the guest agent after QEMU's own cancel: $(cat "$T/last.out")"
pass "cancelled in QEMU ($st) while no supervisor ran: the attached one removes the partial file, the guest runs on"

expect_rc 0 stop sk
assert_clean_rundir sk
