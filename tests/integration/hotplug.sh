#!/bin/bash
# Hot-plugging into a running guest: vmm add puts a disk (virtio-blk; scsi with an iothread)
# or a NIC on a free hotplug root port and the guest sees it (its serial, a link); vmm remove
# takes it away once the guest lets it go and QEMU keeps nothing of it; vmm devices lists the
# profile's devices and the hot-added ones. Bad input (an unknown key, no free root port, a
# duplicate id, a boot disk, a missing file, a bus that cannot be hot-added) is refused and
# changes nothing in QEMU (block nodes, iothreads, devices); an add that fails in QEMU
# part-way leaves nothing behind; a guest that does not release a device (paused) fails the
# removal, which ends when the guest lets go. vmm set cpus=N adds a vCPU (up to
# hotplug.max_cpus) and, on QEMU 10.0, removes it (under TCG, none can be added after that, also
# for a reattached supervisor: QEMU's TCG would crash; 7.2's TCG crashes after a removal: refused);
# vmm set memory=SIZE grows and shrinks the guest's memory through virtio-mem (when the test
# guest has its driver). A supervisor reattached after kill -9 knows the hot-added devices. HOTPLUG_CYCLES (200) add/remove cycles of a disk
# leave QEMU's and the supervisor's descriptors and memory flat.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data
CYCLES=${HOTPLUG_CYCLES:-200}
# Under ASan, freed memory is held back in a quarantine: RSS would grow without a leak.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0

truncate -s 16M "$T/boot1.raw" "$T/data1.raw" "$T/data2.raw" "$T/c1.raw"
"$VMM" start "$PROFILES/guest.json" --name hp --set hotplug.root_ports=2 --set hotplug.max_cpus=2 \
	--set hotplug.max_memory=512M --set hotplug.mem_slots=1 --set 'nics=[{"id": "net0"}]' \
	--set 'boot.append=console=ttyS0 quiet memhp_default_state=online' \
	--set "disks=[{\"id\": \"boot1\", \"file\": \"$T/boot1.raw\", \"format\": \"raw\"}]" \
	>/dev/null 2>"$T/start.err" || fail "start: $(cat "$T/start.err")"
wait_boots hp 1 shell

# Runs COMMAND in the guest and prints its output between "<" and ">" (one line).
guest() {
	python3 "$SRCDIR/tests/integration/console.py" "$VMM" hp "echo \"<\"\$($1)\">\"" '<[^<>$]*>' | sed -e 's/[<>]//g' -e 's/^ *//' -e 's/ *$//'
}

# Runs COMMAND in the guest once PATH exists there (up to 10 s: a device takes a moment to show).
guest_after() {
	guest "for i in \$(seq 100); do [ -e $1 ] && break; sleep 0.1; done; $2"
}

# Prints the block nodes, iothreads and devices QEMU has, one per line, sorted.
qemu_objects() {
	local q
	for q in query-named-block-nodes query-iothreads "qom-list path=/machine/peripheral"; do
		# shellcheck disable=SC2086
		"$VMM" qmp hp $q || fail "vmm qmp hp $q"
	done | grep -Eo '"(node-name|id|name)": "[^"]*"' | sort
}

# Prints field KEY of device ID in vmm devices --json ("" when there is no such device).
device_field() {
	"$VMM" devices hp --json | python3 -c 'import json,sys
for d in json.load(sys.stdin):
    if d["id"] == sys.argv[1]: print(d.get(sys.argv[2], ""))' "$1" "$2"
}

# Expects vmm add/remove ARGS... to fail with MESSAGE and QEMU to have the objects it had.
refused() {
	local message=$1
	shift
	expect_rc 1 "$@"
	grep -qF -- "$message" "$T/last.err" || fail "vmm $*: expected '$message', got: $(cat "$T/last.err")"
	[ "$(qemu_objects)" = "$before" ] || fail "vmm $* changed QEMU: $(diff <(echo "$before") <(qemu_objects))"
}

before=$(qemu_objects)
[ "$(device_field boot1 port)/$(device_field boot1 hotplugged)" = rp-disk-boot1/False ] ||
	fail "vmm devices: $("$VMM" devices hp --json)"
[ "$(guest 'ls /sys/block')" = vda ] || fail "the guest has disks $(guest 'ls /sys/block') at boot"
pass "vmm devices lists the profile's disk on its root port"

expect_rc 0 add hp disk id=data1 file="$T/data1.raw" format=raw
grep -q "disk 'data1' added on rp-hotplug-0" "$T/last.out" || fail "add: $(cat "$T/last.out")"
[ "$(device_field data1 state)/$(device_field data1 port)" = present/rp-hotplug-0 ] || fail "devices: $("$VMM" devices hp)"
[ "$(guest_after /sys/block/vdb 'cat /sys/block/vdb/serial')" = data1 ] || fail "the guest has no vdb with serial data1: $(guest 'ls /sys/block')"
expect_rc 0 remove hp data1
[ "$(guest 'ls /sys/block')" = vda ] || fail "the guest still has $(guest 'ls /sys/block') after the removal"
[ "$(qemu_objects)" = "$before" ] || fail "QEMU kept something of data1: $(diff <(echo "$before") <(qemu_objects))"
[ -z "$(device_field data1 state)" ] || fail "data1 is still listed"
pass "a hot-added virtio-blk disk shows in the guest (vdb, serial data1) and is gone after vmm remove"

expect_rc 0 add hp disk --json "{\"id\": \"data2\", \"file\": \"$T/data2.raw\", \"format\": \"raw\", \"bus\": \"scsi\"}" iothread=true
expect_rc 0 qmp hp query-iothreads
grep -q '"id": "io-data2"' "$T/last.out" || fail "no iothread io-data2: $(cat "$T/last.out")"
[ "$(guest_after /sys/block/sda 'cat /sys/block/sda/device/model')" = "QEMU HARDDISK" ] || fail "the guest has no scsi disk sda"
expect_rc 0 remove hp data2
[ "$(qemu_objects)" = "$before" ] || fail "QEMU kept something of data2: $(diff <(echo "$before") <(qemu_objects))"
pass "a scsi disk with an iothread (--json and KEY=VALUE) comes and goes with its controller and iothread"

expect_rc 0 add hp disk id=data2 file="$T/data2.raw" format=raw
expect_rc 0 qmp hp device_del id=data2
for ((i = 0; i < 100; i++)); do
	"$VMM" qmp hp qom-list path=/machine/peripheral | grep -q '"data2"' || break
	sleep 0.1
done
expect_rc 0 remove hp data2
[ "$(qemu_objects)" = "$before" ] || fail "QEMU kept something of data2: $(diff <(echo "$before") <(qemu_objects))"
pass "a device removed behind the supervisor's back (device_del through qmp.sock) is removed all the same"

expect_rc 0 add hp nic id=net1
mac=$(device_field net1 mac)
[ "$(guest_after /sys/class/net/eth1 'ip link set eth1 up; cat /sys/class/net/eth1/address /sys/class/net/eth1/carrier')" = "$mac 1" ] ||
	fail "the guest's eth1 is not $mac with a link: $(guest 'ls /sys/class/net')"
pass "a hot-added NIC is eth1 in the guest, with its MAC ($mac) and a link"

expect_rc 0 add hp disk id=data1 file="$T/data1.raw" format=raw
before=$(qemu_objects)
refused "no free root port" add hp disk id=data2 file="$T/data2.raw" format=raw
refused "disk: cahce: unknown key (did you mean 'cache'?)" add hp disk id=x file="$T/data2.raw" format=raw cahce=none
refused "nic: modle: unknown key" add hp nic id=net2 modle=e1000
expect_rc 0 remove hp net1
before=$(qemu_objects)
refused "the VM already has a disk 'boot1' (in its profile)" add hp disk id=boot1 file="$T/data2.raw" format=raw
refused "the VM already has a disk 'data1' (hot-added)" add hp nic id=data1
refused "'boot1' is a disk of the VM's profile" remove hp boot1
refused "the VM has no hot-added device 'nope'" remove hp nope
refused "cannot use '$T/nope.raw': No such file or directory" add hp disk id=x file="$T/nope.raw" format=raw
refused "disk: bus: 'sata' cannot be hot-added" add hp disk id=x file="$T/data2.raw" format=raw bus=sata
refused "disk: create: a hot-added disk's image must exist" add hp disk id=x file="$T/new.qcow2" format=qcow2 create=1G
refused "'data1' is already the serial of disk 'data1'" add hp disk id=x file="$T/data2.raw" format=raw serial=data1
pass "bad input is refused and changes nothing in QEMU"

refused "cannot add 'x': Image is not in qcow2 format (blockdev-add of 'x-fmt'); nothing of it is left" \
	add hp disk id=x file="$T/data2.raw" format=qcow2
refused "cannot add 'panic0': Duplicate device ID 'panic0' (device_add of 'panic0'); nothing of it is left" \
	add hp disk id=panic0 file="$T/data2.raw" format=raw iothread=true
[ -z "$(device_field x state)$(device_field panic0 state)" ] || fail "a failed add is listed: $("$VMM" devices hp)"
pass "an add that fails in QEMU part-way (blockdev-add, device_add) undoes what it did"

sup=$(state_field hp supervisor_pid) port=$(device_field data1 port)
kill -9 "$sup"
assert_gone "$sup"
expect_rc 0 attach hp
[ "$(device_field data1 state)/$(device_field data1 port)" = "present/$port" ] ||
	fail "the reattached supervisor does not know data1: $("$VMM" devices hp)"
pass "a supervisor that reattaches knows the hot-added devices (hotplug.json)"

expect_rc 0 pause hp
refused "the guest did not release 'data1' within 10 s: is ACPI/PCIe hotplug enabled in it?" remove hp data1
[ "$(device_field data1 state)" = removing ] || fail "data1 is not listed as removing: $("$VMM" devices hp)"
expect_rc 0 resume hp
for ((i = 0; i < 100; i++)); do
	[ -z "$(device_field data1 state)" ] && break
	sleep 0.1
done
[ -z "$(device_field data1 state)" ] || fail "data1 is still listed after the guest resumed: $("$VMM" devices hp)"
[ "$(qemu_objects)" = "$(grep -v data1 <<<"$before")" ] || fail "QEMU kept something of data1: $(qemu_objects)"
pass "a guest that does not release a device fails the removal; the device stays 'removing' until it does"

# Prints the descriptors and resident KiB of process PID; for QEMU (qemu), its own memory: not
# the guest's RAM (the mapping of memory.size) nor TCG's translated code (anonymous and
# executable), which grow with what the guest touches and runs, not with what QEMU keeps.
usage() {
	python3 - "$1" "${2:-}" $((256 * 1024)) <<'PY'
import os, sys
pid, qemu, ram = sys.argv[1], sys.argv[2] == "qemu", int(sys.argv[3])
rss, skip, anon_exec = 0, False, False
for line in open(f"/proc/{pid}/smaps"):
    f = line.split()
    if not f[0].endswith(":"):
        anon_exec = "x" in f[1] and f[4] == "0"
    elif f[0] == "Size:":
        skip = qemu and (anon_exec or int(f[1]) == ram)
    elif f[0] == "Rss:" and not skip:
        rss += int(f[1])
print(len(os.listdir(f"/proc/{pid}/fd")), rss)
PY
}
qemu=$(state_field hp qemu_pid) sup=$(state_field hp supervisor_pid)
cycle() {
	"$VMM" add hp disk id=c1 file="$T/c1.raw" format=raw >/dev/null 2>"$T/cycle.err" &&
		"$VMM" remove hp c1 2>"$T/cycle.err" || fail "cycle $i: $(cat "$T/cycle.err")"
}
for ((i = 0; i < 10; i++)); do cycle; done
read -r qemu_fds qemu_rss < <(usage "$qemu" qemu)
read -r sup_fds sup_rss < <(usage "$sup")
start=$(date +%s)
for ((i = 10; i < CYCLES; i++)); do cycle; done
read -r qemu_fds2 qemu_rss2 < <(usage "$qemu" qemu)
read -r sup_fds2 sup_rss2 < <(usage "$sup")
echo "# $CYCLES cycles in $(($(date +%s) - start)) s: QEMU $qemu_fds fds ${qemu_rss}k -> $qemu_fds2 fds ${qemu_rss2}k," \
	"supervisor $sup_fds fds ${sup_rss}k -> $sup_fds2 fds ${sup_rss2}k"
[ "$qemu_fds2" = "$qemu_fds" ] && [ "$sup_fds2" = "$sup_fds" ] || fail "descriptors grew over $CYCLES cycles"
# ASan's allocator grows for a while (no quarantine, still): LeakSanitizer checks the supervisor
# when it exits (assert_clean_rundir).
sup_limit=512
ldd "$VMM" | grep -q libasan && sup_limit=4096
[ $((qemu_rss2 - qemu_rss)) -lt 1024 ] && [ $((sup_rss2 - sup_rss)) -lt $sup_limit ] || fail "memory grew over $CYCLES cycles"
[ "$(qemu_objects)" = "$(grep -v data1 <<<"$before")" ] || fail "QEMU kept something of c1: $(qemu_objects)"
pass "$CYCLES add/remove cycles leave descriptors and memory flat"

expect_rc 0 set hp cpus=2
[ "$(cat "$T/last.out")" = "cpus: 2" ] || fail "set cpus=2: $(cat "$T/last.out")"
[ "$(device_field vcpu1 kind)/$(device_field vcpu1 state)" = cpu/present ] || fail "devices: $("$VMM" devices hp)"
[ "$(guest_after /sys/devices/system/cpu/cpu1 'echo 1 >/sys/devices/system/cpu/cpu1/online; cat /sys/devices/system/cpu/online')" = 0-1 ] ||
	fail "the guest does not run a second vCPU: $(guest 'ls /sys/devices/system/cpu')"
before=$(qemu_objects)
refused "cpus: expected 1 to 2" set hp cpus=3
[ "${VMM_TEST_QEMU:-}" = 10.0 ] || refused "vCPUs are not removed under TCG with QEMU 7.2" set hp cpus=1
pass "vmm set cpus=2 adds a vCPU the guest brings online; more than hotplug.max_cpus is refused"

refused "memory: expected a size from memory.size (256M) to hotplug.max_memory (512M), in steps of 2M" set hp memory=257M
refused "memory: expected a size" set hp memory=1G
if ! guest 'ls /sys/bus/virtio/drivers' | grep -qw virtio_mem; then
	echo "# SKIP memory: the test guest has no virtio_mem (rebuild it: tests/guest/build-guest.sh)"
else
	mem_total() { guest 'grep MemTotal /proc/meminfo' | awk '{print $2}'; }
	boot_kb=$(mem_total)
	expect_rc 0 set hp memory=384M
	[ "$(cat "$T/last.out")" = "memory: 384M" ] || fail "set memory=384M: $(cat "$T/last.out")"
	[ $(($(mem_total) - boot_kb)) = 131072 ] || fail "the guest has $(mem_total) kB, not $boot_kb + 128M"
	expect_rc 0 set hp memory=320M
	[ $(($(mem_total) - boot_kb)) = 65536 ] || fail "the guest has $(mem_total) kB, not $boot_kb + 64M"
	pass "vmm set memory=384M gives the guest 128M more through virtio-mem, memory=320M takes 64M back"
fi

# Removing the hot-added vCPU (QEMU 10.0: 7.2's TCG crashes at the power-off after one): the
# guest lets it go. Under TCG no vCPU can be plugged after that (QEMU crashes), which is
# refused, also by a supervisor reattached after kill -9.
if [ "${VMM_TEST_QEMU:-}" = 10.0 ]; then
	expect_rc 0 set hp cpus=1
	[ "$(cat "$T/last.out")" = "cpus: 1" ] || fail "set cpus=1: $(cat "$T/last.out")"
	[ -z "$(device_field vcpu1 kind)" ] || fail "vcpu1 is still listed: $("$VMM" devices hp)"
	[ "$(guest 'cat /sys/devices/system/cpu/online')" = 0 ] || fail "the guest still runs $(guest 'cat /sys/devices/system/cpu/online')"
	sup=$(state_field hp supervisor_pid)
	kill -9 "$sup"
	assert_gone "$sup"
	expect_rc 0 attach hp
	before=$(qemu_objects)
	refused "no vCPU can be added under TCG after one was removed" set hp cpus=2
	expect_rc 0 status hp --json
	[ "$(json_field state <"$T/last.out")" = running ] || fail "the VM is not running: $(cat "$T/last.out")"
	pass "vmm set cpus=1 removes the hot-added vCPU (the guest runs one); adding one again is refused under TCG"
fi

expect_rc 0 stop hp
assert_clean_rundir hp
pass "the VM stops cleanly"
