#!/usr/bin/env python3
"""A qmp.sock client across `vmm upgrade`: connects to the VM's QMP proxy, negotiates, prints
"connected", then waits (up to its timeout) for the proxy to close the connection, connects
again and prints the new QEMU's status. Exit 0 when it was disconnected and came back."""
import json
import socket
import sys
import time

path, timeout = sys.argv[1], float(sys.argv[2])


def session():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    f = s.makefile("rw")
    json.loads(f.readline())  # the greeting
    f.write('{"execute": "qmp_capabilities"}\n')
    f.flush()
    json.loads(f.readline())
    return s, f


s, f = session()
print("connected", flush=True)
s.settimeout(timeout)
try:
    while f.readline():  # events until the proxy lets go
        pass
except (socket.timeout, OSError):
    print("still connected after %d s" % timeout)
    sys.exit(1)
deadline = time.time() + timeout
while True:
    try:
        s, f = session()
        break
    except OSError:
        if time.time() > deadline:
            print("could not connect again")
            sys.exit(1)
        time.sleep(0.1)
f.write('{"execute": "query-status"}\n')
f.flush()
while True:
    r = json.loads(f.readline())
    if "return" in r:
        print("status", r["return"]["status"])
        break
