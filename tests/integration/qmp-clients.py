#!/usr/bin/env python3
"""Many concurrent plain-QMP clients against one socket (a qmp.sock proxy).

Each client negotiates like any QMP tool, pipelines COMMANDS commands with ids of its own
(strings, numbers and objects), and checks that it gets exactly one reply per id and none of
another client's. With --events, every client then waits for the events named (sent by
whoever triggers them once "negotiated N" is printed). With --slow, one more client asks
for large replies and never reads them: the others must not be held up, and the proxy
must disconnect it. Exit 0 when every check held."""
import argparse
import asyncio
import json
import socket
import sys


async def read_msg(reader):
    line = await reader.readline()
    if not line:
        raise EOFError("the server closed the connection")
    return json.loads(line)


async def client(n, path, commands, events, negotiated, all_negotiated):
    reader, writer = await asyncio.open_unix_connection(path, limit=1 << 24)
    greeting = await read_msg(reader)
    assert "QMP" in greeting, f"client {n}: no greeting: {greeting}"
    writer.write(b'{"execute": "query-status", "id": "early"}\n')
    early = await read_msg(reader)
    assert early.get("error", {}).get("class") == "CommandNotFound" and early["id"] == "early", early
    writer.write(b'{"execute": "qmp_capabilities"}\n')
    assert (await read_msg(reader)) == {"return": {}}
    ids = []
    for i in range(commands):
        # Ids of every JSON type a client may choose; some clash between clients on purpose.
        cid = [f"c{n}-{i}", n * 100000 + i, {"client": n, "seq": i}][i % 3]
        ids.append(cid)
        cmd = {"execute": ["query-status", "query-name", "query-version"][i % 3], "id": cid}
        writer.write((json.dumps(cmd) + "\n").encode())
    await writer.drain()
    want = [json.dumps(i, sort_keys=True) for i in ids]
    got = []
    while len(got) < len(want):
        msg = await read_msg(reader)
        if "event" in msg:
            continue
        assert "return" in msg, f"client {n}: error reply {msg}"
        got.append(json.dumps(msg.get("id"), sort_keys=True))
    assert got == want, f"client {n}: replies out of order or foreign: {set(got) ^ set(want)}"
    negotiated.append(n)
    if len(negotiated) == all_negotiated:
        print(f"negotiated {all_negotiated}", flush=True)
    seen = set()
    while not set(events) <= seen:
        msg = await asyncio.wait_for(read_msg(reader), 60)
        if "event" in msg:
            seen.add(msg["event"])
    writer.close()
    return n


def slow_client(path, commands):
    """Sends commands with large replies and never reads them: a plain socket, since an
    asyncio stream would keep reading into its own buffer behind the test's back."""
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(path)
    f = sock.makefile("rb", buffering=0)
    f.readline()
    sock.sendall(b'{"execute": "qmp_capabilities"}\n')
    f.readline()
    sock.sendall(b'{"execute": "query-qmp-schema"}\n' * commands)
    return sock


def dropped(sock, commands):
    """True when the stream ends before every reply came (the proxy gave up on it)."""
    sock.settimeout(30)
    replies = 0
    try:
        for line in sock.makefile("rb"):
            replies += b'"return"' in line
            if replies == commands:
                return False
    except (ConnectionError, socket.timeout):
        pass
    return True


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--commands", type=int, default=200)
    ap.add_argument("--events", default="")
    ap.add_argument("--slow", action="store_true")
    a = ap.parse_args()
    events = [e for e in a.events.split(",") if e]
    negotiated = []
    slow = slow_client(a.socket, 200) if a.slow else None
    done = await asyncio.gather(*(client(n, a.socket, a.commands, events, negotiated, a.clients)
                                  for n in range(a.clients)))
    if slow:
        await asyncio.sleep(2)  # QEMU answers the 200 commands meanwhile
        assert dropped(slow, 200), "the proxy kept a client that does not read"
        print("ok: a client that does not read was dropped without holding up the others")
    print(f"ok: {len(done)} clients x {a.commands} commands, events {events} seen by all")


try:
    asyncio.run(main())
except (AssertionError, EOFError, asyncio.TimeoutError) as e:
    print(f"FAIL: {e!r}", file=sys.stderr)
    sys.exit(1)
