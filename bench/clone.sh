#!/bin/bash
# A thin clone of a 20 GiB template (a sparse raw image): `vmm clone` (profile lookup and
# validation, qemu-img info and create -b, the clone's profile.json) against the raw
# `qemu-img create -f qcow2 -b BASE -F raw` it runs, alternating, N runs each (default 20).
# Prints the medians side by side. Target (issue 16): vmm's clone at most 50 ms.
#   bench/clone.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
vmm=$(realpath "${VMM:-build/vmm}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export VMM_DATA_DIR=$work/data VMM_PROFILE_PATH=$work/profiles VMM_RUN_DIR=$work/run
mkdir -p "$VMM_PROFILE_PATH"

truncate -s 20G "$work/base.raw"
cat >"$VMM_PROFILE_PATH/tmpl.json" <<JSON
{ "machine": { "accel": "tcg" }, "memory": { "size": "256M" },
  "disks": [{ "id": "root", "file": "$work/base.raw", "format": "raw" }] }
JSON
"$vmm" template tmpl >/dev/null

now_ns() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

vmm_ms=() raw_ms=()
for ((i = 0; i < n; i++)); do
	t=$(now_ns)
	"$vmm" clone tmpl "c$i" >/dev/null
	vmm_ms+=($((($(now_ns) - t) / 1000)))
	t=$(now_ns)
	qemu-img create -q -f qcow2 -b "$work/base.raw" -F raw "$work/raw$i.qcow2"
	raw_ms+=($((($(now_ns) - t) / 1000)))
done
v=$(printf '%s\n' "${vmm_ms[@]}" | median)
r=$(printf '%s\n' "${raw_ms[@]}" | median)
awk -v v="$v" -v r="$r" -v n="$n" 'BEGIN {
	printf "thin clone of a 20 GiB template, median of %d:\n", n
	printf "  vmm clone                    %7.1f ms  (target <= 50 ms: %s)\n", v / 1000, v <= 50000 ? "met" : "MISSED"
	printf "  qemu-img create -b (raw)     %7.1f ms\n", r / 1000
	printf "  vmm minus qemu-img           %7.1f ms\n", (v - r) / 1000 }'
