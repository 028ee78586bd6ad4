#!/bin/bash
# NUMA with hot-pluggable vCPUs: -smp always names sockets, every possible vCPU is in a node,
# so QEMU starts without its warning about partial NUMA mappings (which it prints, run
# directly, for nodes that leave the hot-pluggable vCPUs out); a node left short is refused.
. "$(dirname "$0")/lib.sh"

timeout 30 "${RAW_QEMU[@]}" -machine q35 -accel tcg -smp cpus=2,maxcpus=4,cores=2 -m 256 \
	-object memory-backend-ram,id=m0,size=128M -object memory-backend-ram,id=m1,size=128M \
	-numa node,nodeid=0,cpus=0,memdev=m0 -numa node,nodeid=1,cpus=1,memdev=m1 \
	-display none -nodefaults -S -qmp stdio <<<'{"execute":"qmp_capabilities"}{"execute":"quit"}' >"$T/raw.out" 2>&1 || true
grep -q "not present in any NUMA nodes" "$T/raw.out" || fail "QEMU run directly did not warn: $(cat "$T/raw.out")"

expect_rc 0 cmdline "$PROFILES/guest-numa.json" --json
grep -q '"cpus=2,maxcpus=4,sockets=2,cores=2,threads=1"' "$T/last.out" || fail "-smp: $(cat "$T/last.out")"
start_detached nu "$PROFILES/guest-numa.json"
if grep -i "numa" "$T/nu.start.err" "$VMM_RUN_DIR/nu/vmm.log"; then
	fail "QEMU warned about NUMA"
fi
expect_rc 0 qmp nu query-hotpluggable-cpus
python3 - "$T/last.out" <<'PY' || fail "possible vCPUs and their nodes: $(cat "$T/last.out")"
import json, sys
cpus = json.load(open(sys.argv[1]))
nodes = sorted((c["props"]["socket-id"], c["props"]["core-id"], c["props"].get("node-id")) for c in cpus)
assert nodes == [(0, 0, 0), (0, 1, 1), (1, 0, 0), (1, 1, 1)], nodes
PY
pass "-smp names sockets=2; all 4 possible vCPUs have a node (QEMU did not warn, as it does run directly with 2)"

# The bundled linux-workstation example (2 nodes, 4 vCPUs, 8 possible) as it is but for what
# this host lacks (KVM, huge pages, a display; RAM not preallocated): QEMU starts without a word.
qemu-img create -q -f qcow2 "$T/root.qcow2" 64M
VMM_DATA_DIR=$T/data "$VMM" start "$SRCDIR/examples/linux-workstation.json" --set machine.accel=tcg \
	--set memory.hugepages=false --set memory.prealloc=false --set display=none \
	--set "disks[root].file=$T/root.qcow2" >"$T/ws.out" 2>"$T/ws.err" || fail "linux-workstation: $(cat "$T/ws.err")"
expect_rc 0 hmp workstation info numa
grep -qx "2 nodes" "$T/last.out" || fail "info numa: $(cat "$T/last.out")"
if grep -i "numa" "$T/ws.err" "$VMM_RUN_DIR/workstation/vmm.log"; then
	fail "QEMU warned about linux-workstation's NUMA nodes"
fi
expect_rc 0 kill workstation
pass "the bundled linux-workstation example: 2 guest NUMA nodes, no warning from QEMU"

expect_rc 1 cmdline "$PROFILES/guest-numa.json" --set 'memory.numa[0].cpus="0"' --set 'memory.numa[1].cpus="1"'
grep -q "^vmm: .*: memory.numa: vCPU 2 is in no node (every vCPU needs one, the hot-pluggable ones of hotplug.max_cpus too)$" \
	"$T/last.err" || fail "nodes without the hot-pluggable vCPUs: $(cat "$T/last.err")"
pass "nodes that leave out a hot-pluggable vCPU are refused before QEMU runs"
expect_rc 0 kill nu
