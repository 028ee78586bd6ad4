#!/bin/bash
# Descriptor floods do not wedge the control plane. The supervisor runs with the usual
# limit of 1024 descriptors; 2,000 connections to qmp.sock, held open, get 256 clients
# served and the rest closed at once, while vmm status and vmm list answer within a
# second; once they close, qmp.sock serves new clients. 2,000 connections to ctl.sock,
# held open, leave qmp.sock serving.
. "$(dirname "$0")/lib.sh"

(ulimit -n 1024 && start_detached f1 "$PROFILES/guest.json") || exit 1

# Holds COUNT connections to SOCKET open: prints how many got a first line and how many
# were closed by the supervisor, then runs the command after "--" (its status is ours).
flood() {
	python3 - "$@" <<'PY'
import resource, socket, subprocess, sys, time

path, count, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[4:]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = count + 256
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
conns = []
while len(conns) < count:  # a backlog full for 3 s ends the flood early (a supervisor stuck)
    s, deadline = socket.socket(socket.AF_UNIX), time.monotonic() + 3
    s.settimeout(0)  # a full backlog is EAGAIN, not a wait
    while time.monotonic() < deadline:
        try:
            s.connect(path)
            break
        except BlockingIOError:
            time.sleep(0.001)
    else:
        break
    conns.append(s)
# Each connection either got a first line (served), was closed (EOF) or waits (held);
# classified once nothing changed for half a second.
served = closed = 0
held, last = list(conns), time.monotonic()
while held and time.monotonic() - last < 0.5:
    waiting = []
    for s in held:
        try:
            data = s.recv(4096)
        except BlockingIOError:
            waiting.append(s)
            continue
        served, closed, last = served + bool(data), closed + (not data), time.monotonic()
    held = waiting
    time.sleep(0.05)
print(f"{len(conns)} connections: {served} served, {closed} closed", flush=True)
rc = subprocess.call(cmd)
for s in conns:
    s.close()
sys.exit(rc)
PY
}

# Runs vmm expecting exit status 0 within a second; output as expect_rc.
answers_within_1s() {
	local start=$(date +%s%N) ms
	expect_rc 0 "$@"
	ms=$((($(date +%s%N) - start) / 1000000))
	[ "$ms" -le 1000 ] || fail "vmm $* took $ms ms"
	echo "$1 $ms ms" >>"$T/timings.out"
}
export -f answers_within_1s expect_rc fail
export T

# Prints the times answers_within_1s measured, on one line.
timings() {
	awk 'NR > 1 { printf ", " } { printf "%s", $0 }' "$T/timings.out"
}

flood "$VMM_RUN_DIR/f1/qmp.sock" 2000 -- bash -c '
	answers_within_1s status f1 --json && cp "$T/last.out" "$T/status.out" &&
	answers_within_1s list && cp "$T/last.out" "$T/list.out"' >"$T/qmp-flood.out" 2>&1 ||
	fail "flood of qmp.sock: $(cat "$T/qmp-flood.out")"
grep -q "^2000 connections: 256 served, 1744 closed$" "$T/qmp-flood.out" ||
	fail "flood of qmp.sock: $(cat "$T/qmp-flood.out")"
[ "$(json_field qmp_clients <"$T/status.out")" = 256 ] || fail "status while flooded: $(cat "$T/status.out")"
grep -Eq "^f1 +running" "$T/list.out" || fail "list while flooded: $(cat "$T/list.out")"
pass "2,000 connections to qmp.sock: 256 served, the rest closed; status and list answer within 1 s ($(timings))"

expect_rc 0 qmp f1 query-status
[ "$(json_field status <"$T/last.out")" = running ] || fail "qmp after the flood: $(cat "$T/last.out")"
expect_rc 0 status f1 --json
[ "$(json_field qmp_clients <"$T/last.out")" = 0 ] || fail "clients left connected: $(cat "$T/last.out")"
pass "after the flood, qmp.sock serves new clients"

rm "$T/timings.out"
flood "$VMM_RUN_DIR/f1/ctl.sock" 2000 -- bash -c 'answers_within_1s qmp f1 query-status' >"$T/ctl-flood.out" 2>&1 ||
	fail "flood of ctl.sock: $(cat "$T/ctl-flood.out")"
grep -q "^2000 connections: 0 served, 1936 closed$" "$T/ctl-flood.out" ||
	fail "flood of ctl.sock: $(cat "$T/ctl-flood.out")"
answers_within_1s status f1
pass "2,000 connections to ctl.sock: 64 held, the rest closed; qmp.sock answers within 1 s ($(timings)), status once they close"

expect_rc 0 stop f1
assert_clean_rundir f1
