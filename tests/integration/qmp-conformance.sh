#!/bin/bash
# QMP conformance of the proxy: a corpus of inputs (sloppy and hostile ones included)
# replayed against a raw QEMU monitor and through qmp.sock, answers compared by kind,
# error class, order and id (tests/integration/qmp-conformance.py).
. "$(dirname "$0")/lib.sh"

start_detached c1 "$PROFILES/guest.json"
"${RAW_QEMU[@]}" -nodefaults -display none -machine q35 -accel tcg -S -m 64M \
	-qmp "unix:$T/raw.sock,server=on,wait=off" >"$T/raw.out" 2>&1 &
VMM_PIDS+=($!)
for ((i = 0; i < 100; i++)); do [ -S "$T/raw.sock" ] && break; sleep 0.05; done
python3 "$SRCDIR/tests/integration/qmp-conformance.py" "$T/raw.sock" "$VMM_RUN_DIR/c1/qmp.sock" >"$T/conf.out" 2>&1 ||
	{ cat "$T/conf.out"; fail "the proxy answers differently from QEMU"; }
cat "$T/conf.out"
expect_rc 0 status c1
pass "the proxy answers every input of the corpus as QEMU does"
