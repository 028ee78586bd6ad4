#!/bin/bash
# Snapshot and incremental backup costs of a running test guest with a 1 GiB qcow2 disk, vmm
# next to raw QMP doing the same on the same QEMU argv (run directly, bench/lib.sh) in the same run:
# - the guest's pause of a disk-only snapshot: the blockdev-snapshot transaction (the disks'
#   I/O drained) and, for vmm, the whole freeze-to-thaw of the guest's filesystems; N runs
#   each (default 5), medians. Target (issue 16): at most 20 ms of guest pause.
# - the bytes an incremental backup copies after 10 MiB of writes (vmm: the guest writes with
#   dd through its agent; raw: qemu-io on the disk's node), and the data the backup file holds.
#   Target: at most 16 MiB.
#   bench/snapshot.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
vmm=$(realpath "${VMM:-build/vmm}")
work=$(mktemp -d)
export VMM_RUN_DIR=$work/run VMM_DATA_DIR=$work/data VMM_CACHE_DIR=${VMM_CACHE_DIR:-$HOME/.cache/vmm}
trap '"$vmm" kill bsnap >/dev/null 2>&1 || true; [ -n "${raw:-}" ] && { kill -9 "$raw"; wait "$raw"; } 2>/dev/null; rm -rf "$work"' EXIT

qemu-img create -q -f qcow2 "$work/vmm.qcow2" 1G
qemu-img create -q -f qcow2 "$work/raw.qcow2" 1G
profile() { # AGENT FILE
	cat <<EOF
{ "machine": { "type": "q35", "accel": "tcg" }, "memory": { "size": "256M" },
  "boot": { "kernel": "$VMM_CACHE_DIR/guest/vmlinuz", "initrd": "$VMM_CACHE_DIR/guest/initrd.img",
            "append": "console=ttyS0 quiet" },
  "agent": $1, "disks": [{ "id": "data", "file": "$2", "format": "qcow2" }] }
EOF
}
profile true "$work/vmm.qcow2" >"$work/vmm.json"
profile false "$work/raw.qcow2" >"$work/raw.json"

"$vmm" start "$work/vmm.json" --name bsnap >/dev/null 2>&1
"$vmm" wait bsnap agent --timeout 120 >/dev/null
. bench/lib.sh
raw_argv "$work/raw.json" "$work"
for i in "${!argv[@]}"; do # the proxy's monitor too
	case ${argv[$i]} in socket,id=proxy-monitor,fd=5,*) argv[$i]="socket,id=proxy-monitor,path=$work/raw-proxy.sock,server=on,wait=off" ;; esac
done
"${argv[@]}" >/dev/null 2>&1 &
raw=$!

# vmm: N disk-only snapshots; "qmp_us frozen_us" per line.
for i in $(seq "$n"); do
	"$vmm" snapshot bsnap create "s$i" --disk-only --json |
		python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["qmp_us"], r.get("frozen_us", 0))'
done >"$work/vmm-snap"
"$vmm" backup bsnap "$work/vmm-bk" >/dev/null 2>&1
"$vmm" agent bsnap exec sh -c 'dd if=/dev/urandom of=/dev/vda bs=1M count=10 seek=100 conv=fsync 2>/dev/null' >/dev/null
"$vmm" backup bsnap "$work/vmm-bk" --incremental --json >"$work/vmm-inc" 2>/dev/null

# Raw QMP: the same transactions on the raw QEMU's monitor.
python3 - "$work" "$n" >"$work/raw-out" <<'PY'
import json, os, socket, subprocess, sys, time
work, n = sys.argv[1], int(sys.argv[2])
for _ in range(200):
    try:
        s = socket.socket(socket.AF_UNIX); s.connect(work + "/raw-mon.sock"); break
    except OSError:
        time.sleep(0.05)
f = s.makefile("rw")
f.readline()
def qmp(cmd, **args):
    f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n"); f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r: return r["return"]
        if "error" in r: raise SystemExit(cmd + ": " + r["error"]["desc"])
qmp("qmp_capabilities")
def node_of(path):
    return [x["node-name"] for x in qmp("query-named-block-nodes", flat=True) if x["file"] == path and x["drv"] == "qcow2"][0]
def wait_jobs():
    while True:
        jobs = qmp("query-jobs")
        if all(j["status"] == "concluded" for j in jobs):
            for j in jobs: qmp("job-dismiss", id=j["id"])
            return sum(j["total-progress"] for j in jobs)
        time.sleep(0.05)
top = work + "/raw.qcow2"
for i in range(n):
    ov = "%s/raw.s%d.qcow2" % (work, i)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", top, "-u", ov, "1G"], check=True)
    qmp("blockdev-add", driver="qcow2", **{"node-name": "ov%d" % i}, file={"driver": "file", "filename": ov}, backing=None)
    t = time.monotonic()
    qmp("transaction", actions=[{"type": "blockdev-snapshot", "data": {"node": node_of(top), "overlay": "ov%d" % i}}])
    print("snap", int((time.monotonic() - t) * 1e6))
    top = ov
node = node_of(top)
def target(name, backing=None):
    path = work + "/" + name
    cmd = ["qemu-img", "create", "-q", "-f", "qcow2"] + (["-F", "qcow2", "-b", backing, "-u"] if backing else []) + [path, "1G"]
    subprocess.run(cmd, check=True)
    qmp("blockdev-add", driver="qcow2", **{"node-name": name.split(".")[0]}, file={"driver": "file", "filename": path}, backing=None)
    return name.split(".")[0]
t0 = target("rawfull.qcow2")
qmp("transaction", actions=[{"type": "block-dirty-bitmap-add", "data": {"node": node, "name": "b", "persistent": True}},
    {"type": "blockdev-backup", "data": {"job-id": "j0", "device": node, "target": t0, "sync": "full", "auto-dismiss": False}}])
wait_jobs()
# The guest writes, typed on its serial console once it is ready.
def console_has(text):
    try: return text in open(work + "/raw.log", errors="replace").read()
    except OSError: return False
for _ in range(2400):
    if console_has("vmm-guest: ready"): break
    time.sleep(0.05)
con = socket.socket(socket.AF_UNIX); con.connect(work + "/raw-con.sock")
time.sleep(1)
con.sendall(b"dd if=/dev/urandom of=/dev/vda bs=1M count=10 seek=100 conv=fsync 2>/dev/null; echo bench-done-$((1+1))\n")
for _ in range(2400):
    if console_has("bench-done-2"): break
    time.sleep(0.05)
else:
    raise SystemExit("the raw guest did not write")
t1 = target("rawinc.qcow2", "rawfull.qcow2")
qmp("transaction", actions=[{"type": "blockdev-backup", "data": {"job-id": "j1", "device": node, "target": t1, "sync": "incremental",
    "bitmap": "b", "auto-dismiss": False}}])
print("copied", wait_jobs())
for name in (t0, t1): qmp("blockdev-del", **{"node-name": name})
PY

own_data() {
	qemu-img map -U --output=json "$1" | python3 -c 'import json,sys
print(sum(m["length"] for m in json.load(sys.stdin) if m["data"] and m["depth"] == 0))'
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
ms() { awk -v u="$1" 'BEGIN {printf "%.2f ms", u / 1000}'; }
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }

vq=$(cut -d' ' -f1 "$work/vmm-snap" | median)
vf=$(cut -d' ' -f2 "$work/vmm-snap" | median)
rq=$(awk '$1 == "snap" {print $2}' "$work/raw-out" | median)
vc=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["copied"])' <"$work/vmm-inc")
rc=$(awk '$1 == "copied" {print $2}' "$work/raw-out")
echo "disk-only snapshot, $n runs, medians (target: guest pause <= 20 ms)"
printf '  %-44s %s\n' "vmm: transaction (disks' I/O drained)" "$(ms "$vq")"
printf '  %-44s %s\n' "vmm: guest filesystems frozen (freeze..thaw)" "$(ms "$vf")"
printf '  %-44s %s\n' "raw QMP: the same transaction" "$(ms "$rq")"
echo "incremental backup after 10 MiB of writes to a 1 GiB disk (target: <= 16 MiB)"
printf '  %-44s %s, file holds %s\n' "vmm: copied" "$(mib "$vc")" "$(mib "$(own_data "$work/vmm-bk/data.001.qcow2")")"
printf '  %-44s %s, file holds %s\n' "raw QMP: copied" "$(mib "$rc")" "$(mib "$(own_data "$work/rawinc.qcow2")")"
