#include "vmm/supervisor/migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/base/util.h"
#include "vmm/supervisor/protocol.h"

/* A failed migration ends once QEMU cleaned up (its yank instance gone): looked at every
 * STEP ms, yanked after YANK ms, given up after SETTLE ms. */
#define MIGRATE_SETTLE_STEP_MS 100
#define MIGRATE_SETTLE_YANK_MS 1000
#define MIGRATE_SETTLE_MS 3000
/* What a QEMU that did not clean up a failed migration (a QEMU 7.2 multifd channel stuck
 * after its peer died) means for the user. */
#define MIGRATE_STUCK "this QEMU has not finished cleaning up a failed migration (a migration channel is stuck): " \
		      "it cannot migrate again until it restarts (the guest runs on)"
/* The name of the fd passed to QEMU for a migration into a descriptor. */
#define MIGRATE_FD_NAME "vmm-migrate"

/* An int64 member of o, 0 when absent. */
static int64_t member(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

/* Copies int64 member key of from into to as name, when from has it. */
static void copy_int(struct json_object *to, const char *name, struct json_object *from, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(from, key, &v))
		json_object_object_add(to, name, json_object_new_int64(json_object_get_int64(v)));
}

struct json_object *migrate_reading(struct json_object *ret, int64_t pass, struct json_object *settings)
{
	struct json_object *o = json_object_new_object(), *ram = NULL, *v;
	int64_t page = 4096;

	json_object_object_add(o, MIG_KEY_STATUS,
			       json_object_new_string(json_object_object_get_ex(ret, "status", &v) ?
							      json_object_get_string(v) : "none"));
	if (json_object_object_get_ex(ret, "ram", &ram)) {
		if (member(ram, "dirty-sync-count") > pass)
			pass = member(ram, "dirty-sync-count");
		if (member(ram, "page-size"))
			page = member(ram, "page-size");
		copy_int(o, MIG_KEY_TRANSFERRED, ram, "transferred");
		copy_int(o, MIG_KEY_TOTAL, ram, "total");
		copy_int(o, MIG_KEY_REMAINING, ram, "remaining");
		if (json_object_object_get_ex(ram, "mbps", &v))
			json_object_object_add(o, MIG_KEY_RATE,
					       json_object_new_int64((int64_t)(json_object_get_double(v) * 1e6 / 8)));
		json_object_object_add(o, MIG_KEY_DIRTY_RATE,
				       json_object_new_int64(member(ram, "dirty-pages-rate") * page));
	}
	json_object_object_add(o, MIG_KEY_PASS, json_object_new_int64(pass));
	copy_int(o, MIG_KEY_EXPECTED_DOWNTIME, ret, "expected-downtime");
	copy_int(o, MIG_KEY_TOTAL_TIME, ret, "total-time");
	copy_int(o, MIG_KEY_SETUP_TIME, ret, "setup-time");
	copy_int(o, MIG_KEY_DOWNTIME, ret, "downtime");
	if (json_object_object_get_ex(ret, "error-desc", &v))
		json_object_object_add(o, MIG_KEY_ERROR, json_object_get(v));
	if (settings)
		json_object_object_add(o, MIG_KEY_SETTINGS, json_object_get(settings));
	return o;
}

/* Where a migration is. */
enum phase { PHASE_SETUP, PHASE_RUNNING, PHASE_ENDING, PHASE_DONE };

struct migration {
	struct event_base *base;
	struct qmp_client *const *qmp;
	struct migrate_settings set;
	char *uri, *dest, *tls_dir;
	int fd;                     /* to pass with getfd, -1: none */
	struct migrate_hooks hooks;
	void *arg;
	enum phase phase;
	struct event *poll_timer;
	struct json_object *settings; /* what setup chose */
	struct json_object *last;     /* the last reading */
	int64_t passes;               /* MIGRATION_PASS events seen */
	bool postcopy_started, cancelled, querying, yanked, switching;
	char *why;                    /* while ending: why it failed */
	unsigned settle_tries;        /* query-yank readings while ending */
	unsigned pending;             /* commands (and a setup) whose callbacks are still to come */
	bool freed;                   /* migration_free() was called: freed when pending drops to 0 */
};

/* Frees what the migration holds. */
static void destroy(struct migration *m)
{
	if (m->poll_timer)
		event_free(m->poll_timer);
	json_object_put(m->settings);
	json_object_put(m->last);
	free(m->uri);
	free(m->dest);
	free(m->tls_dir);
	free(m->why);
	free(m);
}

/* A callback of m came: true when m was freed meanwhile (the callback must then return at once). */
static bool released(struct migration *m)
{
	m->pending--;
	if (!m->freed)
		return false;
	if (!m->pending)
		destroy(m);
	return true;
}

/* Sends a command of the migration (args consumed); its callback starts with released(). */
static void send_cmd(struct migration *m, const char *command, struct json_object *args, qmp_reply_fn fn)
{
	m->pending++;
	qmp_send(*m->qmp, command, args, MIGRATE_QMP_TIMEOUT_MS, 0, fn, m);
}

/* Arms the timer of the next reading. */
static void arm_poll(struct migration *m)
{
	struct timeval tv = { 0, MIGRATE_POLL_MS * 1000 };

	evtimer_add(m->poll_timer, &tv);
}

/* Reports the end once: the reading, and the error saying where it failed (NULL: completed). */
static void finish(struct migration *m, const char *error)
{
	if (m->phase == PHASE_DONE)
		return;
	m->phase = PHASE_DONE;
	evtimer_del(m->poll_timer);
	m->hooks.done(m->last, error, m->arg);
}

/* Ends the migration with a failure of step what (a QMP command's result r). */
static void fail_step(struct migration *m, const char *what, const char *desc)
{
	_cleanup_free_ char *why = xasprintf("migration to %s failed before it started: %s: %s%s%s", m->dest, what,
					     desc ? desc : "no answer", desc && strstr(desc, "duplicate yank") ? "; " : "",
					     desc && strstr(desc, "duplicate yank") ? MIGRATE_STUCK : "");
	finish(m, why);
}

/* The error of a migration that ended without completing: where it was, and QEMU's reason. */
static char *failure_text(struct migration *m, const char *status)
{
	struct json_object *err = NULL;
	int64_t sent = member(m->last, MIG_KEY_TRANSFERRED) >> 20, total = member(m->last, MIG_KEY_TOTAL) >> 20;

	if (m->cancelled && !strcmp(status, "cancelled"))
		return xasprintf("migration to %s cancelled in pass %lld after %lld of %lld MiB: the VM runs on here",
				 m->dest, (long long)member(m->last, MIG_KEY_PASS), (long long)sent, (long long)total);
	json_object_object_get_ex(m->last, MIG_KEY_ERROR, &err);
	return xasprintf("migration to %s %s in pass %lld after %lld of %lld MiB%s%s%s", m->dest,
			 !strcmp(status, "cancelled") ? "was cancelled" : "failed", (long long)member(m->last, MIG_KEY_PASS),
			 (long long)sent, (long long)total, err ? ": " : "", err ? json_object_get_string(err) : "",
			 strncmp(status, "postcopy", 8) ? ": the VM runs on here" : "");
}

/* True when QEMU's status means the migration has ended. */
static bool ended_status(const char *status)
{
	return !strcmp(status, "completed") || !strcmp(status, "failed") || !strcmp(status, "cancelled");
}

/* A command whose answer changes nothing (migrate-start-postcopy: a refusal leaves it in
 * pre-copy, the readings tell; yank: the yank instances tell). */
static void ignore_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	(void)c;
	(void)r;
	released(arg);
}

static void settle(struct migration *m);

/* Switches to post-copy once the passes asked for are over without convergence. */
static void maybe_postcopy(struct migration *m, int64_t pass)
{
	if (!m->set.postcopy || m->postcopy_started || pass <= (int64_t)m->set.postcopy_passes || !*m->qmp)
		return;
	m->postcopy_started = true;
	send_cmd(m, "migrate-start-postcopy", NULL, ignore_cb);
}

/* A reading came back: kept, reported, and the end noticed. */
static void query_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct migration *m = arg;
	struct json_object *reading;
	const char *status;

	(void)c;
	if (released(m))
		return;
	m->querying = false;
	if (m->phase == PHASE_DONE)
		return;
	if (r->failure != QMP_OK) {
		if (r->failure == QMP_ERR_CLOSED)
			migration_lost(m);
		else if (m->phase == PHASE_RUNNING)
			arm_poll(m);
		return;
	}
	reading = migrate_reading(r->ret, m->passes, m->settings);
	/* A migration that failed or was cancelled reads without its RAM figures: the last ones stand. */
	if (!json_object_object_get_ex(reading, MIG_KEY_TRANSFERRED, NULL)) {
		static const char *const keep[] = { MIG_KEY_PASS, MIG_KEY_TRANSFERRED, MIG_KEY_TOTAL, MIG_KEY_REMAINING };
		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
			struct json_object *v;
			if (json_object_object_get_ex(m->last, keep[i], &v))
				json_object_object_add(reading, keep[i], json_object_get(v));
		}
	}
	json_object_put(m->last);
	m->last = reading;
	json_object_object_add(m->last, MIG_KEY_DEST, json_object_new_string(m->dest));
	if (m->postcopy_started)
		json_object_object_add(m->last, MIG_KEY_POSTCOPY, json_object_new_boolean(true));
	status = json_object_get_string(json_object_object_get(m->last, MIG_KEY_STATUS));
	/* QEMU says "completed" a moment before it has reckoned the times: read again then. */
	if (!strcmp(status, "completed") && !member(m->last, MIG_KEY_TOTAL_TIME) && m->settle_tries++ < 50) {
		struct timeval again = { 0, 20 * 1000 };
		evtimer_add(m->poll_timer, &again);
		return;
	}
	if (!strcmp(status, "completed")) {
		finish(m, NULL);
		return;
	}
	if (ended_status(status)) {
		m->why = failure_text(m, status);
		m->phase = PHASE_ENDING;
		settle(m);
		return;
	}
	if (m->hooks.progress)
		m->hooks.progress(m->last, m->arg);
	if (!strcmp(status, "active"))
		maybe_postcopy(m, member(m->last, MIG_KEY_PASS));
	if (!strcmp(status, "pre-switchover") && !m->switching && !m->cancelled && m->hooks.switchover) {
		m->switching = true;
		m->hooks.switchover(m->arg);
	}
	arm_poll(m);
}

/* QEMU's yank instances while a failed migration ends: its "migration" instance goes once
 * QEMU has cleaned up (only then can it migrate again); one still there after
 * MIGRATE_SETTLE_YANK_MS is yanked (its stuck channels shut down). Then it ends. */
static void yank_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct timeval step = { 0, MIGRATE_SETTLE_STEP_MS * 1000 };
	struct migration *m = arg;
	struct json_object *type;
	bool busy = false;

	(void)c;
	if (released(m) || m->phase != PHASE_ENDING)
		return;
	for (size_t i = 0; r->failure == QMP_OK && i < json_object_array_length(r->ret); i++)
		busy |= json_object_object_get_ex(json_object_array_get_idx(r->ret, i), "type", &type) &&
			!strcmp(json_object_get_string(type), "migration");
	if (!busy || ++m->settle_tries * MIGRATE_SETTLE_STEP_MS >= MIGRATE_SETTLE_MS || !*m->qmp) {
		_cleanup_free_ char *why = busy ? xasprintf("%s; " MIGRATE_STUCK, m->why) : steal_ptr(m->why);
		finish(m, why);
		return;
	}
	if (!m->yanked && m->settle_tries * MIGRATE_SETTLE_STEP_MS >= MIGRATE_SETTLE_YANK_MS) {
		struct json_object *args = json_object_new_object(), *list = json_object_new_array(), *inst;
		inst = json_object_new_object();
		json_object_object_add(inst, "type", json_object_new_string("migration"));
		json_object_array_add(list, inst);
		json_object_object_add(args, "instances", list);
		m->yanked = true;
		send_cmd(m, "yank", args, ignore_cb);
	}
	evtimer_add(m->poll_timer, &step);
}

/* Looks at QEMU's yank instances (yank_cb). */
static void settle(struct migration *m)
{
	if (!*m->qmp) {
		_cleanup_free_ char *why = steal_ptr(m->why);
		finish(m, why);
		return;
	}
	send_cmd(m, "query-yank", NULL, yank_cb);
}

/* Reads query-migrate now (unless a reading is on its way). */
static void query(struct migration *m)
{
	if (m->querying || m->phase == PHASE_DONE)
		return;
	if (!*m->qmp) {
		migration_lost(m);
		return;
	}
	m->querying = true;
	send_cmd(m, "query-migrate", NULL, query_cb);
}

/* Time for the next reading (or, while ending, the next look at the yank instances). */
static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct migration *m = arg;

	(void)fd;
	(void)what;
	if (m->phase == PHASE_ENDING)
		settle(m);
	else
		query(m);
}

/* QEMU took the migrate command: it runs; the readings follow it. */
static void migrate_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct migration *m = arg;

	(void)c;
	if (released(m) || m->phase == PHASE_DONE)
		return;
	if (r->failure != QMP_OK) {
		fail_step(m, "migrate", r->desc);
		return;
	}
	m->phase = PHASE_RUNNING;
	query(m);
}

/* Sends the migrate command. */
static void send_migrate(struct migration *m)
{
	struct json_object *args = json_object_new_object();
	_cleanup_free_ char *uri = m->fd >= 0 ? xasprintf("fd:%s", MIGRATE_FD_NAME) : xstrdup(m->uri);

	json_object_object_add(args, "uri", json_object_new_string(uri));
	send_cmd(m, "migrate", args, migrate_cb);
}

/* QEMU has the descriptor: migrate into it. */
static void getfd_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct migration *m = arg;

	(void)c;
	if (released(m) || m->phase == PHASE_DONE)
		return;
	if (r->failure != QMP_OK)
		fail_step(m, "getfd", r->desc);
	else
		send_migrate(m);
}

/* Setup is over on the source: pass the descriptor, or migrate at once. */
static void setup_cb(struct json_object *chosen, const char *error, void *arg)
{
	struct migration *m = arg;
	struct json_object *cmd, *args;

	if (released(m) || m->phase == PHASE_DONE) {
		json_object_put(chosen);
		return;
	}
	if (m->cancelled) {
		json_object_put(chosen);
		finish(m, "migration cancelled before it started: the VM runs on here");
		return;
	}
	if (error) {
		fail_step(m, "setting up", error);
		return;
	}
	m->settings = chosen;
	json_object_put(m->last);
	m->last = migrate_reading(NULL, 0, m->settings);
	json_object_object_add(m->last, MIG_KEY_DEST, json_object_new_string(m->dest));
	if (!*m->qmp) {
		migration_lost(m);
		return;
	}
	if (m->fd < 0) {
		send_migrate(m);
		return;
	}
	cmd = json_object_new_object();
	args = json_object_new_object();
	json_object_object_add(args, "fdname", json_object_new_string(MIGRATE_FD_NAME));
	json_object_object_add(cmd, "execute", json_object_new_string("getfd"));
	json_object_object_add(cmd, "arguments", args);
	m->pending++;
	if (qmp_send_fds(*m->qmp, cmd, &m->fd, 1, MIGRATE_QMP_TIMEOUT_MS, getfd_cb, m) < 0) {
		m->pending--;
		fail_step(m, "getfd", "QEMU's QMP connection is busy or gone");
	}
}

struct migration *migration_start(struct event_base *base, struct qmp_client *const *qmp, const char *uri, int fd,
				  const char *dest, const struct migrate_settings *set,
				  const struct migrate_hooks *hooks, void *arg)
{
	struct migration *m = xzalloc(sizeof(*m));

	*m = (struct migration){ .base = base, .qmp = qmp, .set = *set, .fd = fd, .hooks = *hooks, .arg = arg };
	m->uri = uri ? xstrdup(uri) : NULL;
	m->dest = xstrdup(dest);
	m->tls_dir = set->tls_dir ? xstrdup(set->tls_dir) : NULL;
	m->set.tls_dir = m->tls_dir;
	m->poll_timer = evtimer_new(base, poll_cb, m);
	m->last = migrate_reading(NULL, 0, NULL);
	json_object_object_add(m->last, MIG_KEY_STATUS, json_object_new_string("setup"));
	json_object_object_add(m->last, MIG_KEY_DEST, json_object_new_string(m->dest));
	m->pending++;
	migrate_setup(*qmp, MIGRATE_SOURCE, &m->set, setup_cb, m);
	return m;
}

struct migration *migration_follow(struct event_base *base, struct qmp_client *const *qmp, const char *dest,
				   const struct migrate_hooks *hooks, void *arg)
{
	struct migration *m = xzalloc(sizeof(*m));

	*m = (struct migration){ .base = base, .qmp = qmp, .fd = -1, .hooks = *hooks, .arg = arg,
				 .phase = PHASE_RUNNING };
	m->dest = xstrdup(dest);
	m->poll_timer = evtimer_new(base, poll_cb, m);
	m->last = migrate_reading(NULL, 0, NULL);
	json_object_object_add(m->last, MIG_KEY_DEST, json_object_new_string(m->dest));
	query(m);
	return m;
}

void migration_event(struct migration *m, const char *name, struct json_object *msg)
{
	struct json_object *data, *status;

	if (!m || m->phase != PHASE_RUNNING)
		return;
	if (!strcmp(name, "MIGRATION_PASS")) {
		if (json_object_object_get_ex(msg, "data", &data) &&
		    json_object_object_get_ex(data, "pass", &status))
			m->passes = json_object_get_int64(status);
		maybe_postcopy(m, m->passes);
		return;
	}
	if (strcmp(name, "MIGRATION") || !json_object_object_get_ex(msg, "data", &data) ||
	    !json_object_object_get_ex(data, "status", &status))
		return;
	/* A change of status is read at once: the end's figures come from query-migrate. */
	if (ended_status(json_object_get_string(status)) || !strcmp(json_object_get_string(status), "postcopy-active") ||
	    !strcmp(json_object_get_string(status), "pre-switchover")) {
		evtimer_del(m->poll_timer);
		query(m);
	}
}

/* migrate_cancel or migrate-continue was taken (or refused: the readings tell how it goes on). */
static void cancel_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	(void)c;
	(void)r;
	if (!released(arg) && ((struct migration *)arg)->phase != PHASE_DONE)
		query(arg);
}

bool migration_cancel(struct migration *m)
{
	if (!m || m->phase == PHASE_DONE)
		return false;
	m->cancelled = true;
	/* During setup the cancel is seen when setup ends; else QEMU cancels. */
	if (m->phase == PHASE_RUNNING && *m->qmp)
		send_cmd(m, "migrate_cancel", NULL, cancel_cb);
	return true;
}

void migration_continue(struct migration *m)
{
	struct json_object *args;

	if (!m || m->phase != PHASE_RUNNING || !*m->qmp)
		return;
	args = json_object_new_object();
	json_object_object_add(args, "state", json_object_new_string("pre-switchover"));
	send_cmd(m, "migrate-continue", args, cancel_cb);
}

struct json_object *migrate_nbd_address(const char *uri)
{
	struct json_object *a = json_object_new_object(), *data = json_object_new_object();
	const char *colon = strrchr(uri, ':');

	if (!strncmp(uri, "unix:", 5)) {
		_cleanup_free_ char *path = xasprintf("%s.nbd", uri + 5);
		json_object_object_add(data, "path", json_object_new_string(path));
		json_object_object_add(a, "type", json_object_new_string("unix"));
	} else if (!strncmp(uri, "tcp:", 4) && colon > uri + 4 && atoi(colon + 1) > 0) {
		_cleanup_free_ char *port = xasprintf("%d", atoi(colon + 1) + 1);
		json_object_object_add(data, "host", json_object_new_string_len(uri + 4, (int)(colon - uri - 4)));
		json_object_object_add(data, "port", json_object_new_string(port));
		json_object_object_add(a, "type", json_object_new_string("inet"));
	} else {
		json_object_put(a);
		json_object_put(data);
		return NULL;
	}
	json_object_object_add(a, "data", data);
	return a;
}

struct json_object *migration_progress(const struct migration *m)
{
	return json_object_get(m->last);
}

void migration_lost(struct migration *m)
{
	_cleanup_free_ char *why = NULL;

	if (!m || m->phase == PHASE_DONE)
		return;
	why = xasprintf("migration to %s: the connection to the source QEMU was lost (status %s)", m->dest,
			json_object_get_string(json_object_object_get(m->last, MIG_KEY_STATUS)));
	finish(m, why);
}

void migration_free(struct migration *m)
{
	if (!m)
		return;
	evtimer_del(m->poll_timer);
	m->phase = PHASE_DONE;
	m->freed = true;
	if (!m->pending)
		destroy(m);
}
