#!/usr/bin/env python3
"""QMP conformance: the same inputs replayed against a raw QEMU monitor and through vmm's
proxy (qmp.sock), answers compared by kind (return or error), error class, order and id.

Each case is raw bytes sent on a fresh, negotiated connection (qmp_capabilities with oob,
as qemu.qmp does), followed by a marker command; everything answered before the marker's
reply is the case's answer. A case whose answers differ fails, unless it is listed in
KNOWN with the reason. Usage: qmp-conformance.py RAW_SOCKET PROXY_SOCKET"""
import json
import socket
import sys
import time

MARKER = b'{"execute": "query-version", "id": "marker"}\n'

# (name, bytes sent after negotiation). Inputs a real client may send, sloppy ones included.
CASES = [
    ("plain command", b'{"execute": "query-status", "id": 1}\n'),
    ("no id", b'{"execute": "query-name"}\n'),
    ("string id", b'{"execute": "query-name", "id": "abc"}\n'),
    ("object id", b'{"execute": "query-name", "id": {"a": [1, 2, {"b": null}]}}\n'),
    ("null id", b'{"execute": "query-name", "id": null}\n'),
    ("big id", b'{"execute": "query-name", "id": 123456789012345678901234567890}\n'),
    ("float id", b'{"execute": "query-name", "id": 1.5}\n'),
    ("negative id", b'{"execute": "query-name", "id": -7}\n'),
    ("escaped id", b'{"execute": "query-name", "id": "a\\"b\\\\c\\u00e9"}\n'),
    ("pipelined", b'{"execute": "query-name", "id": 1}{"execute": "query-status", "id": 2}'
                  b'{"execute": "query-nothing", "id": 3}{"execute": "query-version", "id": 4}\n'),
    ("unknown command", b'{"execute": "query-nothing", "id": "u"}\n'),
    ("missing execute", b'{"id": "m"}\n'),
    ("execute not a string", b'{"execute": 42, "id": "n"}\n'),
    ("arguments not an object", b'{"execute": "query-name", "arguments": [], "id": "a"}\n'),
    ("bad argument", b'{"execute": "qom-get", "arguments": {"path": 1, "property": "x"}, "id": "b"}\n'),
    ("unexpected key", b'{"execute": "query-name", "bogus": 1, "id": "k"}\n'),
    ("second qmp_capabilities", b'{"execute": "qmp_capabilities", "id": "again"}\n'),
    ("command in the same line as garbage", b'{"execute": "query-name", "id": "g1"} xyz\n'),
    ("invalid JSON", b'{"execute": }\n{"execute": "query-name", "id": "after"}\n'),
    ("lone closing brace", b'}\n{"execute": "query-name", "id": "after"}\n'),
    ("lone closing bracket", b']\n{"execute": "query-name", "id": "after"}\n'),
    ("not an object", b'[1, 2]\n{"execute": "query-name", "id": "after"}\n'),
    ("a bare string", b'"hello"\n{"execute": "query-name", "id": "after"}\n'),
    ("NUL byte", b'\x00\n{"execute": "query-name", "id": "after"}\n'),
    ("0xff resets the parser", b'{"execute": "query-na\xff{"execute": "query-name", "id": "after"}\n'),
    ("trailing comma", b'{"execute": "query-name", "id": "tc",}\n'),
    ("comment", b'{"execute": "query-name", /* hi */ "id": "cm"}\n'),
    ("NaN", b'{"execute": "query-name", "id": NaN}\n'),
    ("duplicate key", b'{"execute": "query-name", "execute": "query-status", "id": "dup"}\n'),
    ("invalid UTF-8 in a string", b'{"execute": "query-name", "id": "\xc3\x28"}\n'),
    ("invalid UTF-8 in a command", b'{"execute": "\xff\xfe", "id": "iu"}\n'),
    ("unterminated string", b'{"execute": "query-name", "id": "open\n'
                            b'{"execute": "query-name", "id": "after"}\n'),
    ("single quotes", b"{'execute': 'query-name', 'id': 'sq'}\n"),
    ("exec-oob", b'{"exec-oob": "migrate-pause", "id": "oob"}\n'),
    ("exec-oob of an in-band command", b'{"exec-oob": "query-name", "id": "oob2"}\n'),
    ("execute and exec-oob", b'{"execute": "query-name", "exec-oob": "query-name", "id": "both"}\n'),
    ("deep nesting", b'{"execute": "query-name", "id": ' + b'[' * 2000 + b']' * 2000 + b'}\n'),
]

# Differences accepted, with why.
KNOWN = {
    "big id": "the proxy gives an id back exactly as the client wrote it; QEMU turns integers "
              "past 64 bits into doubles",
    "single quotes": "QEMU's parser also takes single-quoted strings, an extension of its own; the "
                     "proxy takes standard JSON only and answers GenericError",
}


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    return s


def read_until(sock, buf, pred, deadline):
    """Reads messages (one JSON object per line) into a list until pred(message) is true."""
    out = []
    while True:
        while b"\n" in buf[0]:
            line, buf[0] = buf[0].split(b"\n", 1)
            if not line.strip():
                continue
            try:
                msg = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                msg = {"invalid": line[:80].decode("latin-1")}
            out.append(msg)
            if pred(msg):
                return out
        if time.monotonic() > deadline:
            raise TimeoutError(f"no end of answer; so far {out}")
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        data = sock.recv(1 << 16)
        if not data:
            out.append({"closed": True})
            return out
        buf[0] += data


def negotiated(path):
    """A connection after the greeting and qmp_capabilities with oob."""
    s = connect(path)
    buf = [b""]
    greeting = read_until(s, buf, lambda m: True, time.monotonic() + 10)[0]
    s.sendall(b'{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}\n')
    reply = read_until(s, buf, lambda m: "event" not in m, time.monotonic() + 10)[-1]
    assert reply == {"return": {}}, reply
    return s, buf, greeting


def answer(path, data):
    """What one connection answers to data, up to the marker's reply, normalised: a run of
    id-less parse errors counts as one (QEMU's lexer may report one bad input several times)."""
    s, buf, _ = negotiated(path)
    try:
        s.sendall(data)
        s.sendall(b"\n" + MARKER)
        msgs = read_until(s, buf, lambda m: m.get("id") == "marker" or "closed" in m, time.monotonic() + 15)
    except (BrokenPipeError, ConnectionResetError):
        msgs = [{"closed": True}]
    finally:
        s.close()
    out = []
    for m in msgs:
        if "event" in m or m.get("id") == "marker":
            continue
        if "closed" in m:
            out.append(("closed",))
        elif "invalid" in m:
            out.append(("invalid JSON or UTF-8",))
        elif "return" in m:
            out.append(("return", json.dumps(m.get("id"), sort_keys=True) if "id" in m else "-"))
        else:
            e = ("error", m.get("error", {}).get("class"), json.dumps(m.get("id"), sort_keys=True) if "id" in m else "-")
            if e[2] == "-" and out and out[-1] == e:
                continue
            out.append(e)
    return out


def main():
    raw, proxy = sys.argv[1], sys.argv[2]
    failed = 0
    _, _, g_raw = negotiated(raw)
    _, _, g_proxy = negotiated(proxy)
    if g_raw["QMP"]["capabilities"] != g_proxy["QMP"]["capabilities"] or \
            g_raw["QMP"]["version"]["qemu"] != g_proxy["QMP"]["version"]["qemu"]:
        print(f"not ok - greeting: raw {g_raw}, proxy {g_proxy}")
        failed += 1
    else:
        print("ok - greeting: same version and capabilities")
    for name, data in CASES:
        a = answer(raw, data)
        try:
            b = answer(proxy, data)
        except (TimeoutError, OSError) as e:
            b = [("no answer", str(e)[:60])]
        if a == b:
            print(f"ok - {name}: {a}")
        elif name in KNOWN:
            print(f"ok - {name}: differs as known ({KNOWN[name]}): raw {a}, proxy {b}")
        else:
            print(f"not ok - {name}: raw {a}, proxy {b}")
            failed += 1
    print(f"{len(CASES) + 1 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
