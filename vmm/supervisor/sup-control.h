/* The supervisor's answers on ctl.sock (the requests of protocol.h). status is answered
 * from what the supervisor knows, so it answers even when QEMU is frozen; pause, resume
 * and reset are one QMP command each; stop and kill are answered once the VM has ended. */
#ifndef VMM_SUP_CONTROL_H
#define VMM_SUP_CONTROL_H

#include <json-c/json.h>

#include "vmm/supervisor/control.h"

struct sup;

/* Handles one control request (the control_request_fn of ctl.sock; arg is the struct sup). */
void sup_request(struct control_conn *conn, const char *request, struct json_object *args, void *arg);

/* Keeps conn (a save, held already: control_hold) to be answered with how the VM ended, once it has. */
void sup_add_waiter(struct sup *s, struct control_conn *conn);

/* Answers every waiting stop and kill with how the VM ended. */
void sup_answer_waiters(struct sup *s);

/* QEMU's user loses what was granted for purpose (sup-grants.h), once that is over; says what failed. */
void sup_give_back_for(struct sup *s, const char *purpose);

#endif
