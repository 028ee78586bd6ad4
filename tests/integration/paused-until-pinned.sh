#!/bin/bash
# The guest never runs unpinned: a pinning profile starts QEMU paused (-S), the supervisor
# pins the threads from the ids QMP reports while QEMU is in prelaunch, then sends cont; vmm
# start returns once the guest runs. A supervisor that reattaches to a VM the user paused
# leaves it paused; vmm run does the same sequence in the foreground.
. "$(dirname "$0")/lib.sh"

truncate -s 64M "$T/scratch.raw"
"$VMM" start "$PROFILES/guest-pinned.json" --name pp --set "disks[scratch].file=$T/scratch.raw" \
	>"$T/start.out" 2>"$T/start.err" || fail "start: $(cat "$T/start.err")"
expect_rc 0 status pp --json
[ "$(json_field state <"$T/last.out")" = running ] || fail "not running once vmm start returned: $(cat "$T/last.out")"
qemu=$(state_field pp qemu_pid)
tr '\0' '\n' <"/proc/$qemu/cmdline" | grep -qx -- -S || fail "QEMU's argv has no -S: $(tr '\0' ' ' <"/proc/$qemu/cmdline")"
grep -q "threads pinned while QEMU was prelaunch; continuing" "$VMM_RUN_DIR/pp/vmm.log" "$T/start.err" ||
	fail "the supervisor did not pin in prelaunch: $(cat "$VMM_RUN_DIR/pp/vmm.log")"
affinity() { sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$qemu/task/$1/status"; }
expect_rc 0 qmp pp query-cpus-fast
mapfile -t tids < <(python3 -c 'import json,sys; [print(c["thread-id"]) for c in sorted(json.load(sys.stdin), key=lambda c: c["cpu-index"])]' <"$T/last.out")
[ "$(affinity "${tids[0]}"),$(affinity "${tids[1]}")" = 1,0 ] ||
	fail "vCPUs run on $(affinity "${tids[0]}"),$(affinity "${tids[1]}"), expected 1,0"
wait_for "$VMM_RUN_DIR/pp/console.log" 'vmm-guest: ready' 60
pass "QEMU started with -S, pinned in prelaunch (vCPUs on 1,0), then cont: the guest booted"

expect_rc 0 pause pp
sup=$(state_field pp supervisor_pid)
kill -9 "$sup"
assert_gone "$sup"
expect_rc 0 attach pp
expect_rc 0 status pp --json
[ "$(json_field state <"$T/last.out")" = paused ] || fail "reattach changed the paused VM: $(cat "$T/last.out")"
[ "$(state_field pp qemu_pid)" = "$qemu" ] || fail "attach started another QEMU"
expect_rc 0 resume pp
expect_rc 0 status pp --json
[ "$(json_field state <"$T/last.out")" = running ] || fail "resume after reattach: $(cat "$T/last.out")"
pass "a reattached supervisor re-pins but does not cont a VM the user paused"
expect_rc 0 kill pp

"$VMM" run "$PROFILES/guest-pinned.json" --name pr --set "disks[scratch].file=$T/scratch.raw" >"$T/run.out" 2>"$T/run.err" &
VMM_PIDS+=($!)
wait_for "$VMM_RUN_DIR/pr/console.log" 'vmm-guest: ready' 60
grep -q "threads pinned while QEMU was prelaunch; continuing" "$T/run.err" || fail "vmm run: $(cat "$T/run.err")"
expect_rc 0 kill pr
pass "vmm run pins in prelaunch too, and the guest boots"

# cpu.pin "auto" on this host: one vCPU on a whole core that is not the host's first (CPU 0's),
# QEMU's other threads on what is left (here: the first core, when the host has two).
if [ "$(cat /sys/devices/system/cpu/cpu1/topology/thread_siblings_list 2>/dev/null)" = 1 ] && [ "$(nproc --all)" = 2 ]; then
	"$VMM" start "$PROFILES/guest.json" --name pa --set 'cpu.pin="auto"' >"$T/auto.out" 2>"$T/auto.err" ||
		fail "start with auto pins: $(cat "$T/auto.err")"
	qemu=$(state_field pa qemu_pid)
	expect_rc 0 qmp pa query-cpus-fast
	tid=$(python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["thread-id"])' <"$T/last.out")
	[ "$(affinity "$tid")" = 1 ] || fail "auto put vCPU 0 on $(affinity "$tid"), expected 1"
	[ "$(affinity "$qemu")" = 0 ] || fail "auto put QEMU's main thread on $(affinity "$qemu"), expected 0"
	wait_for "$VMM_RUN_DIR/pa/console.log" 'vmm-guest: ready' 60
	expect_rc 0 kill pa
	pass "cpu.pin \"auto\" on a 2-core host: vCPU 0 on CPU 1, the emulator threads on CPU 0"
fi
