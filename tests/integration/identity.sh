#!/bin/bash
# A VM's identity (VMM_DATA_DIR/NAME/identity.json): vmm cmdline shows it without writing it;
# the first start writes it (the versioned machine type of this QEMU, the UUID, a MAC per NIC,
# a PCI place per device) and every later start keeps it: a disk added before the NIC leaves
# the NIC on its root port and bus, a removed disk's root port stays; the guest reads the
# UUID, the MAC and the disk serials. Two VMs of one profile differ. vmm identity shows it.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data
ident=$VMM_DATA_DIR/id1/identity.json

# Prints where NIC net0 of VM NAME is, as the booted guest's firmware numbered it:
# "ROOT-PORT-SLOT.FUNCTION bus BUS".
nic_place() {
	"$VMM" qmp "$1" query-pci >"$T/pci.json" || fail "query-pci $1"
	python3 - "$T/pci.json" <<'PY'
import json, sys
for d in json.load(open(sys.argv[1]))[0]["devices"]:
    for e in d.get("pci_bridge", {}).get("devices", []):
        if e.get("qdev_id") == "net0":
            print(f'{d["slot"]:02x}.{d["function"]} bus {e["bus"]}')
PY
}

# Prints member KEY of the identity file (a JSON path such as macs.net0).
ident_field() {
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): v=v[k]
print(v)' "$ident" "$1"
}

# The versioned machine type q35 stands for in the QEMU under test ("pc-q35-7.2" on Debian 12's).
q35=$("$VMM" probe --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["machine_aliases"]["q35"])')
truncate -s 16M "$T/data.raw" "$T/new.raw"
one=(--set 'nics=[{"id": "net0"}]' --set "disks=[{\"id\": \"data\", \"file\": \"$T/data.raw\", \"format\": \"raw\"}]")
two=(--set 'nics=[{"id": "net0"}]' --set "disks=[{\"id\": \"new\", \"file\": \"$T/new.raw\", \"format\": \"raw\", \"serial\": \"NEW-0001\"}, {\"id\": \"data\", \"file\": \"$T/data.raw\", \"format\": \"raw\"}]")

"$VMM" cmdline --json "$PROFILES/guest.json" --name id1 "${one[@]}" >"$T/printed.json" || fail "cmdline"
[ ! -e "$VMM_DATA_DIR/id1" ] || fail "vmm cmdline wrote $(ls -R "$VMM_DATA_DIR")"
expect_rc 1 identity id1
grep -q "has no identity yet" "$T/last.err" || fail "identity of a new VM: $(cat "$T/last.err")"
pass "vmm cmdline writes nothing; vmm identity of a VM never started says so"

"$VMM" start "$PROFILES/guest.json" --name id1 "${one[@]}" >/dev/null 2>"$T/id1.err" || fail "start: $(cat "$T/id1.err")"
wait_boots id1 1 shell
[ -f "$ident" ] || fail "no identity.json after the first start"
[ "$(ident_field machine)" = "$q35" ] || fail "machine: $(cat "$ident")"
uuid=$(ident_field uuid) mac=$(ident_field macs.net0)
python3 - "$T/printed.json" "$uuid" "$mac" <<'PY' || fail "vmm cmdline showed another identity than start created: $(cat "$ident")"
import json, sys
argv, uuid, mac = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
sys.exit(uuid not in argv or not any(f'"mac":"{mac}"' in a for a in argv))
PY
expect_rc 0 qmp id1 query-uuid
[ "$(json_field UUID <"$T/last.out")" = "$uuid" ] || fail "query-uuid: $(cat "$T/last.out")"
expect_rc 0 qmp id1 qom-get path=/machine/peripheral/net0 property=mac
[ "$(tr -d '"' <"$T/last.out")" = "$mac" ] || fail "the NIC's MAC: $(cat "$T/last.out")"
place=$(nic_place id1)
[ -n "$place" ] || fail "net0 is not behind a root port: $(cat "$T/pci.json")"
python3 "$SRCDIR/tests/integration/console.py" "$VMM" id1 'cat /sys/block/vda/serial; echo; cat /sys/class/net/eth0/address' \
	"data\\s+$mac" >/dev/null || fail "the guest does not read serial 'data' and MAC $mac"
pass "the first start writes the identity ($uuid, $q35, net0 $mac at $place); the guest reads them"

expect_rc 0 kill id1
cp "$ident" "$T/ident.1"
"$VMM" start "$PROFILES/guest.json" --name id1 "${two[@]}" >/dev/null 2>"$T/id1.err" || fail "restart: $(cat "$T/id1.err")"
wait_boots id1 2 shell
[ "$(nic_place id1)" = "$place" ] || fail "the NIC moved from $place to $(nic_place id1) when a disk was added"
[ "$(ident_field uuid)" = "$uuid" ] && [ "$(ident_field macs.net0)" = "$mac" ] || fail "identity changed: $(cat "$ident")"
python3 - "$T/ident.1" "$ident" <<'PY' || fail "the old entries changed: $(cat "$ident")"
import json, sys
old, new = (json.load(open(f)) for f in sys.argv[1:])
sys.exit(any(new["pci"].get(k) != v for k, v in old["pci"].items()) or "disk:new" not in new["pci"])
PY
python3 "$SRCDIR/tests/integration/console.py" "$VMM" id1 'for s in /sys/block/vd?/serial; do cat $s; echo; done' \
	'NEW-0001\s+data|data\s+NEW-0001' >/dev/null || fail "the guest does not read both serials"
expect_rc 0 kill id1
pass "a disk added before the NIC: the NIC stays at $place, UUID and MAC kept, the new disk appended"

"$VMM" start "$PROFILES/guest.json" --name id1 "${one[@]}" >/dev/null 2>"$T/id1.err" || fail "start: $(cat "$T/id1.err")"
wait_boots id1 3 shell
[ "$(nic_place id1)" = "$place" ] || fail "the NIC moved to $(nic_place id1) when the disk was removed"
expect_rc 0 qmp id1 qom-list path=/machine/peripheral
grep -q '"rp-disk-new"' "$T/last.out" || fail "the removed disk's root port is gone: $(cat "$T/last.out")"
expect_rc 0 kill id1
pass "the disk removed again: its root port stays, empty; the NIC stays at $place"

expect_rc 0 identity id1
grep -q "uuid *$uuid" "$T/last.out" && grep -q "net0 *$mac" "$T/last.out" || fail "vmm identity: $(cat "$T/last.out")"
expect_rc 0 identity id1 --json
[ "$(json_field uuid <"$T/last.out")" = "$uuid" ] || fail "vmm identity --json: $(cat "$T/last.out")"
pass "vmm identity shows it, as text and as JSON"

"$VMM" start "$PROFILES/guest.json" --name id2 "${one[@]}" >/dev/null 2>"$T/id2.err" || fail "start id2: $(cat "$T/id2.err")"
expect_rc 0 identity id2 --json
[ "$(json_field uuid <"$T/last.out")" != "$uuid" ] || fail "two VMs with one UUID"
[ "$(json_field macs <"$T/last.out" | json_field net0)" != "$mac" ] || fail "two VMs with one MAC"
expect_rc 0 kill id2
pass "a second VM of the same profile gets another UUID and MAC"

sed -i "s/\"$q35\"/\"pc-q35-0.9\"/" "$ident"
expect_rc 2 start "$PROFILES/guest.json" --name id1 "${one[@]}"
grep -q "no machine type 'pc-q35-0.9', the VM's since it was created" "$T/last.err" || fail "$(cat "$T/last.err")"
pass "a machine type this QEMU lacks is refused, not replaced"
