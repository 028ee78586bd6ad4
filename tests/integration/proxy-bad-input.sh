#!/bin/bash
# Input QEMU's own QMP parser refuses, sent through the proxy (qmp.sock): invalid JSON, NaN
# (which json-c would pass on for QEMU to answer without an id), a command cut short by a
# 0xff byte, one over 1 MiB, invalid UTF-8. Each gets one error reply without an id, the
# client stays connected, its next command is answered with its id exactly as written, and
# the supervisor's own QMP connection is unharmed.
. "$(dirname "$0")/lib.sh"

start_detached b1 "$PROFILES/guest.json"
python3 - "$VMM_RUN_DIR/b1/qmp.sock" >"$T/bad.out" 2>&1 <<'PY' || fail "bad input: $(cat "$T/bad.out")"
import json, socket, sys

s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(30)
f = s.makefile("rb")


def recv():
    line = f.readline()
    assert line, "the proxy closed the connection"
    return line


assert b'"QMP"' in recv()
s.sendall(b'{"execute": "qmp_capabilities"}\n')
assert json.loads(recv()) == {"return": {}}
bad = {
    "invalid JSON": b'{"execute": "query-status" "x"}\n',
    "NaN": b'{"execute": "query-status", "id": 1, "arguments": {"x": NaN}}\n',
    "0xff": b'{"execute": "query-status", "id": 2\xff',
    "over 1 MiB": b'{"execute": "query-status", "arguments": {"s": "' + b"a" * (1 << 20) + b'"}}\n',
    "invalid UTF-8": b'{"execute": "query-status", "arguments": {"s": "\xc3\x28"}}\n',
}
for what, data in bad.items():
    s.sendall(data + b'{"execute": "query-status", "id": 1.50}\n')
    err = json.loads(recv())
    assert "error" in err and "id" not in err, f"{what}: {err}"
    line = recv()
    assert line.rstrip().endswith(b',"id":1.50}'), f"{what}: the next reply was {line!r}"
    assert json.loads(line)["return"]["status"] == "running", f"{what}: {line!r}"
    print(f"ok: {what}: {err['error']['desc']}")
PY
expect_rc 0 qmp b1 query-status
expect_rc 0 status b1 --json
[ "$(json_field qmp_clients <"$T/last.out")" = 0 ] || fail "clients left connected: $(cat "$T/last.out")"
pass "bad input through the proxy: one error each, the client and the VM's QMP carry on"

expect_rc 0 kill b1
