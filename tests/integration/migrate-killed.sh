#!/bin/bash
# vmm migrate with the source's supervisor killed (kill -9) mid-way, over unix:PATH between two
# run directories (migrate-lib.sh's sides A and B): the migration is recorded in A's run
# directory (migrate.json) and QEMU goes on by itself; the next supervisor of A (vmm attach)
# asks QEMU and finishes the job. The migration is kept mid-way whenever the supervisor is
# killed by --bandwidth 1M and a guest that keeps rewriting 8 MiB (vmm.dirty=8: no convergence
# within the 300 ms downtime limit), so the branch taken is always "under way": first the
# attached supervisor follows it and vmm migrate --cancel cancels it (A runs on, B's QEMU ends),
# then it follows one that completes once the cap is lifted (migrate-set-parameters): A ends
# as "migrated to DEST" exactly as after a normal migration, the guest counts on at B. Last, a
# QEMU that migrated out without vmm (no record) reads "postmigrate", not "paused", once attached.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/migrate-lib.sh"
APPEND='boot.append=console=ttyS0 quiet vmm.counter vmm.dirty=8'
DEST=unix:$T/mig/vm.sock

boot_on a vm
copy_identity vm a b
mkdir "$T/mig"

# Starts the migration A -> B at 1 MiB/s, kills A's supervisor once it is active, attaches another.
migrate_then_kill() {
	local sup qemu
	incoming_on b vm "$DEST"
	sup=$(state_field_on a supervisor_pid)
	qemu=$(state_field_on a qemu_pid)
	rm -f "$T/mig.err"
	$(side a) migrate vm "$DEST" --bandwidth 1M >"$T/mig.out" 2>"$T/mig.err" &
	mig=$!
	wait_for "$T/mig.err" '^active: pass 1, [1-9]' 60
	[ -f "$T/run-a/vm/migrate.json" ] || fail "no migrate.json: $(ls "$T/run-a/vm")"
	kill -9 "$sup"
	assert_gone "$sup"
	wait "$mig" && fail "vmm migrate succeeded without its supervisor: $(cat "$T/mig.err")"
	on a 0 attach vm
	[ "$(state_field_on a qemu_pid)" = "$qemu" ] || fail "attach started another QEMU"
	wait_for "$T/run-a/vm/vmm.log" "the migration to $DEST its supervisor left is active in QEMU" 30
}

# A number field of the state file of vm on side A.
state_field_on() {
	sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p" "$T/run-$1/vm/state.json"
}

migrate_then_kill
on a 0 migrate vm --cancel
wait_ended b vm
for ((i = 0; i < 300; i++)); do
	[ ! -e "$T/run-a/vm/migrate.json" ] && break
	sleep 0.1
done
[ ! -e "$T/run-a/vm/migrate.json" ] || fail "the cancelled migration's record stayed"
assert_runs_on a vm
on a 0 qmp vm query-status
[ "$(json_field status <"$T/last.out")" = running ] || fail "QEMU on A after the cancel: $(cat "$T/last.out")"
pass "killed mid-way and attached, the migration is followed and vmm migrate --cancel cancels it: A runs on"

migrate_then_kill
before=$(counter a vm)
on a 0 qmp vm migrate-set-parameters max-bandwidth=107374182400
assert_moved vm a b "$before" "$DEST"
pass "killed mid-way and attached, the migration is followed to its end: A ended as migrated to $DEST, B counts on"

# B's QEMU migrates out without vmm (no record: a raw migrate to a sink through vmm qmp): its
# supervisor, and one attached after a kill -9, read QEMU postmigrate (it was "paused").
port=$((47000 + RANDOM % 1000))
ip netns exec "$NS_b" python3 -c 'import socket, sys, threading
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
open(sys.argv[2], "w").close()
def drain(c):
    while c.recv(1 << 20): pass
while True:
    threading.Thread(target=drain, args=(s.accept()[0],), daemon=True).start()' "$port" "$T/sink.ready" &
VMM_PIDS+=("$!")
for ((i = 0; i < 100; i++)); do [ -e "$T/sink.ready" ] && break; sleep 0.1; done
on b 0 qmp vm migrate-set-parameters max-bandwidth=107374182400
on b 0 qmp vm migrate "uri=tcp:127.0.0.1:$port"
for ((i = 0; i < 300; i++)); do
	[ "$(state_on b vm)" = postmigrate ] && break
	sleep 0.1
done
on b 0 status vm --json
[ "$(json_field state <"$T/last.out")" = postmigrate ] ||
	fail "status after a raw migration: $(cat "$T/last.out"; $(side b) qmp vm query-migrate)"
[ ! -e "$T/run-b/vm/migrate.json" ] || fail "a raw migration has a record"
sup=$(state_field_on b supervisor_pid)
kill -9 "$sup"
assert_gone "$sup"
on b 0 attach vm
on b 0 status vm --json
[ "$(json_field state <"$T/last.out")" = postmigrate ] || fail "status after attach: $(cat "$T/last.out")"
pass "a QEMU migrated out without vmm reads postmigrate, also once attached after kill -9"
