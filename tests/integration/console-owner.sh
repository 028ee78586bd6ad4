#!/bin/bash
# The supervisor owns the serial console: however much the guest prints, console.log stays
# under console_log.max_size with console_log.keep rotated copies and ends with the last
# lines; vmm console still shows the guest's output; a second vmm console is refused with
# the first one's PID; a client that stops reading is dropped without holding the guest
# back; the console survives kill -9 of the supervisor and vmm attach.
. "$(dirname "$0")/lib.sh"

log=$VMM_RUN_DIR/c1/console.log
cap=$((1 << 20))

# Types a line on c1's console through vmm console and waits for a pattern (console.py).
console() {
	python3 "$SRCDIR/tests/integration/console.py" "$VMM" c1 "$@" >/dev/null || fail "vmm console c1: $*"
}

# Fails unless console.log and its one rotated copy are each within the cap.
assert_capped() {
	local f size
	for f in "$log" "$log.1"; do
		size=$(stat -c %s "$f")
		[ "$size" -le "$cap" ] || fail "$f has $size bytes, more than the cap of $cap"
	done
	[ ! -e "$log.2" ] || fail "console_log.keep 1 left a console.log.2"
}

"$VMM" start "$PROFILES/guest.json" --name c1 --set console_log.max_size=1M --set console_log.keep=1 \
	>"$T/c1.start.out" 2>"$T/c1.start.err" || fail "vmm start c1: $(cat "$T/c1.start.err")"
wait_for "$log" 'vmm-guest: ready' 60
[ "$(stat -c %a "$log")" = 600 ] || fail "console.log is not 0600"

# 3 MB through the console, watched through vmm console; the marker is computed, so the
# echo of the typed line does not match it.
console 'yes vmm-flood-line | head -c 3000000; echo; echo vmm-flood-$((6*7))' 'vmm-flood-42' 120
wait_for "$log" 'vmm-flood-42' 5
assert_capped
tail -n 2 "$log" | grep -q '^vmm-flood-42' || fail "console.log does not end with the last line: $(tail -n 2 "$log")"
grep -q 'vmm-flood-line' "$log.1" || fail "console.log.1 does not hold the flood"
! grep -q 'vmm-guest: ready' "$log" "$log.1" || fail "the boot lines were never rotated out"
pass "a 3 MB flood: console.log and console.log.1 stay within 1M each, the last line is in console.log"

"$VMM" console c1 </dev/null >"$T/first.out" 2>"$T/first.err" &
first=$!
VMM_PIDS+=("$first")
wait_for "$T/first.err" 'console connected' 5
expect_rc 1 console c1
grep -q "^vmm: VM 'c1': console in use by PID $first" "$T/last.err" || fail "second console: $(cat "$T/last.err")"
kill "$first"
wait "$first" || true
console 'echo vmm-free-$((6*7))' 'vmm-free-42'
pass "a second vmm console is refused with the first one's PID; free again once it leaves"

# A client that reads its greeting and then nothing while the guest prints 3 MB.
console '(sleep 2; yes vmm-slow-line | head -c 3000000; echo; echo vmm-slow-$((6*7))) & echo vmm-bg-$((6*7))' 'vmm-bg-42'
python3 - "$VMM_RUN_DIR/c1/console.sock" "$T/go" >"$T/slow.out" 2>&1 <<'EOF' &
import os, socket, sys, time
while True:
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    greeting = s.recv(64, socket.MSG_PEEK)
    if b"in use" not in greeting:
        break
    s.close()
    time.sleep(0.1)
print("attached", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.1)
s.settimeout(10)
n = 0
while True:
    b = s.recv(65536)
    if not b:
        break
    n += len(b)
print("eof after", n)
EOF
slow=$!
VMM_PIDS+=("$slow")
wait_for "$T/slow.out" 'attached' 5
wait_for "$log" '^vmm-slow-42' 120
expect_rc 0 status c1
touch "$T/go"
wait "$slow" || fail "the slow client: $(cat "$T/slow.out")"
n=$(sed -n 's/^eof after //p' "$T/slow.out")
[ -n "$n" ] && [ "$n" -lt 3000000 ] || fail "the slow client was not dropped: $(cat "$T/slow.out")"
assert_capped
console 'echo vmm-again-$((6*7))' 'vmm-again-42'
pass "a client that stops reading is dropped (it got $n bytes); the guest printed its 3 MB"

sup=$(state_field c1 supervisor_pid)
kill -9 "$sup"
assert_gone "$sup"
expect_rc 0 attach c1
console 'echo vmm-after-$((6*7))' 'vmm-after-42'
wait_for "$log" '^vmm-after-42' 5
pass "after kill -9 and vmm attach: vmm console works, new output reaches console.log"

expect_rc 0 stop c1
grep -q "guest powered off" "$T/last.err" || fail "stop: $(cat "$T/last.err")"
assert_clean_rundir c1
pass "stop leaves only the logs"
