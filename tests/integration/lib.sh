# Shared helpers of the integration tests: each test gets its own run dir and work dir,
# boots the demo guest under TCG with the real QEMU, and cleans up whatever it started.
set -euo pipefail

: "${VMM:?VMM must name the vmm binary}"
: "${SRCDIR:?SRCDIR must name the source tree}"
export VMM_CACHE_DIR=${VMM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}
GUEST=$VMM_CACHE_DIR/guest
PROFILES=$SRCDIR/tests/profiles

# QEMU absent: the only reason to skip.
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: qemu-system-x86_64 not installed"; exit 77; }
# QEMU 10.0 beside the system's, unpacked into the cache by tests/qemu10/fetch.sh. The suite
# qemu10 (VMM_TEST_QEMU=10.0) runs every test on it: vmm uses it for each profile naming none.
# RAW_QEMU runs the QEMU under test directly (no vmm), as vmm would: 10.0 with its own modules.
QEMU10=$VMM_CACHE_DIR/qemu-10.0/usr/bin/qemu-system-x86_64
RAW_QEMU=(qemu-system-x86_64)
if [ "${VMM_TEST_QEMU:-}" = 10.0 ]; then
	[ -x "$QEMU10" ] || { echo "FAIL: no QEMU 10.0 in $QEMU10 (run ./bootstrap.sh or tests/qemu10/fetch.sh)"; exit 1; }
	export VMM_QEMU=$QEMU10
	RAW_QEMU=(env "QEMU_MODULE_DIR=$VMM_CACHE_DIR/qemu-10.0/usr/lib/x86_64-linux-gnu/qemu" "$QEMU10"
		-L "$VMM_CACHE_DIR/qemu-10.0/usr/share/qemu" -L "$VMM_CACHE_DIR/qemu-10.0/usr/share/seabios")
fi
[ -f "$GUEST/vmlinuz" ] && [ -f "$GUEST/initrd.img" ] ||
	{ echo "FAIL: no test guest in $GUEST (run ./bootstrap.sh or tests/guest/build-guest.sh)"; exit 1; }

T=$(mktemp -d /tmp/vmm-test.XXXXXX)
export VMM_RUN_DIR=$T/run
VMM_PIDS=()

# Sends signal SIG (default 9; 0 only looks) to the process named by FIELD (qemu_pid,
# supervisor_pid) of every VM's state.json; prints how many were there.
kill_field() {
	local f p n=0
	for f in "$VMM_RUN_DIR"/*/state.json; do
		[ -f "$f" ] || continue
		p=$(sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p" "$f")
		[ -n "$p" ] && kill -"${2:-9}" "$p" 2>/dev/null && n=$((n + 1))
	done
	echo "$n"
}

# Kills whatever the test left running and removes its files.
cleanup() {
	local p i
	for p in "${VMM_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	kill_field qemu_pid >/dev/null
	# The supervisors give back what the VMs held of the host (huge pages, CPUs) and end; one
	# that starts its QEMU again (a restart policy) is killed with it.
	for ((i = 0; i < 50; i++)); do
		[ "$(kill_field supervisor_pid 0)" = 0 ] && break
		sleep 0.1
	done
	kill_field supervisor_pid >/dev/null
	kill_field qemu_pid >/dev/null
	# Whatever the test mounted under $T (a small tmpfs as the run base).
	awk -v t="$T/" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
		umount -l "$m" || true
	done
	# A process that was still ending may have written one more file: once more after a moment.
	rm -rf "$T" 2>/dev/null || { sleep 0.5; rm -rf "$T"; }
}
trap cleanup EXIT

# Starts VM NAME with the guest agent and one disk (FILE, FORMAT), and waits for its agent.
start_with_disk() {
	"$VMM" start "$PROFILES/guest-agent.json" --name "$1" \
		--set "disks=[{\"id\": \"data\", \"file\": \"$2\", \"format\": \"$3\"}]" >"$T/$1.start.out" 2>"$T/$1.start.err" ||
		fail "vmm start $1 failed: $(cat "$T/$1.start.err")"
	expect_rc 0 wait "$1" agent --timeout 120
}

# Runs vmm ARGS... with a qemu-img that first waits a second when its subcommand matches
# PATTERN (a case pattern: "create|convert"), and interrupts vmm (SIGINT) once such a qemu-img
# runs: Ctrl-C in the middle of the work. Its exit status in INT_RC, its output in $T/int.out
# and $T/int.err.
interrupt_during_qemu_img() {
	local pattern=$1 pid i
	shift
	rm -f "$T/img.started"
	printf '#!/bin/sh\ncase "$1" in %s) touch "%s"; sleep 1;; esac\nexec qemu-img "$@"\n' "$pattern" \
		"$T/img.started" >"$T/slow-qemu-img"
	chmod +x "$T/slow-qemu-img"
	VMM_QEMU_IMG=$T/slow-qemu-img "$VMM" "$@" >"$T/int.out" 2>"$T/int.err" &
	pid=$!
	for ((i = 0; i < 200; i++)); do [ -e "$T/img.started" ] && break; sleep 0.05; done
	kill -INT "$pid"
	INT_RC=0
	wait "$pid" || INT_RC=$?
}

# Holds, until the test ends, the lock every test that changes the host's huge page pools
# takes: tests of two suites running at once (meson's is_parallel only parts one run's) must
# not see each other's pool changes.
hold_hugepage_pools() { exec 8>/tmp/vmm-tests-hugepages.lock && flock 8; }
fail() {
	echo "FAIL: $*"
	for f in "$T"/*.out "$T"/*.err; do [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }; done
	for f in "$VMM_RUN_DIR"/*/vmm.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 15 "$f"; }; done
	# Consoles a command left in its output directory (bench fio's) say why a guest stalled.
	find "$T" -name 'console*.log' 2>/dev/null | head -n 4 | while read -r f; do echo "--- $f"; tail -n 30 "$f"; done
	exit 1
}
pass() { echo "ok - $*"; }

# Starts `vmm run PROFILE` in the background; output in $T/NAME.out and $T/NAME.err.
start_vm() {
	local name=$1 profile=$2
	"$VMM" run "$profile" >"$T/$name.out" 2>"$T/$name.err" &
	VMM_PID=$!
	VMM_PIDS+=("$VMM_PID")
}

# Starts VM NAME detached (`vmm start PROFILE --name NAME`) and waits for the guest's ready line.
start_detached() {
	local name=$1 profile=$2
	"$VMM" start "$profile" --name "$name" >"$T/$name.start.out" 2>"$T/$name.start.err" ||
		fail "vmm start $name failed"
	wait_for "$VMM_RUN_DIR/$name/console.log" 'vmm-guest: ready' 60
}

# Starts VM NAME detached and kills its supervisor (kill -9), so that its QEMU runs on
# unsupervised; sets QEMU (its pid) and UPTIME (the guest's uptime just before).
start_orphan() {
	local sup
	start_detached "$1" "$2"
	QEMU=$(state_field "$1" qemu_pid)
	sup=$(state_field "$1" supervisor_pid)
	UPTIME=$(guest_uptime "$1")
	[ -n "$UPTIME" ] || fail "could not read the guest's uptime on its console"
	kill -9 "$sup"
	assert_gone "$sup"
}

# Runs vmm, expecting exit status RC; its stdout and stderr go to $T/last.out and $T/last.err.
expect_rc() {
	local rc=$1 got=0
	shift
	"$VMM" "$@" >"$T/last.out" 2>"$T/last.err" || got=$?
	[ "$got" = "$rc" ] || fail "vmm $* exited $got, expected $rc: $(cat "$T/last.err")"
}

# The POSIX ACL of a file, in hex ("none" without one).
acl_of() {
	python3 -c 'import os, sys
try: print(os.getxattr(sys.argv[1], "system.posix_acl_access").hex())
except OSError: print("none")' "$1"
}

# Prints one top-level field of a JSON object read from stdin.
json_field() {
	python3 -c 'import json,sys; v=json.load(sys.stdin)[sys.argv[1]]; print(json.dumps(v) if isinstance(v,(dict,list)) else v)' "$1"
}

# Prints the guest's uptime in seconds, read on its serial console through `vmm console`.
guest_uptime() {
	python3 "$SRCDIR/tests/integration/console.py" "$VMM" "$1" 'cut -d" " -f1 /proc/uptime' '[0-9]+\.[0-9]+' |
		tail -n 1
}

# Waits up to SECONDS for PATTERN (grep -E) to appear in FILE.
wait_for() {
	local file=$1 pattern=$2 seconds=${3:-30} i
	for ((i = 0; i < seconds * 20; i++)); do
		grep -Eq -- "$pattern" "$file" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "no '$pattern' in $file after $seconds s"
}

# Waits up to 60 s until VM NAME's guest has printed its ready line COUNT times (restarts);
# with "shell", also until its shell prompts after the last one (what is typed before is lost).
wait_boots() {
	local name=$1 count=$2 shell=${3:-} i
	for ((i = 0; i < 600; i++)); do
		awk -v n="$count" -v shell="$shell" '/vmm-guest: ready/ { boots++; at = NR } /^\/ # / { prompt = NR }
			END { exit !(boots >= n && (!shell || prompt > at)) }' "$VMM_RUN_DIR/$name/console.log" 2>/dev/null &&
			return 0
		sleep 0.1
	done
	fail "$name: the guest did not boot $count times${shell:+ to its shell}"
}

# Waits for the background vmm to exit; sets RC to its status.
wait_exit() {
	RC=0
	wait "$VMM_PID" || RC=$?
}

# Reads a number field of the VM's state file.
state_field() {
	sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p" "$VMM_RUN_DIR/$1/state.json"
}

# Fails unless the process is gone within 5 s (a zombie counts as gone: an orphaned
# supervisor is reaped by whoever adopted it, which may be slow in a container).
assert_gone() {
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ] && return 0
		sleep 0.05
	done
	fail "process $1 still exists"
}

# Fails unless the VM's run dir holds nothing but the console logs (rotated ones too), the
# supervisor's log and the record of how the VM ended.
assert_clean_rundir() {
	local left
	left=$(cd "$VMM_RUN_DIR/$1" 2>/dev/null && ls -A | grep -Ev '^(console\.log(\.[0-9])?|vmm\.log|ended\.json)$' || true)
	[ -z "$left" ] || fail "left behind in the run dir: $left"
	! grep -Eq 'Sanitizer|runtime error' "$VMM_RUN_DIR/$1/vmm.log" 2>/dev/null ||
		fail "the supervisor's log has a sanitizer report: $(grep -A8 -E 'Sanitizer|runtime error' "$VMM_RUN_DIR/$1/vmm.log")"
}

# Prints how many QEMUs of VM NAME run under this test's run base: "-name guest=NAME," and a
# unix socket bound in $VMM_RUN_DIR/NAME/ (the monitor socket it inherited), as vmm finds them.
qemus() {
	python3 - "$1" "$VMM_RUN_DIR/$1/" <<'PY'
import os, sys
name, d = sys.argv[1], sys.argv[2]
bound = {}
for line in open("/proc/net/unix").read().splitlines()[1:]:
    f = line.split()
    if len(f) >= 8:
        bound[f[6]] = f[7]
count = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        fds = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        continue
    if f"guest={name},".encode() not in [a[:len(name) + 7] for a in args]:
        continue
    inodes = [x[8:-1] for x in fds if x.startswith("socket:[")]
    count += any(bound.get(i, "").startswith(d) for i in inodes)
print(count)
PY
}

# Prints the block nodes, iothreads and devices VM NAME's QEMU has, one per line, sorted (what a
# hot-plug must leave as it found it).
qemu_objects() {
	local q
	for q in query-named-block-nodes query-iothreads "qom-list path=/machine/peripheral"; do
		# shellcheck disable=SC2086
		"$VMM" qmp "$1" $q || fail "vmm qmp $1 $q"
	done | grep -Eo '"(node-name|id|name)": "[^"]*"' | sort
}
