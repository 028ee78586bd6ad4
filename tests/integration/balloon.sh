#!/bin/bash
# The balloon: the guest reaches a target with --wait (a progress line, then the result), and
# back; its memory statistics appear; free page reporting is on; a guest that cannot move
# gives --wait up cleanly; huge pages and a VM without a balloon are refused; bad sizes get a
# clear error.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data

start_detached b "$PROFILES/guest-agent.json"
expect_rc 0 balloon b
[ "$(cat "$T/last.out")" = "the guest has 256M of 256M (no target set)" ] || fail "balloon: $(cat "$T/last.out")"
expect_rc 0 qmp b qom-get path=/machine/peripheral/balloon0 property=free-page-reporting
[ "$(cat "$T/last.out")" = true ] || fail "free page reporting: $(cat "$T/last.out")"
pass "a balloon with free page reporting; the guest has all its memory"

expect_rc 0 balloon b 192M --wait --timeout 30
[ "$(cat "$T/last.out")" = "the guest has 192M of 256M (target 192M)" ] || fail "--wait: $(cat "$T/last.out")"
# The first line comes when the target is set, however far the guest has got by then.
grep -Eq "^vmm: b: the guest has (19[2-9]|2[0-5][0-9])M of 256M \(target 192M\)$" "$T/last.err" ||
	fail "no progress line: $(cat "$T/last.err")"
expect_rc 0 balloon b --json
python3 -c 'import json,sys; b=json.load(sys.stdin); sys.exit(not (b["actual"] == b["target"] == 192 << 20 and b["memory"] == 256 << 20 and b["changes"] > 0))' \
	<"$T/last.out" || fail "balloon --json: $(cat "$T/last.out")"
expect_rc 0 agent b exec cat /proc/meminfo
total=$(awk '/^MemTotal/ { print $2 }' "$T/last.out")
[ "$total" -lt $((200 * 1024)) ] || fail "the guest still sees MemTotal $total kB"
pass "balloon 192M --wait: a progress line, the guest reaches its target (MemTotal $total kB)"

expect_rc 0 balloon b --stats
for label in total free available 'major faults' reported; do
	grep -Eq "^$label +[0-9]" "$T/last.out" || fail "no '$label' in the stats: $(cat "$T/last.out")"
done
expect_rc 0 balloon b --stats --json
python3 -c 'import json,sys; s=json.load(sys.stdin)["stats"]; sys.exit(not (s["last-update"] > 0 and s["stats"]["stat-free-memory"] > 0 and s["stats"]["stat-major-faults"] >= 0))' \
	<"$T/last.out" || fail "balloon --stats --json: $(cat "$T/last.out")"
pass "--stats: free, available, major faults, as the guest reported them"

expect_rc 0 balloon b 256M --wait
[ "$(cat "$T/last.out")" = "the guest has 256M of 256M (target 256M)" ] || fail "back: $(cat "$T/last.out")"
pass "and back to 256M"

# A guest without its balloon driver does not move: --wait gives up after --timeout.
expect_rc 0 agent b exec rmmod virtio_balloon
start=$(date +%s)
expect_rc 1 balloon b 200M --wait --timeout 3
grep -q "VM 'b': the guest stopped short of its target: it has not moved for 3 s" "$T/last.err" ||
	fail "stalled: $(cat "$T/last.err")"
[ $(($(date +%s) - start)) -lt 10 ] || fail "a stalled --wait took $(($(date +%s) - start)) s"
pass "a guest that does not move: --wait gives up after --timeout"

expect_rc 1 balloon b 8M
grep -q "the balloon's target must be from 16M to the VM's memory, 256M" "$T/last.err" || fail "8M: $(cat "$T/last.err")"
expect_rc 1 balloon b 1T
expect_rc 1 balloon b lots
grep -q "'lots' is not a size (expected one like 512M or 2G)" "$T/last.err" || fail "lots: $(cat "$T/last.err")"
expect_rc 1 balloon b --wait
grep -q "usage: vmm balloon NAME \[SIZE\]" "$T/last.err" || fail "--wait without a size: $(cat "$T/last.err")"
expect_rc 1 balloon b 200M --wait --timeout never
grep -q -- "--timeout: expected seconds from 1 to 3600, not 'never'" "$T/last.err" || fail "--timeout: $(cat "$T/last.err")"
expect_rc 0 kill b
pass "bad sizes and options: clear errors"

start_detached plain "$PROFILES/guest.json"
expect_rc 1 balloon plain
grep -q "VM 'plain' has no balloon (\"memory\": {\"balloon\": true} in its profile" "$T/last.err" ||
	fail "no balloon: $(cat "$T/last.err")"
expect_rc 0 kill plain

# Huge pages: the balloon is shown but never moved (lint's words). QEMU stays paused (-S).
hold_hugepage_pools
old_pages=$(cat /proc/sys/vm/nr_hugepages)
trap 'echo "$old_pages" >/proc/sys/vm/nr_hugepages; cleanup' EXIT
echo $((old_pages + 128)) >/proc/sys/vm/nr_hugepages || fail "cannot reserve 2M huge pages"
"$VMM" start "$PROFILES/guest-agent.json" --name huge --set memory.hugepages=2M --set 'qemu.extra_args=["-S"]' \
	>/dev/null 2>"$T/huge.err" || fail "hugepages: $(cat "$T/huge.err")"
expect_rc 1 balloon huge 200M
grep -q "balloon refused: a balloon cannot give huge pages back to the host; it only fragments the guest's memory" \
	"$T/last.err" || fail "hugepages: $(cat "$T/last.err")"
expect_rc 0 qmp huge qom-get path=/machine/peripheral/balloon0 property=free-page-reporting
[ "$(cat "$T/last.out")" = false ] || fail "free page reporting with huge pages: $(cat "$T/last.out")"
expect_rc 0 kill huge
pass "no balloon, or huge pages: refused in lint's words"
