#!/bin/bash
# Runs inside the vfio-real.sh guest (the host's / through virtiofs, a real kernel with an
# IOMMU): list, check, bind, a nested VM with the devices, restore; kill -9 of the
# supervisor, reattach, restore; an NVMe bound and given back, then hot-added to a running
# nested VM (vmm add NAME vfio) and removed, nvme0 back, and added again to a QEMU restarted
# after a crash. Its last argument is the host's env file (VMM, SRCDIR, GUEST).
set -euo pipefail
. "${1:?}"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin VMM_RUN_DIR=/run/vmm VMM_CACHE_DIR=/run/cache VMM_DATA_DIR=/run/data
T=/run/t
mkdir -p "$T"
# The nested VMs' kernel and initrd where QEMU's own user reaches them: the host's / is
# read-only here, so no ACL can open the way to $GUEST under /root.
mkdir -p /run/guest && cp "$GUEST/vmlinuz" "$GUEST/initrd.img" /run/guest/ && GUEST=/run/guest
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok - $* ($(cut -d" " -f1 /proc/uptime) s)"; }
drv() { basename "$(readlink "/sys/bus/pci/devices/$1/driver" 2>/dev/null)" 2>/dev/null || echo none; }
pair=(0000:00:05.0 0000:00:05.1)

"$VMM" vfio list >"$T/list" || fail "vfio list: $(cat "$T/list")"
grep -q "^IOMMU group" "$T/list" && grep -Eq "0000:00:05.1  1af4:(1005|1044)" "$T/list" || fail "list: $(cat "$T/list")"
pass "vfio list shows the real IOMMU groups"

rc=0
"$VMM" vfio check 0000:00:05.0 >"$T/check" || rc=$?
[ "$rc" = 1 ] && grep -q "refuse: 0000:00:05.1: it shares IOMMU group .* (virtio-pci)" "$T/check" ||
	fail "check of one function: rc $rc: $(cat "$T/check")"
pass "vfio check refuses a group with one function still on its host driver"

# vfio-pci not loaded: vmm loads it (modprobe), where this kernel's modules are on the
# host's disk (the kernel package installed, not just downloaded).
if [ -d "/lib/modules/$(uname -r)" ]; then
	rmmod vfio_pci || fail "rmmod vfio_pci"
	"$VMM" vfio bind "${pair[@]}" 2>"$T/bind.err" || fail "bind with vfio-pci unloaded: $(cat "$T/bind.err")"
	pass "vfio-pci not loaded: vfio bind loads it"
else
	echo "SKIP: the modules of $(uname -r) are not on the host's disk: loading vfio-pci is not tested"
	"$VMM" vfio bind "${pair[@]}" || fail "bind"
fi
group=$(basename "$(readlink /sys/bus/pci/devices/0000:00:05.0/iommu_group)")
[ -c "/dev/vfio/$group" ] || fail "no /dev/vfio/$group"
[ "$(drv "${pair[0]}") $(drv "${pair[1]}")" = "vfio-pci vfio-pci" ] || fail "not on vfio-pci"
pass "vfio bind: both functions on vfio-pci, /dev/vfio/$group appears"

cat >"$T/nested.json" <<EOF2
{ "name": "nested", "machine": { "type": "q35", "accel": "tcg" }, "memory": { "size": "128M" },
  "boot": { "kernel": "$GUEST/vmlinuz", "initrd": "$GUEST/initrd.img" },
  "passthrough": [{ "host": "00:05.0", "multifunction": true }, { "host": "00:05.1", "multifunction": true }],
  "lifecycle": { "shutdown_timeout": 5, "restart": "on-crash" }, "qemu": { "extra_args": ["-S"] } }
EOF2
"$VMM" start "$T/nested.json" 2>"$T/start.err" || fail "start: $(cat "$T/start.err")"
# Before the firmware runs (-S) query-pci cannot see behind the root port: ask the devices.
for i in 0 1; do
	"$VMM" qmp nested qom-get path=/machine/peripheral/hostdev$i property=host >"$T/host$i" ||
		fail "hostdev$i: $(cat "$T/host$i")"
	grep -q "\"${pair[$i]}\"" "$T/host$i" || fail "hostdev$i is $(cat "$T/host$i")"
done
pass "a nested VM (vmm start) has both passed-through functions as vfio-pci devices"
# Neither moves: a host device cannot be in two QEMUs at once.
rc=0
"$VMM" migrate nested tcp:127.0.0.1:1 >"$T/migrate.out" 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "migrate refused: VM 'nested' has passthrough devices" "$T/migrate.out" ||
	fail "migrate of a passthrough VM: rc $rc: $(cat "$T/migrate.out")"
rc=0
"$VMM" upgrade nested >"$T/upgrade.out" 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "the VM has passthrough devices (0000:00:05.0)" "$T/upgrade.out" ||
	fail "upgrade of a passthrough VM: rc $rc: $(cat "$T/upgrade.out")"
[ "$(drv "${pair[0]}")" = vfio-pci ] && "$VMM" qmp nested query-status >/dev/null || fail "the refusals touched the VM"
pass "vmm migrate and vmm upgrade refuse a VM with passthrough devices, leaving it as it was"
"$VMM" stop nested --timeout 1 >/dev/null 2>&1 || true
[ "$(drv "${pair[0]}") $(drv "${pair[1]}")" = "virtio-pci virtio-pci" ] ||
	fail "after stop: $(drv "${pair[0]}") $(drv "${pair[1]}")"
pass "vmm stop: both devices back on virtio-pci"

"$VMM" start "$T/nested.json" 2>"$T/start.err" || fail "start 2: $(cat "$T/start.err")"
[ "$(drv "${pair[0]}")" = vfio-pci ] || fail "start did not bind"
kill -9 "$(sed -n 's/.*"supervisor_pid": *\([0-9]*\).*/\1/p' "$VMM_RUN_DIR/nested/state.json")"
sleep 0.5
"$VMM" attach nested 2>"$T/attach.err" || fail "attach: $(cat "$T/attach.err")"
"$VMM" stop nested --timeout 1 >/dev/null 2>&1 || true
[ "$(drv "${pair[0]}") $(drv "${pair[1]}")" = "virtio-pci virtio-pci" ] ||
	fail "after kill -9, attach, stop: $(drv "${pair[0]}") $(drv "${pair[1]}")"
pass "kill -9 of the supervisor, reattach, stop: drivers restored"

[ -e /sys/class/nvme/nvme0 ] || fail "no nvme0 to begin with"
"$VMM" vfio bind 0000:00:06.0 || fail "bind nvme"
[ ! -e /sys/class/nvme/nvme0 ] && [ "$(drv 0000:00:06.0)" = vfio-pci ] || fail "nvme not taken"
"$VMM" vfio unbind 0000:00:06.0 || fail "unbind nvme"
for ((i = 0; i < 100; i++)); do [ -e /sys/class/nvme/nvme0 ] && break; sleep 0.1; done
[ -e /sys/class/nvme/nvme0 ] && [ "$(drv 0000:00:06.0)" = nvme ] || fail "nvme0 did not come back"
pass "an NVMe bound to vfio-pci and given back comes back as nvme0"

# Hot-plugging the NVMe into a running nested VM: bound and journaled as at start, a vfio-pci
# device on a hotplug root port that QEMU opens, then removed (DEVICE_DELETED) and given back;
# then the multifunction pair with_group, both functions as one device.
# The nested VM stays in -S (a guest under TCG in TCG would take minutes to boot) with ACPI
# hotplug off: the slot is powered off, so QEMU lets a device go without asking the guest.
cat >"$T/hot.json" <<EOF2
{ "name": "hot", "machine": { "type": "q35", "accel": "tcg" }, "memory": { "size": "128M" },
  "boot": { "kernel": "$GUEST/vmlinuz", "initrd": "$GUEST/initrd.img" }, "hotplug": { "root_ports": 1 },
  "lifecycle": { "shutdown_timeout": 5, "restart": "on-crash" },
  "qemu": { "extra_args": ["-S", "-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off"] } }
EOF2
"$VMM" start "$T/hot.json" 2>"$T/start.err" || fail "start hot: $(cat "$T/start.err")"
qemu=$(sed -n 's/.*"qemu_pid": *\([0-9]*\).*/\1/p' "$VMM_RUN_DIR/hot/state.json")
"$VMM" add hot vfio host=00:06.0 >"$T/add.out" 2>&1 || fail "add: $(cat "$T/add.out")"
grep -q "vfio 'vfio-0000-00-06.0' added on rp-hotplug-0" "$T/add.out" || fail "add said: $(cat "$T/add.out")"
group=$(basename "$(readlink /sys/bus/pci/devices/0000:00:06.0/iommu_group)")
[ ! -e /sys/class/nvme/nvme0 ] && [ "$(drv 0000:00:06.0)" = vfio-pci ] || fail "nvme not taken: $(drv 0000:00:06.0)"
grep -q '"vm": "hot"' "$VMM_RUN_DIR/vfio-journal.json" || fail "journal: $(cat "$VMM_RUN_DIR/vfio-journal.json")"
"$VMM" qmp hot qom-get path=/machine/peripheral/vfio-0000-00-06.0 property=host >"$T/host" &&
	grep -q '"0000:00:06.0"' "$T/host" || fail "QEMU's device: $(cat "$T/host")"
ls -l "/proc/$qemu/fd" | grep -q "/dev/vfio/$group\$" || fail "QEMU does not hold /dev/vfio/$group"
"$VMM" devices hot >"$T/devices" && grep -Eq "^vfio-0000-00-06.0 +vfio +vfio-pci +rp-hotplug-0 .* present +hot-added" "$T/devices" ||
	fail "devices: $(cat "$T/devices")"
pass "vmm add NAME vfio: the NVMe bound (journaled under the VM), a vfio-pci device of QEMU's holding /dev/vfio/$group"
"$VMM" remove hot vfio-0000-00-06.0 >"$T/remove.out" 2>&1 || fail "remove: $(cat "$T/remove.out")"
for ((i = 0; i < 100; i++)); do [ -e /sys/class/nvme/nvme0 ] && break; sleep 0.1; done
[ -e /sys/class/nvme/nvme0 ] && [ "$(drv 0000:00:06.0)" = nvme ] || fail "nvme0 did not come back after remove"
[ ! -e "$VMM_RUN_DIR/vfio-journal.json" ] || fail "journal left: $(cat "$VMM_RUN_DIR/vfio-journal.json")"
"$VMM" qmp hot qom-list path=/machine/peripheral >"$T/periph" && ! grep -q vfio "$T/periph" || fail "QEMU kept it: $(cat "$T/periph")"
pass "vmm remove: DEVICE_DELETED, the NVMe back on nvme (nvme0), the journal empty"
"$VMM" add hot vfio host=00:05.0 with_group=true >"$T/add.out" 2>&1 || fail "add the pair: $(cat "$T/add.out")"
[ "$(drv "${pair[0]}") $(drv "${pair[1]}")" = "vfio-pci vfio-pci" ] || fail "pair not taken: $(drv "${pair[0]}") $(drv "${pair[1]}")"
for f in vfio-0000-00-05.0:0 vfio-0000-00-05.0.f1:1; do
	"$VMM" qmp hot qom-get "path=/machine/peripheral/${f%:*}" property=host >"$T/host" &&
		grep -q "\"0000:00:05.${f#*:}\"" "$T/host" || fail "${f%:*}: $(cat "$T/host")"
done
"$VMM" remove hot vfio-0000-00-05.0 >"$T/remove.out" 2>&1 || fail "remove the pair: $(cat "$T/remove.out")"
[ "$(drv "${pair[0]}") $(drv "${pair[1]}")" = "virtio-pci virtio-pci" ] && [ ! -e "$VMM_RUN_DIR/vfio-journal.json" ] ||
	fail "after removing the pair: $(drv "${pair[0]}") $(drv "${pair[1]}"): $(tail -n 4 "$VMM_RUN_DIR/hot/vmm.log")"
pass "with_group: both functions of the pair bound and given to QEMU as one multifunction device, then both back"

# A QEMU restarted by lifecycle.restart (killed: on-crash) gets the hot-added NVMe again: bound
# and journaled again, the new QEMU's vfio-pci device holds its group; removed, nvme0 is back.
"$VMM" add hot vfio host=00:06.0 >"$T/add.out" 2>&1 || fail "add before the restart: $(cat "$T/add.out")"
kill -9 "$qemu"
for ((i = 0; i < 600; i++)); do
	sed -n '/adding VFIO device .vfio-0000-00-06.0. again/,$p' "$VMM_RUN_DIR/hot/vmm.log" |
		grep -q "VFIO device 'vfio-0000-00-06.0' hot-added" && break
	sleep 0.1
done
new=$(sed -n 's/.*"qemu_pid": *\([0-9]*\).*/\1/p' "$VMM_RUN_DIR/hot/state.json")
[ "$new" != "$qemu" ] && grep -q "adding VFIO device 'vfio-0000-00-06.0' again" "$VMM_RUN_DIR/hot/vmm.log" ||
	fail "no restart with the device: $(tail -n 6 "$VMM_RUN_DIR/hot/vmm.log")"
[ "$(drv 0000:00:06.0)" = vfio-pci ] && grep -q '"vm": "hot"' "$VMM_RUN_DIR/vfio-journal.json" ||
	fail "after the restart: $(drv 0000:00:06.0), journal $(cat "$VMM_RUN_DIR/vfio-journal.json" 2>&1)"
ls -l "/proc/$new/fd" | grep -q "/dev/vfio/$group\$" || fail "the restarted QEMU does not hold /dev/vfio/$group"
"$VMM" qmp hot qom-get path=/machine/peripheral/vfio-0000-00-06.0 property=host >"$T/host" &&
	grep -q '"0000:00:06.0"' "$T/host" || fail "the restarted QEMU's device: $(cat "$T/host")"
"$VMM" remove hot vfio-0000-00-06.0 >"$T/remove.out" 2>&1 || fail "remove after the restart: $(cat "$T/remove.out")"
for ((i = 0; i < 100; i++)); do [ -e /sys/class/nvme/nvme0 ] && break; sleep 0.1; done
[ "$(drv 0000:00:06.0)" = nvme ] && [ ! -e "$VMM_RUN_DIR/vfio-journal.json" ] || fail "nvme0 did not come back after the restart's remove"
pass "a QEMU restarted on-crash gets the hot-added NVMe again (QEMU pid $qemu → $new), removed: nvme0 back"
"$VMM" stop hot --timeout 1 >/dev/null 2>&1 || true
