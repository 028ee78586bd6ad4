#!/bin/bash
# vmm migrate with the source's supervisor killed (kill -9) mid-way, over unix:PATH between two
# run directories (migrate-lib.sh's sides A and B): the migration is recorded in the source's
# run directory (migrate.json) and QEMU goes on by itself; the next supervisor (vmm attach) asks
# QEMU and finishes the job. The migration is kept mid-way whenever the supervisor is killed by
# --bandwidth 1M and a guest that keeps rewriting 8 MiB (vmm.dirty=8: no convergence within the
# 300 ms downtime limit); what happens before the attach decides the branch, each in turn:
# nothing (under way: the attached supervisor follows it, vmm migrate --cancel cancels it, the
# source runs on); the destination's QEMU killed (failed: the source runs on); the cap lifted
# on QEMU's own monitor until it completed (completed: the source ends as "migrated to DEST"
# exactly as after a normal migration, the guest counts on at the destination); then back,
# under way, the cap lifted through vmm qmp once attached (followed to its end). Last, a QEMU
# that migrated out without vmm (no record) reads "postmigrate", not "paused", also once attached.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/migrate-lib.sh"
APPEND='boot.append=console=ttyS0 quiet vmm.counter vmm.dirty=8'
UNCAPPED=107374182400

# A number field of the state file of vm on side S.
state_field_on() {
	sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p" "$T/run-$1/vm/state.json"
}

# Starts the migration of vm from side FROM to side TO at 1 MiB/s (DEST: unix:PATH), and kills
# FROM's supervisor once it is active.
migrate_then_kill() {
	local from=$1 to=$2 sup
	DEST=unix:$T/mig/vm-$to.sock
	incoming_on "$to" vm "$DEST"
	sup=$(state_field_on "$from" supervisor_pid)
	QEMU=$(state_field_on "$from" qemu_pid)
	rm -f "$T/mig.err"
	$(side "$from") migrate vm "$DEST" --bandwidth 1M >"$T/mig.out" 2>"$T/mig.err" &
	mig=$!
	wait_for "$T/mig.err" '^active: pass 1, [1-9]' 60
	[ -f "$T/run-$from/vm/migrate.json" ] || fail "no migrate.json: $(ls "$T/run-$from/vm")"
	kill -9 "$sup"
	assert_gone "$sup"
	wait "$mig" && fail "vmm migrate succeeded without its supervisor: $(cat "$T/mig.err")"
	return 0
}

# Attaches a supervisor to vm on side S (its QEMU the same), which finds the migration STATUS in QEMU.
attach_finds() {
	on "$1" 0 attach vm
	grep -q "reconnecting to QEMU pid $QEMU\$" "$T/last.err" || fail "attach did not reconnect to QEMU $QEMU"
	wait_for "$T/run-$1/vm/vmm.log" "the migration to $DEST its supervisor left is $2 in QEMU" 30
}

# On QEMU's own monitor of vm on side S (no supervisor there): lifts the bandwidth cap (STATUS
# "completed") or not ("failed"), then waits until query-migrate says STATUS.
qemu_monitor() {
	local mon=$T/run-$1/vm/monitor.sock i
	[ "$2" = failed ] ||
		python3 "$SRCDIR/tests/integration/monitor-qmp.py" "$mon" migrate-set-parameters "{\"max-bandwidth\": $UNCAPPED}" >/dev/null
	for ((i = 0; i < 600; i++)); do
		[ "$(python3 "$SRCDIR/tests/integration/monitor-qmp.py" "$mon" query-migrate | json_field status)" = "$2" ] && return 0
		sleep 0.1
	done
	fail "QEMU's migration on $1 did not end $2"
}

# Waits until side S's run directory has no migrate.json.
wait_no_record() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ ! -e "$T/run-$1/vm/migrate.json" ] && return 0
		sleep 0.1
	done
	fail "the record stayed on $1: $(cat "$T/run-$1/vm/migrate.json")"
}

boot_on a vm
copy_identity vm a b
mkdir "$T/mig"

migrate_then_kill a b
attach_finds a active
on a 0 migrate vm --cancel
wait_ended b vm
wait_no_record a
assert_runs_on a vm
on a 0 qmp vm query-status
[ "$(json_field status <"$T/last.out")" = running ] || fail "QEMU on A after the cancel: $(cat "$T/last.out")"
pass "under way: the attached supervisor follows it, vmm migrate --cancel cancels it, A runs on"

migrate_then_kill a b
kill -9 "$(state_field_on b qemu_pid)"
qemu_monitor a failed
attach_finds a failed
wait_ended b vm
wait_no_record a
assert_runs_on a vm
pass "failed (the destination's QEMU killed): the attached supervisor leaves the guest running on A"

migrate_then_kill a b
before=$(counter a vm)
qemu_monitor a completed
attach_finds a completed
assert_moved vm a b "$before" "$DEST"
pass "completed while no supervisor ran: the attached one ends A as migrated to $DEST, B counts on"

mv "$(console_of a vm)" "$T/console-a-before.log"
migrate_then_kill b a
before=$(counter b vm)
attach_finds b active
on b 0 qmp vm migrate-set-parameters "max-bandwidth=$UNCAPPED"
assert_moved vm b a "$before" "$DEST"
pass "under way: the attached supervisor follows it to its end (B ended as migrated to $DEST), A counts on"

# A's QEMU migrates out without vmm (no record: a raw migrate to a sink through vmm qmp): its
# supervisor, and one attached after a kill -9, read QEMU postmigrate (it read "paused").
start_sink a
on a 0 qmp vm migrate-set-parameters "max-bandwidth=$UNCAPPED"
on a 0 qmp vm migrate "uri=tcp:127.0.0.1:$port"
for ((i = 0; i < 300; i++)); do
	[ "$(state_on a vm)" = postmigrate ] && break
	sleep 0.1
done
on a 0 status vm --json
[ "$(json_field state <"$T/last.out")" = postmigrate ] ||
	fail "status after a raw migration: $(cat "$T/last.out"; $(side a) qmp vm query-migrate)"
[ ! -e "$T/run-a/vm/migrate.json" ] || fail "a raw migration has a record"
sup=$(state_field_on a supervisor_pid)
kill -9 "$sup"
assert_gone "$sup"
on a 0 attach vm
on a 0 status vm --json
[ "$(json_field state <"$T/last.out")" = postmigrate ] || fail "status after attach: $(cat "$T/last.out")"
pass "a QEMU migrated out without vmm reads postmigrate, also once attached after kill -9"
