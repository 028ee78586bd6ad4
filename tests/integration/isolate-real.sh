#!/bin/bash
# cpu.isolate on a real kernel, never the host's cgroups: the Debian cloud kernel under TCG
# with 2 CPUs (the least isolation needs: CPU 1 for the VM, CPU 0 for the rest) mounts its
# own cgroup2 and runs isolate-real-guest.sh with the vmm built here (nested.sh). The
# nested VMs stay paused (-S) and tiny so that the outer guest's two TCG vCPUs stay light.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nested.sh"

nested_run "$SRCDIR/tests/integration/isolate-real-guest.sh" 240 "" \
	-machine q35 -smp 2 -m 512M \
	-object memory-backend-memfd,id=mem,size=512M,share=on -machine memory-backend=mem
