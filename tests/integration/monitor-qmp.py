#!/usr/bin/env python3
"""Sends QMP commands on a QEMU's own monitor socket (monitor.sock, while no supervisor holds it:
its supervisor killed) and prints what each returned, one JSON line each.

Usage: monitor-qmp.py SOCKET COMMAND [ARGUMENTS-JSON] [COMMAND [ARGUMENTS-JSON] ...], where an
argument that starts with "{" is the arguments of the command before it. Exit 1 on an error reply."""
import json
import socket
import sys


def main():
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(sys.argv[1])
    f = sock.makefile("rw")
    f.readline()  # the greeting
    cmds = []
    for arg in sys.argv[2:]:
        if arg.startswith("{"):
            cmds[-1]["arguments"] = json.loads(arg)
        else:
            cmds.append({"execute": arg})
    for cmd in [{"execute": "qmp_capabilities"}] + cmds:
        f.write(json.dumps(cmd) + "\n")
        f.flush()
        while True:
            msg = json.loads(f.readline())
            if "error" in msg:
                print(json.dumps(msg["error"]), file=sys.stderr)
                return 1
            if "return" in msg:
                break
        if cmd["execute"] != "qmp_capabilities":
            print(json.dumps(msg["return"]))
    return 0


sys.exit(main())
