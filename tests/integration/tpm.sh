#!/bin/bash
# tpm: true (with os windows): the supervisor starts swtpm before QEMU (its state manufactured
# in VMM_DATA_DIR/NAME/tpm on the first start), QEMU has a tpm-crb on it (query-tpm) and
# Windows' clocks and power states (no HPET, S3 and S4 off: qom-get); the state survives a
# restart (the EK certificate in NV 0x01c00002 and an NV index written from the host in
# between, read back with swtpm and tpm2-tools once the VM is off); nothing is left running
# after vmm stop, kill -9 of QEMU, kill -9 of the supervisor and vmm attach, and a restart by
# the restart policy; an swtpm that dies while its QEMU runs is the VM failing (crashed, said
# in the log); a corrupt state fails the start, with swtpm's own words.
. "$(dirname "$0")/lib.sh"
command -v swtpm >/dev/null && command -v swtpm_setup >/dev/null || { echo "FAIL: swtpm not installed"; exit 1; }
command -v tpm2_nvread >/dev/null || { echo "FAIL: tpm2-tools not installed"; exit 1; }
export VMM_DATA_DIR=$T/data
tpmdir=$VMM_DATA_DIR/t1/tpm

# Prints the pids of the swtpm processes of VM NAME (their --tpmstate names its state directory).
swtpms() {
	pgrep -f -- "--tpmstate dir=$VMM_DATA_DIR/$1/tpm," || true
}

# Runs an swtpm of its own on the (stopped) VM's TPM state and tpm2-tools command "$@" on it,
# its output in $T/nv.out.
offline_tpm() {
	local port=$((20000 + RANDOM % 20000)) pidfile=$T/offline.pid pid
	swtpm socket --tpm2 --tpmstate "dir=$tpmdir" --server "type=tcp,port=$port,bindaddr=127.0.0.1" \
		--ctrl "type=tcp,port=$((port + 1)),bindaddr=127.0.0.1" --flags not-need-init,startup-clear \
		--pid "file=$pidfile" -d || fail "offline swtpm"
	pid=$(cat "$pidfile")
	"$@" -T "swtpm:host=127.0.0.1,port=$port" >"$T/nv.out" 2>"$T/nv.err" || { kill "$pid"; fail "$* failed: $(cat "$T/nv.err")"; }
	kill "$pid"
	assert_gone "$pid"
}

# Prints the sha256 of the EK certificate the TPM was manufactured with.
ek_cert() {
	offline_tpm tpm2_nvread 0x01c00002
	sha256sum <"$T/nv.out" | cut -d' ' -f1
}

win=(--set tpm=true --set os=windows)

# Starts VM NAME of PROFILE detached with a TPM and waits for the guest's ready line.
start_tpm() {
	"$VMM" start "$2" --name "$1" "${win[@]}" >"$T/$1.start.out" 2>"$T/$1.start.err" || fail "vmm start $1"
	wait_for "$VMM_RUN_DIR/$1/console.log" 'vmm-guest: ready' 60
}
"$VMM" cmdline --json "$PROFILES/guest.json" --name t1 "${win[@]}" >"$T/argv.json" || fail "cmdline"
grep -q '"tpm-crb' "$T/argv.json" && grep -q 'base=localtime,driftfix=slew' "$T/argv.json" &&
	grep -q 'ICH9-LPC.disable_s3=1' "$T/argv.json" || fail "argv: $(cat "$T/argv.json")"
[ ! -e "$VMM_DATA_DIR/t1" ] || fail "vmm cmdline created $(ls -R "$VMM_DATA_DIR")"
start_tpm t1 "$PROFILES/guest.json"
[ -f "$tpmdir/tpm2-00.permall" ] || fail "no TPM state in $tpmdir"
grep -q "TPM manufactured" "$T/t1.start.err" || fail "no manufacture said"
[ "$(swtpms t1 | wc -l)" = 1 ] || fail "swtpm processes: $(swtpms t1)"
expect_rc 0 qmp t1 query-tpm
python3 - "$T/last.out" <<'PY' || fail "query-tpm: $(cat "$T/last.out")"
import json, sys
tpm = json.load(open(sys.argv[1]))
sys.exit(not (len(tpm) == 1 and tpm[0]["model"] == "tpm-crb" and tpm[0]["options"]["type"] == "emulator"))
PY
expect_rc 0 qmp t1 qom-get path=/machine property=hpet
[ "$(cat "$T/last.out")" = false ] || fail "hpet: $(cat "$T/last.out")"
expect_rc 0 qmp t1 qom-list path=/machine/unattached
lpc=$(python3 -c 'import json,sys; print([d["name"] for d in json.load(open(sys.argv[1])) if d["type"] == "child<ICH9-LPC>"][0])' "$T/last.out")
for s in disable_s3 disable_s4; do
	expect_rc 0 qmp t1 qom-get "path=/machine/unattached/$lpc" "property=$s"
	[ "$(cat "$T/last.out")" = 1 ] || fail "$s: $(cat "$T/last.out")"
done
pass "swtpm runs, query-tpm shows a tpm-crb on it, the HPET is off, S3 and S4 are off"

swtpm=$(swtpms t1)
qemu=$(state_field t1 qemu_pid)
expect_rc 0 stop t1
assert_gone "$swtpm"
assert_gone "$qemu"
assert_clean_rundir t1
ek=$(ek_cert)
[ -n "$ek" ] || fail "no EK certificate"
offline_tpm tpm2_nvdefine 0x01500016 -C o -s 8 -a "ownerwrite|ownerread"
echo -n vmm-win1 >"$T/marker"
offline_tpm tpm2_nvwrite 0x01500016 -C o -i "$T/marker"
pass "vmm stop ends swtpm with QEMU, the run directory is clean"

start_tpm t1 "$PROFILES/guest.json"
! grep -q "TPM manufactured" "$T/t1.start.err" || fail "manufactured again"
qemu=$(state_field t1 qemu_pid)
swtpm=$(swtpms t1)
kill -9 "$qemu"
wait_for "$VMM_RUN_DIR/t1/vmm.log" "QEMU crashed: killed by SIGKILL" 10
assert_gone "$swtpm"
for ((i = 0; i < 100; i++)); do [ -e "$VMM_RUN_DIR/t1/ctl.sock" ] || break; sleep 0.1; done
[ -z "$(swtpms t1)" ] || fail "swtpm left after kill -9 of QEMU: $(swtpms t1)"
assert_clean_rundir t1
[ "$(ek_cert)" = "$ek" ] || fail "the EK certificate changed"
offline_tpm tpm2_nvread 0x01500016 -C o
[ "$(cat "$T/nv.out")" = vmm-win1 ] || fail "the NV index written in between is gone"
pass "kill -9 of QEMU ends its swtpm too; the TPM keeps its EK and NV across restarts"

start_tpm t2 "$PROFILES/guest-restart.json"
swtpm=$(swtpms t2)
qemu=$(state_field t2 qemu_pid)
kill -9 "$swtpm"
wait_for "$VMM_RUN_DIR/t2/vmm.log" "the TPM failed: swtpm pid $swtpm was killed by signal 9" 20
wait_for "$VMM_RUN_DIR/t2/vmm.log" "restarting in" 10
assert_gone "$qemu"
wait_boots t2 2
[ "$(swtpms t2 | wc -l)" = 1 ] && [ "$(swtpms t2)" != "$swtpm" ] || fail "no new swtpm: $(swtpms t2)"
expect_rc 0 status t2 --json
[ "$(json_field last_end <"$T/last.out")" = crashed ] || fail "status: $(cat "$T/last.out")"
pass "a dead swtpm fails the VM (crashed, said in the log); the restart policy starts both again"

sup=$(state_field t2 supervisor_pid)
swtpm=$(swtpms t2)
qemu=$(state_field t2 qemu_pid)
kill -9 "$sup"
assert_gone "$sup"
[ "$(swtpms t2)" = "$swtpm" ] || fail "swtpm did not run on without its supervisor"
"$VMM" attach t2 >"$T/attach.out" 2>"$T/attach.err" || fail "attach: $(cat "$T/attach.err")"
grep -q "reconnected to swtpm pid $swtpm" "$T/attach.err" || fail "attach: $(cat "$T/attach.err")"
expect_rc 0 qmp t2 query-tpm
expect_rc 0 stop t2
assert_gone "$swtpm"
assert_gone "$qemu"
assert_clean_rundir t2
pass "after kill -9 of the supervisor, vmm attach finds the swtpm again and vmm stop ends it"

mkdir -p "$VMM_DATA_DIR/t3/tpm"
head -c 6000 /dev/urandom >"$VMM_DATA_DIR/t3/tpm/tpm2-00.permall"
expect_rc 2 start "$PROFILES/guest.json" --name t3 "${win[@]}"
# swtpm's words reach the start's output, or, when QEMU's failure ends the start first, vmm.log
# (its last line may be cut where a read of its output ended: libtpms' failure line is earlier).
grep -Eqs "swtpm: (swtpm: Error: Could not initialize the TPM|libtpms/tpm2: Entering failure mode)" \
	"$T/last.err" "$VMM_RUN_DIR/t3/vmm.log" &&
	grep -q "failed to start: .*tpm-emulator: TPM result for CMD_INIT" "$T/last.err" || fail "corrupt state: $(cat "$T/last.err")"
[ -z "$(swtpms t3)" ] || fail "swtpm left: $(swtpms t3)"
assert_clean_rundir t3
pass "a corrupt TPM state fails the start with QEMU's and swtpm's words; nothing is left running"
