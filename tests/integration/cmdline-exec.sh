#!/bin/bash
# One launch plan: for each profile that can start here, the argv of the running QEMU
# (/proc/PID/cmdline) is exactly what `vmm cmdline --json` prints for it.
# linux-workstation and win11-gaming need passthrough devices and KVM: not startable here.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data

# Compares the printed and the executed argv of VM NAME started from PROFILE ARGS...
same_argv() {
	local name=$1 pid
	shift
	"$VMM" cmdline --json "$@" --name "$name" >"$T/$name.printed" 2>"$T/$name.cmdline.err" ||
		fail "vmm cmdline $*: $(cat "$T/$name.cmdline.err")"
	"$VMM" start "$@" --name "$name" >"$T/$name.start.out" 2>"$T/$name.start.err" ||
		fail "vmm start $*: $(cat "$T/$name.start.err")"
	pid=$(state_field "$name" qemu_pid)
	[ -n "$pid" ] || fail "$name: no QEMU pid in state.json"
	python3 - "$T/$name.printed" "/proc/$pid/cmdline" <<'PY' || fail "$name: printed and executed argv differ"
import json, sys
printed = json.load(open(sys.argv[1]))
executed = open(sys.argv[2], "rb").read().decode().split("\0")[:-1]
if printed != executed:
    for i, (a, b) in enumerate(zip(printed + [""] * len(executed), executed + [""] * len(printed))):
        if a != b:
            print(f"argument {i}: printed {a!r}, executed {b!r}")
            break
    sys.exit(1)
PY
	expect_rc 0 kill "$name"
	pass "$name: /proc/$pid/cmdline equals vmm cmdline --json ($(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/$name.printed") arguments)"
}

same_argv demo "$SRCDIR/examples/demo.json"
same_argv guest "$PROFILES/guest.json"
same_argv agent "$PROFILES/guest-agent.json"
truncate -s 64M "$T/scratch,raw"
same_argv pinned "$PROFILES/guest-pinned.json" --set "disks[scratch].file=$T/scratch,raw"
# The fio lab under TCG with less RAM, on images made for it; without its pins ("auto" needs
# 5 cores: this host may have 2).
mkdir -p "$VMM_DATA_DIR/fio-lab"
qemu-img create -q -f raw "$VMM_DATA_DIR/fio-lab/raw.img" 64M
qemu-img create -q -f qcow2 "$VMM_DATA_DIR/fio-lab/thin.qcow2" 64M
qemu-img create -q -f raw "$VMM_DATA_DIR/fio-lab/cached.img" 64M
same_argv fio-lab "$SRCDIR/examples/fio-lab.json" --set machine.accel=tcg --set memory.size=512M --set cpu.pin=null
