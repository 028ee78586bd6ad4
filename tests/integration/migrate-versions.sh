#!/bin/bash
# Migration between QEMU 7.2 (Debian 12's) and 10.0 (tests/qemu10/fetch.sh, in the cache) over
# TCP, both ways, between two hosts (migrate-lib.sh): the VM keeps its machine type pc-q35-7.2
# (its identity, copied along), the guest keeps counting, and what vmm turns on is read from
# each QEMU; no multifd for a pc-q35-7.2 machine, whichever QEMU runs it (7.2's lost pages).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/migrate-lib.sh"
[ -x "$QEMU10" ] || fail "no QEMU 10.0 in $QEMU10 (run ./bootstrap.sh or tests/qemu10/fetch.sh)"
QEMU_a=$(command -v qemu-system-x86_64)
QEMU_b=$QEMU10


boot_on a vm
copy_identity vm a b
$(side a) status vm --json | json_field qemu_version | grep -q "^7\.2\." || fail "A does not run QEMU 7.2"
incoming_on b vm "tcp:$IP_b:4444"
before=$(counter a vm)
on a 0 migrate vm "tcp:$IP_b:4444"
grep -q "migrating vm to tcp:$IP_b:4444: auto-converge, downtime limit 300 ms" "$T/last.err" ||
	fail "7.2 -> 10.0 settings: $(cat "$T/last.err")"
assert_moved vm a b "$before" "tcp:$IP_b:4444"
$(side b) status vm --json | json_field qemu_version | grep -q '^10\.0\.' || fail "B does not run QEMU 10.0"
grep -q '"machine": "pc-q35-7.2"' "$T/data-b/vm/identity.json" || fail "identity on B: $(cat "$T/data-b/vm/identity.json")"
tr '\0' ' ' <"/proc/$(sed -n 's/.*"qemu_pid": *\([0-9]*\).*/\1/p' "$T/run-b/vm/state.json")/cmdline" | grep -q 'pc-q35-7\.2' ||
	fail "QEMU 10.0 on B does not run machine pc-q35-7.2"
pass "7.2 -> 10.0 over TCP: the guest keeps counting on machine pc-q35-7.2"

mv "$(console_of a vm)" "$T/console-a-before.log"
incoming_on a vm "tcp:$IP_a:4444"
before=$(counter b vm)
on b 0 migrate vm "tcp:$IP_a:4444"
assert_moved vm b a "$before" "tcp:$IP_a:4444"
$(side a) status vm --json | json_field qemu_version | grep -q "^7\.2\." || fail "A does not run QEMU 7.2 again"
pass "10.0 -> 7.2 over TCP: the guest keeps counting"
