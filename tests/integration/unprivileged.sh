#!/bin/bash
# QEMU without root (qemu.user): a root vmm runs QEMU as the system user vmm (its ids in
# /proc/PID/status, no capability, no_new_privs); the guest reads its virtio disk, which lives
# in a directory only root may enter (mktemp's 0700), and a UEFI VM runs with its vars in
# pflash; a root-only file not granted stays out of QEMU's reach (blockdev-add: permission
# denied); a hot-added disk works; a qcow2 base root made read-only is granted read-only; the
# VM's files are not readable by other users; display vnc keeps QEMU root (its socket is bound
# in the run directory), said in a warning; the permissions vmm changed are put back after a
# stop, after kill -9 of QEMU, after kill -9 of the supervisor, vmm attach and stop, after a
# failed start, and by the last of two VMs sharing a directory; qemu.user "root" still runs
# QEMU as root. A record whose mode is no JSON integer (json-c read "0600" as 600 decimal, mode
# 1130) changes no mode, saying so.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: only a root vmm drops privileges"; exit 77; }
id vmm >/dev/null 2>&1 || fail "no user vmm (./bootstrap.sh makes it)"
export VMM_DATA_DIR=$T/data
VMU=$(id -u vmm)
VMG=$(id -g vmm)

# Prints PATH's mode and whether it has an ACL: what vmm must give back as it was.
perms() {
	python3 -c 'import os, sys
p = sys.argv[1]
try:
    acl = os.getxattr(p, "system.posix_acl_access").hex()
except OSError:
    acl = "none"
print("%o %s" % (os.stat(p).st_mode & 0o7777, acl))' "$1"
}

# Fails unless process PID runs as uid $2, gid $3 with no capability and no_new_privs.
assert_creds() {
	local st=/proc/$1/status
	grep -Eq "^Uid:\s+$2\s+$2\s+$2\s+$2$" "$st" && grep -Eq "^Gid:\s+$3\s+$3\s+$3\s+$3$" "$st" &&
		grep -Eq '^CapEff:\s+0+$' "$st" && grep -Eq '^NoNewPrivs:\s+1$' "$st" ||
		fail "QEMU's credentials: $(grep -E '^(Uid|Gid|CapEff|NoNewPrivs):' "$st")"
}

# Starts VM NAME detached from the guest-agent profile with more options.
start_with() {
	local name=$1
	shift
	"$VMM" start "$PROFILES/guest-agent.json" --name "$name" "$@" >"$T/$name.start.out" 2>"$T/$name.start.err" ||
		fail "vmm start $name failed: $(cat "$T/$name.start.err")"
}

# Runs a shell command in VM NAME's guest through its agent; its output in $T/last.out.
guest() {
	expect_rc 0 agent "$1" exec sh -c "$2"
	cat "$T/last.out"
}

# Waits until VM NAME has no supervisor and no QEMU (its state file is gone).
wait_ended() {
	local i
	for ((i = 0; i < 600; i++)); do
		[ -f "$VMM_RUN_DIR/$1/state.json" ] || return 0
		sleep 0.1
	done
	fail "$1 did not end"
}

# The disk the guest reads: a marker at its start, in $T (0700, root's), mode 0600.
truncate -s 4M "$T/data.raw" "$T/hot.raw" "$T/secret.raw"
printf 'vmm-data-marker' | dd of="$T/data.raw" conv=notrunc status=none
printf 'vmm-hot-marker!' | dd of="$T/hot.raw" conv=notrunc status=none
chmod 600 "$T/data.raw" "$T/hot.raw" "$T/secret.raw"
cat >"$T/disk.json" <<JSON
{ "disks": [{ "id": "data", "file": "$T/data.raw", "format": "raw" }], "hotplug": { "root_ports": 2 } }
JSON
before="$(perms "$T") $(perms "$T/data.raw") $(perms "$T/hot.raw")"
given_back() {
	[ "$(perms "$T") $(perms "$T/data.raw") $(perms "$T/hot.raw")" = "$before" ] ||
		fail "$1: permissions not given back: $(perms "$T") $(perms "$T/data.raw") $(perms "$T/hot.raw"), were $before"
}

start_with u1 -p "$T/disk.json"
assert_creds "$(state_field u1 qemu_pid)" "$VMU" "$VMG"
expect_rc 0 wait u1 agent --timeout 90
[ "$(guest u1 'head -c 15 /dev/vda')" = vmm-data-marker ] || fail "the guest does not read the disk: $(cat "$T/last.out")"
pass "QEMU runs as vmm ($VMU:$VMG), no capability, no_new_privs; the guest reads its disk from a root-only directory"

expect_rc 1 qmp u1 blockdev-add driver=file node-name=secret filename="$T/secret.raw"
grep -q "Permission denied" "$T/last.err" || fail "blockdev-add of a file not granted: $(cat "$T/last.err")"
pass "a root-only file vmm did not grant stays out of QEMU's reach (blockdev-add: permission denied)"

expect_rc 0 add u1 disk id=hot file="$T/hot.raw" format=raw
for ((i = 0; i < 100; i++)); do
	[ "$(guest u1 'head -c 15 /dev/vdb 2>/dev/null')" = vmm-hot-marker! ] && break
	sleep 0.2
done
[ "$(cat "$T/last.out")" = vmm-hot-marker! ] || fail "the guest does not read the hot-added disk: $(cat "$T/last.out")"
pass "a hot-added disk is granted and the guest reads it"

for f in "$VMM_DATA_DIR/u1" "$VMM_RUN_DIR/u1" "$VMM_DATA_DIR/u1/identity.json"; do
	[ $((0$(stat -c %a "$f") & 7)) = 0 ] || fail "$f is open to other users: $(stat -c %a "$f")"
done
pass "the VM's data and run directories are not open to other users"

expect_rc 0 stop u1
wait_ended u1
given_back "after vmm stop"
assert_clean_rundir u1
pass "vmm stop gives the permissions back (grants.json gone)"

start_with u2 -p "$T/disk.json"
[ "$(perms "$T/data.raw")" != "$(echo "$before" | cut -d' ' -f3-4)" ] || fail "u2: data.raw was not granted"
kill -9 "$(state_field u2 qemu_pid)"
wait_ended u2
given_back "after kill -9 of QEMU"
pass "kill -9 of QEMU: the permissions are given back"

start_with u5 -p "$T/disk.json" --set 'qemu.extra_args=["-S"]'
python3 - "$VMM_RUN_DIR/u5/grants.json" "$T/data.raw" <<'PY'
import json, sys
grants = json.load(open(sys.argv[1]))
for g in grants:
    if g["path"] == sys.argv[2]:
        g["mode"] = "0%o" % g["mode"]
json.dump(grants, open(sys.argv[1], "w"))
PY
grep -q '"mode": "0600"' "$VMM_RUN_DIR/u5/grants.json" || fail "u5: no record of data.raw: $(cat "$VMM_RUN_DIR/u5/grants.json")"
expect_rc 0 kill u5
wait_ended u5
kept=$(perms "$T/data.raw")
python3 -c 'import os, sys; os.removexattr(sys.argv[1], "system.posix_acl_access"); os.chmod(sys.argv[1], 0o600)' "$T/data.raw"
# Left as QEMU had it: its ACL entry (the mask shows as the group's bits), no mode set from the record.
case $kept in *\ none | 1130\ *) fail "a record of mode \"0600\" changed data.raw: $kept" ;; esac
grep -q "taking back QEMU's access to files: grants.json: entry [0-9]* is not {path, mode, acl, perms}" \
	"$VMM_RUN_DIR/u5/vmm.log" || fail "no message: $(cat "$VMM_RUN_DIR/u5/vmm.log")"
given_back "after a record of a string mode"
pass "a record whose mode is a string changes no mode, saying so"

start_with u3 -p "$T/disk.json"
kill -9 "$(state_field u3 supervisor_pid)"
assert_gone "$(state_field u3 supervisor_pid)"
[ "$(perms "$T/data.raw")" != "$(echo "$before" | cut -d' ' -f3-4)" ] || fail "u3: data.raw was not granted"
expect_rc 0 attach u3
expect_rc 0 stop u3
wait_ended u3
given_back "after kill -9 of the supervisor, vmm attach and stop"
assert_clean_rundir u3
pass "kill -9 of the supervisor, vmm attach, vmm stop: the permissions are given back"

# A start that fails (QEMU rejects its command line) gives back what it granted.
expect_rc 2 start "$PROFILES/guest-agent.json" --name bad -p "$T/disk.json" --set 'qemu.extra_args=["-no-such-option"]'
wait_ended bad
given_back "after a failed start"
pass "a failed start gives the permissions back"

# Two VMs share $T: the first to end leaves its search entry to the other, the last puts it back.
cp "$T/hot.raw" "$T/other.raw"
echo "{ \"disks\": [{ \"id\": \"other\", \"file\": \"$T/other.raw\", \"format\": \"raw\" }] }" >"$T/other.json"
start_with s1 -p "$T/disk.json" --set 'qemu.extra_args=["-S"]'
start_with s2 -p "$T/other.json" --set 'qemu.extra_args=["-S"]'
shared=$(perms "$T")
expect_rc 0 kill s1
wait_ended s1
[ "$(perms "$T")" = "$shared" ] || fail "s1 took back the search on $T that s2 needs: $(perms "$T")"
[ "$(perms "$T/data.raw")" = "$(echo "$before" | cut -d' ' -f3-4)" ] || fail "s1's own disk not given back"
expect_rc 0 kill s2
wait_ended s2
given_back "after two VMs sharing a directory"
pass "a directory two running VMs share is put back by the last one to end"

# A qcow2 overlay on a base root made read-only (as a template's): QEMU's user gets the base
# read-only through the chain, the overlay read-write.
expect_rc 0 disk create "$T/base.qcow2" 16M
expect_rc 0 disk create "$T/top.qcow2" 16M --backing "$T/base.qcow2"
chmod 400 "$T/base.qcow2"
chmod 600 "$T/top.qcow2"
echo "{ \"disks\": [{ \"id\": \"top\", \"file\": \"$T/top.qcow2\", \"format\": \"qcow2\" }] }" >"$T/chain.json"
start_with c1 -p "$T/chain.json" --set 'qemu.extra_args=["-S"]'
as_vmm() { setpriv --reuid vmm --regid vmm --init-groups -- "$@"; }
as_vmm test -r "$T/base.qcow2" && ! as_vmm test -w "$T/base.qcow2" || fail "the base is not read-only to vmm"
as_vmm test -r "$T/top.qcow2" && as_vmm test -w "$T/top.qcow2" || fail "the overlay is not read-write to vmm"
expect_rc 0 kill c1
wait_ended c1
[ "$(perms "$T/base.qcow2") $(perms "$T/top.qcow2")" = "400 none 600 none" ] ||
	fail "the chain's permissions not given back: $(perms "$T/base.qcow2") $(perms "$T/top.qcow2")"
pass "a qcow2 chain: the read-only base is granted read-only, the overlay read-write; both given back"

# UEFI: the VM's vars in pflash, QEMU (paused) as vmm; its vars file open to no other user.
start_with fw -p "$SRCDIR/profiles/q35-ovmf.json" --set machine.accel=tcg --set 'qemu.extra_args=["-S"]'
assert_creds "$(state_field fw qemu_pid)" "$VMU" "$VMG"
expect_rc 0 qmp fw query-named-block-nodes
grep -q "\"$VMM_DATA_DIR/fw/efivars.fd\"" "$T/last.out" || fail "no vars in pflash: $(cat "$T/last.out")"
[ $((0$(stat -c %a "$VMM_DATA_DIR/fw/efivars.fd") & 7)) = 0 ] || fail "efivars.fd is open to other users"
expect_rc 0 kill fw
wait_ended fw
[ "$(perms "$VMM_DATA_DIR/fw/efivars.fd")" = "600 none" ] || fail "efivars.fd not given back: $(perms "$VMM_DATA_DIR/fw/efivars.fd")"
pass "UEFI: QEMU runs as vmm with the VM's vars in pflash; they are given back"

# display vnc: QEMU binds vnc.sock in the run directory, which only root enters: by default
# QEMU stays root (a warning says so); a qemu.user named for it is refused, nothing runs.
start_with v1 --set display=vnc --set 'qemu.extra_args=["-S"]'
[ "$(awk '/^Uid:/ { print $2 }' "/proc/$(state_field v1 qemu_pid)/status")" = 0 ] || fail "display vnc: QEMU is not root"
grep -q "warning: QEMU runs as root: display vnc" "$T/v1.start.err" || fail "no warning: $(cat "$T/v1.start.err")"
expect_rc 0 kill v1
expect_rc 2 start "$PROFILES/guest-agent.json" --name v2 --set display=vnc --set qemu.user=vmm
grep -q "display: vnc binds its socket in the run directory, which QEMU as 'vmm' cannot reach" "$T/last.err" ||
	fail "vnc with qemu.user vmm: $(cat "$T/last.err")"
[ ! -e "$VMM_RUN_DIR/v2/state.json" ] || fail "v2 left a state file"
pass "display vnc keeps QEMU root by default (said), and is refused with qemu.user named"

# qemu.user "root": QEMU as root, nothing granted.
start_with r1 -p "$T/disk.json" --set qemu.user=root
[ "$(awk '/^Uid:/ { print $2 }' "/proc/$(state_field r1 qemu_pid)/status")" = 0 ] || fail "qemu.user root: QEMU is not root"
given_back "qemu.user root (nothing granted)"
expect_rc 0 wait r1 agent --timeout 90
[ "$(guest r1 'head -c 15 /dev/vda')" = vmm-data-marker ] || fail "root: the guest does not read the disk"
expect_rc 0 kill r1
pass "qemu.user \"root\" runs QEMU as root and grants nothing"
