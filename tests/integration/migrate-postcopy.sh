#!/bin/bash
# Post-copy chosen by the profile (migration.postcopy auto, postcopy_passes 2) on both ends
# (migrate-lib.sh): a guest rewriting 32 MiB in a loop (vmm.dirty=32) that a 20 MiB/s migration
# cannot converge on switches to post-copy after its second pass, without being asked on the
# command line, and keeps counting on B.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/migrate-lib.sh"
APPEND='boot.append=console=ttyS0 quiet vmm.counter vmm.dirty=32'
printf '{ "migration": { "postcopy": "auto", "postcopy_passes": 2 } }\n' >"$T/auto.json"

on a 0 start "$PROFILE" -p "$T/auto.json" --name vm --set "$APPEND"
wait_count a vm 10
copy_identity vm a b
on b 0 start "$PROFILE" -p "$T/auto.json" --name vm --set "$APPEND" --incoming "tcp:$IP_b:4444"
before=$(counter a vm)
on a 0 migrate vm "tcp:$IP_b:4444" --bandwidth 20M
grep -q "auto-converge, postcopy-ram, downtime limit 300 ms" "$T/last.err" &&
	grep -Eq "in [3-9][0-9]* passes, the last in post-copy" "$T/last.err" || fail "post-copy auto: $(cat "$T/last.err")"
assert_moved vm a b "$before" "tcp:$IP_b:4444"
pass "migration.postcopy auto: post-copy after 2 passes that did not converge, the guest keeps counting"
