#!/bin/bash
# vmm's own overhead per variant of `vmm bench fio` (everything but the guest's boot, fio's
# runtime and the guest's shutdown: the plan, the supervisor, QEMU's start, the agent's round
# trips, the files), next to what QEMU itself takes to start (exec until its QMP monitor
# answers query-status, the same argv run without vmm), measured in the same run. Target (issue 17):
# vmm's part, the first figure less the second, at most 100 ms.
#   bench/fio-overhead.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3}
vmm=${VMM:-build/vmm}
work=$(mktemp -d)
export VMM_RUN_DIR=$work/run VMM_DATA_DIR=$work/data
trap 'pkill -9 -f "guest=bench-raw," 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$VMM_DATA_DIR"
truncate -s 32M "$VMM_DATA_DIR/fio-data.img"
profile=tests/profiles/guest-fio.json

"$vmm" bench fio "$profile" --preset randread-4k-qd1 --disk data --runtime 2 --repeat "$n" \
	--matrix 'disks[data].iothread=true,false' --out "$work/out" >/dev/null

# QEMU alone: the profile's argv with its inherited sockets on paths, exec until QMP answers
# query-status (what vmm start waits for before it returns).
. bench/lib.sh
raw_argv "$profile" "$work"
for i in "${!argv[@]}"; do
	case ${argv[$i]} in
	socket,id=proxy-monitor,fd=5,*) argv[$i]="socket,id=proxy-monitor,path=$work/raw-proxy.sock,server=on,wait=off" ;;
	socket,id=agent,fd=6,*) argv[$i]="socket,id=agent,path=$work/raw-agent.sock,server=on,wait=off" ;;
	esac
done
raw=()
for _ in $(seq "$n"); do
	rm -f "$work"/raw-*.sock
	raw+=("$(python3 - "$work/raw-mon.sock" "${argv[@]}" <<'PY'
import json, os, socket, subprocess, sys, time
sock, argv = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while True:
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(sock); break
    except OSError:
        time.sleep(0.001)
f = s.makefile("rw")
f.readline()
f.write('{"execute": "qmp_capabilities"}\n'); f.flush(); f.readline()
# Until QEMU answers query-status, as vmm start waits for (events may come first).
f.write('{"execute": "query-status"}\n'); f.flush()
while '"return"' not in f.readline():
    pass
print(round((time.monotonic() - t0) * 1000))
p.kill(); p.wait()
PY
)")
done

python3 - "$work/out/results.json" "${raw[@]}" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))
raw = statistics.median(float(x) for x in sys.argv[2:])
print(f"raw QEMU, exec until QMP answers query-status: {raw:.0f} ms (median of {len(sys.argv) - 2})")
for t in r["targets"]:
    if t["kind"] != "variant":
        continue
    v = [x["timing"]["vmm_ms"] for x in t["runs"] if x["ok"]]
    if not v:
        print(f'{t["id"]} {t["label"]}: failed'); continue
    m = statistics.median(v)
    start = statistics.median(x["timing"]["start_ms"] for x in t["runs"] if x["ok"])
    after = statistics.median(x["timing"]["vmm_ms"] - x["timing"]["start_ms"] for x in t["runs"] if x["ok"])
    print(f'{t["id"]} {t["label"]}: vmm overhead {m:.0f} ms (median of {len(v)}; each: {", ".join(f"{x:.0f}" for x in v)}): '
          f'starting {start:.0f} ms, of which QEMU alone takes {raw:.0f} ms, and {after:.0f} ms after it (agent calls, facts, files); '
          f'vmm itself {m - raw:.0f} ms (target <= 100 ms)')
PY
