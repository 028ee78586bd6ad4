#!/bin/bash
# QEMU that cannot start: missing kernel, a bad option, a missing binary, and a profile
# that does not exist or is not JSON, passthrough with the IOMMU off. One clear
# line each, non-zero exit, nothing left but the console log and the record of the failed
# start (ended.json).
. "$(dirname "$0")/lib.sh"

# Runs vmm run on a profile; expects exit status $2 and the last stderr line to match $3.
expect_failure() {
	local profile=$1 want=$2 pattern=$3 rc=0
	"$VMM" run "$profile" >"$T/f.out" 2>"$T/f.err" || rc=$?
	[ "$rc" = "$want" ] || fail "$profile: exit $rc, expected $want: $(cat "$T/f.err")"
	[ "$(wc -l <"$T/f.err")" -ge 1 ] && tail -n1 "$T/f.err" | grep -Eq -- "$pattern" ||
		fail "$profile: stderr does not match '$pattern': $(cat "$T/f.err")"
	[ "$(qemus "$(basename "$profile" .json)")" = 0 ] || fail "$profile: a QEMU is left running"
	if [ -d "$VMM_RUN_DIR/$(basename "$profile" .json)" ]; then
		[ -z "$(ls -A "$VMM_RUN_DIR/$(basename "$profile" .json)" | grep -Ev '^(console.log|ended.json)$')" ] ||
			fail "$profile: files left in the run dir"
	fi
	pass "$(basename "$profile"): exit $want, $(tail -n1 "$T/f.err")"
}

sed "s|\${VMM_CACHE_DIR}/guest/vmlinuz|$T/no-such-kernel|" "$PROFILES/guest.json" >"$T/nokernel.json"
expect_failure "$T/nokernel.json" 2 "^vmm: nokernel: failed to start: .*could not open kernel file '$T/no-such-kernel'"

sed 's|"lifecycle"|"qemu": { "extra_args": ["-bogus-option"] }, "lifecycle"|' "$PROFILES/guest.json" >"$T/badopt.json"
expect_failure "$T/badopt.json" 2 "^vmm: badopt: failed to start: .*-bogus-option: invalid option"

sed 's|"lifecycle"|"qemu": { "binary": "qemu-system-nonexistent" }, "lifecycle"|' "$PROFILES/guest.json" >"$T/nobinary.json"
expect_failure "$T/nobinary.json" 2 "^vmm: nobinary: failed to start: .*qemu-system-nonexistent"

expect_failure "$T/absent.json" 1 "^vmm: .*absent.json"

printf '{\n  "memory": { "size": "256M" },\n  "boot": {\n' >"$T/broken.json"
expect_failure "$T/broken.json" 1 "^vmm: $T/broken.json:[0-9]+:[0-9]+: invalid JSON"

# Passthrough on a host whose IOMMU is off (a stand-in sysfs: tests/lint/sys): one line
# per device, and QEMU never runs.
sed 's|"lifecycle"|"passthrough": [{ "host": "01:00.0" }, { "host": "01:00.1" }], "lifecycle"|' \
	"$PROFILES/guest.json" >"$T/iommuoff.json"
VMM_SYSFS_ROOT=$SRCDIR/tests/lint/sys expect_failure "$T/iommuoff.json" 2 \
	"^vmm: iommuoff: failed to start: 0000:01:00.1 has no IOMMU group: the IOMMU is off"

# vmm start prints a failed start's error once and whole: QEMU's own lines are not relayed
# before the verdict that repeats them (nor with QEMU's timestamps).
rc=0
"$VMM" start "$T/badopt.json" >"$T/s.out" 2>"$T/s.err" || rc=$?
[ "$rc" = 2 ] || fail "start badopt: exit $rc: $(cat "$T/s.err")"
[ "$(wc -l <"$T/s.err")" = 1 ] && grep -Eq "^vmm: badopt: failed to start: qemu-system-x86_64: -bogus-option: invalid option$" "$T/s.err" ||
	fail "start badopt did not print one whole line: $(cat "$T/s.err")"
pass "vmm start: the error of a failed start printed once and whole: $(cat "$T/s.err")"
