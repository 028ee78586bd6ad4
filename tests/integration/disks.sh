#!/bin/bash
# Images, templates, clones, destroy and cloud-init seeds on the real QEMU: vmm disk create and
# info; a template refuses to start; a thin clone boots with its own MAC and UUID (read in the
# guest through the agent) while the base's checksum stays the same; a "create" disk is made on
# the first start; vmm disk resize grows a disk the guest sees grow; the seed is in the guest
# under the label cidata with meta-data (the clone's instance id), user-data and network-config;
# the seed is rebuilt when the profile changes; a full clone's disk stands alone;
# destroy refuses a running VM, a protected one and a base clones depend on (listing them), says
# what it would delete without --yes, and deletes only the VM's data. Bad input (a clone name in
# use, a size that does not parse, an image that exists) gets a clear error and changes nothing,
# and so does a clone interrupted by Ctrl-C.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data VMM_PROFILE_PATH=$T/profiles
mkdir -p "$VMM_PROFILE_PATH"

# Runs a shell command in VM NAME's guest through its agent; its output in $T/last.out.
guest() {
	expect_rc 0 agent "$1" exec sh -c "$2"
}

# vmm disk create and info; bad input changes nothing.
expect_rc 0 disk create "$T/base.qcow2" 64M
expect_rc 0 disk info "$T/base.qcow2" --json
[ "$(python3 -c 'import json,sys; c=json.load(sys.stdin); print(len(c), c[0]["format"], c[0]["virtual_size"])' \
	<"$T/last.out")" = "1 qcow2 67108864" ] || fail "disk info: $(cat "$T/last.out")"
sum=$(sha256sum "$T/base.qcow2")
expect_rc 1 disk create "$T/base.qcow2" 1G
grep -q "'$T/base.qcow2' exists: vmm never overwrites a file" "$T/last.err" || fail "create over a file: $(cat "$T/last.err")"
expect_rc 1 disk create "$T/new.qcow2" 12X
grep -q "'12X' is not a size" "$T/last.err" || fail "bad size: $(cat "$T/last.err")"
[ ! -e "$T/new.qcow2" ] && [ "$(sha256sum "$T/base.qcow2")" = "$sum" ] || fail "bad input changed files"
expect_rc 0 disk create "$T/top.qcow2" 64M --backing "$T/base.qcow2"
expect_rc 0 disk info "$T/top.qcow2"
grep -q "backing    $T/base.qcow2 (qcow2)" "$T/last.out" || fail "disk info chain: $(cat "$T/last.out")"
pass "disk create and info; an existing file and a bad size are refused"

cat >"$VMM_PROFILE_PATH/base.json" <<EOF
{
  "include": ["$PROFILES/guest-agent.json"],
  "boot": { "append": "console=ttyS0 quiet" },
  "disks": [{ "id": "root", "file": "$T/base.qcow2", "format": "qcow2", "cache": "writeback" }],
  "cloud_init": { "hostname": "base-host", "user": "tester", "ssh_authorized_keys": ["ssh-ed25519 AAAAC3Nz tester@vmm"] }
}
EOF
expect_rc 0 template base
[ -w "$T/base.qcow2" ] && [ "$(id -u)" != 0 ] && fail "the template's disk is still writable"
[ "$(stat -c %a "$T/base.qcow2")" = 400 ] || fail "template: base.qcow2 has mode $(stat -c %a "$T/base.qcow2")"
expect_rc 1 start base
grep -q "VM 'base' is a template" "$T/last.err" || fail "start of a template: $(cat "$T/last.err")"
pass "a template's disks are read-only and it does not start"

expect_rc 0 clone base c1
expect_rc 0 clone base c2
expect_rc 1 clone base c1
grep -q "the name 'c1' is in use" "$T/last.err" || fail "clone over c1: $(cat "$T/last.err")"
expect_rc 1 clone c1 c3
grep -q "VM 'c1' is not a template" "$T/last.err" || fail "thin clone of a VM: $(cat "$T/last.err")"
[ ! -e "$VMM_DATA_DIR/c3" ] || fail "a refused clone left $VMM_DATA_DIR/c3"
expect_rc 0 disk info "$VMM_DATA_DIR/c1/root.qcow2"
grep -q "backing    $T/base.qcow2 (qcow2)" "$T/last.out" || fail "c1's overlay: $(cat "$T/last.out")"
expect_rc 1 clone base 9lives
grep -q "'9lives'" "$T/last.err" && [ ! -e "$VMM_DATA_DIR/9lives" ] || fail "a bad name: $(cat "$T/last.err")"
# Disks with snapshot layers on them (vmm snapshot's file) are not copied or made bases.
echo '{"disks": {"root": {"layers": ["'"$VMM_DATA_DIR"'/c2/root.s1.qcow2"]}}, "snapshots": []}' \
	>"$VMM_DATA_DIR/c2/snapshots.json"
expect_rc 1 clone c2 c5 --full
grep -q "VM 'c2' has snapshot layers on its disks" "$T/last.err" && [ ! -e "$VMM_DATA_DIR/c5" ] ||
	fail "a copy of a VM with snapshot layers: $(cat "$T/last.err")"
expect_rc 1 template c2
grep -q "VM 'c2' has snapshot layers on its disks" "$T/last.err" && [ ! -e "$VMM_DATA_DIR/c2/template.json" ] ||
	fail "a template of a VM with snapshot layers: $(cat "$T/last.err")"
rm "$VMM_DATA_DIR/c2/snapshots.json"
pass "thin clones are overlays on the template's disk; a name in use, a bad name and snapshot layers are refused"

# Ctrl-C (SIGINT to vmm, while qemu-img makes the image) undoes the clone: its name stays free.
interrupt_during_qemu_img 'create|convert' clone base cint
[ "$INT_RC" = 1 ] && grep -q "the clone 'cint' was interrupted: nothing of it is left" "$T/int.err" &&
	[ ! -e "$VMM_DATA_DIR/cint" ] || fail "an interrupted clone: exit $INT_RC: $(cat "$T/int.err"): $(ls -A "$VMM_DATA_DIR/cint" 2>&1)"
pass "an interrupted clone leaves nothing: $(cat "$T/int.err")"

# c1 with a disk made on its first start.
cat >"$T/scratch.json" <<EOF
{ "disks": [{ "id": "scratch", "file": "$T/scratch/s.qcow2", "format": "qcow2", "create": "32M" }] }
EOF
"$VMM" start c1 -p "$T/scratch.json" >"$T/c1.start.out" 2>"$T/c1.start.err" || fail "vmm start c1: $(cat "$T/c1.start.err")"
wait_for "$VMM_RUN_DIR/c1/console.log" 'vmm-guest: ready' 90
expect_rc 0 wait c1 agent --timeout 90
[ -f "$T/scratch/s.qcow2" ] || fail "the create disk was not made"
expect_rc 0 identity c1 --json
uuid=$(json_field uuid <"$T/last.out")
mac=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["macs"]["net0"])' <"$T/last.out")
expect_rc 0 cmdline c2 --json
grep -q "\"$uuid\"" "$T/last.out" && fail "c2 would get c1's UUID"
guest c1 'cat /sys/class/dmi/id/product_uuid; cat /sys/class/net/eth0/address'
[ "$(sed -n 1p "$T/last.out")" = "$uuid" ] || fail "guest UUID $(sed -n 1p "$T/last.out"), identity $uuid"
[ "$(sed -n 2p "$T/last.out")" = "$mac" ] || fail "guest MAC $(sed -n 2p "$T/last.out"), identity $mac"
pass "the clone boots with its own UUID and MAC; a create disk is made on the first start"

# The disk the guest knows by serial: its size in 512-byte sectors.
sectors='for b in /sys/block/vd*; do [ "$(cat $b/serial)" = scratch ] && cat $b/size; done; true'
guest c1 "$sectors"
[ "$(cat "$T/last.out")" = 65536 ] || fail "scratch has $(cat "$T/last.out") sectors before the resize"
expect_rc 1 disk resize c1 scratch 16M
grep -q "vmm only grows a disk" "$T/last.err" || fail "shrink: $(cat "$T/last.err")"
expect_rc 1 disk resize c1 nosuch 64M
grep -q "VM 'c1' has no disk 'nosuch'" "$T/last.err" || fail "resize of no disk: $(cat "$T/last.err")"
expect_rc 0 disk resize c1 scratch 48M
guest c1 "$sectors"
[ "$(cat "$T/last.out")" = 98304 ] || fail "scratch has $(cat "$T/last.out") sectors after the resize"
pass "disk resize: the guest sees the new size; shrinking and unknown disks are refused"

guest c1 'd=$(findfs LABEL=cidata) && echo "label cidata: $d" && mount -t iso9660 -o ro $d /mnt &&
	ls /mnt && cat /mnt/meta-data /mnt/user-data'
grep -q '^label cidata: /dev/vd' "$T/last.out" || fail "seed label: $(cat "$T/last.out")"
for f in meta-data user-data network-config; do grep -qx "$f" "$T/last.out" || fail "no $f in the seed: $(cat "$T/last.out")"; done
grep -q "\"instance-id\": \"iid-$uuid\"" "$T/last.out" || fail "instance id: $(cat "$T/last.out")"
grep -q '"local-hostname": "c1"' "$T/last.out" || fail "host name: $(cat "$T/last.out")"
grep -q '"ssh-ed25519 AAAAC3Nz tester@vmm"' "$T/last.out" || fail "keys: $(cat "$T/last.out")"
pass "the seed is in the guest: label cidata, meta-data with the clone's instance id, user-data, network-config"

expect_rc 1 destroy c1 --yes
grep -q "VM 'c1' runs" "$T/last.err" || fail "destroy of a running VM: $(cat "$T/last.err")"
expect_rc 1 destroy base --yes
grep -q "VM 'base' has VMs that depend on it" "$T/last.err" && grep -q "c1 ($VMM_DATA_DIR/c1/root.qcow2)" "$T/last.err" &&
	grep -q "c2 (" "$T/last.err" || fail "destroy of a base: $(cat "$T/last.err")"
[ -f "$VMM_DATA_DIR/c1/root.qcow2" ] && [ -f "$VMM_DATA_DIR/base/template.json" ] || fail "a refused destroy deleted files"
pass "destroy refuses a running VM and a base clones depend on (listing them)"

expect_rc 0 stop c1
[ "$(sha256sum "$T/base.qcow2")" = "$sum" ] || fail "the template's image changed"
pass "the base's checksum is unchanged after the clone ran"

# The seed follows the profile: a new host name and user-data and network-config files of the
# user's rebuild it; a user_data file that cannot be read fails the start before QEMU runs.
seed=$(cat "$VMM_DATA_DIR/c1/cidata.iso.sha256")
printf '#cloud-config\nruncmd: [echo from-the-user]\n' >"$T/ud.yaml"
printf 'version: 2\nethernets: {eth0: {dhcp4: false}}\n' >"$T/net.yaml"
cat >"$T/own.json" <<EOF
{ "cloud_init": { "hostname": "renamed", "user": null, "ssh_authorized_keys": null,
                  "user_data": "ud.yaml", "network_config": "net.yaml" } }
EOF
sed 's/ud.yaml/missing.yaml/' "$T/own.json" >"$T/missing.json"
expect_rc 2 start c1 -p "$T/missing.json"
grep -q "cloud_init.user_data: cannot read '$T/missing.yaml'" "$T/last.err" || fail "missing user_data: $(cat "$T/last.err")"
[ "$(cat "$VMM_DATA_DIR/c1/cidata.iso.sha256")" = "$seed" ] && [ "$(qemus c1)" = 0 ] ||
	fail "a start with a missing user_data changed the seed or runs"
"$VMM" start c1 -p "$T/own.json" >"$T/c1.start.out" 2>"$T/c1.start.err" ||
	fail "vmm start c1 again: $(cat "$T/c1.start.err")"
expect_rc 0 wait c1 agent --timeout 90
[ "$(cat "$VMM_DATA_DIR/c1/cidata.iso.sha256")" != "$seed" ] || fail "the seed was not rebuilt"
guest c1 'mount -t iso9660 -o ro $(findfs LABEL=cidata) /mnt && cd /mnt && cat meta-data && md5sum user-data network-config'
grep -q '"local-hostname": "renamed"' "$T/last.out" || fail "rebuilt seed: $(cat "$T/last.out")"
grep -q "^$(md5sum <"$T/ud.yaml" | cut -d' ' -f1)  user-data" "$T/last.out" &&
	grep -q "^$(md5sum <"$T/net.yaml" | cut -d' ' -f1)  network-config" "$T/last.out" ||
	fail "the user's user-data and network-config: $(cat "$T/last.out")"
expect_rc 0 stop c1
pass "the seed is rebuilt when the profile changes; the user's own files go in as they are"

expect_rc 0 clone base c4 --full
expect_rc 0 disk info "$VMM_DATA_DIR/c4/root.qcow2" --json
[ "$(python3 -c 'import json,sys; c=json.load(sys.stdin); print(len(c), c[0]["backing"])' <"$T/last.out")" = "1 None" ] ||
	fail "a full clone's disk: $(cat "$T/last.out")"
expect_rc 0 destroy c4 --yes
pass "a full clone's disk stands alone"

cat >"$VMM_PROFILE_PATH/prot.json" <<EOF
{ "include": ["$PROFILES/guest.json"], "lifecycle": { "protected": true } }
EOF
mkdir -p "$VMM_DATA_DIR/prot" && touch "$VMM_DATA_DIR/prot/identity.json"
expect_rc 1 destroy prot --yes
grep -q "VM 'prot' is protected" "$T/last.err" && [ -f "$VMM_DATA_DIR/prot/identity.json" ] ||
	fail "destroy of a protected VM: $(cat "$T/last.err")"
expect_rc 1 destroy c1
grep -q "would delete $VMM_DATA_DIR/c1/root.qcow2" "$T/last.out" && grep -q "nothing was deleted" "$T/last.err" &&
	[ -f "$VMM_DATA_DIR/c1/root.qcow2" ] || fail "destroy without --yes: $(cat "$T/last.out" "$T/last.err")"
expect_rc 0 destroy c1 --yes
expect_rc 0 destroy c2 --yes
[ ! -e "$VMM_DATA_DIR/c1" ] && [ ! -e "$VMM_DATA_DIR/c2" ] || fail "destroy left $(ls "$VMM_DATA_DIR")"
[ -f "$T/scratch/s.qcow2" ] || fail "destroy deleted an image outside the VM's data"
expect_rc 0 destroy base --yes
[ ! -e "$VMM_DATA_DIR/base" ] && [ "$(sha256sum "$T/base.qcow2")" = "$sum" ] &&
	[ "$(stat -c %a "$T/base.qcow2")" = 600 ] || fail "destroy of the template: $(ls -l "$T")"
pass "destroy: refused when protected; without --yes it lists; with it only the VM's data goes"
