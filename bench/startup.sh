#!/bin/bash
# Exec -> guest-ready time of the demo guest: `vmm run` against the same QEMU argv run
# directly (chardevs on socket paths instead of vmm's inherited fds), alternating, N
# runs each (default 10). Prints each pair, the medians, the difference and the ratio.
# TCG boot time varies by hundreds of ms, so each run is also split: the guest's own
# uptime in its ready line, and the rest ("host": exec, firmware, relaying), which is
# where vmm's cost shows. Target (issue: foundation): vmm adds at most 20 ms.
#   bench/startup.sh [N] [PROFILE]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
profile=${2:-examples/demo.json}
vmm=${VMM:-build/vmm}
work=$(mktemp -d)
export VMM_RUN_DIR=$work/run
trap 'pkill -9 -f "guest=bench-raw," 2>/dev/null; rm -rf "$work"' EXIT

# The profile's argv with the two fd chardevs turned into socket paths.
. bench/lib.sh
raw_argv "$profile" "$work"

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Waits until FILE has the ready line (polled every ms); prints "total_ms host_ms".
until_ready() {
	local file=$1 start=$2 total up
	while ! grep -q '^vmm-guest: ready' "$file" 2>/dev/null; do sleep 0.001; done
	total=$(($(now_ms) - start))
	up=$(sed -n 's/^vmm-guest: ready uptime=\([0-9.]*\).*/\1/p' "$file" | head -n1)
	echo "$total $((total - $(awk -v u="$up" 'BEGIN {printf "%d", u * 1000}')))"
}

# One raw QEMU run; prints its "total host" times.
run_raw() {
	rm -f "$work/raw.log" "$work"/raw-*.sock
	local start pid t
	start=$(now_ms)
	"${argv[@]}" >/dev/null 2>&1 &
	pid=$!
	t=$(until_ready "$work/raw.log" "$start")
	kill -9 "$pid"; wait "$pid" 2>/dev/null || true
	echo "$t"
}

# One vmm run; prints its "total host" times, then stops the VM gracefully.
run_vmm() {
	local start pid t
	start=$(now_ms)
	"$vmm" run "$profile" >"$work/vmm.out" 2>/dev/null &
	pid=$!
	t=$(until_ready "$work/vmm.out" "$start")
	kill -INT "$pid"; wait "$pid" 2>/dev/null || true
	echo "$t"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

# Prints one row: label, then raw and vmm figures.
row() { printf '%-7s %10s %10s %12s %12s\n' "$@"; }

rt=() rh=() vt=() vh=()
row run "qemu (ms)" "vmm (ms)" "qemu host" "vmm host"
for ((i = 1; i <= n; i++)); do
	if ((i % 2)); then r=$(run_raw); v=$(run_vmm); else v=$(run_vmm); r=$(run_raw); fi
	read -r a b <<<"$r"; read -r c d <<<"$v"
	rt+=("$a") rh+=("$b") vt+=("$c") vh+=("$d")
	row "$i" "$a" "$c" "$b" "$d"
done
m() { printf '%s\n' "$@" | median; }
mrt=$(m "${rt[@]}") mvt=$(m "${vt[@]}") mrh=$(m "${rh[@]}") mvh=$(m "${vh[@]}")
row median "$mrt" "$mvt" "$mrh" "$mvh"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a / b}'; }
echo "exec -> ready: vmm adds $((mvt - mrt)) ms (ratio $(ratio "$mvt" "$mrt"))"
echo "host part:     vmm adds $((mvh - mrh)) ms (ratio $(ratio "$mvh" "$mrh")); target: at most 20 ms"
