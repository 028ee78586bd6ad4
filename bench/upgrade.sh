#!/bin/bash
# vmm upgrade of an idle 1 GiB guest, with its RAM on vmm's shared memfd (memory.shared: not
# copied) and with plain RAM (vmm's default: copied), against raw QEMU migrating the same guest
# (plain RAM, QEMU's own migration defaults) into a new QEMU process over a unix socket, in the
# same run, N times each (default 5). Prints each run's total
# and downtime (QEMU's figures from query-migrate, and the wall time of the whole move), then
# the medians. Target (issue 15): vmm upgrade of a 1 GiB guest with a shared RAM file <= 0.5 s.
# Host memory is touched and freed before each move, as in migrate.sh (touch_memory in lib.sh).
#   bench/upgrade.sh [N] [SIZE]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
size=${2:-1G}
vmm=$PWD/${VMM:-build/vmm}
work=$(mktemp -d)
export VMM_RUN_DIR=$work/run VMM_DATA_DIR=$work/data
export VMM_CACHE_DIR=${VMM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}
trap '"$vmm" kill bench-upgrade >/dev/null 2>&1; "$vmm" kill bench-upgrade-plain >/dev/null 2>&1; pkill -9 -f "guest=bench-raw," 2>/dev/null; rm -rf "$work"' EXIT

printf '{"include": ["%s"], "name": "bench-upgrade", "memory": {"size": "%s", "shared": true}}\n' \
	"$PWD/tests/profiles/guest.json" "$size" >"$work/guest.json"
printf '{"include": ["%s"], "name": "bench-upgrade-plain", "memory": {"size": "%s"}}\n' \
	"$PWD/tests/profiles/guest.json" "$size" >"$work/guest-plain.json"
. bench/lib.sh
raw_argv "$work/guest.json" "$work"
src=("${argv[@]}")
# The destination: its own monitor and console, waiting for the stream.
dst=()
for a in "${argv[@]}"; do
	a=${a//raw-/raw2-}
	dst+=("${a//raw.log/raw2.log}")
done
dst+=(-incoming "unix:$work/raw-mig.sock")

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Waits until FILE has the guest's ready line.
until_ready() {
	for _ in $(seq 2400); do grep -q '^vmm-guest: ready' "$1" 2>/dev/null && return 0; sleep 0.05; done
	echo "bench: no ready line in $1: $(tail -n 3 "$work/src.out" 2>/dev/null)" >&2
	exit 1
}

# Migrates raw QEMU (monitor $1) into the one listening on the stream socket; prints "total downtime".
raw_migrate() {
	python3 - "$1" "unix:$work/raw-mig.sock" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
def cmd(c, **a):
    f.write(json.dumps({"execute": c, "arguments": a}) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r
f.readline(); cmd("qmp_capabilities")
cmd("migrate", uri=sys.argv[2])
while True:
    r = cmd("query-migrate")["return"]
    if r.get("status") in ("completed", "failed", "cancelled"):
        break
    time.sleep(0.005)
print(r.get("total-time", -1), r.get("downtime", -1))
PY
}

# One raw move: a source booted, a destination waiting; prints "total downtime wall".
run_raw() {
	rm -f "$work"/raw*.sock "$work"/raw*.log
	"${src[@]}" >"$work/src.out" 2>&1 &
	local sp=$! dp start t
	until_ready "$work/raw.log"
	"${dst[@]}" >"$work/dst.out" 2>&1 &
	dp=$!
	for _ in $(seq 200); do [ -S "$work/raw-mig.sock" ] && [ -S "$work/raw2-mon.sock" ] && break; sleep 0.05; done
	start=$(now_ms)
	t=$(raw_migrate "$work/raw-mon.sock")
	echo "$t $(($(now_ms) - start))"
	kill -9 "$sp" "$dp"; wait "$sp" "$dp" 2>/dev/null || true
}

# One vmm upgrade of the running VM NAME; prints "total downtime wall".
run_vmm() {
	local start out
	start=$(now_ms)
	out=$("$vmm" upgrade "$1" --json)
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["total_ms"], r["downtime_ms"], end=" ")' "$out"
	echo $(($(now_ms) - start))
}

"$vmm" start "$work/guest.json" >/dev/null 2>&1
"$vmm" start "$work/guest-plain.json" >/dev/null 2>&1
until_ready "$VMM_RUN_DIR/bench-upgrade/console.log"
until_ready "$VMM_RUN_DIR/bench-upgrade-plain/console.log"
echo "host memory: 2 GiB written at $(touch_memory 2048) MB/s, then again at $(touch_memory 2048) MB/s"
row() { printf '%-4s %9s %9s %8s %9s %9s %8s %9s %9s %8s\n' "$@"; }
printf '%-4s %28s %28s %28s\n' "" "raw QEMU migration (ms)" "vmm upgrade, shared (ms)" "vmm upgrade, plain (ms)"
row run total downtime wall total downtime wall total downtime wall
: >"$work/raw.txt"
: >"$work/vmm.txt"
: >"$work/plain.txt"
for i in $(seq "$n"); do
	touch_memory 2048 >/dev/null
	r=$(run_raw)
	touch_memory 2048 >/dev/null
	v=$(run_vmm bench-upgrade)
	touch_memory 2048 >/dev/null
	p=$(run_vmm bench-upgrade-plain)
	echo "$r" >>"$work/raw.txt"
	echo "$v" >>"$work/vmm.txt"
	echo "$p" >>"$work/plain.txt"
	# shellcheck disable=SC2086
	row "$i" $r $v $p
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
m() { awk -v c="$2" '{print $c}' "$1" | median; }
row med "$(m "$work/raw.txt" 1)" "$(m "$work/raw.txt" 2)" "$(m "$work/raw.txt" 3)" \
	"$(m "$work/vmm.txt" 1)" "$(m "$work/vmm.txt" 2)" "$(m "$work/vmm.txt" 3)" \
	"$(m "$work/plain.txt" 1)" "$(m "$work/plain.txt" 2)" "$(m "$work/plain.txt" 3)"
echo "guest RAM $size; vmm shared: memory.shared, RAM not copied (x-ignore-shared); vmm plain: RAM copied with"
echo "vmm's migration settings; raw: QEMU's defaults"
