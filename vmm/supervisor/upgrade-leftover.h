/* What an upgrade (upgrade.h) leaves when its supervisor dies mid-way (kill -9): its new QEMU,
 * still waiting for the guest (inmigrate) with its monitor on new-monitor.sock in the run
 * directory, and the new-* sockets. The next supervisor of the VM (vmm attach, vmm start)
 * clears them once it holds the run directory, before it looks for the VM's QEMU: that new
 * QEMU would count as one (it holds a socket bound there), run for ever and keep the VM from
 * starting again. A new QEMU that has the guest already (the switch was under way) is left. */
#ifndef VMM_UPGRADE_LEFTOVER_H
#define VMM_UPGRADE_LEFTOVER_H

#include "vmm/base/rundir.h"

/* Tells a new QEMU left waiting for the guest to quit (waiting until it has closed its
 * monitor), then removes the new-* sockets. Returns how many files it removed. */
int upgrade_leftover_clear(struct rundir *rd);

#endif
