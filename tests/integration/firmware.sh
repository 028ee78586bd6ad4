#!/bin/bash
# UEFI firmware as the descriptors say: a qcow2 OVMF (as Fedora ships it; here Debian's converted
# by qemu-img, named by a stand-in descriptor through VMM_FIRMWARE_PATH) gets qcow2 format nodes
# for both pflash devices. The VM's vars are tied to their template (efivars.json): switching
# ovmf to ovmf-secboot is refused before anything runs, with the way out (--reset-nvram), which
# moves the old vars aside and copies the new template; later starts keep them.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data VMM_FIRMWARE_PATH=$T/fw
mkdir -p "$T/fw"
qemu-img convert -f raw -O qcow2 /usr/share/OVMF/OVMF_CODE_4M.fd "$T/fw/code.qcow2"
qemu-img convert -f raw -O qcow2 /usr/share/OVMF/OVMF_VARS_4M.fd "$T/fw/vars.qcow2"

# Writes descriptor NAME for code CODE and vars VARS in format FORMAT with the features given.
descriptor() {
	local features
	features=$(printf '"%s",' "${@:5}")
	cat >"$T/fw/$1.json" <<EOF
{ "interface-types": ["uefi"],
  "mapping": { "device": "flash", "executable": { "filename": "$2", "format": "$4" },
               "nvram-template": { "filename": "$3", "format": "$4" } },
  "targets": [{ "architecture": "x86_64", "machines": ["pc-q35-*"] }],
  "features": [${features%,}] }
EOF
}
descriptor 50-qcow2 "$T/fw/code.qcow2" "$T/fw/vars.qcow2" qcow2 acpi-s3
descriptor 40-secboot /usr/share/OVMF/OVMF_CODE_4M.ms.fd /usr/share/OVMF/OVMF_VARS_4M.ms.fd raw \
	acpi-s3 secure-boot enrolled-keys requires-smm
vars=$VMM_DATA_DIR/f1/efivars.fd

# Prints the block driver of node NODE of VM NAME.
driver() {
	expect_rc 0 qmp "$1" query-named-block-nodes
	python3 -c 'import json,sys; print([n["drv"] for n in json.load(open(sys.argv[1])) if n["node-name"] == sys.argv[2]][0])' \
		"$T/last.out" "$2"
}

# Prints member KEY of the vars' record.
record() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$VMM_DATA_DIR/f1/efivars.json" "$1"
}

ovmf=(--set machine.firmware=ovmf)
secboot=(--set machine.firmware=ovmf-secboot)
expect_rc 0 start "$PROFILES/guest.json" --name f1 "${ovmf[@]}"
[ "$(driver f1 fw-code)" = qcow2 ] && [ "$(driver f1 fw-code-file)" = file ] || fail "fw-code: $(cat "$T/last.out")"
[ "$(driver f1 fw-vars)" = qcow2 ] || fail "fw-vars: $(cat "$T/last.out")"
[ "$(record template)" = "$T/fw/vars.qcow2" ] && [ "$(record format)" = qcow2 ] &&
	[ "$(record size)" = "$(stat -c %s "$T/fw/vars.qcow2")" ] || fail "record: $(cat "$VMM_DATA_DIR/f1/efivars.json")"
cmp -s "$vars" "$T/fw/vars.qcow2" || fail "the vars are no copy of the template"
expect_rc 0 kill f1
pass "a qcow2 OVMF gets qcow2 format nodes for code and vars; the vars record their template"

sum=$(sha256sum <"$vars")
expect_rc 2 start "$PROFILES/guest.json" --name f1 "${secboot[@]}"
grep -q "the VM's UEFI vars '$vars' were copied from '$T/fw/vars.qcow2' .* but its firmware's vars template is '/usr/share/OVMF/OVMF_VARS_4M.ms.fd' .*start with --reset-nvram" \
	"$T/last.err" || fail "mismatch: $(cat "$T/last.err")"
[ "$(grep -c . "$T/last.err")" = 1 ] || fail "said more than once: $(cat "$T/last.err")"
[ "$(qemus f1)" = 0 ] || fail "a QEMU runs"
[ "$(sha256sum <"$vars")" = "$sum" ] || fail "the vars changed"
assert_clean_rundir f1
pass "switching to ovmf-secboot is refused before QEMU runs (one line, --reset-nvram offered), the vars untouched"

expect_rc 0 start "$PROFILES/guest.json" --name f1 "${secboot[@]}" --reset-nvram
[ "$(driver f1 fw-vars)" = file ] || fail "fw-vars: $(cat "$T/last.out")"
cmp -s "$vars" /usr/share/OVMF/OVMF_VARS_4M.ms.fd || fail "the vars are no copy of the secboot template"
[ "$(sha256sum <"$vars.old")" = "$sum" ] || fail "the old vars are not kept"
[ "$(record template)" = /usr/share/OVMF/OVMF_VARS_4M.ms.fd ] || fail "record: $(cat "$VMM_DATA_DIR/f1/efivars.json")"
expect_rc 0 kill f1
expect_rc 0 start "$PROFILES/guest.json" --name f1 "${secboot[@]}"
expect_rc 0 kill f1
pass "--reset-nvram copies the new template (the old vars kept as .old); later starts keep them"
