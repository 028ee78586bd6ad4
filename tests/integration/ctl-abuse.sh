#!/bin/bash
# Hostile requests on a VM's control socket (ctl.sock), as a buggy script would send them:
# each gets one error and the same supervisor answers the next request. A block request whose
# commands are not a list, or whose command names are not strings, once crashed the supervisor
# (it looked for the images to open to QEMU's user before checking the request).
. "$(dirname "$0")/lib.sh"

start_detached c1 "$PROFILES/guest.json"
sup=$(state_field c1 supervisor_pid)

# Sends each argument as one request line on its own connection; prints each reply line.
ctl() {
	python3 - "$VMM_RUN_DIR/c1/ctl.sock" "$@" <<'PY'
import socket, sys
for line in sys.argv[2:]:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sys.argv[1])
    s.sendall(line.encode() + b"\n")
    print(s.makefile().readline().strip() or "(no reply)")
    s.close()
PY
}

# Expects request REQUEST to be answered with error ERROR.
refused() {
	local got
	got=$(ctl "$1") || fail "request $1: $got"
	[ "$got" = "{\"error\":\"$2\"}" ] || fail "request $1: got $got"
	kill -0 "$sup" || fail "request $1 ended the supervisor: $(tail -n 3 "$VMM_RUN_DIR/c1/vmm.log")"
}

list='commands: expected a list of 1 to 64 QMP commands'
cmd='commands[0]: expected {\"execute\": NAME, \"arguments\": {...}} with a block command as NAME'
refused '{"request": "block", "version": 1, "commands": "x"}' "$list"
refused '{"request": "block", "version": 1, "commands": {"execute": "blockdev-add"}}' "$list"
refused '{"request": "block", "version": 1, "commands": [{"execute": null}]}' "$cmd"
refused '{"request": "block", "version": 1, "commands": [{"execute": 5, "arguments": {"filename": "/x"}}]}' "$cmd"
refused '{"request": "block", "version": 1, "commands": [7]}' "$cmd"
expect_rc 0 status c1
pass "block requests of commands that are no list or unnamed: refused, the supervisor carries on"
