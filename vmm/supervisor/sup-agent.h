/* The supervisor's side of the guest agent (agent.h): agent.sock, bound for QEMU at launch
 * and connected to again after a reconnect, and the requests agent and ip on ctl.sock. */
#ifndef VMM_SUP_AGENT_H
#define VMM_SUP_AGENT_H

#include <json-c/json.h>

#include "vmm/supervisor/sup.h"

/* When the profile has an agent channel: binds agent.sock for QEMU (*listen_fd, to pass it)
 * and connects to it (*conn_fd, for agent_attach once QEMU runs). Else both stay -1.
 * Returns 0, or -1 with err. */
int sup_agent_listen(struct sup *s, int *listen_fd, int *conn_fd, struct verr *err);

/* Connects to the agent socket of a QEMU the supervisor reconnects to; says when it cannot. */
void sup_agent_reconnect(struct sup *s);

/* Handles CTL_REQ_AGENT and CTL_REQ_IP. */
void sup_agent_request(struct sup *s, struct control_conn *conn, const char *request, struct json_object *args);

#endif
