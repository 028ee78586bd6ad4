#!/bin/bash
# Live migration between two hosts (network namespaces A and B, migrate-lib.sh): bad input
# first (a destination not ready, one unreachable, one with another profile: a clear error,
# the source untouched), then a cancel mid-way (Ctrl-C, a low bandwidth keeping it slow),
# then the move A -> B over TCP (the guest keeps counting, no reboot; A says "migrated to"),
# and back B -> A over TLS with x509 certificates made here, A -> B in post-copy; last (a QEMU
# whose failed migration is not cleaned up cannot migrate again), a destination killed mid-way.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/migrate-lib.sh"

boot_on a vm
copy_identity vm a b

# Not ready: nobody listens on B. Unreachable: no host there. Both fail before anything moves.
on a 1 migrate vm "tcp:$IP_b:4444"
grep -q "migration to tcp:$IP_b:4444 failed" "$T/last.err" && grep -qi "refused" "$T/last.err" ||
	fail "not ready: $(cat "$T/last.err")"
on a 1 migrate vm "tcp:$NET.3:4444"
grep -q "migration to tcp:$NET.3:4444 failed" "$T/last.err" && grep -q "the VM runs on here" "$T/last.err" ||
	fail "unreachable: $(cat "$T/last.err")"
on a 1 migrate vm "ftp:$IP_b:4444"
grep -q "expected tcp:HOST:PORT, unix:PATH or ssh://" "$T/last.err" || fail "bad DEST: $(cat "$T/last.err")"
assert_runs_on a vm
pass "a destination not ready or unreachable, or a bad DEST: a clear error, the VM runs on"

# The destination has another profile (more memory): the migration fails, B's QEMU ends, A runs on.
on b 0 start "$PROFILE" --name vm --set "$APPEND" --set memory.size=512M --incoming "tcp:$IP_b:4444"
on a 1 migrate vm "tcp:$IP_b:4444"
grep -q "migration to tcp:$IP_b:4444 failed in pass" "$T/last.err" || fail "wrong profile: $(cat "$T/last.err")"
wait_ended b vm
assert_runs_on a vm
pass "a destination with another profile: the migration fails, the destination ends, the source runs on"

# Cancel mid-way with Ctrl-C (2 MiB/s keeps it going for a while).
incoming_on b vm "tcp:$IP_b:4444"
$(side a) migrate vm "tcp:$IP_b:4444" --bandwidth 2M >"$T/cancel.out" 2>"$T/cancel.err" &
mig=$!
wait_for "$T/cancel.err" '^active: pass 1, [1-9]' 60
grep -q "downtime limit 300 ms, bandwidth 2 MiB/s" "$T/cancel.err" || fail "settings: $(cat "$T/cancel.err")"
kill -INT "$mig"
rc=0
wait "$mig" || rc=$?
[ "$rc" = 1 ] && grep -q "migration to tcp:$IP_b:4444 cancelled in pass 1 after [1-9]" "$T/cancel.err" ||
	fail "cancel: exit $rc: $(cat "$T/cancel.err")"
wait_ended b vm
assert_runs_on a vm
pass "Ctrl-C cancels: the source runs on, the destination's QEMU is ended"

# A -> B over TCP, with vmm's defaults.
incoming_on b vm "tcp:$IP_b:4444"
before=$(counter a vm)
on a 0 migrate vm "tcp:$IP_b:4444"
# Multifd for a machine type of QEMU 10 or later only (QEMU 7.2's lost pages of a busy guest).
mf=
[ "${VMM_TEST_QEMU:-}" = 10.0 ] && mf='multifd \(4 channels\), '
grep -Eq "migrating vm to tcp:$IP_b:4444: ${mf}auto-converge, downtime limit 300 ms, no bandwidth cap" \
	"$T/last.err" && grep -Eq "vm migrated to tcp:$IP_b:4444: total [0-9]+ ms, setup [0-9]+ ms, downtime [0-9]+ ms" \
	"$T/last.err" || fail "migrate output: $(cat "$T/last.err")"
assert_moved vm a b "$before" "tcp:$IP_b:4444"
pass "A -> B over TCP: the guest keeps counting (no reboot), A's VM ended as migrated to B"

# B -> A over TLS: certificates for both addresses, made here; the server checks the client's too.
tls=$T/tls
mkdir -p "$tls"
(
	cd "$tls"
	openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca-cert.pem -days 2 -subj /CN=vmm-test-ca \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
	for who in server client; do
		usage=serverAuth
		[ $who = client ] && usage=clientAuth
		openssl req -newkey rsa:2048 -nodes -keyout $who-key.pem -out $who.csr -subj /CN=$who
		printf 'subjectAltName=IP:%s,IP:%s\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\n' \
			"$IP_a" "$IP_b" $usage >$who.ext
		openssl x509 -req -in $who.csr -CA ca-cert.pem -CAkey ca-key.pem -CAcreateserial -out $who-cert.pem \
			-days 2 -extfile $who.ext
	done
) >"$T/openssl.log" 2>&1 || fail "openssl: $(cat "$T/openssl.log")"
mv "$(console_of a vm)" "$T/console-a-before.log"
incoming_on a vm "tcp:$IP_a:4445" --tls "$tls"
before=$(counter b vm)
on b 0 migrate vm "tcp:$IP_a:4445" --tls "$tls"
grep -q "no bandwidth cap, TLS" "$T/last.err" || fail "TLS settings: $(cat "$T/last.err")"
assert_moved vm b a "$before" "tcp:$IP_a:4445"
for f in "$tls" "$tls/server-key.pem" "$tls/client-key.pem"; do
	[ "$(acl_of "$f")" = none ] || fail "QEMU's user keeps $f after the migration: $(acl_of "$f")"
done
pass "B -> A over TLS (x509 on both ends): the guest keeps counting; the keys are QEMU's user's no more"
mv "$(console_of b vm)" "$T/console-b-before.log"

# A -> B in post-copy: pre-copy's first pass (20 MiB/s keeps it long enough), then post-copy.
incoming_on b vm "tcp:$IP_b:4447" --postcopy
before=$(counter a vm)
on a 0 migrate vm "tcp:$IP_b:4447" --postcopy --bandwidth 20M
grep -q "auto-converge, postcopy-ram, downtime limit 300 ms" "$T/last.err" &&
	grep -q "the last in post-copy" "$T/last.err" || fail "post-copy: $(cat "$T/last.err")"
assert_moved vm a b "$before" "tcp:$IP_b:4447"
pass "A -> B in post-copy after the first pass: the guest keeps counting"
mv "$(console_of a vm)" "$T/console-a-before-2.log"

# The destination's QEMU is killed mid-way: the source notices, runs on, and says where it failed.
incoming_on a vm "tcp:$IP_a:4444"
$(side b) migrate vm "tcp:$IP_a:4444" --bandwidth 2M >"$T/kill.out" 2>"$T/kill.err" &
mig=$!
wait_for "$T/kill.err" '^active: pass 1, [1-9]' 60
kill -9 "$(sed -n 's/.*"qemu_pid": *\([0-9]*\).*/\1/p' "$T/run-a/vm/state.json")"
rc=0
wait "$mig" || rc=$?
[ "$rc" = 1 ] && grep -q "migration to tcp:$IP_a:4444 failed in pass 1 after [1-9][0-9]* of [0-9]* MiB" "$T/kill.err" &&
	grep -q "the VM runs on here" "$T/kill.err" || fail "destination killed: exit $rc: $(cat "$T/kill.err")"
wait_ended a vm
assert_runs_on b vm
pass "the destination killed mid-way: the source runs on, the error says where it failed"
