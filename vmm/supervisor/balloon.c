#include "vmm/supervisor/balloon.h"

#include <string.h>
#include <sys/queue.h>

#include "profiles/lint.h"
#include "vmm/base/strict.h"
#include "vmm/base/util.h"
#include "vmm/supervisor/balloon-auto.h"
#include "vmm/supervisor/protocol.h"

/* The balloon device's QOM path (its id is the builder's "balloon0"). */
#define BALLOON_PATH "/machine/peripheral/balloon0"
/* The smallest target taken: below it no guest runs. */
#define BALLOON_MIN (16u << 20)

/* One answer being made: query-balloon, then qom-get guest-stats when asked, then the reply;
 * or, while it waits for a BALLOON_CHANGE, on the list of waiters with its timer. */
struct ask {
	TAILQ_ENTRY(ask) entry;
	struct balloon *b;
	struct control_conn *conn;
	bool stats;
	uint64_t target;          /* the target it sets, 0 when none */
	struct event *timer;      /* waiters only */
	struct json_object *reply;
};

struct balloon {
	struct event_base *base;
	const struct plan *plan;
	const struct vm_state *vm;
	struct qmp_client *const *qmp;
	uint64_t target;          /* the last target set, 0 when none was */
	struct balloon_auto *autob; /* memory.balloon {"auto": true}, else NULL */
	int64_t changes;          /* BALLOON_CHANGE events seen */
	TAILQ_HEAD(, ask) waiters;
};

/* Answers an ask with its reply, or fails it; frees it. */
static void done(struct ask *a, const char *error)
{
	if (error)
		control_fail(a->conn, "%s", error);
	else
		control_reply(a->conn, steal_ptr(a->reply));
	json_object_put(a->reply);
	free(a);
}

/* The guest's statistics arrived: the reply is complete. */
static void stats_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct ask *a = arg;

	(void)c;
	if (r->failure != QMP_OK) {
		done(a, r->desc);
		return;
	}
	json_object_object_add(a->reply, BALLOON_KEY_STATS, json_object_get(r->ret));
	done(a, NULL);
}

/* query-balloon answered: what the guest has now, the target, the memory; then the statistics. */
static void query_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct ask *a = arg;
	struct balloon *b = a->b;
	struct json_object *actual, *get;

	if (r->failure != QMP_OK || !json_object_object_get_ex(r->ret, "actual", &actual)) {
		done(a, r->desc ? r->desc : "QEMU's query-balloon returned no \"actual\"");
		return;
	}
	a->reply = json_object_new_object();
	json_object_object_add(a->reply, BALLOON_KEY_ACTUAL, json_object_get(actual));
	if (b->target)
		json_object_object_add(a->reply, BALLOON_KEY_TARGET, json_object_new_int64((int64_t)b->target));
	json_object_object_add(a->reply, BALLOON_KEY_MEMORY, json_object_new_int64((int64_t)b->plan->config.memory));
	json_object_object_add(a->reply, BALLOON_KEY_CHANGES, json_object_new_int64(b->changes));
	if (!a->stats) {
		done(a, NULL);
		return;
	}
	get = json_object_new_object();
	json_object_object_add(get, "path", json_object_new_string(BALLOON_PATH));
	json_object_object_add(get, "property", json_object_new_string("guest-stats"));
	qmp_send(c, "qom-get", get, CTL_QMP_TIMEOUT_MS, 0, stats_cb, a);
}

/* Starts making the answer of a. */
static void answer(struct ask *a)
{
	if (!*a->b->qmp || qmp_send(*a->b->qmp, "query-balloon", NULL, CTL_QMP_TIMEOUT_MS, 0, query_cb, a) < 0)
		done(a, "QEMU's QMP connection is gone");
}

/* A waiter's time is up (no BALLOON_CHANGE came): it gets the balloon as it is. */
static void wait_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ask *a = arg;

	(void)fd;
	(void)what;
	TAILQ_REMOVE(&a->b->waiters, a, entry);
	event_free(steal_ptr(a->timer));
	answer(a);
}

/* The target was set (or QEMU refused it). */
static void target_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct ask *a = arg;

	(void)c;
	if (r->failure != QMP_OK) {
		done(a, r->desc);
		return;
	}
	a->b->target = a->target;
	answer(a);
}

/* Why the balloon may not move, in lint's words; NULL when it may. */
static const char *refusal(const struct vm_config *c)
{
	if (c->hugepages)
		return LINT_BALLOON_HUGEPAGES " (memory.hugepages)";
	if (c->n_passthrough)
		return LINT_BALLOON_PASSTHROUGH " (passthrough)";
	return NULL;
}

/* Sets the target of a balloon request (args' CTL_ARG_TARGET), then answers a. */
static void set_target(struct ask *a, struct json_object *t)
{
	const struct vm_config *c = &a->b->plan->config;
	int64_t bytes = json_object_get_int64(t);
	struct json_object *value;
	_cleanup_free_ char *why = NULL;

	if (refusal(c))
		why = xasprintf("balloon refused: %s in '%s'", refusal(c), a->b->plan->profile_path);
	else if (!json_object_is_type(t, json_type_int) || bytes < (int64_t)BALLOON_MIN || (uint64_t)bytes > c->memory)
		why = xasprintf("the balloon's target must be from %uM to the VM's memory, %lluM", BALLOON_MIN >> 20,
				(unsigned long long)(c->memory >> 20));
	if (why) {
		done(a, why);
		return;
	}
	a->target = (uint64_t)bytes;
	value = json_object_new_object();
	json_object_object_add(value, "value", json_object_new_int64(bytes));
	if (qmp_send(*a->b->qmp, "balloon", value, CTL_QMP_TIMEOUT_MS, 0, target_cb, a) < 0)
		done(a, "QEMU's QMP connection is gone");
}

void balloon_request(struct balloon *b, struct control_conn *conn, struct json_object *args)
{
	struct json_object *t, *wait;
	int64_t changes = -1;
	struct ask *a;
	bool stats;

	if (!b->plan->config.balloon) {
		control_fail(conn, "VM '%s' " CTL_ERR_NO_BALLOON " (\"memory\": {\"balloon\": true} in its profile '%s' "
			     "adds one)", b->plan->config.name, b->plan->profile_path);
		return;
	}
	if (json_bool_member(args, CTL_ARG_STATS, &stats) < 0) {
		control_fail(conn, CTL_ARG_STATS ": expected true or false");
		return;
	}
	if (json_object_object_get_ex(args, CTL_ARG_WAIT, &wait) && !json_int_in(wait, 0, INT64_MAX, &changes)) {
		control_fail(conn, CTL_ARG_WAIT ": expected a count of the balloon's changes (an integer)");
		return;
	}
	a = xzalloc(sizeof(*a));
	a->b = b;
	a->conn = conn;
	a->stats = stats;
	control_hold(conn);
	if (json_object_object_get_ex(args, CTL_ARG_TARGET, &t))
		set_target(a, t);
	else if (changes >= 0 && changes == b->changes) {
		struct timeval tv = { CTL_BALLOON_WAIT_MS / 1000, CTL_BALLOON_WAIT_MS % 1000 * 1000 };
		a->timer = evtimer_new(b->base, wait_timer_cb, a);
		evtimer_add(a->timer, &tv);
		TAILQ_INSERT_TAIL(&b->waiters, a, entry);
	} else
		answer(a);
}

struct balloon *balloon_new(struct event_base *base, const struct plan *p, const struct vm_state *vm,
			    struct qmp_client *const *qmp)
{
	struct balloon *b = xzalloc(sizeof(*b));

	b->base = base;
	b->plan = p;
	b->vm = vm;
	b->qmp = qmp;
	TAILQ_INIT(&b->waiters);
	if (p->config.balloon_auto)
		b->autob = balloon_auto_new(base, p, vm, qmp, &b->target);
	return b;
}

/* The statistics' polling interval was set; a QEMU that refused it only has no fresh statistics. */
static void polling_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct balloon *b = arg;

	(void)c;
	if (r->failure == QMP_ERR_COMMAND || r->failure == QMP_ERR_TIMEOUT)
		say(b->vm, "warning: the guest's memory statistics are not polled: %s", r->desc);
}

void balloon_ready(struct balloon *b)
{
	struct json_object *set;

	if (!b->plan->config.balloon || !*b->qmp)
		return;
	set = json_object_new_object();
	json_object_object_add(set, "path", json_object_new_string(BALLOON_PATH));
	json_object_object_add(set, "property", json_object_new_string("guest-stats-polling-interval"));
	json_object_object_add(set, "value", json_object_new_int(BALLOON_STATS_SECONDS));
	qmp_send(*b->qmp, "qom-set", set, CTL_QMP_TIMEOUT_MS, 0, polling_cb, b);
	if (b->autob)
		balloon_auto_start(b->autob);
}

/* Takes every waiter off the list; each is answered (QEMU runs) or failed (it ended). */
static void release_waiters(struct balloon *b, const char *error)
{
	struct ask *a;

	while ((a = TAILQ_FIRST(&b->waiters))) {
		TAILQ_REMOVE(&b->waiters, a, entry);
		event_free(steal_ptr(a->timer));
		if (error)
			done(a, error);
		else
			answer(a);
	}
}

void balloon_event(struct balloon *b, const char *name)
{
	if (strcmp(name, "BALLOON_CHANGE"))
		return;
	b->changes++;
	release_waiters(b, NULL);
}

void balloon_reset(struct balloon *b)
{
	b->target = 0;
	if (b->autob)
		balloon_auto_stop(b->autob);
	release_waiters(b, "QEMU ended");
}

void balloon_free(struct balloon *b)
{
	if (!b)
		return;
	balloon_reset(b);
	balloon_auto_free(b->autob);
	free(b);
}
