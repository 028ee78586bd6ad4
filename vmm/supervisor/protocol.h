/* The control protocol between the CLI and a VM's supervisor, spoken on ctl.sock in
 * JSON lines: a request is {"request": NAME, "version": CONTROL_VERSION, ...arguments}
 * and gets exactly one reply, {"return": VALUE} or {"error": "what went wrong"}.
 * This header names everything both sides must agree on: the version, the requests
 * and their arguments, what stop and kill return (how the VM ended, which is also the
 * exit status of `vmm run` and `vmm stop`), and the keys of the status object, most of
 * which the state file (state.json) shares. The names of CLI verbs are not
 * wire names: a verb sends the request named here. The line that opens console.sock is
 * here too. Plain definitions, no libevent, so the CLI includes it without the
 * supervisor's event loop. */
#ifndef VMM_PROTOCOL_H
#define VMM_PROTOCOL_H

/* Raised whenever a request or a reply changes meaning; a mismatch is refused. */
#define CONTROL_VERSION 1

/* The members of every request and reply. */
#define CTL_KEY_REQUEST "request"
#define CTL_KEY_VERSION "version"
#define CTL_KEY_RETURN "return"
#define CTL_KEY_ERROR "error"

/* Bytes of a request line (its newline too) a supervisor reads at most: a longer one ends the
 * connection, so the CLI refuses to send it. */
#define CTL_MAX_REQUEST (64u << 10)

/* The requests. */
#define CTL_REQ_STATUS "status" /* returns the status object (VM_KEY_*) */
#define CTL_REQ_STOP "stop"     /* power button, (agent,) quit, SIGKILL; returns the end (CTL_END_*) */
#define CTL_REQ_KILL "kill"     /* SIGKILL at once; returns the end (CTL_END_*) */
#define CTL_REQ_PAUSE "pause"   /* returns {} once QEMU has paused the guest */
#define CTL_REQ_RESUME "resume" /* returns {} once QEMU has resumed the guest */
#define CTL_REQ_RESET "reset"   /* returns {} once QEMU has reset the guest */
#define CTL_REQ_ADD "add"       /* hot-adds a device (CTL_ARG_KIND, CTL_ARG_DEVICE); returns it (DEV_KEY_*) */
#define CTL_REQ_REMOVE "remove" /* removes a hot-added device (CTL_ARG_ID); returns {} once it is gone */
#define CTL_REQ_DEVICES "devices" /* returns the VM's disks and NICs, a list of objects (DEV_KEY_*) */
#define CTL_REQ_SET "set"       /* changes the vCPUs (CTL_ARG_CPUS) or the memory (CTL_ARG_MEMORY);
				 * returns {CTL_ARG_CPUS: how many it has} or {CTL_ARG_MEMORY: bytes} */
#define CTL_REQ_AGENT "agent"   /* runs a guest agent command (CTL_ARG_COMMAND); returns what it returned */
#define CTL_REQ_IP "ip"         /* returns the guest's interfaces as its agent sees them, a list (IP_KEY_*) */
#define CTL_REQ_BALLOON "balloon" /* sets the balloon's target (CTL_ARG_TARGET), returns the balloon (BALLOON_KEY_*) */
#define CTL_REQ_BLOCK "block"   /* runs QMP block commands (CTL_ARG_COMMANDS), the guest frozen when
				 * CTL_ARG_FREEZE; returns what they returned (BLOCK_KEY_*) */
#define CTL_REQ_MIGRATE "migrate" /* migrates the VM (CTL_ARG_URI, CTL_ARG_DEST, ...); answered when it ends,
				   * with the last reading (MIG_KEY_*) or the error saying where it failed */
#define CTL_REQ_MIGRATION "migration" /* returns the current (or last) migration's reading (MIG_KEY_*) */
#define CTL_REQ_MIGRATE_CANCEL "migrate-cancel" /* cancels the migration (migrate_cancel); returns {} */
#define CTL_REQ_UPGRADE "upgrade" /* moves the VM into a new QEMU (CTL_ARG_QEMU); returns how (UPGRADE_KEY_*) */
#define CTL_REQ_SAVE "save"     /* saves the VM into a file (CTL_ARG_FILE) and ends it; returns the end (CTL_END_*) */
#define CTL_REQ_SAVE_CANCEL "save-cancel" /* cancels the save (migrate_cancel): the VM runs on; returns {} */

/* stop's argument: seconds the guest has to power off (0 to 3600). */
/* Milliseconds the supervisor waits for QEMU to answer one QMP command, also on behalf of a
 * request (pause, resume, reset): a client waits for such a request a little longer. */
#define CTL_QMP_TIMEOUT_MS 5000

#define CTL_ARG_TIMEOUT "timeout"

/* add's arguments: what is added ("disk", "nic", "usb" or "vfio"), and the device as a profile's
 * disks[] or nics[] element (its file an absolute path), or {"host", "with_group"} of a
 * passthrough[] element; remove's: the device's id. */
#define CTL_ARG_KIND "kind"
#define CTL_ARG_DEVICE "device"
#define CTL_ARG_ID "id"

/* set's arguments: the vCPUs the VM is to have (from those it boots with to hotplug.max_cpus),
 * or its memory (bytes, or a size such as "4G", from memory.size to hotplug.max_memory). */
#define CTL_ARG_CPUS "cpus"
#define CTL_ARG_MEMORY "memory"

/* Milliseconds the guest has to release a device being removed; then remove fails, saying so,
 * and the device stays "removing" until the guest lets it go. A client waits for add and remove
 * up to CTL_HOTPLUG_TIMEOUT_MS: their QMP commands, and the release of a device to undo. */
#define CTL_RELEASE_TIMEOUT_MS 10000
#define CTL_HOTPLUG_TIMEOUT_MS (CTL_RELEASE_TIMEOUT_MS + 8 * CTL_QMP_TIMEOUT_MS)

/* A device of the list devices returns (and add). */
#define DEV_KEY_ID "id"
#define DEV_KEY_KIND "kind"       /* "disk", "nic", "cpu" (a hot-added vCPU), "usb" (a hot-added USB device) or "vfio" */
#define DEV_KEY_TYPE "type"       /* a disk's bus, a NIC's model, "vfio-pci" */
#define DEV_KEY_FILE "file"       /* a disk's image */
#define DEV_KEY_MAC "mac"         /* a NIC's MAC */
#define DEV_KEY_HOST "host"       /* a VFIO device's host PCI address */
#define DEV_KEY_HOTPLUGGED "hotplugged" /* true: added while the VM runs; false: the profile's */
#define DEV_KEY_PORT "port"       /* the id of the root port it sits on, when it has one */
#define DEV_KEY_ADDRESS "address" /* its place on the root bus, "00:SS.F" (its root port's), when it has one */
#define DEV_KEY_STATE "state"     /* "present", "adding" or "removing" */
/* agent's arguments: the command, {"execute": NAME, "arguments": {...}}, and the seconds the
 * agent has to answer it once it answered the sync (CTL_ARG_TIMEOUT, 1 to 3600; default
 * CTL_AGENT_TIMEOUT_MS). The supervisor first asks QEMU whether the guest opened the agent's
 * port (CTL_QMP_TIMEOUT_MS), then gives the sync CTL_AGENT_SYNC_MS: a client waits for all three. */
#define CTL_ARG_COMMAND "command"
#define CTL_AGENT_TIMEOUT_MS 10000
#define CTL_AGENT_SYNC_MS 5000
/* The words of the error agent and ip fail with when the VM has no agent channel at all. */
#define CTL_ERR_NO_AGENT "has no guest agent channel"

/* An interface ip returns (the loopback left out). */
#define IP_KEY_NAME "name"         /* the guest's name for it ("eth0") */
#define IP_KEY_MAC "mac"           /* its hardware address, when it has one */
#define IP_KEY_NIC "nic"           /* the id of the VM's NIC with that MAC, when one has it */
#define IP_KEY_NETWORK "network"   /* that NIC's type: "user" (reachable from the host only through
				    * forwarded ports), "tap" or "bridge" */
#define IP_KEY_ADDRESSES "addresses" /* "ADDRESS/PREFIX" strings, IPv4 first */

/* balloon's arguments: the target in bytes (none: only show the balloon); CTL_ARG_STATS true
 * adds the guest's memory statistics; CTL_ARG_WAIT N holds the answer until the guest's
 * balloon has moved more than N times (BALLOON_KEY_CHANGES), at most CTL_BALLOON_WAIT_MS. */
#define CTL_ARG_TARGET "target"
#define CTL_ARG_STATS "stats"
#define CTL_ARG_WAIT "wait"
#define CTL_BALLOON_WAIT_MS 2000
/* The words of the error balloon fails with when the VM has no balloon. */
#define CTL_ERR_NO_BALLOON "has no balloon"

/* migrate's arguments: the URI QEMU migrates to ("tcp:HOST:PORT", "unix:PATH"), the destination
 * as the user named it (for messages and the ended record), the bandwidth cap in bytes per
 * second (absent: none), post-copy after CTL_ARG_POSTCOPY passes (absent: none), the x509
 * credentials directory (absent: plain), and whether to mirror the writable disks first. */
#define CTL_ARG_URI "uri"
#define CTL_ARG_DEST "dest"
#define CTL_ARG_BANDWIDTH "bandwidth"
#define CTL_ARG_POSTCOPY "postcopy"
#define CTL_ARG_TLS "tls"
#define CTL_ARG_COPY_STORAGE "copy_storage"

/* A migration's reading (what migration returns, and migrate at its end). */
#define MIG_KEY_STATUS "status"                 /* QEMU's: "setup", "active", "completed", "failed", ... */
#define MIG_KEY_PASS "pass"                     /* passes over the RAM so far */
#define MIG_KEY_TRANSFERRED "transferred"       /* RAM bytes sent */
#define MIG_KEY_TOTAL "total"                   /* RAM bytes of the guest */
#define MIG_KEY_REMAINING "remaining"           /* RAM bytes still to send */
#define MIG_KEY_RATE "rate"                     /* bytes per second, lately */
#define MIG_KEY_DIRTY_RATE "dirty_rate"         /* bytes the guest dirties per second */
#define MIG_KEY_EXPECTED_DOWNTIME "expected_downtime" /* ms */
#define MIG_KEY_TOTAL_TIME "total_time"         /* ms since it started */
#define MIG_KEY_SETUP_TIME "setup_time"         /* ms */
#define MIG_KEY_DOWNTIME "downtime"             /* ms the guest was stopped (once completed) */
#define MIG_KEY_ERROR "error"                   /* why it failed */
#define MIG_KEY_DEST "dest"                     /* where to */
#define MIG_KEY_POSTCOPY "postcopy"             /* true once it switched to post-copy */
#define MIG_KEY_SETTINGS "settings"             /* what vmm chose: */
#define MIG_KEY_CAPABILITIES "capabilities"     /*   the capabilities turned on, a list */
#define MIG_KEY_PARAMETERS "parameters"         /*   the parameters set, an object */

/* The status object of a VM waiting for an incoming migration: where it listens. */
#define VM_KEY_INCOMING "incoming"

/* The balloon object. */
#define BALLOON_KEY_ACTUAL "actual"   /* bytes the guest has now */
#define BALLOON_KEY_TARGET "target"   /* bytes last asked for (absent: none since this QEMU or supervisor started) */
#define BALLOON_KEY_MEMORY "memory"   /* the VM's memory size */
#define BALLOON_KEY_CHANGES "changes" /* BALLOON_CHANGE events seen since the supervisor started */
#define BALLOON_KEY_STATS "stats"     /* with CTL_ARG_STATS: QEMU's guest-stats, {"stats": {...}, "last-update": T} */

/* block's arguments: the commands, a list of {"execute": NAME, "arguments": {...}} with NAME one
 * of BLOCK_COMMANDS, and whether the guest's filesystems are frozen around them (true/false). */
#define CTL_ARG_COMMANDS "commands"
#define CTL_ARG_FREEZE "freeze"
#define BLOCK_COMMANDS "blockdev-add", "blockdev-del", "transaction", "block-commit", "query-named-block-nodes", \
	"query-jobs", "job-complete", "job-cancel", "job-dismiss", "block-dirty-bitmap-remove", "snapshot-save", \
	"snapshot-load", "snapshot-delete"
/* Milliseconds the guest's agent has to freeze or thaw its filesystems. */
#define CTL_FREEZE_TIMEOUT_MS 10000
/* What block returns. */
#define BLOCK_KEY_RETURNS "returns"           /* what each command returned, in order */
#define BLOCK_KEY_FROZEN "frozen"             /* filesystems the guest froze (-1: not frozen) */
#define BLOCK_KEY_FREEZE_ERROR "freeze_error" /* why the guest was not frozen, when asked to be */
#define BLOCK_KEY_QMP_US "qmp_us"             /* microseconds from the first command sent to the last answer */
#define BLOCK_KEY_FROZEN_US "frozen_us"       /* microseconds from the guest's frozen answer to its thawed one */
/* upgrade's argument: the new QEMU binary (a path, or a name looked up in PATH; none: the
 * VM's own), and what it returns once the new QEMU runs the guest. */
#define CTL_ARG_QEMU "qemu"
/* save's argument: the file, an absolute path; and CTL_ARG_BANDWIDTH, bytes/s (none: no cap). */
#define CTL_ARG_FILE "file"
#define UPGRADE_KEY_OLD_PID "old_pid"
#define UPGRADE_KEY_NEW_PID "new_pid"
#define UPGRADE_KEY_OLD_VERSION "old_version" /* the old QEMU's version */
#define UPGRADE_KEY_QEMU "qemu"               /* the new QEMU's binary */
#define UPGRADE_KEY_TOTAL_MS "total_ms"       /* from the new QEMU's start until it ran the guest */
#define UPGRADE_KEY_DOWNTIME_MS "downtime_ms" /* the guest's pause, as the old QEMU measured it */
#define UPGRADE_KEY_SETUP_MS "setup_ms"
#define UPGRADE_KEY_TRANSFERRED "transferred" /* bytes of RAM sent */
#define UPGRADE_KEY_SHARED_RAM "shared_ram"   /* the guest RAM stayed in place (x-ignore-shared) */
#define UPGRADE_KEY_WARNINGS "warnings"       /* what the user should know about the new QEMU (a deprecated machine type) */
/* Milliseconds a client waits for upgrade: the new QEMU's plan (a probe) and its run. */
#define CTL_UPGRADE_TIMEOUT_MS 120000

/* What stop and kill return once the VM has ended. */
#define CTL_END_NAME "end"        /* how it ended: "powered-off", "forced-off", ... */
#define CTL_END_CODE "code"       /* the vm_end, 1 when the VM never ended */
#define CTL_END_MESSAGE "message" /* the supervisor's verdict, worded for a person */

/* How a VM ended; also the exit status of `vmm run` and `vmm stop`. 1 is kept for vmm's own errors. */
enum vm_end {
	VM_POWERED_OFF = 0,  /* the guest powered off (also after a graceful stop) */
	VM_START_FAILED = 2, /* QEMU could not start or never answered QMP */
	VM_FORCED_OFF = 3,   /* stopped by quit or SIGKILL, or by a signal sent to QEMU */
	VM_CRASHED = 4,      /* QEMU died on a signal or exited with an error or without a shutdown */
	VM_MIGRATED = 5,     /* the VM moved to another QEMU (vmm migrate): it runs there */
	VM_SAVED = 6,        /* saved into a file (vmm save), from which vmm restore brings it back */
};

/* The status object; the keys up to VM_KEY_RUN_DIR, and VM_KEY_RESOLVED_PROFILE, are
 * also those of state.json (which tests/integration/lib.sh reads with sed). */
#define VM_KEY_NAME "name"
#define VM_KEY_SUPERVISOR_PID "supervisor_pid"
#define VM_KEY_QEMU_PID "qemu_pid"
#define VM_KEY_STARTED "started"
#define VM_KEY_QEMU_VERSION "qemu_version"
#define VM_KEY_ACCEL "accel"
#define VM_KEY_PROFILE "profile"
#define VM_KEY_RUN_DIR "run_dir"
#define VM_KEY_STATE "state"
#define VM_KEY_UPTIME "uptime"
#define VM_KEY_STOPPING "stopping"
#define VM_KEY_RESTARTING "restarting"
#define VM_KEY_RESTARTS "restarts"
#define VM_KEY_PROTECTED "protected"
#define VM_KEY_RESTART "restart"
#define VM_KEY_PINNED "pinned"
#define VM_KEY_QMP_CLIENTS "qmp_clients"
#define VM_KEY_LAST_END "last_end"
#define VM_KEY_LAST_END_MESSAGE "last_end_message"
#define VM_KEY_RESOLVED_PROFILE "resolved_profile" /* state.json only */

/* console.sock carries the serial console's bytes both ways, after one line from the
 * supervisor: CONSOLE_ATTACHED, or, when another client has the console, CONSOLE_IN_USE
 * and that client's PID, after which the supervisor closes the connection. */
#define CONSOLE_ATTACHED "vmm-console: attached"
#define CONSOLE_IN_USE "vmm-console: in use by PID "
#define CONSOLE_GREETING_MAX 64

/* The record a VM leaves when it has ended (ended.json, which `vmm status` shows once no
 * supervisor answers): the facts above with VM_KEY_STATE VM_STATE_ENDED, VM_KEY_LAST_END
 * and VM_KEY_LAST_END_MESSAGE (how it ended), and these. */
#define VM_STATE_ENDED "ended"
#define VM_KEY_ENDED "ended"             /* when (seconds since the epoch) */
#define VM_KEY_EXIT_CODE "exit_code"     /* QEMU's exit status, when it exited (and vmm started it) */
#define VM_KEY_SIGNAL "signal"           /* the signal that killed QEMU, when one did */
#define VM_KEY_CONSOLE "console"         /* the last lines of the console log */
#define VM_KEY_QEMU_OUTPUT "qemu_output" /* QEMU's last lines on stdout and stderr */

#endif
