/* The VM's serial console, owned by the supervisor. QEMU's serial chardev is a socket QEMU
 * listens on (CONSOLE_SERIAL_SOCK in the run directory, inherited pre-bound), and the
 * supervisor stays connected to it, in the foreground and detached, and connects again
 * after a restart or a `vmm attach`. What the guest prints goes to console.log, which never
 * holds more than console_log.max_size (at a line end when one fits, a full file moves to
 * console.log.1 and older copies one up, console_log.keep of them kept), to the terminal of
 * `vmm run`, and to the one client of console.sock (`vmm console`), whose typing goes back
 * to the guest. A second client is refused, naming the first one's PID; a client that does
 * not read what it is sent is dropped; a guest that does not read its input holds back only
 * the client's typing. Neither the guest nor the supervisor ever waits for a client. */
#ifndef VMM_CONSOLE_H
#define VMM_CONSOLE_H

#include <stdbool.h>

#include <event2/event.h>

#include "profiles/config.h"
#include "vmm/base/rundir.h"
#include "vmm/supervisor/state.h"

/* The socket QEMU's serial console listens on, in the run directory (clients use console.sock). */
#define CONSOLE_SERIAL_SOCK "serial.sock"

struct console;

/* Starts serving console.sock in rd, logging to console.log there as c's console_log says
 * and copying to stdout when to_stdout; vm names the VM in messages. Lives across QEMU
 * restarts. Returns NULL with err when console.sock cannot be bound. */
struct console *console_new(struct event_base *base, struct rundir *rd, const struct vm_config *c, bool to_stdout,
			    const struct vm_state *vm, struct verr *err);

/* Takes over fd (owned): a connection to the current QEMU's serial socket. */
void console_attach(struct console *con, int fd);

/* The current QEMU is gone: reads what it printed last, then closes the connection. Safe
 * with NULL. */
void console_detach(struct console *con);

/* Closes the client, console.sock and console.log, and removes the serial socket (no QEMU
 * of the VM runs any more). Safe with NULL. */
void console_free(struct console *con);

#endif
