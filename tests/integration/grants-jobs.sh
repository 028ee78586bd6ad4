#!/bin/bash
# What QEMU's user is granted for a job (a block request's node) is put back when the job is
# over and nothing else needs it: one image under two nodes keeps its grant until the second
# is deleted; a hot-added disk of an image first added as a node keeps it after that node goes,
# also when it names the image by another path (a symlink's target); a node whose blockdev-add
# failed and whose file was then removed does not keep a later image of its name granted; a path
# another VM has on record, granted here for a node, is no longer this VM's once the node went.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: only a root vmm drops privileges"; exit 77; }
id vmm >/dev/null 2>&1 || fail "no user vmm (./bootstrap.sh makes it)"
export VMM_DATA_DIR=$T/data

# Sends VM NAME a block request of the QMP commands JSON (a list); prints the reply.
block() {
	python3 - "$VMM_RUN_DIR/$1/ctl.sock" "$2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((json.dumps({"request": "block", "version": 1, "commands": json.loads(sys.argv[2])}) + "\n").encode())
print(s.makefile().readline().strip())
PY
}
# blockdev-add of node NAME on FILE with DRIVER, read-only when $4 is true.
add() { echo "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"$3\",\"node-name\":\"$1\",\"read-only\":${4:-false},\"file\":{\"driver\":\"file\",\"filename\":\"$2\"}}}"; }
del() { echo "{\"execute\":\"blockdev-del\",\"arguments\":{\"node-name\":\"$1\"}}"; }
record() { grep -o "{[^}]*$1[^}]*}" "$VMM_RUN_DIR/$2/grants.json" || echo "(not on record)"; }

truncate -s 4M "$T/disk.raw"
for f in img hot alias stale target shared; do truncate -s 1M "$T/$f.raw"; done
chmod 600 "$T"/*.raw
"$VMM" start "$PROFILES/guest-agent.json" --name g --set hotplug.root_ports=2 \
	--set "disks=[{\"id\":\"data\",\"file\":\"$T/disk.raw\",\"format\":\"raw\"}]" >"$T/g.out" 2>"$T/g.err" ||
	fail "start: $(cat "$T/g.err")"
expect_rc 0 wait g running --timeout 60

block g "[$(add a "$T/img.raw" raw true), $(add b "$T/img.raw" raw true)]" | grep -q return || fail "adding a and b"
block g "[$(del a)]" | grep -q return || fail "deleting a"
[ "$(acl_of "$T/img.raw")" != none ] || fail "node b has $T/img.raw open, but deleting node a took it from QEMU's user ($(record img.raw g))"
block g "[$(del b)]" | grep -q return || fail "deleting b"
[ "$(acl_of "$T/img.raw")" = none ] || fail "both nodes of $T/img.raw deleted, it stays QEMU's: $(record img.raw g)"
mkdir -m 700 "$T/job"
truncate -s 1M "$T/job/t.raw"
block g "[$(add t "$T/job/t.raw" raw)]" | grep -q return || fail "adding t"
[ "$(acl_of "$T/job")" != none ] || fail "$T/job not granted search"
block g "[$(del t)]" | grep -q return || fail "deleting t"
[ "$(acl_of "$T/job")" = none ] && [ "$(acl_of "$T/job/t.raw")" = none ] ||
	fail "node t deleted, $T/job or its image stays QEMU's: $(cat "$VMM_RUN_DIR/g/grants.json")"
[ "$(acl_of "$T")" != none ] || fail "$T, above the VM's own disk, was put back with node t"
pass "an image under two nodes is QEMU's until the last of them is deleted; a node's directory goes with it"

block g "[$(add c "$T/hot.raw" raw true)]" | grep -q return || fail "adding c"
expect_rc 0 add g disk id=hot file="$T/hot.raw" format=raw
block g "[$(del c)]" | grep -q return || fail "deleting c"
[ "$(acl_of "$T/hot.raw")" != none ] || fail "the hot-added disk 'hot' lost $T/hot.raw when node c was deleted ($(record hot.raw g))"
ln -s "$T/alias.raw" "$T/alias-link.raw"
block g "[$(add d "$T/alias-link.raw" raw true)]" | grep -q return || fail "adding d"
expect_rc 0 add g disk id=hot2 file="$T/alias.raw" format=raw readonly=true
block g "[$(del d)]" | grep -q return || fail "deleting d"
[ "$(acl_of "$T/alias.raw")" != none ] || fail "the hot-added disk 'hot2' lost $T/alias.raw when node d (its symlink) was deleted"
pass "a hot-added disk keeps an image a deleted node had (also by a symlink's name)"

block g "[$(add x "$T/stale.raw" qcow2)]" | grep -q "not in qcow2 format" || fail "a blockdev-add QEMU refuses"
rm "$T/stale.raw"
block g "[$(add x "$T/target.raw" raw)]" | grep -q return || fail "adding x"
block g "[$(del x)]" | grep -q return || fail "deleting x"
[ "$(acl_of "$T/target.raw")" = none ] || fail "node x deleted, $T/target.raw stays QEMU's: $(grep 'taking back' "$VMM_RUN_DIR/g/vmm.log" | tail -1)"
pass "a failed node's grant whose file is gone does not keep the next one of its name"

"$VMM" start "$PROFILES/guest-agent.json" --name h \
	--set "disks=[{\"id\":\"data\",\"file\":\"$T/shared.raw\",\"format\":\"raw\",\"readonly\":true}]" >"$T/h.out" 2>"$T/h.err" ||
	fail "start h: $(cat "$T/h.err")"
block g "[$(add y "$T/shared.raw" raw true)]" | grep -q return || fail "adding y"
block g "[$(del y)]" | grep -q return || fail "deleting y"
expect_rc 0 kill h
for ((i = 0; i < 100; i++)); do [ -f "$VMM_RUN_DIR/h/state.json" ] || break; sleep 0.1; done
[ "$(acl_of "$T/shared.raw")" = none ] || fail "node y deleted and VM h gone, $T/shared.raw stays QEMU's: $(record shared.raw g)"
pass "a path another VM had on record is put back once the node here and that VM are gone"
expect_rc 0 kill g
