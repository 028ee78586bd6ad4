#!/bin/bash
# What vmm must never do to the host or to its caller: keep the caller's open files for
# the VM's lifetime (in the supervisor or in QEMU).
. "$(dirname "$0")/lib.sh"

# Fails when process PID holds an open descriptor on FILE.
assert_not_open() {
	local pid=$1 file=$2 fd
	for fd in /proc/"$pid"/fd/*; do
		[ "$(readlink "$fd")" = "$file" ] && fail "process $pid ($(cat /proc/"$pid"/comm)) holds $file as fd ${fd##*/}"
	done
	return 0
}

# A caller's descriptors (vmm start 7>file, 8<file) reach neither the supervisor nor QEMU.
: >"$T/caller-out"
: >"$T/caller-in"
"$VMM" start "$PROFILES/guest.json" --name fds >"$T/fds.start.out" 2>"$T/fds.start.err" 7>"$T/caller-out" 8<"$T/caller-in" ||
	fail "vmm start: $(cat "$T/fds.start.err")"
sup=$(state_field fds supervisor_pid)
qemu=$(state_field fds qemu_pid)
for f in "$T/caller-out" "$T/caller-in"; do
	assert_not_open "$sup" "$f"
	assert_not_open "$qemu" "$f"
done
expect_rc 0 kill fds
pass "the caller's open files reach neither the supervisor nor QEMU"

# A relative VMM_RUN_DIR is refused before anything is created (the detached supervisor
# works from "/", where "run" or "tmp" would name the host's /run or /tmp).
mkdir -p "$T/cwd"
before=$(stat -c %a /tmp)
for verb in "start $PROFILES/guest.json --name rel" "run $PROFILES/guest.json --name rel" "list" "status rel"; do
	rc=0
	(cd "$T/cwd" && VMM_RUN_DIR=tmp "$VMM" $verb >"$T/rel.out" 2>"$T/rel.err") || rc=$?
	[ "$rc" != 0 ] && grep -q "VMM_RUN_DIR must be an absolute path, not 'tmp'" "$T/rel.err" ||
		fail "vmm $verb with VMM_RUN_DIR=tmp: exit $rc: $(cat "$T/rel.err")"
done
[ -z "$(ls -A "$T/cwd")" ] && [ "$(stat -c %a /tmp)" = "$before" ] || fail "a relative VMM_RUN_DIR changed something"
[ "$(qemus rel)" = 0 ] || fail "a QEMU was started"
pass "a relative VMM_RUN_DIR is refused by every verb, nothing created or changed"

# A run directory another user could swap is refused: a parent owned by someone else, or
# writable by all without the sticky bit; a sticky one (like /tmp) is fine.
mkdir -p "$T/theirs" "$T/open" "$T/sticky"
chown 65534:65534 "$T/theirs"
chmod 0777 "$T/open"
chmod 1777 "$T/sticky"
for verb in "start $PROFILES/guest.json --name unsafe" "run $PROFILES/guest.json --name unsafe"; do
	rc=0
	VMM_RUN_DIR=$T/theirs/run "$VMM" $verb >"$T/unsafe.out" 2>"$T/unsafe.err" || rc=$?
	[ "$rc" = 1 ] && grep -q "run directory '$T/theirs/run/unsafe' is not safe: '$T/theirs' belongs to uid 65534" "$T/unsafe.err" ||
		fail "vmm $verb under a directory of uid 65534: exit $rc: $(cat "$T/unsafe.err")"
	rc=0
	VMM_RUN_DIR=$T/open/run "$VMM" $verb >"$T/unsafe.out" 2>"$T/unsafe.err" || rc=$?
	[ "$rc" = 1 ] && grep -q "'$T/open' is writable by other users (mode 0777, not sticky)" "$T/unsafe.err" ||
		fail "vmm $verb under a directory writable by all: exit $rc: $(cat "$T/unsafe.err")"
done
[ ! -e "$T/theirs/run" ] && [ ! -e "$T/open/run" ] || fail "an unsafe run directory was created"
[ "$(qemus unsafe)" = 0 ] || fail "a QEMU was started"
VMM_RUN_DIR=$T/sticky/run "$VMM" start "$PROFILES/guest.json" --name safe >/dev/null 2>"$T/safe.err" ||
	fail "start under a sticky directory: $(cat "$T/safe.err")"
VMM_RUN_DIR=$T/sticky/run "$VMM" kill safe >/dev/null 2>&1 || fail "kill safe"
pass "a run directory under another user's or a world-writable directory is refused; sticky is fine"
