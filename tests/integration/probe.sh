#!/bin/bash
# The capability probe: a QEMU binary is asked once what it can do, the answer is cached
# by path, size and mtime, a changed binary is probed again, and a start that needs what
# the QEMU lacks fails before anything runs.
. "$(dirname "$0")/lib.sh"

caps() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
export VMM_CACHE_DIR=$T/cache
expect_rc 0 probe --json
[ "$(caps 'd["from_cache"]' <"$T/last.out")" = False ] || fail "first probe came from a cache"
[ "$(caps '"q35" in d["machines"] and "virtio-scsi-pci" in d["types"] and "qom-get" in d["commands"]' <"$T/last.out")" = True ] ||
	fail "probe: $(head -c 300 "$T/last.out")"
expect_rc 0 probe --json
[ "$(caps 'd["from_cache"]' <"$T/last.out")" = True ] || fail "second probe was not cached"
pass "the probe runs once, then answers from the cache"

# Another binary: a wrapper (a copy of QEMU elsewhere would not find its modules).
printf '#!/bin/sh\nexec qemu-system-x86_64 "$@"\n' >"$T/qemu"
chmod +x "$T/qemu"
expect_rc 0 probe "$T/qemu" --json
[ "$(caps 'd["from_cache"]' <"$T/last.out")" = False ] || fail "another binary came from the cache"
touch -d '1 hour ago' "$T/qemu"
expect_rc 0 probe "$T/qemu" --json
[ "$(caps 'd["from_cache"]' <"$T/last.out")" = False ] || fail "a changed binary came from the cache"
expect_rc 0 probe "$T/qemu" --json
[ "$(caps 'd["from_cache"]' <"$T/last.out")" = True ] || fail "the new probe was not cached"
pass "a different or changed binary is probed again"

# An older QEMU without nvme, as its cached probe says: the start is refused up front.
cache=$(ls "$T/cache/qemu-caps/"*_qemu.json)
python3 - "$cache" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["types"] = [t for t in d["types"] if t != "nvme"]
d["aio"] = ["threads", "native"]
json.dump(d, open(sys.argv[1], "w"))
PY
truncate -s 16M "$T/disk.img"
cat >"$T/needs.json" <<EOF2
{ "name": "needs", "machine": { "accel": "tcg" }, "qemu": { "binary": "$T/qemu" },
  "boot": { "kernel": "/nonexistent" },
  "disks": [{ "id": "d", "file": "$T/disk.img", "format": "raw", "bus": "nvme", "aio": "io_uring", "cache": "none" }] }
EOF2
expect_rc 2 run "$T/needs.json"
grep -q "failed to start: this QEMU cannot do aio 'io_uring' (disks\[0\].aio)" "$T/last.err" || fail "aio: $(cat "$T/last.err")"
grep -q "failed to start: this QEMU has no nvme (device type 'nvme'), which an nvme disk needs" "$T/last.err" ||
	fail "nvme: $(cat "$T/last.err")"
[ "$(qemus needs)" = 0 ] || fail "a QEMU was started"
pass "what the QEMU lacks is refused before it runs, one line each"

# A binary that is no QEMU and leaves a child holding its output open (printing nothing): the
# probe reads what it said without waiting for that child (it waited for ever, and so did the
# supervisor of a VM upgraded with --qemu such a binary).
printf '#!/bin/sh\nsleep 600 3>&- &\necho $! >"%s"\nexit 1\n' "$T/holder.pid" >"$T/holder"
chmod +x "$T/holder"
rc=0
timeout 15 "$VMM" probe "$T/holder" >"$T/last.out" 2>"$T/last.err" || rc=$?
kill "$(cat "$T/holder.pid")"
[ "$rc" = 1 ] && grep -q "'$T/holder' did not start as a QEMU (no QMP greeting): it exited with status 1$" "$T/last.err" ||
	fail "a binary leaving a child: exit $rc: $(cat "$T/last.err")"
pass "a binary leaving a child that holds its output fails at once: $(cat "$T/last.err")"

# A binary that never greets (a hung QEMU): the probe waits for it, and when the prober is
# killed meanwhile (kill -9 of the CLI; a supervisor's probing child is killed the same way when
# the upgrade it served is abandoned), the binary goes with it instead of running on, orphaned.
printf '#!/bin/sh\necho $$ >"%s"\nexec sleep 600\n' "$T/hung.pid" >"$T/hung"
chmod +x "$T/hung"
"$VMM" probe "$T/hung" >"$T/hung.out" 2>&1 &
prober=$!
for _ in $(seq 100); do [ -s "$T/hung.pid" ] && break; sleep 0.05; done
hung=$(cat "$T/hung.pid")
kill -0 "$hung" 2>/dev/null || fail "the hung binary did not start"
kill -9 "$prober"
for _ in $(seq 100); do kill -0 "$hung" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$hung" 2>/dev/null; then
	kill -9 "$hung"
	fail "the hung binary outlived its killed prober"
fi
pass "a hung binary being probed ends with its prober (kill -9)"
