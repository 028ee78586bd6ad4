#!/bin/bash
# Making a launch plan (resolving the includes, the merge, validation, the firmware
# lookup, the cached QEMU probe) and building its QEMU argv, per profile, in process. Target (issue: profiles): under 2 ms.
# For scale, the same run times `qemu-system-x86_64 --version`, the cheapest thing QEMU does.
#   bench/profile.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
bench=${PROFILE_BENCH:-build/profile-bench}
export VMM_HOST_CPUS=16 VMM_DATA_DIR=/tmp/vmm-bench-data

printf '%-34s %12s\n' profile "resolve+build"
for p in examples/*.json; do
	us=$("$bench" "$p" "$n" | awk '{print $3}')
	printf '%-34s %9s us\n' "$p" "$(awk -v t="$us" -v n="$n" 'BEGIN {printf "%.1f", t / n}')"
done
t0=$(date +%s%N)
for ((i = 0; i < 20; i++)); do qemu-system-x86_64 --version >/dev/null; done
echo "qemu-system-x86_64 --version: $(awk -v t="$(($(date +%s%N) - t0))" 'BEGIN {printf "%.1f", t / 20 / 1e6}') ms per run"
echo "(target: under 2 ms = 2000 us per profile)"
