#!/bin/bash
# What the bundled profiles and examples really build, asked of a real QEMU (TCG, paused
# with -S) over QMP: iothreads and the controller each belongs to, memory backends
# (huge pages, prealloc, host nodes, policy), guest NUMA nodes and their vCPUs, UEFI
# flash images and the VM's own vars, Secure Boot's SMM, PCIe root ports, and a disk
# path with ',' and '=' opening exactly that file.
. "$(dirname "$0")/lib.sh"

# Huge pages for the huge-page profiles: 160 of 2 MiB and one of 1 GiB (restored afterwards).
hold_hugepage_pools
gig=/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages
old_pages=$(cat /proc/sys/vm/nr_hugepages) old_gig=$(cat $gig)
trap 'echo "$old_pages" >/proc/sys/vm/nr_hugepages; echo "$old_gig" >$gig; cleanup' EXIT
echo $((old_pages + 160)) >/proc/sys/vm/nr_hugepages || fail "cannot reserve 2M huge pages"
echo $((old_gig + 1)) >$gig || fail "cannot reserve a 1G huge page"
export VMM_DATA_DIR=$T/data

paused=(--set machine.accel=tcg --set 'qemu.extra_args=["-S"]')
# Prints what a QMP command returns, through a Python expression on "r".
q() {
	local name=$1 expr=$2
	shift 2
	"$VMM" qmp "$name" "$@" >"$T/q.out" 2>"$T/q.err" || fail "vmm qmp $name $*: $(cat "$T/q.err")"
	python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($expr)" "$T/q.out"
}

# The storage lab: three scsi disks, each with its own controller and iothread (without its
# pins: "auto" needs 5 cores, this host may have 2).
for d in raw cached; do truncate -s 64M "$T/$d.img"; done
qemu-img create -q -f qcow2 "$T/thin.qcow2" 64M
"$VMM" start "$SRCDIR/examples/fio-lab.json" "${paused[@]}" --set memory.size=512M --set cpu.pin=null \
	--set "disks[raw].file=$T/raw.img" --set "disks[thin].file=$T/thin.qcow2" \
	--set "disks[cached].file=$T/cached.img" >/dev/null 2>"$T/fio.err" || fail "fio-lab: $(cat "$T/fio.err")"
[ "$(q fio-lab 'sorted(t["id"] for t in r)' query-iothreads)" = "['io-cached', 'io-raw', 'io-thin']" ] ||
	fail "iothreads: $(cat "$T/q.out")"
for d in raw thin cached; do
	[ "$(q fio-lab r qom-get path=/machine/peripheral/$d-scsi property=iothread)" = "/objects/io-$d" ] ||
		fail "controller $d-scsi uses iothread $(cat "$T/q.out")"
done
[ "$(q fio-lab '[n["detect_zeroes"] for n in r if n["node-name"] == "thin-fmt"][0]' query-named-block-nodes)" = unmap ] ||
	fail "discard: detect-zeroes of thin-fmt is not unmap"
[ "$(q fio-lab '[n["detect_zeroes"] for n in r if n["node-name"] == "raw-fmt"][0]' query-named-block-nodes)" = off ] ||
	fail "no discard on the raw baseline: detect-zeroes of raw-fmt is not off"
expect_rc 0 qmp fio-lab qom-get path=/machine/peripheral/raw property=serial
[ "$(cat "$T/last.out")" = '"fio-raw"' ] || fail "serial of raw: $(cat "$T/last.out")"
[ "$(q fio-lab '[n["cache"]["direct"] for n in r if n["node-name"] == "raw-file"][0]' query-named-block-nodes)" = True ] ||
	fail "cache none: raw-file is not O_DIRECT"
[ "$(q fio-lab '[n["cache"]["writeback"] for n in r if n["node-name"] == "cached-fmt"][0]' query-named-block-nodes)" = True ] ||
	fail "cache writeback"
pass "fio-lab: 3 iothreads, each scsi controller on its own; discard (not on the raw baseline), O_DIRECT, writeback and serials as written"
[ "$(q fio-lab 'sum(1 for b in r for d in b["devices"] if d.get("qdev_id", "").startswith("rp-hotplug-"))' query-pci)" = 4 ] ||
	fail "root ports: $(cat "$T/q.out")"
[ "$(q fio-lab '[n["file"] for n in r if n["node-name"] == "fw-code"][0]' query-named-block-nodes)" = \
	/usr/share/OVMF/OVMF_CODE_4M.fd ] || fail "UEFI code: $(cat "$T/q.out")"
[ "$(q fio-lab '[n["file"] for n in r if n["node-name"] == "fw-vars"][0]' query-named-block-nodes)" = \
	"$VMM_DATA_DIR/fio-lab/efivars.fd" ] || fail "UEFI vars: $(cat "$T/q.out")"
cmp -s "$VMM_DATA_DIR/fio-lab/efivars.fd" /usr/share/OVMF/OVMF_VARS_4M.fd || fail "the vars are not a copy of the template"
[ "$(q fio-lab '[m["prealloc"] for m in r]' query-memdev)" = "[True]" ] || fail "prealloc: $(cat "$T/q.out")"
pass "fio-lab: 4 root ports, OVMF code and the VM's own vars (a copy of the template), preallocated RAM"
expect_rc 0 kill fio-lab

# The workstation: two guest NUMA nodes on 2 MiB huge pages, bound to host node 0.
qemu-img create -q -f qcow2 "$T/root.qcow2" 64M
"$VMM" start "$SRCDIR/examples/linux-workstation.json" "${paused[@]}" --set display=none \
	--set memory.size=256M --set 'memory.numa[0].size=128M' --set 'memory.numa[1].size=128M' \
	--set hotplug.max_memory=512M --set "disks[root].file=$T/root.qcow2" >/dev/null 2>"$T/ws.err" ||
	fail "workstation: $(cat "$T/ws.err")"
[ "$(q workstation '[(m["id"], m["size"] >> 20, m["prealloc"], m["reserve"], m["host-nodes"], m["policy"]) for m in sorted(r, key=lambda m: m["id"])]' query-memdev)" = \
	"[('mem-vmem0', 256, False, False, [], 'default'), ('ram-node0', 128, True, True, [0], 'bind'), ('ram-node1', 128, True, True, [0], 'bind')]" ] ||
	fail "memdev: $(cat "$T/q.out")"
for m in ram-node0 ram-node1 mem-vmem0; do
	[ "$(q workstation r qom-get path=/objects/$m property=hugetlb)" = True ] || fail "$m is not hugetlb"
done
[ "$(q workstation '[c["props"]["node-id"] for c in sorted(r, key=lambda c: c["cpu-index"])]' query-cpus-fast)" = \
	"[0, 0, 1, 1]" ] || fail "vCPU nodes: $(cat "$T/q.out")"
[ "$(q workstation 'len(r)' query-hotpluggable-cpus)" = 8 ] || fail "hotpluggable CPUs: $(cat "$T/q.out")"
pass "workstation: NUMA nodes on hugetlb memfd, prealloc, bound to host node 0; vCPUs 0-1 and 2-3; 8 CPU slots; the rest of hotplug.max_memory on hugetlb for virtio-mem, reserving nothing"
expect_rc 0 kill workstation

# Windows: Secure Boot firmware with SMM.
"$VMM" start "$SRCDIR/tests/profiles/guest.json" -p "$SRCDIR/profiles/windows.json" "${paused[@]}" \
	--name win >/dev/null 2>"$T/win.err" || fail "windows: $(cat "$T/win.err")"
[ "$(q win '[n["file"] for n in r if n["node-name"] == "fw-code"][0]' query-named-block-nodes)" = \
	/usr/share/OVMF/OVMF_CODE_4M.ms.fd ] || fail "secure boot code: $(cat "$T/q.out")"
[ "$(q win r qom-get path=/machine property=smm)" = on ] || fail "smm: $(cat "$T/q.out")"
[ "$(q win 'sorted(p["name"] for p in r if p["name"] in ("net0", "vser0"))' qom-list path=/machine/peripheral)" = \
	"['net0', 'vser0']" ] || fail "NIC and agent channel: $(cat "$T/q.out")"
pass "windows: Secure Boot OVMF with SMM, virtio NIC and agent channel"
expect_rc 0 kill win

# A GPU-passthrough VM on 1 GiB pages: no emulated display, no balloon, 8 root ports.
"$VMM" start "$SRCDIR/tests/profiles/guest.json" -p "$SRCDIR/profiles/gpu-passthrough.json" \
	-p "$SRCDIR/profiles/hugepages-1g.json" "${paused[@]}" --set memory.size=1G --name gpu >/dev/null 2>"$T/gpu.err" ||
	fail "gpu-passthrough: $(cat "$T/gpu.err")"
[ "$(q gpu 'sum(1 for b in r for d in b["devices"] if d.get("qdev_id", "").startswith("rp-hotplug-"))' query-pci)" = 8 ] ||
	fail "root ports: $(cat "$T/q.out")"
[ "$(q gpu '[p["name"] for p in r if p["type"].startswith(("child<VGA", "child<virtio-balloon"))]' qom-list path=/machine/peripheral)" = "[]" ] ||
	fail "an emulated display or balloon is present: $(cat "$T/q.out")"
# The guest RAM: the supervisor's hugetlb memfd (1G pages), mapped shared by QEMU.
[ "$(q gpu r qom-get path=/objects/ram0 property=mem-path)" = /proc/self/fd/7 ] &&
	[ "$(q gpu r qom-get path=/objects/ram0 property=share)" = True ] || fail "RAM backend: $(cat "$T/q.out")"
expect_rc 0 status gpu --json
awk '/^KernelPageSize: *1048576 kB/ { n++ } END { exit !n }' "/proc/$(json_field qemu_pid <"$T/last.out")/smaps" ||
	fail "not on 1G pages"
[ "$(q gpu '[m["prealloc"] for m in r]' query-memdev)" = "[True]" ] || fail "prealloc: $(cat "$T/q.out")"
expect_rc 1 qmp gpu query-balloon
pass "gpu-passthrough + hugepages-1g: 8 root ports, no display, no balloon, RAM on a preallocated 1G page"
expect_rc 0 kill gpu

# A disk whose path has ',' and '=': QEMU opens exactly that file.
mkdir -p "$T/a,b=c"
truncate -s 16M "$T/a,b=c/data.raw"
"$VMM" start "$SRCDIR/tests/profiles/guest.json" --name commas "${paused[@]}" \
	--set 'disks=[{"id": "data", "file": "/x", "format": "raw", "bus": "scsi"}]' \
	--set "disks[data].file=$T/a,b=c/data.raw" >/dev/null 2>"$T/c.err" || fail "commas: $(cat "$T/c.err")"
[ "$(q commas '[n["file"] for n in r if n["node-name"] == "data-file"][0]' query-named-block-nodes)" = \
	"$T/a,b=c/data.raw" ] || fail "the disk path: $(cat "$T/q.out")"
pass "a disk path with ',' and '=' reaches QEMU as one file name"
expect_rc 0 kill commas
