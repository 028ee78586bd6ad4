#!/bin/bash
# VFIO on a stand-in host (tests/vfio/fake-host.sh), the kernel's part played by
# tests/vfio/fakekernel.c: listing, group viability, host safety, the exact order of sysfs
# writes, the journal, rollback when a write fails half-way, restore after a crash, and
# bad input changing nothing; vmm add NAME vfio into a running QEMU: bound, then given back
# when QEMU cannot have the device, and refused before anything is written.
set -euo pipefail
: "${VMM:?}" "${SRCDIR:?}" "${FAKEKERNEL:?}"
T=$(mktemp -d /tmp/vmm-vfio.XXXXXX)
# A VM the test started (its QEMU's pid in its state file) is killed.
cleanup() {
	local f
	for f in "$T"/run/*/state.json; do
		[ -f "$f" ] && kill -9 "$(sed -n 's/.*"qemu_pid": *\([0-9]*\).*/\1/p' "$f")" 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok - $*"; }

bash "$SRCDIR/tests/vfio/fake-host.sh" "$T/host"
host=$(realpath "$T/host")
export VMM_SYSFS_ROOT=$host/sys VMM_PROC_ROOT=$host/proc VMM_DEV_ROOT=$host/dev VMM_RUN_DIR=$T/run
export FAKE_SYSFS=$host/sys FAKE_DEV=$host/dev FAKE_LOG=$T/writes.log
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
journal=$T/run/vfio-journal.json

# Runs vmm with the fake kernel; expects exit status $1; output in $T/out, $T/err.
v() {
	local want=$1 rc=0
	shift
	: >"$FAKE_LOG"
	LD_PRELOAD=$FAKEKERNEL "$VMM" "$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = "$want" ] || fail "vmm $* exited $rc, expected $want: $(cat "$T/err" "$T/out")"
}
# Writes $T/expected: the sysfs writes that bind the GPU (01:00.0) and its audio (01:00.1).
expect_gpu_bind_log() {
	printf '%s\n' "bus/pci/devices/0000:01:00.0/driver_override vfio-pci" "bus/pci/drivers/nouveau/unbind 0000:01:00.0" \
		"bus/pci/drivers_probe 0000:01:00.0" "bus/pci/devices/0000:01:00.1/driver_override vfio-pci" \
		"bus/pci/drivers/snd_hda_intel/unbind 0000:01:00.1" "bus/pci/drivers_probe 0000:01:00.1" >"$T/expected"
}
driver() { basename "$(readlink "$host/sys/bus/pci/devices/$1/driver" 2>/dev/null)" 2>/dev/null || echo none; }
override() { cat "$host/sys/bus/pci/devices/$1/driver_override"; }

v 0 vfio list
grep -q "^IOMMU group 1$" "$T/out" && grep -Eq "0000:01:00.0  10de:1b80 .*\[030000\]  nouveau" "$T/out" ||
	fail "list: $(cat "$T/out")"
v 0 vfio list --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [x["iommu_group"] for x in d if x["bdf"]=="0000:04:00.0"]==[4] and [x["boot_vga"] for x in d if x["bdf"]=="0000:04:00.0"]==[True]' "$T/out" ||
	fail "list --json"
VMM_SYSFS_ROOT=$SRCDIR/tests/lint/sys v 0 vfio list
grep -q "the IOMMU is off: .*intel_iommu=on" "$T/err" || fail "IOMMU off: $(cat "$T/err")"
pass "vfio list: devices by IOMMU group, names from pci.ids, driver, boot VGA; says when the IOMMU is off"

v 1 vfio check 01:00.0
grep -q "^refuse: 0000:01:00.1: it shares IOMMU group 1 with the devices asked for and still has its driver (snd_hda_intel)" "$T/out" ||
	fail "group: $(cat "$T/out")"
v 0 vfio check 01:00.0 01:00.1
[ "$(tail -n1 "$T/out")" = viable ] || fail "pair: $(cat "$T/out")"
v 1 vfio check --force 02:00.0
grep -q "^refuse: 0000:02:00.0: it holds /dev/nvme0n1p1, mounted on /$" "$T/out" || fail "root disk: $(cat "$T/out")"
v 1 vfio check 03:00.0
grep -q "^refuse: 0000:03:00.0: it carries the host's default route (eth0)" "$T/out" || fail "route: $(cat "$T/out")"
v 0 vfio check --force 03:00.0
grep -q "^warning: 0000:03:00.0: it carries the host's default route" "$T/out" || fail "forced route: $(cat "$T/out")"
v 1 vfio check 04:00.0
grep -q "^refuse: 0000:04:00.0: it is the host's boot display" "$T/out" &&
	grep -q "^warning: 0000:04:00.0: 1002:67df has a known reset bug" "$T/out" || fail "boot GPU: $(cat "$T/out")"
v 0 vfio check 05:00.0 --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["viable"] and "no reset method" in d["problems"][0]["why"]' "$T/out" ||
	fail "no reset: $(cat "$T/out")"
v 1 vfio check 09:00.0
grep -q "^refuse: 0000:09:00.0: its DRM device /dev/dri/card1 is open in Xorg (pid 4242)" "$T/out" ||
	fail "DRM in use: $(cat "$T/out")"
v 0 vfio check 07:00.0 08:00.0
grep -q "^warning: 0000:08:00.0: IOMMU group 7 spans 0000:07:00.0 and 0000:08:00.0: the platform does not isolate them (no ACS)" "$T/out" ||
	fail "ACS: $(cat "$T/out")"
pass "vfio check: whole groups, root disk never, default-route NIC, boot GPU and a GPU in use unless --force, reset and ACS warnings"

v 0 vfio bind 01:00.0 01:00.1
expect_gpu_bind_log
diff -u "$T/expected" "$FAKE_LOG" || fail "bind wrote something else"
[ "$(driver 0000:01:00.0) $(driver 0000:01:00.1) $(driver 0000:00:01.0)" = "vfio-pci vfio-pci pcieport" ] ||
	fail "drivers after bind"
[ -e "$host/dev/vfio/1" ] || fail "no /dev/vfio/1"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["devices"]; assert [(x["bdf"], x["driver"], x["group"]) for x in d] == [("0000:01:00.0","nouveau",1),("0000:01:00.1","snd_hda_intel",1)], d' "$journal" ||
	fail "journal: $(cat "$journal")"
pass "bind: driver_override, unbind, drivers_probe per device in order; journal holds the original drivers; /dev/vfio/1"

v 0 vfio unbind 01:00.0
cat >"$T/expected" <<EOF2
bus/pci/drivers/vfio-pci/unbind 0000:01:00.1
bus/pci/devices/0000:01:00.1/driver_override 
bus/pci/drivers/snd_hda_intel/bind 0000:01:00.1
bus/pci/drivers/vfio-pci/unbind 0000:01:00.0
bus/pci/devices/0000:01:00.0/driver_override 
bus/pci/drivers/nouveau/bind 0000:01:00.0
EOF2
diff -u "$T/expected" "$FAKE_LOG" || fail "unbind wrote something else"
[ "$(driver 0000:01:00.0) $(driver 0000:01:00.1)" = "nouveau snd_hda_intel" ] || fail "drivers after unbind"
[ "$(override 0000:01:00.0) $(override 0000:01:00.1)" = "(null) (null)" ] || fail "driver_override not cleared"
[ ! -e "$journal" ] && [ ! -e "$host/dev/vfio/1" ] || fail "journal or /dev/vfio/1 left"
pass "unbind: the whole group back to the recorded drivers (not a reprobe), overrides cleared, journal gone"

v 1 vfio bind 01:00.0
grep -q "0000:01:00.1: it shares IOMMU group 1 with the devices asked for" "$T/err" || fail "partial group: $(cat "$T/err")"
v 0 vfio check --with-group 01:00.0
grep -q "^viable$" "$T/out" || fail "check --with-group: $(cat "$T/out")"
v 0 vfio bind --with-group 01:00.0
expect_gpu_bind_log
diff -u "$T/expected" "$FAKE_LOG" || fail "bind --with-group wrote something else"
[ "$(driver 0000:01:00.0) $(driver 0000:01:00.1)" = "vfio-pci vfio-pci" ] || fail "drivers after bind --with-group"
v 0 vfio unbind --all
[ "$(driver 0000:01:00.0) $(driver 0000:01:00.1)" = "nouveau snd_hda_intel" ] && [ ! -e "$journal" ] ||
	fail "unbind after --with-group: $(driver 0000:01:00.0) $(driver 0000:01:00.1)"
pass "bind --with-group 01:00.0 binds its IOMMU group (the audio function too), as the profile's with_group does"

FAKE_FAIL=drivers_probe FAKE_FAIL_AT=2 v 1 vfio bind 01:00.0 01:00.1
grep -q "cannot write '0000:01:00.1' to '.*drivers_probe'" "$T/err" || fail "rollback error: $(cat "$T/err")"
[ "$(driver 0000:01:00.0) $(driver 0000:01:00.1)" = "nouveau snd_hda_intel" ] || fail "rollback left $(driver 0000:01:00.0) $(driver 0000:01:00.1)"
[ "$(override 0000:01:00.0) $(override 0000:01:00.1)" = "(null) (null)" ] && [ ! -e "$journal" ] ||
	fail "rollback left state behind"
pass "a write failing half-way: everything done is undone, journal gone"

FAKE_CRASH=drivers_probe FAKE_FAIL_AT=2 v 137 vfio bind 01:00.0 01:00.1
[ -e "$journal" ] || fail "no journal after the crash"
[ "$(driver 0000:01:00.0)" = vfio-pci ] || fail "the crash came too early"
v 0 vfio unbind --all
[ "$(driver 0000:01:00.0) $(driver 0000:01:00.1)" = "nouveau snd_hda_intel" ] && [ ! -e "$journal" ] ||
	fail "recovery: $(driver 0000:01:00.0) $(driver 0000:01:00.1)"
pass "a crash mid-bind: the journal survives and vfio unbind --all finishes the restore"

for bad in "vfio bind 1:2:3" "vfio bind 0000:09:00.0" "vfio bind 02:00.0" "vfio bind 03:00.0" "vfio bind 01:00.0"; do
	v 1 $bad
	[ ! -s "$FAKE_LOG" ] || fail "$bad wrote to sysfs: $(cat "$FAKE_LOG")"
	[ "$(wc -l <"$T/err")" -ge 1 ] || fail "$bad: no message"
done
VMM_SYSFS_ROOT=$SRCDIR/tests/lint/sys v 1 vfio bind 01:00.0
grep -q "has no IOMMU group: the IOMMU is off" "$T/err" || fail "IOMMU off: $(cat "$T/err")"
chmod 755 "$T"
: >"$FAKE_LOG"
rc=0
LD_PRELOAD=$FAKEKERNEL setpriv --reuid=nobody --regid=nogroup --clear-groups "$VMM" vfio bind 05:00.0 \
	>"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -q "Permission denied" "$T/err" || fail "as nobody: rc $rc: $(cat "$T/err")"
[ ! -s "$FAKE_LOG" ] && [ "$(driver 0000:05:00.0)" = e1000e ] || fail "a refused bind changed something"
pass "malformed address, absent device, root disk, route NIC, partial group, IOMMU off, no permission: refused, nothing changed"

# A VM with the GPU (and, with_group, its audio): bound before QEMU starts, under the VM's
# name; QEMU (real, on the real kernel) cannot open the stand-in devices and fails; the
# devices go back to their drivers.
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: no QEMU for the VM part"; exit 0; }
export VMM_CACHE_DIR=${VMM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}
sed 's|"lifecycle"|"passthrough": [{ "host": "01:00.0", "with_group": true, "multifunction": true }], "lifecycle"|' \
	"$SRCDIR/tests/profiles/guest.json" >"$T/gpu.json"
v 2 run "$T/gpu.json"
grep -q "^vmm: gpu: failed to start: .*vfio" "$T/err" || fail "QEMU did not get the devices: $(cat "$T/err")"
grep -q "^vmm: gpu: 2 passthrough devices given back to their host drivers$" "$T/err" || fail "no restore: $(cat "$T/err")"
head -n 6 "$FAKE_LOG" >"$T/bind.log"
expect_gpu_bind_log
diff -u "$T/expected" "$T/bind.log" || fail "vmm run bound something else"
[ "$(driver 0000:01:00.0) $(driver 0000:01:00.1)" = "nouveau snd_hda_intel" ] && [ ! -e "$journal" ] ||
	fail "after the VM: $(driver 0000:01:00.0) $(driver 0000:01:00.1)"
pass "vmm run binds the GPU and its group before QEMU and gives them back when the VM ends"

# A device another VM holds: a VM that wants it is refused before anything changes, and
# its failed start gives back nothing of the other VM's.
v 0 vfio bind 01:00.0 01:00.1
sed -i 's/"vm": ""/"vm": "gamer"/' "$journal"
cp "$journal" "$T/journal.before"
v 2 run "$T/gpu.json"
grep -q "^vmm: gpu: failed to start: 0000:01:00.0 (IOMMU group 1) is held by VM 'gamer'$" "$T/err" ||
	fail "not refused by owner: $(cat "$T/err")"
[ "$(driver 0000:01:00.0) $(driver 0000:01:00.1)" = "vfio-pci vfio-pci" ] && diff -q "$T/journal.before" "$journal" >/dev/null ||
	fail "the refused VM changed another VM's devices: $(driver 0000:01:00.0) $(driver 0000:01:00.1), $(cat "$journal")"
v 0 vfio unbind --all
pass "a device held by another VM is refused with that VM's name; the failed start gives back nothing of it"

# Binds and restores of different groups at the same moment never lose each other's
# journal entries (the journal is locked for each whole read-modify-write).
for ((i = 0; i < 40; i++)); do
	LD_PRELOAD=$FAKEKERNEL "$VMM" vfio bind 01:00.0 01:00.1 >/dev/null 2>"$T/race1" &
	p1=$!
	LD_PRELOAD=$FAKEKERNEL "$VMM" vfio bind 05:00.0 >/dev/null 2>"$T/race2" &
	p2=$!
	wait $p1 || fail "iteration $i: bind of group 1 failed: $(cat "$T/race1")"
	wait $p2 || fail "iteration $i: bind of group 5 failed: $(cat "$T/race2")"
	[ "$(grep -c '"bdf"' "$journal")" = 3 ] || fail "iteration $i: journal after two binds: $(cat "$journal")"
	LD_PRELOAD=$FAKEKERNEL "$VMM" vfio unbind 01:00.0 >/dev/null 2>"$T/race1" &
	p1=$!
	LD_PRELOAD=$FAKEKERNEL "$VMM" vfio bind 06:00.0 06:00.1 >/dev/null 2>"$T/race2" &
	p2=$!
	wait $p1 || fail "iteration $i: restore of group 1 failed: $(cat "$T/race1")"
	wait $p2 || fail "iteration $i: bind of group 6 failed: $(cat "$T/race2")"
	[ "$(grep -c '"bdf"' "$journal")" = 3 ] && ! grep -q '0000:01:00' "$journal" ||
		fail "iteration $i: journal after a restore beside a bind: $(cat "$journal")"
	LD_PRELOAD=$FAKEKERNEL "$VMM" vfio unbind 05:00.0 >/dev/null 2>"$T/race1" &
	p1=$!
	LD_PRELOAD=$FAKEKERNEL "$VMM" vfio unbind 06:00.0 >/dev/null 2>"$T/race2" &
	p2=$!
	wait $p1 && wait $p2 || fail "iteration $i: restores failed: $(cat "$T/race1" "$T/race2")"
	[ ! -e "$journal" ] || fail "iteration $i: journal left after every restore: $(cat "$journal")"
	[ "$(driver 0000:01:00.0) $(driver 0000:05:00.0) $(driver 0000:06:00.0)" = "nouveau e1000e virtio-pci" ] ||
		fail "iteration $i: drivers $(driver 0000:01:00.0) $(driver 0000:05:00.0) $(driver 0000:06:00.0)"
done
ls "$T/run" | grep -q 'tmp\|XXXXXX' && fail "temp files left: $(ls "$T/run")"
pass "40 rounds of binds and restores of different groups at once: no journal entry lost"

# Hot-adding: a running VM (real QEMU) under a supervisor with the fake kernel. The bind is
# journaled as at start; QEMU cannot open the stand-in device, so device_add fails and the
# bind is undone (the same writes back, the journal gone); what the host needs, a device
# another VM holds, one that does not exist and bad keys are refused before any write.
export VMM_DATA_DIR=$T/data
v 0 start "$SRCDIR/tests/profiles/guest.json" --name hotvm --set hotplug.root_ports=2
v 1 add hotvm vfio host=01:00.0 with_group=true
# Function 1 goes first: QEMU announces the slot once its function 0 is there.
grep -q "cannot add 'vfio-0000-01-00.0': vfio .*0000:01:00.1.* (device_add of 'vfio-0000-01-00.0.f1'); nothing of it is left" "$T/err" ||
	fail "hot-add: $(cat "$T/err")"
head -n 6 "$FAKE_LOG" >"$T/bind.log"
expect_gpu_bind_log
diff -u "$T/expected" "$T/bind.log" || fail "the hot-add bound something else"
[ "$(sed -n '7,12p' "$FAKE_LOG" | grep -c '/bind 0000:01:00\|/unbind 0000:01:00')" = 4 ] || fail "no undo: $(cat "$FAKE_LOG")"
[ "$(driver 0000:01:00.0) $(driver 0000:01:00.1)" = "nouveau snd_hda_intel" ] && [ ! -e "$journal" ] ||
	fail "after the failed hot-add: $(driver 0000:01:00.0) $(driver 0000:01:00.1), $(cat "$journal" 2>&1)"
v 0 devices hotvm --json
python3 -c 'import json,sys; assert json.load(open(sys.argv[1])) == []' "$T/out" || fail "devices after the failed hot-add: $(cat "$T/out")"
v 0 qmp hotvm qom-list path=/machine/peripheral
! grep -q vfio "$T/out" || fail "QEMU kept a device: $(cat "$T/out")"
pass "vmm add NAME vfio: journaled bind of the group, device_add refused by QEMU, the bind undone, nothing listed"

# Refused: expects vmm add hotvm vfio ARGS... to fail with MESSAGE, writing nothing.
refused() {
	local message=$1
	shift
	v 1 add hotvm vfio "$@"
	grep -qF -- "$message" "$T/err" || fail "add $*: expected '$message', got: $(cat "$T/err")"
	[ ! -s "$FAKE_LOG" ] || fail "add $* wrote to sysfs: $(cat "$FAKE_LOG")"
}
refused "0000:02:00.0: it holds /dev/nvme0n1p1, mounted on /" host=02:00.0
refused "0000:03:00.0: it carries the host's default route (eth0)" host=03:00.0
refused "0000:01:00.1: it shares IOMMU group 1 with the devices asked for and still has its driver" host=01:00.0
refused "there is no PCI device 0000:0a:00.0 on this host" host=0a:00.0
refused "vfio: host: 'zz' is not a PCI address" host=zz
refused "vfio: rom: unknown key (expected host or with_group)" host=05:00.0 rom=/x
refused "vfio: host: missing" with_group=true
v 0 vfio bind 01:00.0 01:00.1
sed -i 's/"vm": ""/"vm": "gamer"/' "$journal"
cp "$journal" "$T/journal.before"
refused "0000:01:00.0 (IOMMU group 1) is held by VM 'gamer'" host=01:00.0 with_group=true
diff -q "$T/journal.before" "$journal" >/dev/null || fail "the refused add changed the journal: $(cat "$journal")"
v 0 vfio unbind --all
v 0 kill hotvm
pass "vmm add NAME vfio refuses a device the host needs, a partial group, one another VM holds, an absent one, bad keys: nothing written"
