#!/bin/bash
# vmm run under a service manager: sd_notify's datagrams on $NOTIFY_SOCKET (READY=1 once the
# guest runs, STATUS= lines, STOPPING=1 with the stop's time), QEMU not inheriting the
# variable, the exit statuses the unit's restart rules use, and `systemd-analyze verify` of
# the vmm@.service template unit meson builds, and the Nomad and Kubernetes examples.
. "$(dirname "$0")/lib.sh"

# Collects every datagram sent to ADDRESS (a path, or @name for the abstract namespace)
# into FILE, one per line with newlines shown as '|'.
listen() {
	python3 -u - "$1" "$2" <<'PY' &
import socket, sys
addr, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
with open(out, "a", buffering=1) as f:
    f.write("listening\n")
    while True:
        f.write(s.recv(4096).decode().replace("\n", "|") + "\n")
PY
	VMM_PIDS+=("$!")
	wait_for "$2" '^listening$' 10
}

cp "$PROFILES/guest.json" "$T/svc.json"
listen "$T/notify.sock" "$T/notify.log"
NOTIFY_SOCKET=$T/notify.sock start_vm svc "$T/svc.json"
wait_for "$T/notify.log" '^READY=1$' 60
grep -q '^STATUS=.*status running' "$T/notify.log" || fail "no STATUS with the run state: $(cat "$T/notify.log")"
[ "$(grep -n '^READY=1$' "$T/notify.log" | cut -d: -f1)" -gt "$(grep -n 'status running' "$T/notify.log" | cut -d: -f1)" ] ||
	fail "READY=1 came before the guest ran: $(cat "$T/notify.log")"
qpid=$(state_field svc qemu_pid)
! tr '\0' '\n' <"/proc/$qpid/environ" | grep -q '^NOTIFY_SOCKET=' || fail "QEMU inherited NOTIFY_SOCKET"
pass "READY=1 after the guest runs, STATUS= lines, QEMU without NOTIFY_SOCKET"

wait_for "$VMM_RUN_DIR/svc/console.log" 'vmm-guest: ready' 60
kill -TERM "$VMM_PID"
wait_exit
[ "$RC" = 0 ] || fail "SIGTERM: exit $RC, expected 0 (the guest powered off)"
# The guest profile's lifecycle.shutdown_timeout + the agent's 10 s + twice quit's 5 s.
timeout=$(sed -n 's/.*"shutdown_timeout": *\([0-9]*\).*/\1/p' "$T/svc.json")
[ -n "$timeout" ] || fail "the guest profile names no lifecycle.shutdown_timeout"
grep -q "^STOPPING=1|EXTEND_TIMEOUT_USEC=$(( (timeout + 20) * 1000000 ))\$" "$T/notify.log" ||
	fail "no STOPPING=1 with the stop's time: $(cat "$T/notify.log")"
[ "$(grep -c '^STOPPING=1' "$T/notify.log")" = 1 ] || fail "STOPPING=1 sent more than once"
pass "SIGTERM: STOPPING=1 with EXTEND_TIMEOUT_USEC=$(( (timeout + 20) * 1000000 )), exit 0"

# The abstract namespace, and a crash: exit 4, which Restart=on-failure restarts.
listen "@vmm-notify-$$" "$T/abstract.log"
NOTIFY_SOCKET=@vmm-notify-$$ start_vm svc "$T/svc.json"
wait_for "$T/abstract.log" '^READY=1$' 60
kill -9 "$(state_field svc qemu_pid)"
wait_exit
[ "$RC" = 4 ] || fail "QEMU killed: exit $RC, expected 4"
grep -q '^STATUS=QEMU crashed' "$T/abstract.log" || fail "no STATUS for the crash: $(cat "$T/abstract.log")"
pass "abstract socket; a crash says STATUS=QEMU crashed and exits 4"

# A socket that is not there: a warning, and the VM runs anyway.
NOTIFY_SOCKET=$T/absent.sock start_vm svc "$T/svc.json"
wait_for "$T/svc.err" 'NOTIFY_SOCKET cannot be used' 30
wait_for "$T/svc.out" "vmm-guest: ready" 60
kill -TERM "$VMM_PID"
wait_exit
[ "$RC" = 0 ] || fail "exit $RC with an unusable NOTIFY_SOCKET"
pass "an unusable NOTIFY_SOCKET is a warning"

# The unit meson builds, with vmm's real path, as systemd would load it.
unit=$(dirname "$VMM")/vmm@.service
[ -f "$unit" ] || fail "no $unit"
grep -q '^Type=notify$' "$unit" || fail "the unit is not Type=notify"
if command -v systemd-analyze >/dev/null; then
	mkdir "$T/units"
	sed "s|^ExecStart=[^ ]*|ExecStart=$VMM|" "$unit" >"$T/units/vmm@.service"
	SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$T/units/vmm@demo.service" >"$T/verify.out" 2>&1 ||
		fail "systemd-analyze verify: $(cat "$T/verify.out")"
	[ ! -s "$T/verify.out" ] || fail "systemd-analyze verify says: $(cat "$T/verify.out")"
	pass "systemd-analyze verify vmm@demo.service"
else
	fail "systemd-analyze is not installed (bootstrap.sh installs systemd)"
fi

# The Nomad and Kubernetes examples: the same `vmm run` of the demo profile (installed as
# /etc/vmm/profiles/demo.json), given time for its whole stop before they kill it.
timeout=$(sed -n 's/.*"shutdown_timeout": *\([0-9]*\).*/\1/p' "$SRCDIR/examples/demo.json")
stop=$((timeout + 20))
nomad=$SRCDIR/examples/nomad/vmm-demo.nomad.hcl pod=$SRCDIR/examples/kubernetes/vmm-demo-pod.yaml
grep -q 'args *= \["run", "/etc/vmm/profiles/demo.json"\]' "$nomad" && grep -q 'driver = "raw_exec"' "$nomad" ||
	fail "the Nomad example does not run vmm run demo.json under raw_exec"
grep -q 'command: \["vmm", "run", "/etc/vmm/profiles/demo.json"\]' "$pod" || fail "the pod does not run vmm run demo.json"
[ "$(sed -n 's/.*kill_timeout *= *"\([0-9]*\)s".*/\1/p' "$nomad")" -ge "$stop" ] &&
	[ "$(sed -n 's/.*terminationGracePeriodSeconds: *\([0-9]*\).*/\1/p' "$pod")" -ge "$stop" ] ||
	fail "an example kills vmm before its stop can end ($stop s)"
"$VMM" lint "$SRCDIR/examples/demo.json" >"$T/lint.out" 2>&1 || fail "the examples' profile: $(cat "$T/lint.out")"
pass "the Nomad and Kubernetes examples run vmm run demo.json and wait at least $stop s for its stop"
