#!/bin/bash
# A guest kernel panic is visible: the test guest loads the pvpanic driver, and `echo c >
# /proc/sysrq-trigger` (typed on its console, or run by its init under vmm run) panics it.
# QEMU reports GUEST_PANICKED and shuts the VM down with reason guest-panic, which only a
# panic causes: vmm run ends as a crash (exit 4) with that reason; with lifecycle.restart
# on-crash the supervisor starts the VM again; with "panic": false QEMU never learns of it.
. "$(dirname "$0")/lib.sh"

# Panics guest NAME through its serial console (once its shell prompts: input typed before
# is lost) and waits for the panic message.
panic_guest() {
	wait_for "$VMM_RUN_DIR/$1/console.log" '^/ # ' 30
	python3 "$SRCDIR/tests/integration/console.py" "$VMM" "$1" 'echo c > /proc/sysrq-trigger' \
		'Kernel panic - not syncing: sysrq triggered crash' 60 >"$T/$1.console" 2>&1 ||
		fail "$1: no panic on the console: $(cat "$T/$1.console")"
}

# vmm run's console takes no input: the guest's init panics itself once ready (vmm.sysrq=c).
sed 's/"console=ttyS0 quiet"/"console=ttyS0 quiet vmm.sysrq=c"/' "$PROFILES/guest.json" >"$T/panic.json"
start_vm panic "$T/panic.json"
wait_for "$T/panic.out" 'Kernel panic - not syncing: sysrq triggered crash' 60
wait_exit
[ "$RC" = 4 ] || fail "exit $RC, expected 4"
[ "$(tail -n1 "$T/panic.err")" = "vmm: panic: guest crashed: its kernel panicked (GUEST_PANICKED)" ] ||
	fail "verdict: $(tail -n1 "$T/panic.err")"
assert_clean_rundir panic
pass "vmm run: a guest kernel panic ends the VM as crashed (its kernel panicked), exit 4"

start_detached p1 "$PROFILES/guest-restart.json"
qemu=$(state_field p1 qemu_pid)
panic_guest p1
wait_for "$VMM_RUN_DIR/p1/vmm.log" "guest crashed: its kernel panicked \(GUEST_PANICKED\)" 10
wait_for "$VMM_RUN_DIR/p1/vmm.log" "restarting in" 5
wait_boots p1 2
[ "$(state_field p1 qemu_pid)" != "$qemu" ] || fail "no new QEMU after the panic"
expect_rc 0 status p1 --json
[ "$(json_field restarts <"$T/last.out")" = 1 ] || fail "status: $(cat "$T/last.out")"
[ "$(json_field last_end <"$T/last.out")" = crashed ] || fail "status: $(cat "$T/last.out")"
pass "a panic typed on the console: a crash (its kernel panicked), and on-crash restarts the guest"
expect_rc 0 kill p1
assert_clean_rundir p1

# GUEST_PANICKED itself, on a VM that stays (QEMU applies the last -action: panic=pause).
"$VMM" start "$PROFILES/guest.json" --name p3 --set 'qemu.extra_args=["-action", "panic=pause"]' >/dev/null \
	2>"$T/p3.err" || fail "start p3: $(cat "$T/p3.err")"
wait_for "$VMM_RUN_DIR/p3/console.log" '^/ # ' 60
"$VMM" events p3 --wait GUEST_PANICKED --timeout 120 >"$T/p3.events" 2>"$T/p3.events.err" &
events=$!
VMM_PIDS+=("$events")
sleep 0.5 # the client listens before the panic
python3 "$SRCDIR/tests/integration/console.py" "$VMM" p3 'echo c > /proc/sysrq-trigger' 'Kernel panic' 60 \
	>"$T/p3.console" 2>&1 || fail "p3: no panic on the console: $(cat "$T/p3.console")"
wait "$events" || fail "no GUEST_PANICKED: $(cat "$T/p3.events" "$T/p3.events.err")"
[ "$(json_field data <"$T/p3.events" | json_field action)" = pause ] || fail "GUEST_PANICKED: $(cat "$T/p3.events")"
expect_rc 0 qmp p3 query-status
[ "$(json_field status <"$T/last.out")" = guest-panicked ] || fail "query-status: $(cat "$T/last.out")"
expect_rc 0 kill p3
pass "GUEST_PANICKED reaches vmm events; QEMU's run state is guest-panicked"

# "panic": false: no pvpanic device, so QEMU never learns of the panic and the VM runs on.
"$VMM" cmdline "$PROFILES/guest.json" --set panic=false >"$T/nopanic.argv" || fail "cmdline panic=false"
! grep -q pvpanic "$T/nopanic.argv" || fail "panic=false still has a pvpanic device: $(cat "$T/nopanic.argv")"
"$VMM" start "$PROFILES/guest.json" --name p2 --set panic=false >/dev/null 2>"$T/p2.err" || fail "start p2: $(cat "$T/p2.err")"
wait_for "$VMM_RUN_DIR/p2/console.log" '^/ # ' 60
python3 "$SRCDIR/tests/integration/console.py" "$VMM" p2 'echo c > /proc/sysrq-trigger' 'Kernel panic' 60 \
	>"$T/p2.console" 2>&1 || fail "p2: no panic on the console: $(cat "$T/p2.console")"
sleep 1
expect_rc 0 status p2 --json
[ "$(json_field state <"$T/last.out")" = running ] || fail "status: $(cat "$T/last.out")"
expect_rc 0 kill p2
pass "\"panic\": false: no pvpanic device; the panicked guest's VM runs on"
