/* The QMP proxy's own way to QEMU: a second QMP monitor (SUP_PROXY_MONITOR in the run
 * directory, inherited by QEMU pre-bound like the supervisor's), so that the supervisor's
 * stop, pause, pinning and status never wait behind proxy clients, and nothing a client
 * sends can cost the supervisor its QMP connection. The proxy serves qmp.sock once that
 * monitor is negotiated; when the connection is lost while QEMU runs, it is made again
 * once, after a short delay. */
#ifndef VMM_SUP_PROXY_H
#define VMM_SUP_PROXY_H

#include "vmm/supervisor/sup.h"

/* The proxy monitor's socket in the run directory (QEMU's, like monitor.sock). */
#define SUP_PROXY_MONITOR "qmp-upstream.sock"

/* Connects the proxy to QEMU's proxy monitor; qmp.sock is served once it is negotiated.
 * A monitor that cannot be reached is said (qmp.sock is then not served). */
void sup_proxy_connect(struct sup *s);

/* Stops serving qmp.sock and closes the proxy's connection to QEMU (its clients go). */
void sup_proxy_drop(struct sup *s);

#endif
