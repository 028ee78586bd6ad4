#!/bin/bash
# vmm upgrade across QEMU versions: a guest started on QEMU 7.2 moves into QEMU 10.0 without a
# reboot (its uptime continues, a marker written to its disk before is there after, the new
# QEMU runs the VM's machine type pc-q35-7.2 from its identity, with 10.0's own modules and
# firmware), then back into 7.2. A VM created on 10.0 (pc-q35-10.0) is refused a move into 7.2,
# which lacks that machine type, before its guest is touched; a move into a QEMU that deprecates
# the VM's machine type warns.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data
QEMU7=$(command -v qemu-system-x86_64)
[ -x "$QEMU10" ] || fail "no QEMU 10.0 in $QEMU10 (run ./bootstrap.sh or tests/qemu10/fetch.sh)"
unset VMM_QEMU

truncate -s 16M "$T/data.raw"
"$VMM" start "$PROFILES/guest-agent.json" --name xv \
	--set "disks=[{\"id\": \"data\", \"file\": \"$T/data.raw\", \"format\": \"raw\"}]" \
	>/dev/null 2>"$T/start.err" || fail "start: $(cat "$T/start.err")"
wait_boots xv 1 shell
expect_rc 0 wait xv agent --timeout 60

# Prints the guest's uptime in seconds (through the guest agent).
uptime_of() {
	"$VMM" agent xv exec cut -d" " -f1 /proc/uptime 2>"$T/agent.err" | tr -d '\n' || fail "agent: $(cat "$T/agent.err")"
}

marker=vmm-marker-$RANDOM$RANDOM
"$VMM" agent xv exec sh -c "echo $marker | dd of=/dev/vda conv=fsync 2>/dev/null" >/dev/null 2>"$T/agent.err" ||
	fail "writing the marker: $(cat "$T/agent.err")"
last=$(uptime_of)

# Moves the guest into QEMU binary $1 (version $2) and checks that it is the same guest there.
move_to() {
	local qemu=$1 version=$2 pid now got
	expect_rc 0 upgrade xv --qemu "$qemu" --json
	pid=$(state_field xv qemu_pid)
	[ "$(json_field new_pid <"$T/last.out")" = "$pid" ] || fail "state.json names QEMU pid $pid: $(cat "$T/last.out")"
	expect_rc 0 status xv --json
	[ "$(json_field qemu_version <"$T/last.out")" = "$version" ] && [ "$(json_field state <"$T/last.out")" = running ] ||
		fail "status after the move to $version: $(cat "$T/last.out")"
	tr '\0' '\n' <"/proc/$pid/cmdline" | grep -q '^pc-q35-7\.2\b' || fail "QEMU $version does not run pc-q35-7.2"
	now=$(uptime_of)
	awk -v a="$last" -v b="$now" 'BEGIN { exit !(b >= a) }' || fail "uptime went from $last to $now s on $version"
	got=$("$VMM" agent xv exec head -c ${#marker} /dev/vda 2>"$T/agent.err") || fail "agent: $(cat "$T/agent.err")"
	[ "$got" = "$marker" ] || fail "the disk has '$got' on $version, not the marker '$marker'"
	pass "moved into QEMU $version (pid $pid, pc-q35-7.2): uptime $last s → $now s, the disk's marker there"
	last=$now
}

move_to "$QEMU10" 10.0.2
tr '\0' '\n' <"/proc/$(state_field xv qemu_pid)/environ" | grep -q "^QEMU_MODULE_DIR=$VMM_CACHE_DIR/qemu-10.0/" ||
	fail "QEMU 10.0 runs without its own modules"
move_to "$QEMU7" "$("$QEMU7" --version | sed -n 's/.*version \([0-9.]*\).*/\1/p')"
[ "$(grep -c 'vmm-guest: ready' "$VMM_RUN_DIR/xv/console.log")" = 1 ] || fail "the guest booted again"
expect_rc 0 kill xv

# A VM created on 10.0 has pc-q35-10.0, which 7.2 lacks: refused before the guest is touched.
VMM_QEMU=$QEMU10 "$VMM" start "$PROFILES/guest.json" --name new10 >/dev/null 2>"$T/start10.err" ||
	fail "start on 10.0: $(cat "$T/start10.err")"
pid=$(state_field new10 qemu_pid)
expect_rc 1 upgrade new10 --qemu "$QEMU7"
grep -q "this QEMU has no machine type 'pc-q35-10.0'" "$T/last.err" || fail "10.0 → 7.2: $(cat "$T/last.err")"
cp "$T/last.err" "$T/refused.txt"
[ "$(state_field new10 qemu_pid)" = "$pid" ] && kill -0 "$pid" || fail "the refused upgrade changed the QEMU"
expect_rc 0 status new10 --json
[ "$(json_field state <"$T/last.out")" = running ] || fail "status after the refusal: $(cat "$T/last.out")"
pass "a VM created on 10.0 is refused a move into 7.2: $(cat "$T/refused.txt")"
expect_rc 0 kill new10

# A machine type 10.0 deprecates (pc-q35-7.0): the move into 10.0 works and warns, saying which
# file to edit.
mkdir -p "$VMM_DATA_DIR/old"
echo '{ "version": 1, "machine": "pc-q35-7.0" }' >"$VMM_DATA_DIR/old/identity.json"
"$VMM" start "$PROFILES/guest.json" --name old >/dev/null 2>"$T/old.err" || fail "start old: $(cat "$T/old.err")"
expect_rc 0 upgrade old --qemu "$QEMU10"
grep -q "^vmm: old: warning: machine type 'pc-q35-7.0' is deprecated in this QEMU .*$VMM_DATA_DIR/old/identity.json" \
	"$T/last.err" || fail "no warning: $(cat "$T/last.err")"
pass "a move into a QEMU that deprecates the VM's machine type warns: $(cat "$T/last.err")"
expect_rc 0 kill old
assert_clean_rundir xv
