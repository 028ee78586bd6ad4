#!/usr/bin/env python3
"""Drives `vmm console NAME` through a pseudo-terminal like a person would: types a
line, waits for a pattern in what the guest prints, prints the first match, then
detaches with Ctrl-] and checks that vmm console exits 0. Only the last 64 KiB of the output is searched, so a guest flooding its console costs no
more than that."""
import os
import pty
import re
import select
import sys
import time

vmm, name, line, pattern = sys.argv[1:5]
timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 20

pid, fd = pty.fork()
if pid == 0:
    os.execv(vmm, [vmm, "console", name])


pending = ""  # what was read after the last match


def read_until(regex, seconds):
    global pending
    out = pending
    deadline = time.time() + seconds
    while True:
        m = re.search(regex, out)
        if m:
            pending = out[m.end():]
            return m
        if time.time() >= deadline:
            break
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out = (out + chunk.decode(errors="replace"))[-65536:]
    sys.exit(f"FAIL: no {regex!r} within {seconds} s; got {out[-400:]!r}")


read_until(r"console connected", 5)
os.write(fd, line.encode() + b"\r")
print(read_until(pattern, timeout).group(0))
os.write(fd, b"\x1d")
read_until(r"detached", 5)
_, status = os.waitpid(pid, 0)
if os.waitstatus_to_exitcode(status) != 0:
    sys.exit(f"FAIL: vmm console exited with {os.waitstatus_to_exitcode(status)}")
