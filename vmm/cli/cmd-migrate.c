/* vmm migrate NAME DEST [--json] [--bandwidth RATE] [--postcopy] [--tls DIR] and vmm migrate
 * NAME --cancel: moves a running VM to another QEMU, which `vmm start --incoming` started (or,
 * for ssh://, vmm starts over ssh: migrate-ssh.h). The supervisor runs the migration
 * (vmm/supervisor/sup-migrate.h, migrate.h); this verb prints what it chose, then a live line
 * of progress on stderr (with --json a reading per line on stdout), then the totals. Ctrl-C
 * (or --cancel from elsewhere) cancels: the VM runs on here. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm/base/util.h"
#include "vmm/cli/cmd.h"
#include "vmm/cli/migrate-ssh.h"
#include "vmm/cli/migrate-uri.h"
#include "vmm/cli/vmref.h"
#include "vmm/supervisor/migrate.h"
#include "vmm/supervisor/protocol.h"

/* Set by SIGINT and SIGTERM: cancel the migration. */
static volatile sig_atomic_t interrupted;

/* SIGINT, SIGTERM: ask for the cancel (the main loop sends it). */
static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* A member of o as an integer (0 when absent). */
static int64_t num(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

/* What vmm chose for the migration, in a line. */
static void print_settings(const char *name, const char *dest, struct json_object *settings)
{
	struct json_object *caps = NULL, *params = NULL, *v;
	struct strv parts = { 0 };

	json_object_object_get_ex(settings, MIG_KEY_CAPABILITIES, &caps);
	json_object_object_get_ex(settings, MIG_KEY_PARAMETERS, &params);
	for (size_t i = 0; i < json_object_array_length(caps); i++) {
		const char *cap = json_object_get_string(json_object_array_get_idx(caps, i));
		if (!strcmp(cap, "multifd"))
			strv_pushf(&parts, "multifd (%" PRId64 " channels)", num(params, "multifd-channels"));
		else if (strcmp(cap, "events"))
			strv_push(&parts, cap);
	}
	if (json_object_object_get_ex(params, "downtime-limit", &v))
		strv_pushf(&parts, "downtime limit %" PRId64 " ms", json_object_get_int64(v));
	if (num(params, "max-bandwidth") >= (int64_t)MIGRATE_UNCAPPED)
		strv_push(&parts, "no bandwidth cap");
	else if (json_object_object_get_ex(params, "max-bandwidth", &v))
		strv_pushf(&parts, "bandwidth %" PRId64 " MiB/s", json_object_get_int64(v) >> 20);
	if (json_object_object_get_ex(params, "tls-creds", &v) && *json_object_get_string(v))
		strv_push(&parts, "TLS");
	fprintf(stderr, "vmm: migrating %s to %s:", name, dest);
	for (size_t i = 0; i < parts.n; i++)
		fprintf(stderr, "%s %s", i ? "," : "", parts.v[i]);
	fprintf(stderr, "\n");
	strv_free(&parts);
}

/* One reading as a line: pass, bytes, rate, dirty rate, expected downtime. */
static void print_progress(struct json_object *p, bool tty)
{
	fprintf(stderr, "%s%s: pass %" PRId64 ", %" PRId64 " of %" PRId64 " MiB, %" PRId64 " MiB/s, dirty %" PRId64
		" MiB/s, expected downtime %" PRId64 " ms%s", tty ? "\r\033[K" : "",
		json_object_get_string(json_object_object_get(p, MIG_KEY_STATUS)), num(p, MIG_KEY_PASS),
		num(p, MIG_KEY_TRANSFERRED) >> 20, num(p, MIG_KEY_TOTAL) >> 20, num(p, MIG_KEY_RATE) >> 20,
		num(p, MIG_KEY_DIRTY_RATE) >> 20, num(p, MIG_KEY_EXPECTED_DOWNTIME), tty ? "" : "\n");
}

/* What a loop over the readings keeps. */
struct follow {
	const char *name, *dest;
	bool json, tty, settings_shown, postcopy_shown;
	int64_t last_line; /* when a line was last printed (not on a terminal: once a second) */
};

/* Reads the migration's progress and shows it. */
static void show_reading(struct follow *f)
{
	_cleanup_verr_ struct verr err = { 0 };
	struct json_object *p = NULL, *settings;
	const char *status;

	if (vm_request(f->name, CTL_REQ_MIGRATION, NULL, VM_ANSWER_TIMEOUT_MS, &p, &err) < 0)
		return; /* the reply of migrate tells how it ended */
	status = json_object_get_string(json_object_object_get(p, MIG_KEY_STATUS));
	if (!strcmp(status, "failed") || !strcmp(status, "cancelled")) {
		json_object_put(p); /* the reply of migrate tells */
		return;
	}
	if (!f->settings_shown && json_object_object_get_ex(p, MIG_KEY_SETTINGS, &settings)) {
		f->settings_shown = true;
		print_settings(f->name, f->dest, settings);
	}
	if (!f->postcopy_shown && json_object_get_boolean(json_object_object_get(p, MIG_KEY_POSTCOPY))) {
		f->postcopy_shown = true;
		fprintf(stderr, "%svmm: switched to post-copy: the guest runs on %s now\n", f->tty ? "\r\033[K" : "",
			f->dest);
	}
	if (f->json)
		cmd_print_json(p, JSON_LINE);
	else if (f->tty || now_ms() - f->last_line >= 1000) {
		print_progress(p, f->tty);
		f->last_line = now_ms();
	}
	json_object_put(p);
}

/* Sends the cancel; says so. */
static void cancel(const char *name)
{
	_cleanup_verr_ struct verr err = { 0 };
	struct json_object *r = NULL;

	fprintf(stderr, "\nvmm: cancelling the migration of %s\n", name);
	if (vm_request(name, CTL_REQ_MIGRATE_CANCEL, NULL, VM_ANSWER_TIMEOUT_MS, &r, &err) < 0)
		fprintf(stderr, "vmm: %s\n", err.lines[0]);
	json_object_put(r);
}

/* Waits for the migrate request on fd to be answered, showing progress; cancels on a signal. */
static int follow(struct follow *f, int fd, struct json_object **result, struct verr *err)
{
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	bool cancelled = false;
	int r;

	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int ready = poll(&pfd, 1, MIGRATE_POLL_MS), e = errno;

		if (ready < 0 && e != EINTR) {
			r = verr_set(err, e, "cannot wait for the supervisor of VM '%s'", f->name);
			break;
		}
		if (interrupted && !cancelled) {
			cancelled = true;
			cancel(f->name);
		}
		if (ready > 0) {
			r = vm_request_reply(fd, f->name, 0, result, err);
			break;
		}
		if (ready == 0)
			show_reading(f);
	}
	if (f->tty && !f->json)
		fprintf(stderr, "\n");
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return r;
}

/* Builds the migrate request from the command line. */
static int request_args(const struct cmd_args *args, const char *uri, const char *dest, struct json_object **out,
			struct verr *err)
{
	struct json_object *req = json_object_new_object();
	const char *rate = args_get(args, "bandwidth");
	uint64_t bytes;

	if (rate && (parse_size(rate, &bytes) < 0 || !bytes)) {
		json_object_put(req);
		return verr_set(err, 0, "--bandwidth '%s': expected bytes per second, such as 100M or 1G", rate);
	}
	json_object_object_add(req, CTL_ARG_URI, json_object_new_string(uri));
	json_object_object_add(req, CTL_ARG_DEST, json_object_new_string(dest));
	if (rate)
		json_object_object_add(req, CTL_ARG_BANDWIDTH, json_object_new_int64((int64_t)bytes));
	if (args_has(args, "postcopy"))
		json_object_object_add(req, CTL_ARG_POSTCOPY, json_object_new_int(1));
	if (args_get(args, "tls"))
		json_object_object_add(req, CTL_ARG_TLS, json_object_new_string(args_get(args, "tls")));
	if (args_has(args, "copy-storage"))
		json_object_object_add(req, CTL_ARG_COPY_STORAGE, json_object_new_boolean(true));
	*out = req;
	return 0;
}

/* Prints how the migration ended: total time, setup time, downtime. */
static void print_result(const struct follow *f, struct json_object *r)
{
	struct json_object *settings;

	if (!f->settings_shown && !f->json && json_object_object_get_ex(r, MIG_KEY_SETTINGS, &settings))
		print_settings(f->name, f->dest, settings);
	if (f->json) {
		cmd_print_json(r, JSON_LINE);
		return;
	}
	fprintf(stderr, "vmm: %s migrated to %s: total %" PRId64 " ms, setup %" PRId64 " ms, downtime %" PRId64
		" ms, %" PRId64 " MiB in %" PRId64 " pass%s%s\n", f->name, f->dest, num(r, MIG_KEY_TOTAL_TIME),
		num(r, MIG_KEY_SETUP_TIME), num(r, MIG_KEY_DOWNTIME), num(r, MIG_KEY_TRANSFERRED) >> 20,
		num(r, MIG_KEY_PASS), num(r, MIG_KEY_PASS) == 1 ? "" : "es",
		json_object_get_boolean(json_object_object_get(r, MIG_KEY_POSTCOPY)) ? ", the last in post-copy" : "");
}

/* vmm migrate's handler. */
static int cmd_migrate(const struct cmd_args *args, struct verr *err)
{
	const char *name = args->argv[0], *dest = args->argc > 1 ? args->argv[1] : NULL;
	struct follow f = { .name = name, .dest = dest, .json = args->json, .tty = isatty(STDERR_FILENO) };
	_cleanup_free_ char *uri = NULL;
	_cleanup_close_ int fd = -1;
	struct json_object *req = NULL, *result = NULL;

	if (args_has(args, "cancel")) {
		if (dest)
			return cmd_usage_error(args->entry, err);
		if (vm_request(name, CTL_REQ_MIGRATE_CANCEL, NULL, VM_ANSWER_TIMEOUT_MS, &result, err) < 0)
			return -1;
		json_object_put(result);
		fprintf(stderr, "vmm: cancelling the migration of %s (it runs on here)\n", name);
		return 0;
	}
	if (!dest)
		return cmd_usage_error(args->entry, err);
	if (migrate_ssh_dest(dest)) {
		if (migrate_ssh_start(name, dest, args_has(args, "postcopy"), args_get(args, "tls"),
				      args_has(args, "copy-storage"), &uri, err) < 0)
			return -1;
	} else if (!strncmp(dest, "tcp:", 4) || !strncmp(dest, "unix:", 5)) {
		if (migrate_uri_check(dest, false, err) < 0)
			return -1;
		uri = xstrdup(dest);
	} else
		return verr_set(err, 0, "destination '%s': expected tcp:HOST:PORT, unix:PATH or ssh://[USER@]HOST", dest);
	if (request_args(args, uri, dest, &req, err) < 0)
		return -1;
	fd = vm_request_send(name, CTL_REQ_MIGRATE, req, VM_ANSWER_TIMEOUT_MS, err);
	if (fd < 0 || follow(&f, fd, &result, err) < 0)
		return -1;
	print_result(&f, result);
	json_object_put(result);
	return 0;
}

const struct cmd_entry cmd_migrate_entry = {
	.name = "migrate",
	.usage = "NAME DEST [--json] [--bandwidth RATE] [--postcopy] [--tls DIR] [--copy-storage] | NAME --cancel",
	.help = "move a running VM to DEST (tcp:HOST:PORT or unix:PATH, where `vmm start PROFILE --incoming URI` "
		"waits; or ssh://[USER@]HOST, where vmm starts it), live: no bandwidth cap unless --bandwidth, "
		"downtime up to 300 ms, multifd and auto-converge when QEMU has them; --postcopy switches to "
		"post-copy after the first pass (a failure of the destination or the link then loses the VM); "
		"--tls DIR uses the x509 credentials in DIR on both ends; --copy-storage first mirrors every writable "
		"disk to the destination's (started with --copy-storage), for hosts without shared storage; "
		"Ctrl-C or --cancel cancels (the VM runs on here)",
	.args = { .options = "bandwidth:,postcopy,tls:,copy-storage,cancel", .lower = 1, .upper = 2 },
	.flags = CMD_JSON,
	.exec = cmd_migrate,
};
