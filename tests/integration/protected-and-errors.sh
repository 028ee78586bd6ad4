#!/bin/bash
# A protected VM refuses stop, kill, reset (also quit, system_reset, migrate and the like
# through qmp.sock, and HMP but its read-only 'info' commands); bad names, missing VMs and
# dead sockets give one clear error each; vmm qmp reports an error without an id (NaN in
# --raw) as its command's.
. "$(dirname "$0")/lib.sh"

start_detached g1 "$PROFILES/guest-protected.json"
qemu=$(state_field g1 qemu_pid)
for verb in stop kill reset; do
	expect_rc 1 "$verb" g1
	grep -q "$verb refused: the VM is protected (lifecycle.protected in '.*guest-protected.json')" "$T/last.err" ||
		fail "$verb of a protected VM: $(cat "$T/last.err")"
done
for cmd in quit system_reset system_powerdown inject-nmi 'migrate uri=exec:true'; do
	expect_rc 1 qmp g1 $cmd
	grep -q "the VM is protected" "$T/last.err" || fail "$cmd through the proxy: $(cat "$T/last.err")"
done
for line in quit q system_reset ' system_powerdown' 'info/status' 'info usernet' 'savevm x' 'cont'; do
	expect_rc 1 qmp g1 human-monitor-command command-line="$line"
	grep -q "HMP allows only read-only 'info' commands" "$T/last.err" || fail "HMP '$line': $(cat "$T/last.err")"
done
expect_rc 0 qmp g1 human-monitor-command command-line='	info  status'
grep -q 'VM status: running' "$T/last.out" || fail "HMP info status: $(cat "$T/last.out")"
for line in 'info status ; quit' 'info status
quit'; do
	expect_rc 0 qmp g1 human-monitor-command command-line="$line"
	grep -q 'extraneous characters' "$T/last.out" || fail "HMP '$line': $(cat "$T/last.out")"
done
kill -0 "$qemu" || fail "the protected VM died"
[ "$(grep -c 'vmm-guest: ready' "$VMM_RUN_DIR/g1/console.log")" = 1 ] || fail "the protected VM was reset"
expect_rc 0 pause g1
expect_rc 0 resume g1
pass "protected: stop, kill, reset, QMP quit, system_reset, migrate, HMP quit and the like refused; HMP info, pause and resume allowed"
# json-c passes NaN on; the proxy answers it without an id, as QEMU would.
expect_rc 1 qmp g1 --raw '{"execute": "query-status", "arguments": {"x": NaN}}'
grep -q "^vmm: VM 'g1': GenericError: invalid JSON" "$T/last.err" || fail "NaN in --raw: $(cat "$T/last.err")"
expect_rc 0 qmp g1 query-status
pass "vmm qmp: an error without an id is the command's error"
kill -TERM "$(state_field g1 supervisor_pid)"
assert_gone "$qemu"

expect_rc 1 status 'bad/name'
[ "$(cat "$T/last.err")" = "vmm: 'bad/name' is not a valid VM name (a letter, then up to 63 letters, digits, '-', '_' or '.')" ] ||
	fail "bad name: $(cat "$T/last.err")"
expect_rc 1 stop nosuch
[ "$(cat "$T/last.err")" = "vmm: no VM named 'nosuch' is running (no '$VMM_RUN_DIR/nosuch')" ] ||
	fail "missing VM: $(cat "$T/last.err")"
mkdir -p "$VMM_RUN_DIR/dead"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$VMM_RUN_DIR/dead/ctl.sock"
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$VMM_RUN_DIR/dead/qmp.sock"
expect_rc 1 status dead
[ "$(cat "$T/last.err")" = "vmm: VM 'dead' is not running (nobody listens on '$VMM_RUN_DIR/dead/ctl.sock')" ] ||
	fail "dead socket: $(cat "$T/last.err")"
expect_rc 1 qmp dead query-status
grep -q "nobody listens on '$VMM_RUN_DIR/dead/qmp.sock'" "$T/last.err" || fail "dead qmp.sock: $(cat "$T/last.err")"
expect_rc 1 stop
grep -q "^vmm: usage: vmm stop NAME" "$T/last.err" || fail "usage: $(cat "$T/last.err")"
expect_rc 1 start "$PROFILES/guest.json" --name 'x,y'
grep -q "'x,y' is not a valid VM name" "$T/last.err" || fail "start --name: $(cat "$T/last.err")"
[ ! -e "$VMM_RUN_DIR/x,y" ] || fail "a bad name left a run dir"
pass "bad names, missing VMs, dead sockets and usage errors: one clear line each"
