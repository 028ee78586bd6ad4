#!/bin/bash
# Runs inside the isolate-real.sh guest (2 CPUs, the host's / through virtiofs): cgroup v2
# mounted with the slices systemd would make (system.slice with a service's process,
# user.slice with this script and so vmm, init.scope with PID 1), then nested VMs with
# cpu.isolate pinned to CPU 1 (paused with -S: the checks need no guest code): the host
# confined to CPU 0 while each runs, everything as before after stop; two VMs at once, one
# of them crashing (kill -9 of QEMU), the other's supervisor killed, reattached, stopped;
# a third refused; a failed start; the same through systemctl when systemd is PID 1. Its last argument is the host's env file (VMM, SRCDIR, GUEST).
set -euo pipefail
. "${1:?}"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin VMM_RUN_DIR=/run/vmm VMM_CACHE_DIR=/run/cache VMM_DATA_DIR=/run/data
T=/run/t
CG=/sys/fs/cgroup
mkdir -p "$T" "$VMM_CACHE_DIR/qemu-caps"
# The host's probe of its QEMU stands (same binary): probing again under TCG takes long.
cp "$(dirname "$GUEST")"/qemu-caps/_usr_bin_qemu-system-x86_64.json "$VMM_CACHE_DIR/qemu-caps/" 2>/dev/null || true
# The nested VMs' kernel and initrd where QEMU's own user reaches them: the host's / is
# read-only here, so no ACL can open the way to $GUEST under /root.
mkdir -p /run/guest && cp "$GUEST/vmlinuz" "$GUEST/initrd.img" /run/guest/ && GUEST=/run/guest
fail() {
	echo "FAIL: $*"
	for f in "$VMM_RUN_DIR"/*/vmm.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 15 "$f"; }; done
	exit 1
}
pass() { echo "ok - $* ($(cut -d' ' -f1 /proc/uptime) s)"; }
field() { sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p" "$VMM_RUN_DIR/$1/state.json"; }

[ "$(cat /sys/devices/system/cpu/online)" = 0-1 ] || fail "the guest has CPUs $(cat /sys/devices/system/cpu/online), not 0-1"
mount -t cgroup2 cgroup2 "$CG" || fail "cannot mount cgroup2"

# Everything cpu.isolate changes, as it is now.
host_state() {
	echo "subtree: $(cat "$CG/cgroup.subtree_control")"
	for s in system.slice user.slice init.scope; do
		echo "$s: $(cat "$CG/$s/cpuset.cpus.effective" 2>/dev/null || echo none)"
	done
	echo "default: $(cat /proc/irq/default_smp_affinity)"
	for f in /proc/irq/*/smp_affinity_list; do echo "$f: $(cat "$f")"; done
	ls "$CG" | grep -x vmm.slice || true
	ls "$VMM_RUN_DIR"/isolate.json 2>/dev/null || true
}
restored() {
	host_state >"$T/now"
	diff "$T/before" "$T/now" >"$T/diff" || fail "$1: not restored: $(cat "$T/diff")"
	pass "$1: slices, IRQs and the default affinity as before, no journal left"
}

# nested NAME [EXTRA]: a profile pinned to CPU 1 (vCPU and emulator threads) with cpu.isolate.
nested() {
	cat >"$T/$1.json" <<EOF2
{ "name": "$1", "machine": { "type": "q35", "accel": "tcg" }, "memory": { "size": "64M" },
  "cpu": { "pin": "1", "emulator_pin": "1", "isolate": true },
  "boot": { "kernel": "$GUEST/vmlinuz", "initrd": "$GUEST/initrd.img" },
  "lifecycle": { "shutdown_timeout": 5 }, "qemu": { "extra_args": ["-S"${2:-}] } }
EOF2
	echo "$T/$1.json"
}

# While a VM isolates: the slices on CPU 0, QEMU in its own cgroup on CPU 1, IRQs moved.
check_isolated() {
	local qemu moved n
	qemu=$(field "$1" qemu_pid)
	for s in system.slice user.slice init.scope; do
		[ "$(cat "$CG/$s/cpuset.cpus.effective")" = 0 ] || fail "$s on CPUs $(cat "$CG/$s/cpuset.cpus.effective")"
	done
	grep -q "Cpus_allowed_list:[[:space:]]*0$" "/proc/$service/status" || fail "the service's process: $(grep Cpus_allowed_list "/proc/$service/status")"
	grep -qx "$qemu" "$CG/vmm.slice/$1/cgroup.procs" || fail "QEMU $qemu is not in vmm.slice/$1: $(cat "/proc/$qemu/cgroup")"
	for t in /proc/"$qemu"/task/*; do
		grep -q "Cpus_allowed_list:[[:space:]]*1$" "$t/status" || fail "QEMU thread $t: $(grep Cpus_allowed_list "$t/status")"
	done
	[ "$(cat /proc/irq/default_smp_affinity)" = 1 ] || fail "default_smp_affinity $(cat /proc/irq/default_smp_affinity)"
	# What vmm said (the last vmm start's stderr, or the supervisor's log).
	cat "$T/start.err" "$VMM_RUN_DIR/$1/vmm.log" >"$T/said"
	moved=$(sed -n 's/.* \([0-9]*\) IRQs\{0,1\} moved there.*/\1/p' "$T/said" | tail -n 1)
	n=$(grep -lx 0 /proc/irq/*/smp_affinity_list | wc -l)
	[ -n "$moved" ] && [ "$moved" -gt 0 ] && [ "$n" -ge "$moved" ] || fail "IRQs: vmm moved '$moved', $n on CPU 0"
	pass "$2: the slices on CPU 0, QEMU's threads on CPU 1 in vmm.slice/$1, $moved IRQs on CPU 0 ($(grep -o '[0-9]* refused' "$T/said" | tail -n 1))"
}

# Waits until the VM's supervisor has given the host back: the journal goes last.
wait_released() {
	for ((i = 0; i < 300; i++)); do
		[ -e "$VMM_RUN_DIR/isolate.json" ] || return 0
		sleep 0.1
	done
	fail "$1: the journal is still there 30 s after its end"
}

# No slices (every task in the root cgroup): nothing to confine, the start is refused.
host_state >"$T/before"
rc=0
"$VMM" start "$(nested iso)" 2>"$T/start.err" || rc=$?
[ "$rc" != 0 ] && grep -q "none of system.slice, user.slice, init.scope is in the cgroup tree" "$T/start.err" ||
	fail "no slices: rc $rc: $(cat "$T/start.err")"
restored "no slices: the start refused"

mkdir "$CG/system.slice" "$CG/user.slice" "$CG/init.scope"
sleep 3600 &
service=$!
echo "$service" >"$CG/system.slice/cgroup.procs"
echo 1 >"$CG/init.scope/cgroup.procs"
echo $$ >"$CG/user.slice/cgroup.procs"
host_state >"$T/before"
"$VMM" start "$(nested iso)" 2>"$T/start.err" || fail "start: $(cat "$T/start.err")"
check_isolated iso "vmm start"
"$VMM" stop iso --timeout 1 >/dev/null 2>&1 || true
restored "vmm stop"

# Two VMs (both on CPU 1: this guest has no other), a third refused, one crashing: the host
# stays confined until the last one ends.
"$VMM" start "$(nested iso)" 2>"$T/start.err" || fail "start a: $(cat "$T/start.err")"
"$VMM" start "$(nested iso2)" 2>"$T/start.err" || fail "start b: $(cat "$T/start.err")"
sed 's/"emulator_pin": "1"/"emulator_pin": "0"/' "$(nested iso3)" >"$T/all.json"
rc=0
"$VMM" start "$T/all.json" 2>"$T/all.err" || rc=$?
[ "$rc" != 0 ] && grep -q "none would be left to the host" "$T/all.err" || fail "pins on every CPU: rc $rc: $(cat "$T/all.err")"
check_isolated iso2 "a third VM pinned to every CPU refused, the others'"
grep -q '"iso3"' "$VMM_RUN_DIR/isolate.json" && fail "the refused VM is in the journal"
kill -9 "$(field iso qemu_pid)"
for ((i = 0; i < 300; i++)); do grep -q '"iso"' "$VMM_RUN_DIR/isolate.json" || break; sleep 0.1; done
grep -q '"iso"' "$VMM_RUN_DIR/isolate.json" && fail "the crashed VM is still in the journal"
check_isolated iso2 "kill -9 of one VM's QEMU: the other's"
kill -9 "$(field iso2 supervisor_pid)"
sleep 0.5
check_isolated iso2 "supervisor killed"
"$VMM" attach iso2 2>"$T/attach.err" || fail "attach: $(cat "$T/attach.err")"
"$VMM" stop iso2 --timeout 1 >/dev/null 2>&1 || true
restored "QEMU crashed, the other VM's supervisor killed, attach, stop"

rc=0
"$VMM" start "$(nested iso ', "-no-such-option"')" 2>"$T/start.err" || rc=$?
[ "$rc" != 0 ] || fail "a start with a bad QEMU option succeeded"
grep -q "isolated CPUs 1: the host's tasks on 0" "$T/start.err" || fail "the failed start did not isolate first: $(cat "$T/start.err")"
wait_released iso
restored "a failed start"

# systemd as PID 1 (/run/systemd/system): vmm goes through systemctl set-property --runtime
# AllowedCPUs; this stand-in does what systemd does with it (the cpuset controller already
# on, as systemd keeps it; what the kernel refuses ignored) and logs its arguments.
mkdir -p /run/systemd/system "$T/bin"
echo +cpuset >"$CG/cgroup.subtree_control"
cat >"$T/bin/systemctl" <<EOF2
#!/bin/bash
echo "\$*" >>$T/systemctl.log
case "\$1 \$2" in
"show --property=AllowedCPUs") cat "$T/allowed.\$4" 2>/dev/null || echo ;;
"set-property --runtime") echo "\${4#AllowedCPUs=}" >"$T/allowed.\$3"
	echo "\${4#AllowedCPUs=}" 2>/dev/null >"$CG/\$3/cpuset.cpus" || true ;; # the kernel's refusal is systemd's
*) exit 1 ;;
esac
EOF2
chmod +x "$T/bin/systemctl"
host_state >"$T/before"
PATH=$T/bin:$PATH "$VMM" start "$(nested iso)" 2>"$T/start.err" || fail "start under systemd: $(cat "$T/start.err")"
check_isolated iso "systemd"
grep -qx "set-property --runtime system.slice AllowedCPUs=0" "$T/systemctl.log" || fail "systemctl: $(cat "$T/systemctl.log")"
"$VMM" stop iso --timeout 1 >/dev/null 2>&1 || true
grep -qx "set-property --runtime init.scope AllowedCPUs=" "$T/systemctl.log" || fail "systemctl: $(cat "$T/systemctl.log")"
restored "systemd: AllowedCPUs set and reset through systemctl"
kill "$service"
! grep -h -e "isolated CPUs: " -e "Sanitizer" "$VMM_RUN_DIR"/*/vmm.log || fail "vmm could not give back everything"
pass "nothing failed to be given back (nor a sanitizer's report)"
