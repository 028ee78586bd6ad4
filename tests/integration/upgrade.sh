#!/bin/bash
# vmm upgrade: a running guest moves into a new QEMU process of the same binary without a
# reboot: its uptime continues (read through the guest agent), a marker written to its disk
# before is there after, the QEMU pid changed and the old one is gone, the console, agent and
# qmp.sock serve the new QEMU (a qmp.sock client is disconnected and connects again), the guest
# RAM stayed in place (x-ignore-shared on its shared memfd, memory.shared), also for a supervisor
# reattached to the QEMU; plain RAM (the default) is copied. Failures leave the old QEMU
# running the guest and nothing of the new one: a --qemu that is not a QEMU, a QEMU that dies
# loading the migration, a VM with a hot-added device or a TPM (refused, with the reason); the
# next supervisor clears what an upgrade whose supervisor was killed left (its waiting QEMU).
. "$(dirname "$0")/lib.sh"
export VMM_DATA_DIR=$T/data

truncate -s 16M "$T/data.raw"
"$VMM" start "$PROFILES/guest-agent.json" --name up --set hotplug.root_ports=1 --set memory.shared=true \
	--set "disks=[{\"id\": \"data\", \"file\": \"$T/data.raw\", \"format\": \"raw\"}]" \
	>/dev/null 2>"$T/start.err" || fail "start: $(cat "$T/start.err")"
wait_boots up 1 shell
expect_rc 0 wait up agent --timeout 60

# Prints the guest's uptime in seconds (through the guest agent).
uptime_of() {
	"$VMM" agent up exec cut -d" " -f1 /proc/uptime 2>"$T/agent.err" | tr -d '\n' || fail "agent: $(cat "$T/agent.err")"
}

# The new-* sockets of an upgrade under way, or those of a failed one left behind.
no_leftovers() {
	local left
	left=$(cd "$VMM_RUN_DIR/up" && ls -A | grep '^new-' || true)
	[ -z "$left" ] || fail "$1: left in the run dir: $left"
}

marker=vmm-marker-$RANDOM$RANDOM
"$VMM" agent up exec sh -c "echo $marker | dd of=/dev/vda conv=fsync 2>/dev/null" >/dev/null 2>"$T/agent.err" ||
	fail "writing the marker: $(cat "$T/agent.err")"
old=$(state_field up qemu_pid)
before=$(uptime_of)
python3 "$SRCDIR/tests/integration/upgrade-client.py" "$VMM_RUN_DIR/up/qmp.sock" 60 >"$T/client.out" 2>&1 &
client=$!
wait_for "$T/client.out" connected 20

expect_rc 0 upgrade up --json
new=$(json_field new_pid <"$T/last.out")
[ "$new" != "$old" ] && [ "$new" = "$(state_field up qemu_pid)" ] || fail "new QEMU pid $new, state.json $(state_field up qemu_pid), old $old"
[ "$(json_field shared_ram <"$T/last.out")" = True ] || fail "the guest RAM was copied: $(cat "$T/last.out")"
for i in $(seq 50); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$old" 2>/dev/null || fail "the old QEMU pid $old still runs"
pass "upgraded: QEMU pid $old → $new in $(json_field total_ms <"$T/last.out") ms, downtime $(json_field downtime_ms <"$T/last.out") ms, RAM not copied"

after=$(uptime_of)
awk -v a="$before" -v b="$after" 'BEGIN { exit !(b >= a) }' || fail "uptime went from $before to $after s: the guest rebooted"
[ "$(grep -c 'vmm-guest: ready' "$VMM_RUN_DIR/up/console.log")" = 1 ] || fail "the guest booted again"
pass "the guest's uptime continues ($before s → $after s), no second boot"
got=$("$VMM" agent up exec head -c ${#marker} /dev/vda 2>"$T/agent.err") || fail "agent: $(cat "$T/agent.err")"
[ "$got" = "$marker" ] || fail "the disk has '$got', not the marker '$marker'"
pass "the marker written to the disk before is there after"
expect_rc 0 status up --json
[ "$(json_field state <"$T/last.out")" = running ] && [ "$(json_field qemu_pid <"$T/last.out")" = "$new" ] ||
	fail "status: $(cat "$T/last.out")"
out=$(python3 "$SRCDIR/tests/integration/console.py" "$VMM" up 'echo con$((6*7))sole' 'con42sole') ||
	fail "console after the upgrade: $out"
wait "$client" || fail "qmp.sock client: $(cat "$T/client.out")"
grep -qx 'status running' "$T/client.out" || fail "qmp.sock client: $(cat "$T/client.out")"
pass "status, console, agent and qmp.sock (its client disconnected, then back) serve the new QEMU"
no_leftovers "after the upgrade"

# Failures: the guest stays on the QEMU it runs on.
expect_rc 1 upgrade up --qemu /bin/true
grep -q "did not start as a QEMU" "$T/last.err" || fail "--qemu /bin/true: $(cat "$T/last.err")"
[ "$(state_field up qemu_pid)" = "$new" ] || fail "--qemu /bin/true changed the QEMU"
no_leftovers "--qemu /bin/true"
pass "--qemu /bin/true refused: $(cat "$T/last.err")"

# The QEMU under test without the guest agent's port: it fails to load the migration and exits.
cat >"$T/dying-qemu" <<SH
#!/bin/bash
args=()
for a in "\$@"; do
	if [[ \$a == *'"driver":"virtserialport"'* ]]; then unset 'args[\${#args[@]}-1]'; continue; fi
	args+=("\$a")
done
exec $(printf '%q ' "${RAW_QEMU[@]}") "\${args[@]}"
SH
chmod +x "$T/dying-qemu"
expect_rc 1 upgrade up --qemu "$T/dying-qemu"
grep -Eq "upgrade failed: .*; the new QEMU said: .*(load of migration failed|error while loading state)" "$T/last.err" ||
	fail "dying QEMU: $(cat "$T/last.err")"
cp "$T/last.err" "$T/dying.txt"
[ "$(state_field up qemu_pid)" = "$new" ] || fail "the dying QEMU's upgrade changed the QEMU"
[ "$(qemus up)" = 1 ] || fail "$(qemus up) QEMUs of the VM run after a failed upgrade"
no_leftovers "a dying QEMU"
after2=$(uptime_of)
awk -v a="$after" -v b="$after2" 'BEGIN { exit !(b >= a) }' || fail "uptime went from $after to $after2 s"
expect_rc 0 status up --json
[ "$(json_field state <"$T/last.out")" = running ] || fail "status after the failed upgrade: $(cat "$T/last.out")"
pass "a QEMU dying during the incoming migration leaves the old one running the guest: $(cat "$T/dying.txt")"

# A QEMU binary not probed before whose probe takes seconds (as a hung one would, up to the
# probe's timeouts): the probe runs in a child of the supervisor, which answers meanwhile
# (vmm status gives up after 5 s), and the upgrade goes through.
cat >"$T/slow-probe-qemu" <<SH
#!/bin/bash
case " \$* " in *" -machine none "*) sleep 8 ;; esac
exec $(printf '%q ' "${RAW_QEMU[@]}") "\$@"
SH
chmod +x "$T/slow-probe-qemu"
"$VMM" upgrade up --qemu "$T/slow-probe-qemu" --json >"$T/slow.out" 2>"$T/slow.err" &
upg=$!
for _ in $(seq 200); do
	[ "$(grep -c "upgrade: probing $T/slow-probe-qemu" "$VMM_RUN_DIR/up/vmm.log")" -gt 0 ] && break
	sleep 0.05
done
grep -q "upgrade: probing $T/slow-probe-qemu" "$VMM_RUN_DIR/up/vmm.log" || fail "the supervisor did not start the probe"
expect_rc 0 status up --json
[ "$(json_field state <"$T/last.out")" = running ] || fail "status during the probe: $(cat "$T/last.out")"
kill -0 "$upg" 2>/dev/null || fail "the upgrade was over before status was asked: $(cat "$T/slow.err")"
wait "$upg" || fail "the upgrade to a slowly probed QEMU: $(cat "$T/slow.err")"
new=$(json_field new_pid <"$T/slow.out")
[ "$(state_field up qemu_pid)" = "$new" ] || fail "the VM does not run on the new QEMU $new"
pass "a binary probed slowly: status answered during the probe, then the upgrade went through"

# A supervisor reattached to the QEMU (kill -9, vmm attach) finds the guest RAM's memfd in it.
sup=$(state_field up supervisor_pid)
kill -9 "$sup"
assert_gone "$sup"
expect_rc 0 attach up
expect_rc 0 upgrade up --json
[ "$(json_field shared_ram <"$T/last.out")" = True ] || fail "after attach, the guest RAM was copied: $(cat "$T/last.out")"
new=$(json_field new_pid <"$T/last.out")
after3=$(uptime_of)
awk -v a="$after2" -v b="$after3" 'BEGIN { exit !(b >= a) }' || fail "uptime went from $after2 to $after3 s"
pass "a reattached supervisor upgrades too, RAM not copied (uptime $after3 s)"

# The supervisor killed mid-upgrade (the old QEMU stopped meanwhile, so the new one still waits
# for the guest): the next supervisor (vmm attach) quits that new QEMU and removes its sockets.
sup=$(state_field up supervisor_pid)
old=$(state_field up qemu_pid)
kill -STOP "$old"
"$VMM" upgrade up >"$T/killed.out" 2>&1 &
upgrader=$!
wait_for "$VMM_RUN_DIR/up/vmm.log" "upgrading: QEMU pid [0-9]+ .* to take over from pid $old" 30
VMM_PIDS+=("$(sed -n "s/.*upgrading: QEMU pid \([0-9]*\) .* to take over from pid $old$/\1/p" "$VMM_RUN_DIR/up/vmm.log")")
kill -9 "$sup"
kill -CONT "$old"
wait "$upgrader" || true
[ "$(qemus up)" = 2 ] || fail "$(qemus up) QEMUs of the VM after its supervisor was killed mid-upgrade (expected the old and the new)"
expect_rc 0 attach up
[ "$(qemus up)" = 1 ] && [ "$(state_field up qemu_pid)" = "$old" ] || fail "after attach: $(qemus up) QEMUs, pid $(state_field up qemu_pid)"
no_leftovers "an upgrade whose supervisor was killed"
after4=$(uptime_of)
awk -v a="$after3" -v b="$after4" 'BEGIN { exit !(b >= a) }' || fail "uptime went from $after3 to $after4 s"
pass "a supervisor killed mid-upgrade: vmm attach quits the new QEMU left waiting, removes its sockets; the guest runs on"

# A hot-added device exists only in the current QEMU: refused, with the reason.
truncate -s 8M "$T/hot.raw"
expect_rc 0 add up disk id=hot file="$T/hot.raw" format=raw
expect_rc 1 upgrade up
grep -q "cannot upgrade: the VM has hot-added devices (hot)" "$T/last.err" || fail "hot-added: $(cat "$T/last.err")"
[ "$(state_field up qemu_pid)" = "$new" ] || fail "the refused upgrade changed the QEMU"
pass "a VM with a hot-added device is refused: $(cat "$T/last.err")"

expect_rc 0 kill up
assert_clean_rundir up

# A TPM's swtpm serves one QEMU: upgrade and save are refused before the guest is touched.
command -v swtpm >/dev/null || fail "swtpm not installed (./bootstrap.sh installs it)"
"$VMM" start "$PROFILES/guest.json" --name tp --set tpm=true --set os=windows >/dev/null 2>"$T/tp.err" ||
	fail "start with a TPM: $(cat "$T/tp.err")"
pid=$(state_field tp qemu_pid)
expect_rc 1 upgrade tp
grep -q "cannot upgrade: the VM has a TPM" "$T/last.err" || fail "TPM upgrade: $(cat "$T/last.err")"
cp "$T/last.err" "$T/tpm.txt"
expect_rc 1 save tp "$T/tp.saved"
grep -q "cannot save: the VM has a TPM" "$T/last.err" && [ ! -e "$T/tp.saved" ] && [ ! -e "$T/tp.saved.partial" ] ||
	fail "TPM save: $(cat "$T/last.err")"
[ "$(state_field tp qemu_pid)" = "$pid" ] && kill -0 "$pid" || fail "the refusals changed the QEMU"
pass "a VM with a TPM is refused an upgrade and a save: $(cat "$T/tpm.txt")"
expect_rc 0 kill tp

# Plain RAM (no memory.shared): the upgrade copies it, and the guest goes on without a reboot.
"$VMM" start "$PROFILES/guest.json" --name pl >/dev/null 2>"$T/pl.err" || fail "start plain: $(cat "$T/pl.err")"
wait_boots pl 1 shell
pid=$(state_field pl qemu_pid)
expect_rc 0 upgrade pl --json
[ "$(json_field shared_ram <"$T/last.out")" = False ] || fail "plain RAM: $(cat "$T/last.out")"
[ "$(state_field pl qemu_pid)" != "$pid" ] && ! kill -0 "$pid" 2>/dev/null || fail "plain RAM: the QEMU did not change"
out=$(python3 "$SRCDIR/tests/integration/console.py" "$VMM" pl 'echo pl$((6*7))ain' 'pl42ain') || fail "console: $out"
[ "$(grep -c 'vmm-guest: ready' "$VMM_RUN_DIR/pl/console.log")" = 1 ] || fail "plain RAM: the guest booted again"
pass "plain RAM is copied by the upgrade: $(json_field total_ms <"$T/last.out") ms, the guest goes on"
expect_rc 0 kill pl
assert_clean_rundir pl
