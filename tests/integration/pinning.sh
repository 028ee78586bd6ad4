#!/bin/bash
# vmm pins vCPUs, an iothread and the emulator threads after launch, from the thread ids
# QMP reports; each thread's affinity is read back from /proc; a hot-added vCPU is pinned
# per cpu.pin as it comes. Also: an include plus
# --set compose the profile.
. "$(dirname "$0")/lib.sh"

truncate -s 64M "$T/scratch.raw"
"$VMM" start "$PROFILES/guest-pinned.json" --name pin1 --set "disks[scratch].file=$T/scratch.raw" \
	>"$T/start.out" 2>"$T/start.err" || fail "start: $(cat "$T/start.err")"
qemu=$(state_field pin1 qemu_pid)
expect_rc 0 status pin1 --json
[ "$(json_field pinned <"$T/last.out")" = True ] || [ "$(json_field pinned <"$T/last.out")" = true ] ||
	fail "status does not say pinned: $(cat "$T/last.out")"

affinity() { sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "/proc/$qemu/task/$1/status"; }
expect_rc 0 qmp pin1 query-cpus-fast
mapfile -t vcpu_tids < <(python3 -c 'import json,sys; [print(c["thread-id"]) for c in sorted(json.load(sys.stdin), key=lambda c: c["cpu-index"])]' <"$T/last.out")
[ "${#vcpu_tids[@]}" = 2 ] || fail "expected 2 vCPUs: $(cat "$T/last.out")"
[ "$(affinity "${vcpu_tids[0]}")" = 1 ] || fail "vCPU 0 runs on $(affinity "${vcpu_tids[0]}"), expected 1"
[ "$(affinity "${vcpu_tids[1]}")" = 0 ] || fail "vCPU 1 runs on $(affinity "${vcpu_tids[1]}"), expected 0"
expect_rc 0 qmp pin1 query-iothreads
io=$(python3 -c 'import json,sys; print([t["thread-id"] for t in json.load(sys.stdin) if t["id"] == "io-scratch"][0])' <"$T/last.out")
[ "$(affinity "$io")" = 1 ] || fail "iothread runs on $(affinity "$io"), expected 1"
others=0
for task in /proc/"$qemu"/task/*; do
	tid=${task##*/}
	[[ " ${vcpu_tids[*]} $io " == *" $tid "* ]] && continue
	# Thread-pool workers come and go, inheriting the affinity of whoever started them.
	[ "$(cat "$task/comm")" = worker ] && continue
	[ "$(affinity "$tid")" = 0 ] || fail "emulator thread $tid ($(cat "$task/comm")) runs on $(affinity "$tid"), expected 0"
	others=$((others + 1))
done
[ "$others" -ge 2 ] || fail "found only $others emulator threads"
pass "vCPUs pinned 1,0; iothread on 1; the $others other QEMU threads on 0 (read back from /proc)"

expect_rc 0 qmp pin1 qom-get path=/machine/peripheral/scratch-scsi property=iothread
grep -q 'io-scratch' "$T/last.out" || fail "the scsi controller does not use its iothread: $(cat "$T/last.out")"
pass "the included profile, the --set disk file and the disk's own iothread all reached QEMU"
expect_rc 0 kill pin1

# A hot-added vCPU is pinned as cpu.pin says (a host CPU for each vCPU hotplug.max_cpus allows).
"$VMM" start "$PROFILES/guest.json" --name pin3 --set hotplug.max_cpus=2 --set 'cpu.pin=[1,0]' \
	>"$T/start.out" 2>"$T/start.err" || fail "start pin3: $(cat "$T/start.err")"
qemu=$(state_field pin3 qemu_pid)
expect_rc 0 set pin3 cpus=2
expect_rc 0 qmp pin3 query-cpus-fast
tid=$(python3 -c 'import json,sys; print([c["thread-id"] for c in json.load(sys.stdin) if c["qom-path"] == "/machine/peripheral/vcpu1"][0])' <"$T/last.out")
first=$(python3 -c 'import json,sys; print([c["thread-id"] for c in json.load(sys.stdin) if c["cpu-index"] == 0][0])' <"$T/last.out")
[ "$(affinity "$tid")/$(affinity "$first")" = 0/1 ] || fail "hot-added vCPU 1 runs on $(affinity "$tid"), vCPU 0 on $(affinity "$first"), expected 0 and 1"
grep -q "'vcpu1' pinned to host CPU 0" "$VMM_RUN_DIR/pin3/vmm.log" || fail "vmm.log: $(cat "$VMM_RUN_DIR/pin3/vmm.log")"
expect_rc 0 kill pin3
expect_rc 1 cmdline "$PROFILES/guest.json" --set hotplug.max_cpus=4 --set 'cpu.pin=[1,0]'
grep -q "^vmm: --set: cpu.pin: pins 2 vCPUs, but the VM boots with 1 (sockets x cores x threads) and may have 4 (hotplug.max_cpus): pin 1 or 4$" "$T/last.err" ||
	fail "pinning some of the hot-pluggable vCPUs: $(cat "$T/last.err")"
pass "a vCPU added by vmm set cpus=N is pinned to its host CPU of cpu.pin (read back from /proc); a pin list between the boot and max vCPUs is refused"

expect_rc 1 cmdline "$PROFILES/guest-pinned.json" --set 'cpu.pin=[0,1,1]'
grep -q "^vmm: --set: cpu.pin: pins 3 vCPUs, but the VM has 2 (sockets x cores x threads)$" "$T/last.err" ||
	fail "pinning more vCPUs: $(cat "$T/last.err")"
expect_rc 0 cmdline "$PROFILES/guest-pinned.json" --set cpu.emulator_pin=0-8191
grep -q "^vmm: guest-pinned: warning: --set: cpu.emulator_pin: CPU [0-9]* does not exist on this host (it has $(nproc --all)[:)].*vmm start refuses this here" "$T/last.err" ||
	fail "cmdline of CPUs the host lacks: $(cat "$T/last.err")"
expect_rc 2 start "$PROFILES/guest-pinned.json" --name pin2 --set cpu.emulator_pin=0-8191
grep -q "^vmm: pin2: failed to start: --set: cpu.emulator_pin: CPU [0-9]* does not exist on this host" "$T/last.err" ||
	fail "start on CPUs the host lacks: $(cat "$T/last.err")"
[ ! -e "$VMM_RUN_DIR/pin2" ] || fail "a refused start left $VMM_RUN_DIR/pin2"
pass "pinning more vCPUs than the VM has is refused; CPUs the host lacks: cmdline explains, start refuses"
