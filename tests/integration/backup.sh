#!/bin/bash
# Backups of a running guest's qcow2 disk: a full one, then, after the guest wrote 64 KiB, an
# incremental one that holds only the changed clusters (its file's allocation, by qemu-img map,
# is a few clusters) and is backed by the full one; --verify checks the chain (and notices a
# changed file); restore makes a VM whose disk has the checksum the guest's disk had at backup
# time. Bad input changes nothing: a backup to a full directory (a tiny tmpfs) or a read-only
# one, an incremental backup without a full one before it or of a raw disk.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data

# Bytes of FILE's own allocated data (not its backing file's), by qemu-img map.
own_data() {
	qemu-img map --output=json "$1" | python3 -c 'import json,sys
print(sum(m["length"] for m in json.load(sys.stdin) if m["data"] and m["depth"] == 0))'
}

qemu-img create -q -f qcow2 "$T/data.qcow2" 64M
start_with_disk bk "$T/data.qcow2" qcow2
expect_rc 0 agent bk exec sh -c 'dd if=/dev/urandom of=/dev/vda bs=1M count=4 seek=8 conv=fsync 2>/dev/null'

expect_rc 1 backup bk "$T/b" --incremental
grep -q "no full backup of VM 'bk' in this directory yet" "$T/last.err" || fail "incremental first: $(cat "$T/last.err")"
[ -z "$(ls "$T/b")" ] || fail "a refused backup left $(ls "$T/b")"

mkdir "$T/full" "$T/ro"
mount -t tmpfs -o size=1M tmpfs "$T/full"
mount -t tmpfs -o ro tmpfs "$T/ro"
expect_rc 1 backup bk "$T/full"
grep -q "the backup directory '$T/full' has .* free, the backup needs up to" "$T/last.err" || fail "full dir: $(cat "$T/last.err")"
[ -z "$(ls "$T/full")" ] || fail "a refused backup left $(ls "$T/full")"
expect_rc 1 backup bk "$T/full/new"
grep -q "the backup directory '$T/full/new' has .* free" "$T/last.err" && [ -z "$(ls "$T/full")" ] ||
	fail "a refused backup into a directory it made: left $(ls "$T/full"): $(cat "$T/last.err")"
expect_rc 1 backup bk "$T/ro"
grep -q "cannot write to the backup directory '$T/ro'" "$T/last.err" || fail "read-only dir: $(cat "$T/last.err")"
"$VMM" qmp bk query-named-block-nodes >"$T/nodes.out"
! grep -q vmm-backup "$T/nodes.out" || fail "a refused backup left a bitmap or a node: $(grep vmm-backup "$T/nodes.out")"
pass "a backup to a full or a read-only directory, an incremental one without a full one: refused, nothing changed"

expect_rc 0 backup bk "$T/b"
grep -q "backup 0 of VM 'bk' (full) in '$T/b'" "$T/last.out" || fail "full backup: $(cat "$T/last.out")"
[ -f "$T/b/data.000.qcow2" ] && [ -f "$T/b/manifest.json" ] || fail "no backup file or manifest: $(ls "$T/b")"
"$VMM" qmp bk query-named-block-nodes >"$T/nodes.out"
grep -q '"persistent": true' "$T/nodes.out" || fail "no persistent bitmap on the disk"

expect_rc 0 agent bk exec sh -c 'dd if=/dev/urandom of=/dev/vda bs=64k count=1 seek=300 conv=fsync 2>/dev/null && sync && sha256sum /dev/vda'
sum=$(cut -d' ' -f1 <"$T/last.out")
( flock 9 && "$VMM" backup bk "$T/b" --incremental >"$T/last.out" 2>"$T/last.err" ) 9<"$T/b" &&
	fail "a backup was made while another vmm held the directory"
grep -q "another vmm backup writes to '$T/b'" "$T/last.err" || fail "locked directory: $(cat "$T/last.err")"
expect_rc 0 backup bk "$T/b" --incremental --json
[ "$(json_field kind <"$T/last.out")" = incremental ] || fail "incremental backup: $(cat "$T/last.out")"
[ "$(json_field copied <"$T/last.out")" = 65536 ] || fail "the incremental backup copied $(json_field copied <"$T/last.out") bytes"
[ "$(qemu-img info --output=json "$T/b/data.001.qcow2" | json_field backing-filename)" = data.000.qcow2 ] ||
	fail "the incremental backup is not backed by the full one"
own=$(own_data "$T/b/data.001.qcow2")
[ "$own" -le 131072 ] || fail "the incremental backup holds $own bytes of data, more than the 64 KiB changed"
pass "full then incremental backup: the incremental one holds only the changed clusters ($own bytes), backed by the full one; one backup at a time into a directory"
# QEMU (as user vmm) was let write each target while the backup ran, and no longer.
for f in "$T"/b/data.00[01].qcow2; do
	acl=$(acl_of "$f")
	[ "$acl" = none ] || fail "$f keeps an ACL after the backup (system.posix_acl_access $acl)"
	grep -qs "$f" "$VMM_RUN_DIR/bk/grants.json" && fail "$f is still in the VM's grants: $(cat "$VMM_RUN_DIR/bk/grants.json")"
done
pass "the backup targets are QEMU's no more once written (no ACL left, not in the grants record)"

expect_rc 0 backup bk --verify "$T/b"
grep -q "are sound: 2 backups, 2 files checked" "$T/last.out" || fail "verify: $(cat "$T/last.out")"
expect_rc 0 stop bk
expect_rc 0 backup restore "$T/b" rb
profile=$VMM_DATA_DIR/rb/profile.json
[ -f "$profile" ] && [ "$(json_field name <"$profile")" = rb ] || fail "restore made no profile named rb"
qemu-img convert -O raw "$VMM_DATA_DIR/rb/data.qcow2" "$T/restored.raw"
[ "$(sha256sum <"$T/restored.raw" | cut -d' ' -f1)" = "$sum" ] || fail "the restored disk's checksum is not the guest's at backup time"
"$VMM" start rb >"$T/rb.start.out" 2>"$T/rb.start.err" || fail "the restored VM does not start by name: $(cat "$T/rb.start.err")"
expect_rc 0 wait rb agent --timeout 120
expect_rc 0 agent rb exec sha256sum /dev/vda
[ "$(cut -d' ' -f1 <"$T/last.out")" = "$sum" ] || fail "the restored guest reads another disk"
expect_rc 0 stop rb
assert_clean_rundir rb
expect_rc 1 backup restore "$T/b" rb
grep -q "VM 'rb' exists already" "$T/last.err" || fail "restore over a VM: $(cat "$T/last.err")"
pass "restore: a VM whose disk has the checksum the disk had at backup time, and boots from it"

# Ctrl-C (SIGINT to vmm, while qemu-img flattens a disk) undoes the restore; so does a full disk.
interrupt_during_qemu_img 'convert' backup restore "$T/b" rint
[ "$INT_RC" = 1 ] && grep -q "the restore of 'rint' was interrupted: nothing of it is left" "$T/int.err" &&
	[ ! -e "$VMM_DATA_DIR/rint" ] || fail "an interrupted restore: exit $INT_RC: $(cat "$T/int.err"): $(ls -A "$VMM_DATA_DIR/rint" 2>&1)"
VMM_DATA_DIR=$T/full expect_rc 1 backup restore "$T/b" rfull
grep -q "No space left on device" "$T/last.err" && [ -z "$(ls -A "$T/full")" ] ||
	fail "a restore onto a full disk: $(cat "$T/last.err"): left $(ls -AR "$T/full")"
pass "an interrupted restore and one onto a full disk leave nothing: $(cat "$T/int.err")"

printf 'X' | dd of="$T/b/data.001.qcow2" bs=1 seek=200000 conv=notrunc 2>/dev/null
expect_rc 1 backup bk --verify "$T/b"
grep -q "data.001.qcow2': its checksum is not the manifest's" "$T/last.err" || fail "verify of a changed file: $(cat "$T/last.err")"
mkdir "$T/evil"
echo '{"vm": "bk", "backups": [{"disks": [{"id": "data", "file": "../../etc/passwd", "sha256": "00"}]}]}' >"$T/evil/manifest.json"
expect_rc 1 backup restore "$T/evil" ev
grep -q "'$T/evil/manifest.json': backups\[0\].disks\[0\]: expected {\"id\": ID, \"file\": a file name in the directory" \
	"$T/last.err" || fail "restore of a bad manifest: $(cat "$T/last.err")"
[ ! -e "$VMM_DATA_DIR/ev" ] || fail "a refused restore made $VMM_DATA_DIR/ev"
pass "verify notices a backup file that changed; a manifest naming a file outside its directory is refused"

qemu-img create -q -f raw "$T/raw.img" 64M
start_with_disk bk "$T/raw.img" raw
expect_rc 1 backup bk "$T/r" --incremental
grep -q "incremental backups need qcow2 disks (their dirty bitmap lives in the image): disk 'data' of VM 'bk' is raw" \
	"$T/last.err" || fail "incremental of a raw disk: $(cat "$T/last.err")"
expect_rc 0 backup bk "$T/r"
grep -q "backup 0 of VM 'bk' (full)" "$T/last.out" || fail "full backup of a raw disk: $(cat "$T/last.out")"
expect_rc 0 stop bk
assert_clean_rundir bk
pass "a raw disk: full backups, and incremental ones refused saying they need qcow2"
