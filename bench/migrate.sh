#!/bin/bash
# Live migration over localhost (unix sockets), vmm's defaults against QEMU's own in the same
# run: vmm start --incoming + vmm migrate, and the same QEMU argv run directly with `migrate`
# over raw QMP and nothing set. Two guests of 1 GiB: an idle one, and one rewriting 64 MiB in
# a loop (the test guest's vmm.dirty=64). A migration that has not completed after LIMIT s
# (default 30) is cancelled and shown as not converged. Prints total, setup and downtime (ms),
# passes. Targets (issue 15): idle <= 250 ms total, the dirtying guest converges within 2 s,
# downtime <= 300 ms in both; QEMU's defaults take ~3.8 s idle and never converge dirtying.
# 2 GiB of host memory is touched and freed before each migration (touch_memory in lib.sh):
# the destination's first writes then cost what they cost on a workstation; the first line
# shows the rate of a first write (low if memory was never touched) and of the next.
#   bench/migrate.sh [LIMIT]
set -euo pipefail
cd "$(dirname "$0")/.."
limit=${1:-30}
vmm=$(realpath "${VMM:-build/vmm}")
profile=$PWD/tests/profiles/guest.json
work=$(mktemp -d)
# The migration socket in a directory of its own: QEMU's user may write in it, and vmm
# refuses one that holds run directories.
mkdir "$work/sock"
export VMM_DATA_DIR=$work/data
raw_pids=()

# Ends whatever the bench started.
finish() {
	local d
	for p in "${raw_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for d in "$work"/run-*; do [ -d "$d" ] && VMM_RUN_DIR=$d "$vmm" kill bench-mig >/dev/null 2>&1 || true; done
	rm -rf "$work"
}
trap finish EXIT
. bench/lib.sh

# Waits up to 60 s for PATTERN in FILE.
wait_for() {
	local i
	for ((i = 0; i < 600; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "bench: no '$2' in $1" >&2
	exit 1
}

# Migrates through QMP socket SOCK to URI with QEMU's defaults; prints "total setup downtime passes status".
raw_migrate() {
	python3 - "$1" "$2" "$limit" <<'PY'
import json, socket, sys, time
sock, uri, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
f = s.makefile("rw")
def cmd(name, args=None):
    f.write(json.dumps({"execute": name, "arguments": args or {}}) + "\n")
    f.flush()
    while True:
        m = json.loads(f.readline())
        if "return" in m or "error" in m:
            return m.get("return", m.get("error"))
f.readline()
cmd("qmp_capabilities")
cmd("migrate", {"uri": uri})
start = time.time()
while True:
    r = cmd("query-migrate")
    if r.get("status") in ("completed", "failed", "cancelled"):
        break
    if time.time() - start > limit:
        cmd("migrate_cancel")
        r = {"status": "not-converged", "ram": r.get("ram", {})}
        break
    time.sleep(0.02)
ram = r.get("ram", {})
print(r.get("total-time", "-"), r.get("setup-time", "-"), r.get("downtime", "-"), ram.get("dirty-sync-count", "-"),
      r["status"])
PY
}

# One migration with QEMU's defaults of a guest with kernel options EXTRA; prints its figures.
run_raw() {
	local extra=$1 src=$work/raw-src dst=$work/raw-dst
	mkdir -p "$src" "$dst"
	raw_argv "$profile" "$src" --name bench-mig --set memory.size=1G --set "boot.append=console=ttyS0 quiet $extra"
	"${argv[@]}" >/dev/null 2>&1 &
	raw_pids+=($!)
	raw_argv "$profile" "$dst" --name bench-mig --set memory.size=1G --set "boot.append=console=ttyS0 quiet $extra"
	"${argv[@]}" -incoming "unix:$work/raw-mig.sock" >/dev/null 2>&1 &
	raw_pids+=($!)
	wait_for "$src/raw.log" 'vmm-guest: ready'
	sleep "$settle"
	touch_memory 2048 >/dev/null
	raw_migrate "$src/raw-mon.sock" "unix:$work/raw-mig.sock"
	for p in "${raw_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	raw_pids=()
	rm -rf "$src" "$dst" "$work/raw-mig.sock"
}

# One migration with vmm's defaults of a guest with kernel options EXTRA; prints its figures.
run_vmm() {
	local extra=$1 out rc=0
	local set=(--name bench-mig --set memory.size=1G --set "boot.append=console=ttyS0 quiet $extra")
	VMM_RUN_DIR=$work/run-src "$vmm" start "$profile" "${set[@]}" >/dev/null 2>&1
	VMM_RUN_DIR=$work/run-dst "$vmm" start "$profile" "${set[@]}" --incoming "unix:$work/sock/vmm-mig.sock" >/dev/null 2>&1
	wait_for "$work/run-src/bench-mig/console.log" 'vmm-guest: ready'
	sleep "$settle"
	touch_memory 2048 >/dev/null
	out=$(VMM_RUN_DIR=$work/run-src timeout -s INT "$limit" "$vmm" migrate bench-mig "unix:$work/sock/vmm-mig.sock" --json \
		2>/dev/null | tail -n 1) || rc=$?
	if [ "$rc" != 0 ]; then
		echo "- - - - not-converged"
	else
		python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(*(r.get(k, "-") for k in ("total_time", "setup_time", "downtime", "pass", "status")))' "$out"
	fi
	for d in run-src run-dst; do VMM_RUN_DIR=$work/$d "$vmm" kill bench-mig >/dev/null 2>&1 || true; done
	rm -rf "$work/run-src" "$work/run-dst" "$work/sock/vmm-mig.sock"
}

# Prints one row.
row() { printf '%-14s %-14s %9s %9s %12s %7s  %s\n' "$@"; }

echo "host memory: 2 GiB written at $(touch_memory 2048) MB/s, then again at $(touch_memory 2048) MB/s"
row guest settings "total ms" "setup ms" "downtime ms" passes result
settle=1
row "idle 1 GiB" "QEMU defaults" $(run_raw "")
row "idle 1 GiB" "vmm defaults" $(run_vmm "")
# The dirtying guest first fills its 64 MiB from /dev/urandom, then rewrites them.
settle=8
row "dirty 64 MiB" "QEMU defaults" $(run_raw "vmm.dirty=64")
row "dirty 64 MiB" "vmm defaults" $(run_vmm "vmm.dirty=64")
echo "targets: idle <= 250 ms total; dirtying converges within 2 s; downtime <= 300 ms (no-converge: cancelled after $limit s)"
