#!/bin/bash
# Snapshots of a running guest's qcow2 disk, proven by a marker the guest writes on it (raw
# block writes through the agent, synced): a disk-only snapshot (one transaction, the guest
# frozen through its agent) then a change, reverted with the VM stopped, brings the marker back
# at the next start; a full snapshot (with RAM) then a change, reverted live, brings it back at
# once; deleting snapshots merges their layers live (inner and active block-commit) and keeps
# what the guest wrote last; vmm jobs lists and cancels. Bad input changes nothing: a tag that
# exists, a revert of a disk-only snapshot while the VM runs, a full snapshot of a VM with a raw
# disk, a revert of a full snapshot on a protected VM.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data

# Writes MARK (4 characters) into sector SECTOR (default 100) of the guest's disk, synced.
mark() {
	expect_rc 0 agent sn exec sh -c "printf $1 | dd of=/dev/vda bs=512 seek=${2:-100} conv=notrunc,fsync 2>/dev/null && sync"
}

# Prints the 4 characters at sector SECTOR (default 100) of the guest's disk.
marker() {
	"$VMM" agent sn exec sh -c "dd if=/dev/vda bs=512 skip=${1:-100} count=1 2>/dev/null | head -c 4"
}

qemu-img create -q -f qcow2 "$T/data.qcow2" 64M
start_with_disk sn "$T/data.qcow2" qcow2
mark AAAA
[ "$(marker)" = AAAA ] || fail "the guest did not write its marker: $(marker)"

expect_rc 0 snapshot sn create s1 --disk-only
grep -q "snapshot 's1' of VM 'sn' made (disk only): data" "$T/last.out" || fail "create: $(cat "$T/last.out")"
grep -Eq "disks' I/O paused for [0-9.]+ ms" "$T/last.out" || fail "create says no pause: $(cat "$T/last.out")"
grep -Eq "the guest's filesystems frozen \([0-9]+\) for [0-9.]+ ms" "$T/last.out" || fail "not frozen: $(cat "$T/last.out")"
[ -f "$VMM_DATA_DIR/sn/data.s1.qcow2" ] || fail "no overlay data.s1.qcow2"
[ "$(qemu-img info --force-share --output=json "$VMM_DATA_DIR/sn/data.s1.qcow2" | json_field backing-filename)" = "$T/data.qcow2" ] ||
	fail "the overlay is not backed by the disk"
"$VMM" qmp sn query-named-block-nodes >"$T/nodes.out"
grep -q "data.s1.qcow2" "$T/nodes.out" || fail "QEMU does not write to the overlay"
mark BBBB
[ "$(marker)" = BBBB ] || fail "the change was not written"
pass "a disk-only snapshot of a running guest: an overlay, the guest frozen around the transaction"

cp "$VMM_DATA_DIR/sn/snapshots.json" "$T/chain.before"
expect_rc 1 snapshot sn create s1 --disk-only
grep -q "VM 'sn' has a snapshot 's1' already" "$T/last.err" || fail "tag that exists: $(cat "$T/last.err")"
expect_rc 1 snapshot sn revert s1
grep -q "VM 'sn' runs: a disk-only snapshot is reverted to while the VM is stopped" "$T/last.err" ||
	fail "live revert of a disk-only snapshot: $(cat "$T/last.err")"
( flock 9 && "$VMM" snapshot sn create s9 --disk-only >"$T/last.out" 2>"$T/last.err" ) 9>"$VMM_DATA_DIR/sn/snapshots.lock" &&
	fail "a snapshot was made while another vmm held the lock"
grep -q "another vmm is changing the snapshots of VM 'sn'" "$T/last.err" || fail "lock held: $(cat "$T/last.err")"
cmp -s "$T/chain.before" "$VMM_DATA_DIR/sn/snapshots.json" || fail "a refused request changed the chain"
[ "$(marker)" = BBBB ] || fail "a refused request changed the disk"
# Ctrl-C (SIGINT to vmm, while qemu-img makes the overlay) before QEMU took the snapshot: it is
# undone (no overlay left, the chain as it was); the tag can be used again.
interrupt_during_qemu_img 'create' snapshot sn create sint --disk-only
[ "$INT_RC" = 1 ] && grep -q "snapshot 'sint' of VM 'sn' was interrupted: nothing of it is left" "$T/int.err" &&
	[ ! -e "$VMM_DATA_DIR/sn/data.sint.qcow2" ] && cmp -s "$T/chain.before" "$VMM_DATA_DIR/sn/snapshots.json" ||
	fail "an interrupted snapshot: exit $INT_RC: $(cat "$T/int.err")"
"$VMM" qmp sn query-named-block-nodes | grep -q "data.sint.qcow2" && fail "QEMU writes to the interrupted snapshot's overlay"
# The supervisor's block request runs block commands only, and checks its list.
ctl() {
	python3 -c 'import json,socket,sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(sys.argv[2].encode() + b"\n")
print(s.makefile().readline().strip())' "$VMM_RUN_DIR/sn/ctl.sock" "$1"
}
[ "$(ctl '{"request": "block", "version": 1, "commands": [{"execute": "quit"}]}')" = \
	'{"error":"commands[0]: expected {\"execute\": NAME, \"arguments\": {...}} with a block command as NAME"}' ] ||
	fail "block ran quit?"
[ "$(ctl '{"request": "block", "version": 1, "commands": []}')" = '{"error":"commands: expected a list of 1 to 64 QMP commands"}' ] ||
	fail "block with no commands"
expect_rc 0 status sn
pass "a tag that exists, a live revert of a disk-only snapshot, a block request of other commands, a snapshot while another is made, one interrupted by Ctrl-C: refused or undone, changing nothing"

expect_rc 0 stop sn
cp "$VMM_DATA_DIR/sn/snapshots.json" "$T/chain.good"
echo '{"disks": {"data": {"layers": ["relative.qcow2"]}}, "snapshots": []}' >"$VMM_DATA_DIR/sn/snapshots.json"
expect_rc 1 cmdline "$PROFILES/guest-agent.json" --name sn
grep -q "'$VMM_DATA_DIR/sn/snapshots.json': disks.data.layers\[0\]: expected an absolute path" "$T/last.err" ||
	fail "a bad chain: $(cat "$T/last.err")"
cp "$T/chain.good" "$VMM_DATA_DIR/sn/snapshots.json"
expect_rc 0 snapshot sn revert s1
grep -q "VM 'sn' reverted to snapshot 's1' (disk only)" "$T/last.out" || fail "revert: $(cat "$T/last.out")"
start_with_disk sn "$T/data.qcow2" qcow2
[ "$(marker)" = AAAA ] || fail "after reverting s1 the marker is $(marker), not AAAA"
pass "revert of a disk-only snapshot (stopped): the next start has the marker of the snapshot"

expect_rc 0 snapshot sn create f1
grep -q "snapshot 'f1' of VM 'sn' made (with RAM)" "$T/last.out" || fail "full create: $(cat "$T/last.out")"
mark CCCC
[ "$(marker)" = CCCC ] || fail "the change was not written"
expect_rc 0 snapshot sn revert f1
[ "$(marker)" = AAAA ] || fail "after reverting f1 (live) the marker is $(marker), not AAAA"
expect_rc 0 snapshot sn list
grep -Eq '^f1 +full +[0-9-]+ [0-9:]+ +data$' "$T/last.out" && grep -Eq '^s1 +disk ' "$T/last.out" ||
	fail "list: $(cat "$T/last.out")"
pass "a full snapshot (RAM and disk), changed, then reverted live: the marker is back"

expect_rc 0 snapshot sn delete f1 --json
[ "$(python3 -c 'import json,sys; print(",".join(s["tag"] for s in json.load(sys.stdin)))' <"$T/last.out")" = s1 ] ||
	fail "delete --json: $(cat "$T/last.out")"
expect_rc 0 snapshot sn create s2 --disk-only
mark DDDD
expect_rc 0 snapshot sn create s3 --disk-only
mark EEEE 101
# vmm jobs: an active commit started by hand stays "ready" until completed: listed, then cancelled.
node=$("$VMM" qmp sn query-named-block-nodes | python3 -c 'import json,sys
print([n["node-name"] for n in json.load(sys.stdin) if n["file"].endswith("data.s3.qcow2") and n["drv"] == "qcow2"][0])')
expect_rc 0 qmp sn block-commit job-id=jt device="$node"
for i in $(seq 100); do "$VMM" jobs sn >"$T/jobs.out"; grep -q ready "$T/jobs.out" && break; sleep 0.1; done
grep -Eq '^jt +commit +ready +100% \(' "$T/jobs.out" || fail "jobs: $(cat "$T/jobs.out")"
expect_rc 0 jobs sn --json
[ "$(python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])' <"$T/last.out")" = jt ] || fail "jobs --json: $(cat "$T/last.out")"
expect_rc 0 jobs sn --cancel jt
grep -q "job 'jt' of VM 'sn' cancelled" "$T/last.out" || fail "cancel: $(cat "$T/last.out")"
for i in $(seq 100); do "$VMM" jobs sn >"$T/jobs.out"; grep -q jt "$T/jobs.out" || break; sleep 0.1; done
! grep -q jt "$T/jobs.out" || fail "the cancelled job is still there: $(cat "$T/jobs.out")"
pass "vmm jobs lists a running block job with its progress (also --json), --cancel ends it"
expect_rc 0 snapshot sn delete s2
[ ! -e "$VMM_DATA_DIR/sn/data.s2.qcow2" ] || fail "the merged layer of s2 is still there"
expect_rc 0 snapshot sn delete s3
grep -q "merging the snapshot's layer" "$T/last.err" || fail "no progress of the merge: $(cat "$T/last.err")"
expect_rc 0 snapshot sn delete s1
[ -z "$(ls "$VMM_DATA_DIR/sn/" | grep qcow2)" ] || fail "layers left: $(ls "$VMM_DATA_DIR/sn/")"
"$VMM" qmp sn query-named-block-nodes >"$T/nodes.out"
! grep -q "$VMM_DATA_DIR/" "$T/nodes.out" || fail "QEMU still has a merged layer open"
[ "$(marker)$(marker 101)" = DDDDEEEE ] || fail "after merging every layer the guest reads $(marker)$(marker 101)"
expect_rc 0 stop sn
qemu-img convert -O raw "$T/data.qcow2" "$T/data.raw"
[ "$(dd if="$T/data.raw" bs=512 skip=100 count=2 2>/dev/null | tr -d '\0')" = DDDDEEEE ] ||
	fail "the base image does not hold what the guest wrote"
pass "delete merges the layers live (inner and active commits), the base holds what the guest wrote"

qemu-img create -q -f raw "$T/raw.img" 64M
"$VMM" start "$PROFILES/guest-agent.json" --name sn --set agent=false \
	--set "disks=[{\"id\": \"data\", \"file\": \"$T/raw.img\", \"format\": \"raw\"}]" >"$T/sn.start.out" 2>"$T/sn.start.err" ||
	fail "vmm start sn (raw, no agent) failed: $(cat "$T/sn.start.err")"
wait_for "$VMM_RUN_DIR/sn/console.log" 'vmm-guest: ready' 120
expect_rc 0 jobs sn
[ "$(cat "$T/last.out")" = "$(printf '%-24s %-16s %-10s %s' ID TYPE STATUS PROGRESS)" ] || fail "jobs: $(cat "$T/last.out")"
expect_rc 1 jobs sn --cancel nosuchjob
grep -q "VM 'sn' has no job 'nosuchjob' (vmm jobs sn lists them)" "$T/last.err" || fail "cancel of no job: $(cat "$T/last.err")"
expect_rc 1 snapshot sn create f2
grep -q "a full snapshot (with RAM) needs qcow2 disks: disk 'data' of VM 'sn' is raw ('$T/raw.img')" "$T/last.err" ||
	fail "full snapshot of a raw disk: $(cat "$T/last.err")"
[ ! -e "$VMM_DATA_DIR/sn/snapshots.json" ] || grep -q '"snapshots":\[\]' <(tr -d ' \n' <"$VMM_DATA_DIR/sn/snapshots.json") ||
	fail "a refused full snapshot changed the chain"
pass "a full snapshot of a VM with a raw disk is refused; jobs lists none and cancel of no job fails"

expect_rc 0 snapshot sn create d1 --disk-only
grep -q "the guest's filesystems were not frozen: the VM has no guest agent channel" "$T/last.out" ||
	fail "snapshot without an agent: $(cat "$T/last.out")"
expect_rc 0 kill sn
expect_rc 1 snapshot sn create d2 --disk-only
grep -q "VM 'sn' is not running" "$T/last.err" || fail "snapshot of a stopped VM: $(cat "$T/last.err")"
expect_rc 0 snapshot sn delete d1
assert_clean_rundir sn
[ ! -e "$VMM_DATA_DIR/sn/data.d1.qcow2" ] || fail "the layer of d1 is still there after delete (stopped)"
grep -q '"layers":\[\]' <(tr -d ' \n' <"$VMM_DATA_DIR/sn/snapshots.json") || fail "the chain still has a layer"
pass "a disk-only snapshot of a raw disk without an agent: taken, unfrozen (said); deleted while stopped (qemu-img commit)"

# A protected VM refuses what its proxy refuses: a revert of a full snapshot (snapshot-load).
qemu-img create -q -f qcow2 "$T/prot.qcow2" 64M
"$VMM" start "$PROFILES/guest-protected.json" --name sp \
	--set "disks=[{\"id\": \"data\", \"file\": \"$T/prot.qcow2\", \"format\": \"qcow2\"}]" >"$T/sp.start.out" 2>"$T/sp.start.err" ||
	fail "vmm start sp failed: $(cat "$T/sp.start.err")"
wait_for "$VMM_RUN_DIR/sp/console.log" 'vmm-guest: ready' 120
expect_rc 0 snapshot sp create f1
expect_rc 1 snapshot sp revert f1
grep -q "snapshot-load refused: the VM is protected (lifecycle.protected in '$PROFILES/guest-protected.json')" "$T/last.err" ||
	fail "revert on a protected VM: $(cat "$T/last.err")"
pass "a protected VM refuses to revert to a full snapshot"
