#!/bin/bash
# Profile files the real binary must refuse or resolve fast: a FIFO or a directory given as
# a profile or an include (refused at once, never waited on), and an include bomb (each file
# including the next four times) that resolves in a blink because each file is applied once.
set -euo pipefail
: "${VMM:?}" "${SRCDIR:?}"
export VMM_RUN_DIR=/run/vmm-golden VMM_CACHE_DIR=/cache VMM_DATA_DIR=/data VMM_HOST_CPUS=16
T=$(cd "$(mktemp -d /tmp/vmm-profile-files.XXXXXX)" && pwd -P)
trap 'rm -rf "$T"' EXIT
cd "$T"
n=0 failed=0

# Runs vmm cmdline under a 5-second timeout; checks its exit status and its stderr.
check() {
	local what=$1 want_rc=$2 want_err=$3 rc=0 err
	shift 3
	n=$((n + 1))
	err=$(timeout 5 "$VMM" cmdline "$@" 2>&1 >/dev/null) || rc=$?
	if [ "$rc" = "$want_rc" ] && [ "$err" = "$want_err" ]; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what"
		printf '#   exit %s (want %s), stderr: %s\n#   want: %s\n' "$rc" "$want_rc" "$err" "$want_err"
		failed=1
	fi
}

mkfifo fifo.json
check "a FIFO given as a profile is refused at once" 1 "vmm: profile 'fifo.json' is a FIFO, not a regular file" fifo.json
echo '{ "include": ["fifo.json"], "boot": { "kernel": "/vmlinuz" } }' >includes-fifo.json
check "a FIFO given as an include is refused at once" 1 \
	"vmm: profile '$T/fifo.json' is a FIFO, not a regular file" includes-fifo.json
echo '{ "boot": { "kernel": "/vmlinuz" } }' >base.json
check "a FIFO given as a layer is refused at once" 1 "vmm: profile 'fifo.json' is a FIFO, not a regular file" \
	base.json -p fifo.json
mkdir dir.json
check "a directory given as a profile is refused" 1 "vmm: profile 'dir.json' is a directory, not a regular file" dir.json

# The bomb: bomb0 includes bomb1 four times, ..., bomb13 sets what a VM needs. Applied at
# every place, bomb13 would be merged 4^13 (67 million) times.
for i in $(seq 0 12); do
	next="\"bomb$((i + 1)).json\""
	echo "{ \"include\": [$next, $next, $next, $next], \"cpu\": { \"cores\": $((i % 4 + 1)) } }" >"bomb$i.json"
done
echo '{ "name": "bomb", "memory": { "size": "1G" }, "boot": { "kernel": "/vmlinuz" } }' >bomb13.json
check "an include bomb of 14 files resolves within the timeout" 0 "" bomb0.json

echo "1..$n"
exit $failed
