/* The migration engine's setup (migrate_setup(), migrate.h): the TLS credentials object, then
 * the parameters and capabilities QEMU offers, chosen and set, one step on the last one's answer. */
#include "vmm/supervisor/migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/base/util.h"
#include "vmm/supervisor/protocol.h"

/* One setup in progress: the steps run one after the other, each on the last one's answer. */
struct setup {
	struct qmp_client *qmp;
	enum migrate_role role;
	struct migrate_settings set;
	char *tls_dir;
	migrate_setup_fn fn;
	void *arg;
	struct json_object *chosen;
	struct json_object *offered; /* the parameters QEMU has (query-migrate-parameters) */
};

/* Ends a setup with chosen, or with the error. */
static void setup_done(struct setup *st, const char *error)
{
	st->fn(error ? NULL : json_object_get(st->chosen), error, st->arg);
	json_object_put(st->chosen);
	json_object_put(st->offered);
	free(st->tls_dir);
	free(st);
}

/* Fails the setup when a command failed; returns true when it did. */
static bool setup_failed(struct setup *st, const struct qmp_result *r, const char *what)
{
	_cleanup_free_ char *why = NULL;

	if (r->failure == QMP_OK)
		return false;
	why = xasprintf("%s: %s", what, r->desc ? r->desc : "no answer");
	setup_done(st, why);
	return true;
}

/* The parameters were set: setup is over. */
static void params_set_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	(void)c;
	if (!setup_failed(arg, r, "migrate-set-parameters"))
		setup_done(arg, NULL);
}

/* Adds parameter name = value when this QEMU has it (offered: query-migrate-parameters). */
static void param(struct json_object *out, struct json_object *offered, const char *name, struct json_object *value)
{
	if (json_object_object_get_ex(offered, name, NULL))
		json_object_object_add(out, name, value);
	else
		json_object_put(value);
}

/* The capabilities were set: choose vmm's values for the parameters QEMU offers, and set them. */
static void caps_set_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct setup *st = arg;
	struct json_object *set, *caps, *offered = st->offered;
	bool multifd = false;

	if (setup_failed(st, r, "migrate-set-capabilities"))
		return;
	set = json_object_new_object();
	json_object_object_get_ex(st->chosen, MIG_KEY_CAPABILITIES, &caps);
	for (size_t i = 0; i < json_object_array_length(caps); i++)
		multifd |= !strcmp(json_object_get_string(json_object_array_get_idx(caps, i)), "multifd");
	if (st->role == MIGRATE_SOURCE) {
		param(set, offered, "max-bandwidth",
		      json_object_new_int64((int64_t)(st->set.bandwidth ? st->set.bandwidth : MIGRATE_UNCAPPED)));
		param(set, offered, "downtime-limit", json_object_new_int(MIGRATE_DOWNTIME_MS));
	}
	if (multifd)
		param(set, offered, "multifd-channels", json_object_new_int(MIGRATE_CHANNELS));
	param(set, offered, "tls-creds", json_object_new_string(st->tls_dir ? MIGRATE_TLS_ID : ""));
	json_object_object_add(st->chosen, MIG_KEY_PARAMETERS, json_object_get(set));
	qmp_send(c, "migrate-set-parameters", set, MIGRATE_QMP_TIMEOUT_MS, 0, params_set_cb, st);
}

/* True when QEMU lists capability name (ret: query-migrate-capabilities' answer). */
static bool offered(struct json_object *ret, const char *name)
{
	struct json_object *cap;

	for (size_t i = 0; i < json_object_array_length(ret); i++)
		if (json_object_object_get_ex(json_object_array_get_idx(ret, i), "capability", &cap) &&
		    !strcmp(json_object_get_string(cap), name))
			return true;
	return false;
}

/* The capabilities QEMU has: turn on vmm's choice of those it offers, and off the others vmm chooses among. */
static void caps_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct setup *st = arg;
	struct json_object *list, *on, *args;
	struct {
		const char *name;
		bool want;
	} choice[] = {
		{ "events", true },
		/* Multifd where it is safe (migrate_multifd_safe()): the pages with data go over
		 * several channels; zero pages are found first, in the migration thread or (QEMU 9.0
		 * and later, new machine types) in the channels, and never sent whole. Post-copy and
		 * multifd do not go together in every QEMU: post-copy wins. */
		{ "multifd", st->set.multifd && !st->set.postcopy },
		{ "auto-converge", st->role == MIGRATE_SOURCE },
		{ "postcopy-ram", st->set.postcopy },
		{ "pause-before-switchover", st->role == MIGRATE_SOURCE && st->set.pause_before_switchover },
	};

	if (setup_failed(st, r, "query-migrate-capabilities"))
		return;
	if (st->set.postcopy && !offered(r->ret, "postcopy-ram")) {
		setup_done(st, "this QEMU cannot migrate in post-copy (no postcopy-ram capability)");
		return;
	}
	if (st->set.pause_before_switchover && !offered(r->ret, "pause-before-switchover")) {
		setup_done(st, "this QEMU cannot pause before the switch-over (no pause-before-switchover capability)");
		return;
	}
	list = json_object_new_array();
	on = json_object_new_array();
	for (size_t i = 0; i < sizeof(choice) / sizeof(choice[0]); i++) {
		struct json_object *cap;
		if (!offered(r->ret, choice[i].name))
			continue;
		cap = json_object_new_object();
		json_object_object_add(cap, "capability", json_object_new_string(choice[i].name));
		json_object_object_add(cap, "state", json_object_new_boolean(choice[i].want));
		json_object_array_add(list, cap);
		if (choice[i].want)
			json_object_array_add(on, json_object_new_string(choice[i].name));
	}
	json_object_object_add(st->chosen, MIG_KEY_CAPABILITIES, on);
	args = json_object_new_object();
	json_object_object_add(args, "capabilities", list);
	qmp_send(c, "migrate-set-capabilities", args, MIGRATE_QMP_TIMEOUT_MS, 0, caps_set_cb, st);
}

/* The parameters QEMU has, kept for choosing: on to the capabilities. */
static void params_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct setup *st = arg;

	if (setup_failed(st, r, "query-migrate-parameters"))
		return;
	st->offered = json_object_get(r->ret);
	qmp_send(c, "query-migrate-capabilities", NULL, MIGRATE_QMP_TIMEOUT_MS, 0, caps_cb, st);
}

/* The TLS credentials object is there: on to the parameters. */
static void tls_added_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	if (!setup_failed(arg, r, "adding the TLS credentials (tls-creds-x509)"))
		qmp_send(c, "query-migrate-parameters", NULL, MIGRATE_QMP_TIMEOUT_MS, 0, params_cb, arg);
}

/* An earlier attempt's credentials are gone (or there were none): add this one's. */
static void tls_deleted_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct setup *st = arg;
	struct json_object *obj = json_object_new_object();

	if (r->failure != QMP_OK && r->failure != QMP_ERR_COMMAND) {
		json_object_put(obj);
		setup_failed(st, r, "object-del");
		return;
	}
	json_object_object_add(obj, "qom-type", json_object_new_string("tls-creds-x509"));
	json_object_object_add(obj, "id", json_object_new_string(MIGRATE_TLS_ID));
	json_object_object_add(obj, "dir", json_object_new_string(st->tls_dir));
	json_object_object_add(obj, "endpoint",
			       json_object_new_string(st->role == MIGRATE_SOURCE ? "client" : "server"));
	json_object_object_add(obj, "verify-peer", json_object_new_boolean(true));
	qmp_send(c, "object-add", obj, MIGRATE_QMP_TIMEOUT_MS, 0, tls_added_cb, st);
}

void migrate_setup(struct qmp_client *qmp, enum migrate_role role, const struct migrate_settings *set,
		   migrate_setup_fn fn, void *arg)
{
	struct setup *st = xzalloc(sizeof(*st));
	struct json_object *del;

	*st = (struct setup){ .qmp = qmp, .role = role, .set = *set, .fn = fn, .arg = arg,
			      .chosen = json_object_new_object() };
	st->tls_dir = set->tls_dir ? xstrdup(set->tls_dir) : NULL;
	st->set.tls_dir = NULL;
	if (!st->tls_dir) {
		qmp_send(qmp, "query-migrate-parameters", NULL, MIGRATE_QMP_TIMEOUT_MS, 0, params_cb, st);
		return;
	}
	del = json_object_new_object();
	json_object_object_add(del, "id", json_object_new_string(MIGRATE_TLS_ID));
	qmp_send(qmp, "object-del", del, MIGRATE_QMP_TIMEOUT_MS, 0, tls_deleted_cb, st);
}

bool migrate_multifd_safe(const char *machine_type)
{
	const char *dash = machine_type ? strrchr(machine_type, '-') : NULL;
	unsigned major = 0;

	for (const char *d = dash ? dash + 1 : ""; *d >= '0' && *d <= '9' && major < 1000; d++)
		major = major * 10 + (unsigned)(*d - '0');
	return major >= MIGRATE_MULTIFD_SINCE;
}
