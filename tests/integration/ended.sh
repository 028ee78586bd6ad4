#!/bin/bash
# What an ended VM leaves behind: vmm status tells how and when it ended (powered off,
# forced off, crashed with its signal, failed to start with QEMU's message), with the last
# console lines and QEMU's last lines of output, and exits 3, until the VM starts again;
# vmm list --all shows ended VMs; a VM vmm knows nothing of is still exit 1.
. "$(dirname "$0")/lib.sh"

# Prints a Python expression of the JSON object read from stdin (as j).
json_eval() { python3 -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

start_detached e1 "$PROFILES/guest.json"
qemu=$(state_field e1 qemu_pid)
expect_rc 0 stop e1
expect_rc 3 status e1
grep -q "^state:      ended (powered-off) at 20[0-9-]* [0-9:]*, [0-9]* s ago$" "$T/last.out" &&
	grep -q "^how:        guest powered off$" "$T/last.out" &&
	grep -q "^qemu:       [0-9.]* pid $qemu (tcg), ran [0-9]* s$" "$T/last.out" &&
	grep -q "^exit:       status 0$" "$T/last.out" &&
	grep -q "^  | vmm-guest: ready" "$T/last.out" || fail "status of a powered-off VM: $(cat "$T/last.out")"
expect_rc 3 status e1 --json
[ "$(json_eval '(j["state"], j["last_end"], j["exit_code"], j["qemu_pid"])' <"$T/last.out")" = "('ended', 'powered-off', 0, $qemu)" ] ||
	fail "status --json: $(cat "$T/last.out")"
[ "$(json_eval 'abs(j["ended"] - __import__("time").time()) < 120' <"$T/last.out")" = True ] || fail "ended: $(cat "$T/last.out")"
# The console log's last line, without terminal escapes and carriage returns.
last=$(python3 -c 'import re,sys; print([l for l in (re.sub(r"\x1b\[[0-?]*[@-~]|\r", "", l) for l in open(sys.argv[1], errors="replace").read().split("\n")) if l][-1])' "$VMM_RUN_DIR/e1/console.log")
[ "$(json_eval 'j["console"][-1]' <"$T/last.out")" = "$last" ] || fail "the last console line is not '$last': $(cat "$T/last.out")"
assert_clean_rundir e1
pass "a powered-off VM: status says how and when, with the last console lines (exit 3)"

start_detached e2 "$PROFILES/guest.json"
qemu=$(state_field e2 qemu_pid)
sup=$(state_field e2 supervisor_pid)
kill -9 "$qemu"
assert_gone "$sup"
expect_rc 3 status e2 --json
[ "$(json_eval '(j["last_end"], j["signal"], j["last_end_message"])' <"$T/last.out")" = "('crashed', 9, 'QEMU crashed: killed by SIGKILL')" ] ||
	fail "status --json of a crashed VM: $(cat "$T/last.out")"
expect_rc 3 status e2
grep -q "^exit:       killed by signal 9 (SIGKILL)$" "$T/last.out" || fail "status of a crashed VM: $(cat "$T/last.out")"
pass "a crashed VM: status says it was killed by SIGKILL"

start_detached e3 "$PROFILES/guest.json"
expect_rc 3 stop e3 --timeout 0
expect_rc 3 status e3 --json
[ "$(json_eval 'j["last_end"]' <"$T/last.out")" = forced-off ] || fail "status of a forced-off VM: $(cat "$T/last.out")"
expect_rc 2 start "$PROFILES/guest.json" --name e4 --set 'qemu.extra_args=["-nonsense"]'
expect_rc 3 status e4
grep -q "^how:        failed to start: qemu-system-x86_64: -nonsense: invalid option$" "$T/last.out" &&
	grep -q "^qemu output (last lines):$" "$T/last.out" &&
	grep -q "^  | qemu-system-x86_64: -nonsense: invalid option$" "$T/last.out" &&
	grep -q "^exit:       status 1$" "$T/last.out" || fail "status of a VM that failed to start: $(cat "$T/last.out")"
pass "forced off, and failed to start with QEMU's own lines"

expect_rc 0 list
grep -q "^e[1-4] " "$T/last.out" && fail "vmm list shows ended VMs: $(cat "$T/last.out")"
expect_rc 0 list --all
grep -Eq "^e1 +powered-off +- +tcg" "$T/last.out" && grep -Eq "^e2 +crashed +- " "$T/last.out" &&
	grep -Eq "^e3 +forced-off +- " "$T/last.out" && grep -Eq "^e4 +start-failed +- " "$T/last.out" ||
	fail "vmm list --all: $(cat "$T/last.out")"
expect_rc 0 list --all --json
[ "$(json_eval '[v["state"] for v in j]' <"$T/last.out")" = "['ended', 'ended', 'ended', 'ended']" ] ||
	fail "vmm list --all --json: $(cat "$T/last.out")"
pass "vmm list --all shows how each ended VM ended; vmm list does not"

start_detached e1 "$PROFILES/guest.json"
[ ! -e "$VMM_RUN_DIR/e1/ended.json" ] || fail "the record stayed after a new start"
expect_rc 0 status e1 --json
[ "$(json_field state <"$T/last.out")" = running ] || fail "status after a new start: $(cat "$T/last.out")"
expect_rc 0 kill e1
expect_rc 3 status e1 --json
[ "$(json_eval '(j["last_end"], j["last_end_message"])' <"$T/last.out")" = "('forced-off', 'forced off: killed (vmm kill)')" ] ||
	fail "status after kill: $(cat "$T/last.out")"
expect_rc 1 status nosuch
grep -q "no VM named 'nosuch' is running" "$T/last.err" || fail "status of an unknown VM: $(cat "$T/last.err")"
pass "a new start replaces the record; an unknown VM is exit 1"
