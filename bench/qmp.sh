#!/bin/bash
# QMP speed and supervisor cost, side by side with raw QMP in the same run:
#  - round trips (query-status, one at a time) of a plain socket client and of the qmp/
#    library, against raw QEMU's monitor and through vmm's proxy (qmp.sock);
#  - pipelined throughput of the library (with the "oob" capability negotiated);
#  - a one-shot `vmm qmp NAME query-status` process against a one-shot raw client process;
#  - the supervisor's RSS, `vmm kill` until QEMU is gone, and how fast a kill -9 of QEMU
#    is seen as a crash.
# Targets (issue: QMP engine): library <= 1.1x raw, proxy <= 1.3x, one-shot <= 3 ms,
# pipelined >= 6700 commands/s, RSS <= 3 MiB, kill <= 15 ms, crash seen <= 100 ms.
#   bench/qmp.sh [N] [PROFILE]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
profile=${2:-examples/demo.json}
vmm=${VMM:-build/vmm}
bench=${QMP_BENCH:-build/qmp-bench}
work=$(mktemp -d)
export VMM_RUN_DIR=$work/run
trap '"$vmm" kill bench-vmm >/dev/null 2>&1 || true; pkill -9 -f "guest=bench-raw," 2>/dev/null || true; rm -rf "$work"' EXIT

# The profile's argv with the two fd chardevs turned into socket paths.
. bench/lib.sh
raw_argv "$profile" "$work"
"${argv[@]}" >/dev/null 2>&1 &
"$vmm" start "$profile" --name bench-vmm 2>/dev/null
raw=$work/raw-mon.sock proxy=$VMM_RUN_DIR/bench-vmm/qmp.sock
while [ ! -S "$raw" ]; do sleep 0.01; done
sleep 3 # let both guests boot: their vCPUs compete with QMP for the 2 host cores

us() { "$bench" "$1" "$2" "$3" | awk '{print $3}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
per() { awk -v t="$1" -v n="$2" 'BEGIN {printf "%.1f", t / n}'; }

# Five alternating rounds of N/5 round trips per client and target; the median of each.
declare -A runs
for ((round = 0; round < 5; round++)); do
	for combo in "raw $raw" "lib $raw" "raw $proxy" "lib $proxy"; do
		read -r mode sock <<<"$combo"
		runs[$mode-$sock]+="$(us "$mode" "$sock" $((n / 5))) "
	done
done
med() { printf '%s\n' ${runs[$1-$2]} | sort -n | sed -n 3p; }
rr=$(med raw "$raw") lr=$(med lib "$raw") rp=$(med raw "$proxy") lp=$(med lib "$proxy")
printf '%-34s %12s %12s %8s\n' "round trip (median of 5 x $((n / 5)))" "raw QEMU" "vmm proxy" "ratio"
printf '%-34s %10s us %10s us %8s\n' "plain socket client" "$(per "$rr" $((n / 5)))" "$(per "$rp" $((n / 5)))" "$(ratio "$rp" "$rr")"
printf '%-34s %10s us %10s us %8s\n' "qmp/ library" "$(per "$lr" $((n / 5)))" "$(per "$lp" $((n / 5)))" "$(ratio "$lp" "$lr")"
echo "library vs plain client, both on raw QEMU: $(ratio "$lr" "$rr")x (target <= 1.1)"
echo "library through the proxy vs plain client on raw QEMU: $(ratio "$lp" "$rr")x (target <= 1.3)"

p=$((n * 10))
a=$(us pipelined "$raw" "$p") b=$(us pipelined "$proxy" "$p")
printf '%-34s %9s/s %9s/s\n' "pipelined $p commands" "$((p * 1000000 / a))" "$((p * 1000000 / b))"
echo "(target >= 6700 commands/s)"

oneshot() {
	local t0 i
	t0=$(date +%s%N)
	for ((i = 0; i < 100; i++)); do "$@" >/dev/null; done
	awk -v t="$(($(date +%s%N) - t0))" 'BEGIN {printf "%.2f", t / 100 / 1e6}'
}
a=$(oneshot "$bench" raw "$raw" 1) b=$(oneshot "$vmm" qmp bench-vmm query-status)
printf '%-34s %10s ms %10s ms   (vmm qmp target <= 3 ms)\n' "one-shot process, query-status" "$a" "$b"

sup=$(sed -n 's/.*"supervisor_pid": *\([0-9]*\).*/\1/p' "$VMM_RUN_DIR/bench-vmm/state.json")
echo "supervisor RSS: $(awk '/VmRSS/ {print $2 " " $3}' "/proc/$sup/status") (target <= 3 MiB)"

qemu=$(sed -n 's/.*"qemu_pid": *\([0-9]*\).*/\1/p' "$VMM_RUN_DIR/bench-vmm/state.json")
t0=$(date +%s%N)
"$vmm" kill bench-vmm 2>/dev/null
while kill -0 "$qemu" 2>/dev/null; do :; done
echo "vmm kill -> QEMU gone: $((($(date +%s%N) - t0) / 1000000)) ms (target <= 15 ms)"

"$vmm" start "$profile" --name bench-vmm 2>/dev/null
qemu=$(sed -n 's/.*"qemu_pid": *\([0-9]*\).*/\1/p' "$VMM_RUN_DIR/bench-vmm/state.json")
python3 - "$VMM_RUN_DIR/bench-vmm/ctl.sock" "$qemu" <<'PY'
import json, os, socket, sys, time
path, pid = sys.argv[1], int(sys.argv[2])
def status():
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(b'{"request": "status", "version": 1}\n')
    reply = json.loads(s.makefile().readline())["return"]
    s.close()
    return reply
t0 = time.monotonic()
os.kill(pid, 9)
# The supervisor reports the crash in its status, then (no restart) exits.
while True:
    try:
        if status().get("last_end") == "crashed":
            break
    except (ConnectionError, FileNotFoundError):
        break
t = (time.monotonic() - t0) * 1000
log = open(os.path.join(os.path.dirname(path), "vmm.log")).read()
assert "QEMU crashed: killed by SIGKILL" in log, log
print(f"kill -9 of QEMU -> supervisor reports the crash: {t:.1f} ms (target <= 100 ms)")
PY
