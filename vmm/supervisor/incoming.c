#include "vmm/supervisor/incoming.h"

#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profiles/topology.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/sup-control.h"
#include "vmm/supervisor/sup-grants.h"
#include "vmm/supervisor/sup.h"

void incoming_argv(const struct sup *s, struct strv *argv)
{
	for (size_t i = 0; i < s->plan->argv.n; i++)
		strv_push(argv, s->plan->argv.v[i]);
	if (s->opt.incoming) {
		strv_push(argv, "-incoming");
		strv_push(argv, "defer");
	}
	/* Copied disks are served over NBD until the guest runs: it runs once they no longer are
	 * (a pinned VM's argv has -S already). */
	if (s->opt.incoming && s->opt.incoming_storage && !config_pins(&s->plan->config))
		strv_push(argv, "-S");
}

/* The start failed on the way: every line of why, and QEMU killed (its end tells the rest). */
static void fail(struct sup *s, const char *what, const char *why)
{
	verr_set(&s->start_error, 0, "incoming migration on %s: %s: %s", s->opt.incoming, what, why ? why : "no answer");
	if (!s->reaped)
		kill(s->vm.pid, SIGKILL);
}

/* The path of the unix: socket QEMU listens on for the migration (i 0) or for the copied
 * disks (i 1, PATH.nbd), NULL when there is none. */
static char *socket_path(const struct sup *s, int i)
{
	if (strncmp(s->opt.incoming, "unix:", 5) || (i == 1 && !s->opt.incoming_storage))
		return NULL;
	return i == 0 ? xstrdup(s->opt.incoming + 5) : xasprintf("%s.nbd", s->opt.incoming + 5);
}

/* Notes which files the sockets QEMU made are, for incoming_remove_sockets. */
static void note_sockets(struct sup *s)
{
	struct stat st;

	for (int i = 0; i < 2; i++) {
		_cleanup_free_ char *path = socket_path(s, i);
		if (path && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
			s->incoming_socks[i].dev = st.st_dev;
			s->incoming_socks[i].ino = st.st_ino;
		}
	}
}

void incoming_remove_sockets(struct sup *s)
{
	struct stat st;

	for (int i = 0; s->opt.incoming && i < 2; i++) {
		_cleanup_free_ char *path = socket_path(s, i);
		if (path && s->incoming_socks[i].ino && lstat(path, &st) == 0 && st.st_dev == s->incoming_socks[i].dev &&
		    st.st_ino == s->incoming_socks[i].ino)
			unlink(path);
		s->incoming_socks[i].ino = 0;
	}
}

/* migrate-incoming was taken: QEMU listens. */
static void incoming_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct sup *s = arg;

	(void)c;
	if (r->failure != QMP_OK) {
		fail(s, "migrate-incoming", r->desc);
		return;
	}
	note_sockets(s);
	say(&s->vm, "waiting for an incoming migration on %s", s->opt.incoming);
	s->incoming_then(s);
}

/* Listens for the migration. */
static void listen_now(struct sup *s)
{
	struct json_object *args;

	if (!s->qmp) {
		fail(s, "migrate-incoming", "QEMU's QMP connection is gone");
		return;
	}
	args = json_object_new_object();
	json_object_object_add(args, "uri", json_object_new_string(s->opt.incoming));
	qmp_send(s->qmp, "migrate-incoming", args, CTL_QMP_TIMEOUT_MS, 0, incoming_cb, s);
}

/* One disk is exported (the last one: listen), or could not be. */
static void exported_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct sup *s = arg;

	(void)c;
	if (s->incoming_exports < 0)
		return; /* failed already */
	if (r->failure != QMP_OK) {
		s->incoming_exports = -1;
		fail(s, "exporting a disk over NBD (block-export-add)", r->desc);
	} else if (--s->incoming_exports == 0)
		listen_now(s);
}

/* The NBD server runs: export every writable disk, writable, under its id. */
static void nbd_started_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct sup *s = arg;
	const struct vm_config *cfg = &s->plan->config;

	if (r->failure != QMP_OK) {
		fail(s, "starting the NBD server for the disks (nbd-server-start)", r->desc);
		return;
	}
	s->incoming_exports = 1; /* held until every export is sent */
	for (size_t i = 0; i < cfg->n_disks; i++) {
		struct json_object *args = json_object_new_object();
		_cleanup_free_ char *id = xasprintf("vmm-mig-%s", cfg->disks[i].id);
		_cleanup_free_ char *node = xasprintf("%s-fmt", cfg->disks[i].id);
		if (cfg->disks[i].readonly) {
			json_object_put(args);
			continue;
		}
		json_object_object_add(args, "type", json_object_new_string("nbd"));
		json_object_object_add(args, "id", json_object_new_string(id));
		json_object_object_add(args, "node-name", json_object_new_string(node));
		json_object_object_add(args, "name", json_object_new_string(cfg->disks[i].id));
		json_object_object_add(args, "writable", json_object_new_boolean(true));
		s->incoming_exports++;
		qmp_send(c, "block-export-add", args, CTL_QMP_TIMEOUT_MS, 0, exported_cb, s);
	}
	exported_cb(c, r, s);
}

/* The settings are applied: serve the disks when the source copies them, then listen. */
static void setup_cb(struct json_object *chosen, const char *error, void *arg)
{
	struct sup *s = arg;
	struct json_object *args;

	if (error) {
		fail(s, "setting up", error);
		return;
	}
	say(&s->vm, "incoming migration settings: %s", json_object_to_json_string_ext(chosen, JSON_C_TO_STRING_PLAIN));
	json_object_put(chosen);
	if (!s->opt.incoming_storage || !s->qmp) {
		listen_now(s);
		return;
	}
	args = json_object_new_object();
	json_object_object_add(args, "addr", migrate_nbd_address(s->opt.incoming));
	qmp_send(s->qmp, "nbd-server-start", args, CTL_QMP_TIMEOUT_MS, 0, nbd_started_cb, s);
}

void incoming_start(struct sup *s, void (*then)(struct sup *s))
{
	struct migrate_settings set = s->opt.incoming_settings;

	set.multifd = migrate_multifd_safe(identity_machine_type(&s->plan->identity));
	s->incoming_then = then;
	s->incoming = true;
	{
		_cleanup_verr_ struct verr err = { 0 };

		if ((set.tls_dir && qemu_user_grant_tls(s->plan, &s->rd, set.tls_dir, &err) < 0) ||
		    qemu_user_grant_uri(s->plan, &s->rd, s->opt.incoming, true, &err) < 0) {
			fail(s, "letting QEMU's user reach the TLS credentials and the socket", err.lines[0]);
			return;
		}
	}
	set.postcopy |= s->plan->config.postcopy == POSTCOPY_AUTO;
	migrate_setup(s->qmp, MIGRATE_DESTINATION, &set, setup_cb, s);
}

/* The failed incoming migration's QEMU quit (or had exited on it already, as it does). */
static void quit_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	(void)c;
	if (r->failure == QMP_ERR_TIMEOUT)
		kill(((struct sup *)arg)->vm.pid, SIGKILL);
}

/* The guest runs (cont), or QEMU refused: it stays paused, which its state shows. */
static void cont_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	(void)c;
	if (r->failure == QMP_ERR_COMMAND || r->failure == QMP_ERR_TIMEOUT)
		say(&((struct sup *)arg)->vm, "the guest stays paused: cont failed: %s", r->desc);
}

/* The NBD server of the copied disks stopped once the migration completed: the guest may run. */
static void nbd_stopped_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct sup *s = arg;

	if (r->failure == QMP_ERR_COMMAND || r->failure == QMP_ERR_TIMEOUT) {
		say(&s->vm, "the guest stays paused: the NBD server of its disks did not stop: %s", r->desc);
		return;
	}
	if (r->failure == QMP_OK)
		qmp_send(c, "cont", NULL, CTL_QMP_TIMEOUT_MS, 0, cont_cb, s);
}

void incoming_event(struct sup *s, const char *name, struct json_object *msg)
{
	struct json_object *data, *status;
	const char *st;

	if (!s->incoming || strcmp(name, "MIGRATION") || !json_object_object_get_ex(msg, "data", &data) ||
	    !json_object_object_get_ex(data, "status", &status))
		return;
	st = json_object_get_string(status);
	if (!strcmp(st, "completed")) {
		bool storage = s->opt.incoming_storage;

		s->incoming = false;
		say(&s->vm, "incoming migration completed: the VM runs here");
		/* From now on it is a VM like any other: a restart boots it and an upgrade's new
		 * QEMU takes it over, neither waiting for a migration; the stream's socket goes. */
		incoming_remove_sockets(s);
		sup_give_back_for(s, GRANT_FOR_MIGRATION);
		s->opt.incoming = NULL;
		s->opt.incoming_storage = false;
		if (storage && s->qmp)
			qmp_send(s->qmp, "nbd-server-stop", NULL, CTL_QMP_TIMEOUT_MS, 0, nbd_stopped_cb, s);
		else if (config_pins(&s->plan->config) && s->qmp) /* started with -S, its threads pinned */
			qmp_send(s->qmp, "cont", NULL, CTL_QMP_TIMEOUT_MS, 0, cont_cb, s);
	} else if (!strcmp(st, "failed") || !strcmp(st, "cancelled")) {
		s->vm.stopping = true;
		say(&s->vm, "incoming migration %s: QEMU ends", st);
		if (s->qmp)
			qmp_send(s->qmp, "quit", NULL, CTL_QMP_TIMEOUT_MS, 0, quit_cb, s);
	}
}
