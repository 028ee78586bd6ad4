#!/bin/bash
# memory.hugepages.reserve: the host's 2 MiB pool grows by exactly the VM's pages while it
# runs (once, also across a restart) and shrinks by as much when it ends: after a stop, a
# crash, and a supervisor's kill -9 and reattach; an upgrade needs no second set of pages; a
# pool that cannot be raised fails the start and changes nothing. A record whose page count is
# no JSON integer (json-c read "128" as 128) lowers no pool, saying so. Runs alone
# (is_parallel false): it reads the host's pool.
. "$(dirname "$0")/lib.sh"

hold_hugepage_pools
pool=/sys/kernel/mm/hugepages/hugepages-2048kB
before=$(cat $pool/nr_hugepages)
pages() { cat $pool/nr_hugepages; }
sed 's/"memory": { "size": "256M" }/"memory": { "size": "256M", "prealloc": true, "hugepages": { "size": "2M", "reserve": true } }/' \
	"$PROFILES/guest.json" >"$T/hp.json"
grep -q reserve "$T/hp.json" || fail "the test profile has no reserve"
sed 's/"lifecycle": {/"lifecycle": { "restart": "on-crash",/' "$T/hp.json" >"$T/hp-restart.json"

start_detached hp "$T/hp.json"
[ "$(pages)" = $((before + 128)) ] || fail "running: $(pages) pages, expected $before + 128"
[ -f "$VMM_RUN_DIR/hp/hugepages.json" ] || fail "no record of the reserved pages"
qpid=$(state_field hp qemu_pid)
awk '/^Private_Hugetlb:/ { kb += $2 } END { exit kb < 262144 }' "/proc/$qpid/smaps" ||
	fail "QEMU's RAM is not on the huge pages"
expect_rc 0 stop hp
[ "$(pages)" = "$before" ] || fail "after stop: $(pages) pages, expected $before"
grep -q '128 huge pages given back to the host' "$VMM_RUN_DIR/hp/vmm.log" || fail "no message: $(cat "$VMM_RUN_DIR/hp/vmm.log")"
assert_clean_rundir hp
pass "256M: the pool grows by 128 pages while it runs (QEMU's RAM on them), back to $before after stop"

start_detached hp "$T/hp.json"
kill -9 "$(state_field hp qemu_pid)"
for ((i = 0; i < 100; i++)); do [ "$(pages)" = "$before" ] && break; sleep 0.1; done
[ "$(pages)" = "$before" ] || fail "after a crash: $(pages) pages, expected $before"
pass "QEMU killed: the pages go back"

start_detached hp "$T/hp-restart.json"
kill -9 "$(state_field hp qemu_pid)"
wait_boots hp 2
[ "$(pages)" = $((before + 128)) ] || fail "after a restart: $(pages) pages, expected $before + 128"
sup=$(state_field hp supervisor_pid)
kill -9 "$sup"
assert_gone "$sup"
expect_rc 0 attach hp
expect_rc 0 stop hp
[ "$(pages)" = "$before" ] || fail "after reattach and stop: $(pages) pages, expected $before"
pass "a restart keeps the one reservation; a reattached supervisor gives it back"

start_detached hpr "$T/hp.json"
wait_boots hpr 1
python3 - "$VMM_RUN_DIR/hpr/hugepages.json" <<'PY'
import json, sys
grants = json.load(open(sys.argv[1]))
grants[0]["pages"] = str(grants[0]["pages"])
json.dump(grants, open(sys.argv[1], "w"))
PY
rc=0
"$VMM" stop hpr >"$T/last.out" 2>"$T/last.err" || rc=$?
after=$(pages)
echo "$before" >$pool/nr_hugepages # what the refused record kept
[ "$rc" = 0 ] || fail "vmm stop hpr exited $rc: $(cat "$T/last.err")"
[ "$after" = $((before + 128)) ] || fail "a record of \"128\" pages changed the pool: $after, expected $before + 128"
grep -q 'giving back huge pages: hugepages.json: entry 0 is not {pool, node, pages}' "$VMM_RUN_DIR/hpr/vmm.log" ||
	fail "no message: $(cat "$VMM_RUN_DIR/hpr/vmm.log")"
assert_clean_rundir hpr
pass "a record whose page count is a string lowers no pool, saying so"

# A guest NUMA node bound to a host node this host does not have: its pool cannot be raised.
sed 's/"memory": { "size": "256M",/"memory": { "size": "256M", "numa": [{ "cpus": "0", "size": "256M", "host_node": 7 }],/' \
	"$T/hp.json" >"$T/hp-node.json"
expect_rc 2 start "$T/hp-node.json" --name hpn
grep -q "memory.hugepages.reserve: cannot read '/sys/devices/system/node/node7/hugepages/hugepages-2048kB/nr_hugepages'" "$T/last.err" ||
	fail "host node 7: $(cat "$T/last.err")"
[ "$(pages)" = "$before" ] || fail "a failed start changed the pool: $(pages)"
[ "$(qemus hpn)" = 0 ] || fail "a QEMU runs after the failed start"
assert_clean_rundir hpn
pass "a pool that cannot be raised: the start fails, nothing changes"

# The guest RAM on huge pages is the supervisor's hugetlb memfd: an upgrade's new QEMU maps the
# same pages (none copied, and none more needed: the pool is shrunk to the pages in use first).
start_detached hpu "$T/hp.json"
total=$(pages)
echo $((total - $(cat $pool/free_hugepages))) >$pool/nr_hugepages
[ "$(cat $pool/free_hugepages)" = 0 ] || fail "the pool still has $(cat $pool/free_hugepages) free pages"
expect_rc 0 upgrade hpu --json
[ "$(json_field shared_ram <"$T/last.out")" = True ] || fail "the upgrade copied the huge pages: $(cat "$T/last.out")"
echo "$total" >$pool/nr_hugepages
expect_rc 0 stop hpu
[ "$(pages)" = "$before" ] || fail "after the upgrade and stop: $(pages) pages, expected $before"
pass "an upgrade of a VM on huge pages maps the same pages in the new QEMU: none copied, none more needed"
