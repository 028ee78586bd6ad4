#!/bin/bash
# vmm upgrade's probe in a child of the supervisor: a hot-add meanwhile is refused (the guest is
# moving) and the upgrade goes on, and a supervisor killed (kill -9) during a hung probe leaves nothing of it:
# its child and the child's probe end with it, so the VM is attached at once and the vmm upgrade
# waiting for the answer sees its supervisor gone.
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data
truncate -s 4M "$T/hot.raw"

# A QEMU whose probe takes $1 (seconds, or "hang").
probing_qemu() {
	local wait="sleep $1"
	[ "$1" = hang ] && wait="echo \$\$ >$T/hung.pid; exec sleep 600"
	cat <<SH
#!/bin/bash
case " \$* " in *" -machine none "*) $wait ;; esac
exec $(printf '%q ' "${RAW_QEMU[@]}") "\$@"
SH
}
probing_qemu 6 >"$T/slow-qemu"
probing_qemu hang >"$T/hung-qemu"
chmod +x "$T/slow-qemu" "$T/hung-qemu"

# Starts an upgrade of VM up to QEMU $1 in the background (its pid in $upg) and waits for its probe.
upgrade_probing() {
	"$VMM" upgrade up --qemu "$1" >"$T/upg.out" 2>"$T/upg.err" &
	upg=$!
	for _ in $(seq 200); do
		grep -q "upgrade: probing $1" "$VMM_RUN_DIR/up/vmm.log" && return 0
		sleep 0.05
	done
	fail "the supervisor did not start probing $1"
}

"$VMM" start "$PROFILES/guest-agent.json" --name up --set hotplug.root_ports=1 >/dev/null 2>"$T/start.err" ||
	fail "start: $(cat "$T/start.err")"
expect_rc 0 wait up agent --timeout 120
old=$(state_field up qemu_pid)

upgrade_probing "$T/slow-qemu"
expect_rc 1 add up disk id=hot file="$T/hot.raw" format=raw
grep -q "cannot add: the guest is moving (a save or an upgrade is under way)" "$T/last.err" ||
	fail "a hot-add during the probe: $(cat "$T/last.err")"
wait "$upg" || fail "the upgrade after a refused hot-add: $(cat "$T/upg.err")"
[ "$(state_field up qemu_pid)" != "$old" ] || fail "the VM did not move"
old=$(state_field up qemu_pid)
pass "a device hot-add during the upgrade's probe is refused up front; the upgrade goes on"

upgrade_probing "$T/hung-qemu"
for _ in $(seq 100); do [ -s "$T/hung.pid" ] && break; sleep 0.05; done
sup=$(state_field up supervisor_pid)
child=$(awk '{print $4}' "/proc/$(cat "$T/hung.pid")/stat")
[ "$(awk '{print $4}' "/proc/$child/stat")" = "$sup" ] || fail "the probe is not run by a child of the supervisor"
kill -9 "$sup"
assert_gone "$sup"
[ -z "$child" ] || assert_gone "$child"
assert_gone "$(cat "$T/hung.pid")"
for _ in $(seq 40); do kill -0 "$upg" 2>/dev/null || break; sleep 0.05; done
kill -0 "$upg" 2>/dev/null && fail "vmm upgrade still waits 2 s after its supervisor was killed"
grep -q "closed the connection without a reply" "$T/upg.err" || fail "vmm upgrade: $(cat "$T/upg.err")"
expect_rc 0 attach up
[ "$(state_field up qemu_pid)" = "$old" ] || fail "the VM left its QEMU $old"
pass "kill -9 of the supervisor during a hung probe: its child goes with it, vmm upgrade is told, vmm attach works at once"
expect_rc 0 kill up
