#!/bin/bash
# A virtio-blk disk's queues on several iothreads (disks[].iothreads): on a QEMU with
# iothread-vq-mapping (9.0 on, as the probe says) QEMU runs one iothread per entry and the
# guest reads the disk; on one without it (7.2) the VM starts with one iothread and a warning.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data
truncate -s 16M "$T/fast.raw"
printf 'vmm-iothreads-marker' | dd of="$T/fast.raw" conv=notrunc status=none
"$VMM" start "$PROFILES/guest.json" --name io --set cpu.cores=2 \
	--set "disks=[{\"id\": \"fast\", \"file\": \"$T/fast.raw\", \"format\": \"raw\", \"iothreads\": 3}]" \
	>"$T/io.start.out" 2>"$T/io.start.err" || fail "start: $(cat "$T/io.start.err")"
wait_for "$VMM_RUN_DIR/io/console.log" 'vmm-guest: ready' 60
expect_rc 0 qmp io query-iothreads
got=$(python3 -c 'import json,sys; print(" ".join(sorted(t["id"] for t in json.load(open(sys.argv[1])))))' "$T/last.out")
if "$VMM" probe --json | python3 -c 'import json,sys
sys.exit("iothread-vq-mapping" not in json.load(sys.stdin)["properties"].get("virtio-blk-pci", []))'; then
	[ "$got" = "io-fast io-fast-1 io-fast-2" ] || fail "iothreads: $got"
	tr '\0' '\n' <"/proc/$(state_field io qemu_pid)/cmdline" | grep -q '"iothread-vq-mapping":\[{"iothread":"io-fast"},{"iothread":"io-fast-1"},{"iothread":"io-fast-2"}\]' ||
		fail "no iothread-vq-mapping in QEMU's argv"
	what="three iothreads mapped to its queues"
else
	[ "$got" = "io-fast" ] || fail "iothreads without iothread-vq-mapping: $got"
	grep -q "this QEMU cannot spread a disk's queues over several iothreads (disks\[0\].iothreads: no iothread-vq-mapping): disk 'fast' gets one iothread" \
		"$T/io.start.err" || fail "no warning: $(cat "$T/io.start.err")"
	what="one iothread and a warning (no iothread-vq-mapping in this QEMU)"
fi
found=$(python3 "$SRCDIR/tests/integration/console.py" "$VMM" io 'head -c 20 /dev/vda; echo' 'vmm-iothreads-marker' | tail -n1)
[ "$found" = vmm-iothreads-marker ] || fail "the guest cannot read the disk"
expect_rc 0 stop io
pass "disks[].iothreads 3: $what; the guest reads the disk"
