#!/bin/bash
# 100 lifecycles of VMs, each ended a different way, with the supervisor kill -9'd at
# random moments: start+stop, start+kill, supervisor killed then attach, supervisor
# killed then start (reattach), two VMs at once. Afterwards every QEMU and supervisor is
# accounted for (none left running), nothing is left in the run directories but logs, and a
# VM that ran all along holds no more descriptors than before.
. "$(dirname "$0")/lib.sh"
CYCLES=${STRESS_CYCLES:-100}
RANDOM=${STRESS_SEED:-4242}
declare -a done_ways
declare -A history
echo "# seed ${STRESS_SEED:-4242}, $CYCLES cycles"

# Kills VM NAME's supervisor with SIGKILL and waits until it is gone (QEMU stays).
kill_supervisor() {
	local sup
	sup=$(state_field "$1" supervisor_pid)
	[ -n "$sup" ] || fail "$1: no supervisor pid"
	kill -9 "$sup"
	assert_gone "$sup"
}

# Ends VM NAME with vmm kill, expecting it gone for good.
end_vm() {
	"$VMM" kill "$1" >"$T/end.out" 2>"$T/end.err" || fail "cycle $i: vmm kill $1: $(cat "$T/end.err")"
}

# An anchor VM runs through all cycles and is asked something each cycle (control and QMP
# proxy): its supervisor's and QEMU's open descriptors must be as many afterwards.
start_detached anchor "$PROFILES/guest.json"
anchor_sup=$(state_field anchor supervisor_pid)
anchor_qemu=$(state_field anchor qemu_pid)
fds() { ls "/proc/$1/fd" | wc -l; }
sup_fds=$(fds "$anchor_sup")
qemu_fds=$(fds "$anchor_qemu")

for ((i = 0; i < CYCLES; i++)); do
	"$VMM" status anchor >/dev/null 2>&1 || fail "cycle $i: status anchor"
	"$VMM" qmp anchor query-status >/dev/null 2>&1 || fail "cycle $i: qmp anchor query-status"
	name=s$((i % 7))
	"$VMM" start "$PROFILES/guest.json" --name "$name" >"$T/start.out" 2>"$T/start.err" ||
		fail "cycle $i: start $name: $(cat "$T/start.err")"
	way=$((RANDOM % 5))
	done_ways[$way]=$((${done_ways[$way]:-0} + 1))
	history[$name]="${history[$name]:-} $i:$way"
	case $way in
	0) rc=0
	   "$VMM" stop "$name" --timeout 0 >/dev/null 2>"$T/stop.err" || rc=$?
	   [ "$rc" = 0 ] || [ "$rc" = 3 ] || fail "cycle $i: stop $name exited $rc: $(cat "$T/stop.err")" ;;
	1) end_vm "$name" ;;
	2) kill_supervisor "$name"
	   "$VMM" attach "$name" >/dev/null 2>"$T/attach.err" || fail "cycle $i: attach $name: $(cat "$T/attach.err")"
	   end_vm "$name" ;;
	3) kill_supervisor "$name"
	   "$VMM" start "$PROFILES/guest.json" --name "$name" >/dev/null 2>"$T/restart.err" ||
		fail "cycle $i: start of unsupervised $name: $(cat "$T/restart.err")"
	   end_vm "$name" ;;
	4) "$VMM" start "$PROFILES/guest.json" --name "$name-b" >/dev/null 2>"$T/b.err" || fail "cycle $i: start $name-b: $(cat "$T/b.err")"
	   kill_supervisor "$name-b"
	   end_vm "$name"
	   "$VMM" attach "$name-b" >/dev/null 2>"$T/attach.err" || fail "cycle $i: attach $name-b: $(cat "$T/attach.err")"
	   end_vm "$name-b" ;;
	esac
done

sleep 0.5
[ "$(fds "$anchor_sup") $(fds "$anchor_qemu")" = "$sup_fds $qemu_fds" ] ||
	fail "the anchor's descriptors grew: supervisor $sup_fds -> $(fds "$anchor_sup"), QEMU $qemu_fds -> $(fds "$anchor_qemu")"
"$VMM" kill anchor >/dev/null 2>&1 || fail "kill anchor"
left=
for ((k = 0; k < 7; k++)); do
	for n in s$k s$k-b; do [ "$(qemus "$n")" = 0 ] || left="$left $n"; done
done
if [ -n "$left" ]; then
	for n in $left; do
		echo "# $n: cycles:way${history[${n%-b}]}; run dir: $(ls -A "$VMM_RUN_DIR/$n" 2>&1 | tr '\n' ' ')"
		tail -n 15 "$VMM_RUN_DIR/$n/vmm.log" 2>/dev/null | sed 's/^/#   /'
	done
	fail "QEMUs left running:$left"
fi
left=$(pgrep -af "$VMM_RUN_DIR" || true)
[ -z "$left" ] || fail "processes left: $left"
for d in "$VMM_RUN_DIR"/*/; do
	assert_clean_rundir "$(basename "$d")"
done
# Besides the VMs' directories, only the lock that serialises QEMU users' grants (kept, as a lock is).
stray=$(cd "$VMM_RUN_DIR" && ls -A | grep -Ev '^(s[0-9](-b)?|anchor|\.grants\.lock)$' || true)
[ -z "$stray" ] || fail "stray files in the run base: $stray"
pass "$CYCLES lifecycles (stop ${done_ways[0]:-0}, kill ${done_ways[1]:-0}, attach ${done_ways[2]:-0}, reattaching start ${done_ways[3]:-0}, two at once ${done_ways[4]:-0}) with supervisor kills: no QEMU or supervisor left, run directories clean, no descriptor gained"
