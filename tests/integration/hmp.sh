#!/bin/bash
# vmm hmp NAME COMMAND...: HMP through the VM's QMP proxy, text out; on a protected VM only
# the read-only 'info' commands pass.
. "$(dirname "$0")/lib.sh"

"$VMM" start "$PROFILES/guest.json" --name h1 >/dev/null 2>"$T/h1.err" || fail "start: $(cat "$T/h1.err")"
expect_rc 0 hmp h1 'info status'
grep -qx "VM status: running" "$T/last.out" || fail "info status: $(cat "$T/last.out")"
expect_rc 0 hmp h1 info pci
grep -q "Host bridge" "$T/last.out" || fail "info pci (words joined): $(head -5 "$T/last.out")"
expect_rc 0 hmp h1 stop
expect_rc 0 hmp h1 'info status' --json
[ "$(cat "$T/last.out")" = '"VM status: paused\r\n"' ] || fail "--json: $(cat "$T/last.out")"
expect_rc 0 hmp h1 cont
pass "vmm hmp runs info, stop and cont (text, or JSON with --json)"
expect_rc 0 kill h1

"$VMM" start "$PROFILES/guest-protected.json" --name h2 >/dev/null 2>"$T/h2.err" || fail "start: $(cat "$T/h2.err")"
expect_rc 0 hmp h2 'info version'
grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+' "$T/last.out" || fail "info version: $(cat "$T/last.out")"
expect_rc 1 hmp h2 system_reset
grep -q "VM 'h2': .*protected.*only read-only 'info' commands" "$T/last.err" || fail "system_reset: $(cat "$T/last.err")"
expect_rc 1 hmp h2 'info status; quit'
expect_rc 0 status h2 --json
[ "$(json_field state <"$T/last.out")" = running ] || fail "the protected VM changed: $(cat "$T/last.out")"
pass "a protected VM answers 'info' and refuses the rest"
