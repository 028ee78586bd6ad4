/* The memory balloon of a VM whose profile has one ("memory": {"balloon": true}), driven by
 * the supervisor over QMP: the request balloon on ctl.sock sets the guest's target (QMP
 * `balloon`), refused with huge pages or passthrough in lint's words, and answers with what
 * the guest has now (query-balloon), the target, and on demand the guest's memory statistics
 * (qom-get guest-stats: the supervisor turns guest-stats-polling-interval on when QEMU is
 * ready). BALLOON_CHANGE events are counted, and a request may wait for the next one: a
 * client follows the guest toward its target event by event. An automatic balloon
 * (balloon-auto.h) moves the target with the host's memory pressure. */
#ifndef VMM_BALLOON_H
#define VMM_BALLOON_H

#include <event2/event.h>
#include <json-c/json.h>

#include "qmp/qmp.h"
#include "vmm/launch/plan.h"
#include "vmm/supervisor/control.h"
#include "vmm/supervisor/state.h"

/* Seconds between two reports of the guest's memory statistics. */
#define BALLOON_STATS_SECONDS 5

struct balloon;

/* The balloon of plan p's VM (vm names it in messages); qmp points at where the supervisor
 * keeps its QMP client (NULL while it has none). */
struct balloon *balloon_new(struct event_base *base, const struct plan *p, const struct vm_state *vm,
			    struct qmp_client *const *qmp);

/* QEMU answers: asks it for the guest's statistics every BALLOON_STATS_SECONDS. */
void balloon_ready(struct balloon *b);

/* An event from QEMU (only BALLOON_CHANGE counts). */
void balloon_event(struct balloon *b, const char *name);

/* Handles CTL_REQ_BALLOON while QEMU runs. */
void balloon_request(struct balloon *b, struct control_conn *conn, struct json_object *args);

/* The current QEMU is gone: fails the requests that wait, forgets the target. */
void balloon_reset(struct balloon *b);

/* Frees the balloon (after balloon_reset). Safe with NULL. */
void balloon_free(struct balloon *b);

#endif
