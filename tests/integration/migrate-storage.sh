#!/bin/bash
# vmm migrate --copy-storage between two hosts without shared storage (migrate-lib.sh): each
# side has its own disk image (B's starts empty); the guest writes to its disk, the writable
# disk is mirrored to the destination's NBD export (vmm start --incoming --copy-storage), then
# the RAM moves: the guest keeps counting on B and B's image has the same checksum as A's.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/migrate-lib.sh"

for s in a b; do
	truncate -s 64M "$T/disk-$s.img"
	printf '{ "disks": [{ "id": "data", "file": "%s", "format": "raw" }] }\n' "$T/disk-$s.img" >"$T/disk-$s.json"
	# vmm on side S for console.py, which runs it with its arguments.
	printf '#!/bin/sh\nexec %s "$@"\n' "$(side $s)" >"$T/vmm-$s"
	chmod +x "$T/vmm-$s"
done
dd if=/dev/urandom of="$T/disk-a.img" bs=1M count=8 seek=4 conv=notrunc status=none

on a 0 start "$PROFILE" -p "$T/disk-a.json" --name vm --set "$APPEND"
wait_count a vm 2
python3 "$SRCDIR/tests/integration/console.py" "$T/vmm-a" vm \
	'dd if=/dev/urandom of=/dev/vda bs=1M count=2 seek=20 conv=fsync 2>/dev/null && echo "disk-$((6*7))"' 'disk-42' \
	>"$T/console.out" 2>&1 || fail "the guest did not write its disk: $(cat "$T/console.out")"
copy_identity vm a b

# A destination that serves no disks (started without --copy-storage): the mirror cannot start,
# nothing of the RAM moves, the source runs on with nothing of the mirror left.
on b 0 start "$PROFILE" -p "$T/disk-b.json" --name vm --set "$APPEND" --incoming "tcp:$IP_b:4444"
on a 1 migrate vm "tcp:$IP_b:4444" --copy-storage
grep -q "migration to tcp:$IP_b:4444 failed before the RAM moved: mirroring disk 'data' to the destination: .*the VM runs on here" \
	"$T/last.err" || fail "no NBD on B: $(cat "$T/last.err")"
$(side a) qmp vm query-block-jobs >"$T/jobs.out"
[ "$(tr -d ' \n' <"$T/jobs.out")" = "[]" ] || fail "block jobs left: $(cat "$T/jobs.out")"
assert_runs_on a vm
on b 0 kill vm
pass "--copy-storage to a destination serving no disks: a clear error before anything moves, the source runs on"

on b 0 start "$PROFILE" -p "$T/disk-b.json" --name vm --set "$APPEND" --incoming "tcp:$IP_b:4444" --copy-storage
before=$(counter a vm)
on a 0 migrate vm "tcp:$IP_b:4444" --copy-storage
grep -q "pause-before-switchover" "$T/last.err" || fail "settings: $(cat "$T/last.err")"
assert_moved vm a b "$before" "tcp:$IP_b:4444"
grep -q "the disks are in sync with the destination's" "$T/run-a/vm/vmm.log" || fail "A's log: $(cat "$T/run-a/vm/vmm.log")"
on b 0 kill vm
[ "$(sha256sum <"$T/disk-a.img")" = "$(sha256sum <"$T/disk-b.img")" ] || fail "the disk images differ"
pass "--copy-storage: the disk written by the guest is the same on B, the guest keeps counting"
