#!/bin/bash
# Migration over unix:PATH on this host (sides A and B of migrate-lib.sh, each with its own run
# and data directories): PATHs refused before any QEMU is given them, with nothing touched and
# the VM running on: an existing file (a listening QEMU removes what is there), a path in vmm's
# run directory (the VMs' own sockets, which QEMU's user would be granted), also through a
# symbolic link, a relative path (the supervisor works from /), a directory above the run
# directory (QEMU's user may write in the one it listens in: vmm would then find the run
# directory unsafe and start no VM), a file that is no socket. A destination killed while it
# waits removes its socket. A save or upgrade during a migration is refused up front. Then the
# move A -> B over a socket in a directory of its own, an upgrade there, and a crash there that
# restarts the VM with a fresh boot. Last,
# a guest migrated out of its QEMU without vmm is not resumed there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/migrate-lib.sh"

boot_on a vm
copy_identity vm a b
mkdir "$T/mig"

echo keep >"$T/mig/plain"
on b 1 start "$PROFILE" --name vm --set "$APPEND" --incoming "unix:$T/mig/plain"
grep -q "'unix:$T/mig/plain': the file exists (QEMU would remove it to listen there)" "$T/last.err" &&
	[ "$(cat "$T/mig/plain")" = keep ] || fail "--incoming on a file: $(cat "$T/last.err")"
echo keep >"$T/mig/cs.sock.nbd"
on b 1 start "$PROFILE" --name vm --set "$APPEND" --incoming "unix:$T/mig/cs.sock" --copy-storage
grep -q "'unix:$T/mig/cs.sock.nbd': the file exists" "$T/last.err" && [ "$(cat "$T/mig/cs.sock.nbd")" = keep ] ||
	fail "--copy-storage's PATH.nbd on a file: $(cat "$T/last.err")"
on b 1 start "$PROFILE" --name vm --set "$APPEND" --incoming "unix:$T/run-b/vm.sock"
grep -q "'unix:$T/run-b/vm.sock' is in vmm's run directory $T/run-b" "$T/last.err" ||
	fail "--incoming in the run directory: $(cat "$T/last.err")"
on b 1 start "$PROFILE" --name vm --set "$APPEND" --incoming "unix:$T/vm.sock"
grep -q "'unix:$T/vm.sock': its directory $T holds vmm's run directory $T/run-b" "$T/last.err" ||
	fail "--incoming above the run directory: $(cat "$T/last.err")"
on b 1 start "$PROFILE" --name vm --set "$APPEND" --incoming unix:mig.sock
grep -q "'unix:mig.sock': expected unix: and an absolute path" "$T/last.err" || fail "relative: $(cat "$T/last.err")"
[ ! -e "$T/run-b/vm" ] || fail "a refused destination left $(ls -A "$T/run-b/vm")"
pass "a destination on an existing file (its own or its disks' PATH.nbd), in or above the run directory or on a relative path is refused"

acl=$(acl_of "$T/run-a/vm/qmp.sock")
ln -s "$T/run-a/vm/qmp.sock" "$T/link.sock"
for dest in "$T/run-a/vm/qmp.sock" "$T/link.sock"; do
	on a 1 migrate vm "unix:$dest"
	grep -q "'unix:$dest' is in vmm's run directory $T/run-a" "$T/last.err" || fail "unix:$dest: $(cat "$T/last.err")"
done
on a 1 migrate vm "unix:$T/mig/plain"
grep -q "'unix:$T/mig/plain': the file is not a socket" "$T/last.err" || fail "unix:plain: $(cat "$T/last.err")"
[ "$(acl_of "$T/run-a/vm/qmp.sock")" = "$acl" ] || fail "QEMU's user was granted the VM's qmp.sock"
assert_runs_on a vm
pass "a migration to a VM's own socket (or a link to it) or to a file is refused, nothing granted, the VM runs on"

# While a migration runs, a save or an upgrade of the source is refused up front (they were
# tried, a new QEMU started for the upgrade, until QEMU said no), and so is a save of the
# destination waiting for it.
incoming_on b vm "unix:$T/mig/vm.sock"
$(side a) migrate vm "unix:$T/mig/vm.sock" --bandwidth 1M >"$T/slow.out" 2>"$T/slow.err" &
mig=$!
wait_for "$T/slow.err" '^active: pass 1' 60
on a 1 save vm "$T/mig/saved"
grep -q "cannot save: a migration to another host is under way" "$T/last.err" || fail "save: $(cat "$T/last.err")"
on a 1 upgrade vm
grep -q "cannot upgrade: a migration to another host is under way" "$T/last.err" || fail "upgrade: $(cat "$T/last.err")"
on b 1 save vm "$T/mig/saved"
grep -q "cannot save: the VM waits for an incoming migration" "$T/last.err" || fail "save on B: $(cat "$T/last.err")"
[ ! -e "$T/mig/saved" ] || fail "a refused save made a file"
on a 0 migrate vm --cancel
wait "$mig" || true
wait_ended b vm
assert_runs_on a vm
! grep -qs "$T/mig/vm.sock" "$T/run-a/vm/grants.json" || fail "the cancelled migration's socket stays granted: $(cat "$T/run-a/vm/grants.json")"
pass "a save or upgrade during a migration, and a save of its destination, are refused up front; the cancelled migration's grant is taken back"

# A destination killed while it waits: its socket goes with it (a new one may listen there).
incoming_on b vm "unix:$T/mig/vm.sock"
[ -S "$T/mig/vm.sock" ] || fail "no socket $T/mig/vm.sock"
on b 0 kill vm
[ ! -e "$T/mig/vm.sock" ] || fail "the killed destination left $T/mig/vm.sock"
pass "a destination killed while it waits leaves no socket"

incoming_on b vm "unix:$T/mig/vm.sock" --set lifecycle.restart=on-crash
before=$(counter a vm)
on a 0 migrate vm "unix:$T/mig/vm.sock"
assert_moved vm a b "$before" "unix:$T/mig/vm.sock"
[ "$(acl_of "$T/mig")" = none ] || fail "QEMU's user keeps $T/mig after the migration: $(acl_of "$T/mig")"
pass "A -> B over unix:$T/mig/vm.sock: the guest keeps counting; QEMU's user no longer reaches the socket's directory"

# The VM that came by migration keeps what vmm turned on for it there (multifd, on QEMU 10): an
# upgrade turns that off on the old QEMU (the new one could not load the stream).
before=$(counter b vm)
on b 0 upgrade vm
wait_count b vm "$((${before%% *} + 3))"
! grep -q 'vmm-guest: ready' "$(console_of b vm)" || fail "vm rebooted in the upgrade"
pass "the VM that came by migration is upgraded on B: the guest keeps counting"

# Its QEMU crashes there (lifecycle.restart on-crash): the new QEMU boots the guest afresh,
# waiting for no migration.
on b 0 status vm --json
qpid=$(json_field qemu_pid <"$T/last.out")
kill -9 "$qpid"
wait_for "$(console_of b vm)" 'vmm-guest: ready' 90
for ((i = 0; i < 100; i++)); do
	on b 0 status vm --json
	[ "$(json_field state <"$T/last.out")" = running ] && [ "$(json_field qemu_pid <"$T/last.out")" != "$qpid" ] && break
	sleep 0.1
done
[ "$(json_field state <"$T/last.out")" = running ] && ! grep -q '"incoming"' "$T/last.out" ||
	fail "after the crash on B: $(cat "$T/last.out")"
pass "a crash after the arrival restarts the VM with a fresh boot, not waiting for a migration"

# A migration that completed without vmm (here a raw QMP migrate to a sink reading it all; or
# one whose supervisor was killed, then vmm attach) leaves QEMU postmigrate, the guest running
# elsewhere: vmm resume refuses to run it a second time on the same disks.
start_sink b
on b 0 qmp vm migrate "uri=tcp:127.0.0.1:$port"
for ((i = 0; i < 300; i++)); do
	$(side b) qmp vm query-status 2>/dev/null | grep -q '"postmigrate"' && break
	sleep 0.1
done
$(side b) qmp vm query-status | grep -q '"postmigrate"' || fail "the raw migration did not complete"
on b 1 resume vm
grep -q "the guest was migrated out of this QEMU (status postmigrate): resumed here, it would run twice" "$T/last.err" &&
	$(side b) qmp vm query-status | grep -q '"postmigrate"' || fail "resume after a migration: $(cat "$T/last.err")"
pass "a guest migrated out of its QEMU is not resumed there: $(cat "$T/last.err")"
