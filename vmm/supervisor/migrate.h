/* The migration engine, over one QEMU's QMP connection: usable by any QMP-driven operation
 * that moves a VM's state out of a QEMU (a migration to another host, an upgrade in place).
 *
 * migrate_setup() chooses and applies the capabilities and parameters both ends need,
 * from what this QEMU offers (query-migrate-capabilities / query-migrate-parameters, never
 * its version): the "events" capability, multifd with MIGRATE_CHANNELS channels (not with
 * post-copy), auto-converge on the source, post-copy only when asked, no bandwidth cap
 * (or the one asked), downtime-limit MIGRATE_DOWNTIME_MS, and TLS (a tls-creds-x509 object)
 * when given a directory. It reports what it chose as a JSON object (MIG_KEY_* of protocol.h).
 *
 * migration_start() runs the source side: setup, then `migrate` to a URI (or to an fd passed
 * with getfd), then follows it (query-migrate every MIGRATE_POLL_MS, MIGRATION and
 * MIGRATION_PASS events, which the caller feeds in with migration_event()), switches to
 * post-copy after the passes asked for, and reports progress and the end by callbacks. The
 * guest keeps running when it fails or is cancelled; on completion the source QEMU is paused
 * ("postmigrate") and the caller decides what becomes of it. */
#ifndef VMM_MIGRATE_H
#define VMM_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "qmp/qmp.h"

/* The defaults vmm chooses: multifd channels, the downtime allowed, how often progress is read. */
#define MIGRATE_CHANNELS 4
/* The first machine-type version (major) whose QEMUs migrate over multifd. */
#define MIGRATE_MULTIFD_SINCE 10
#define MIGRATE_DOWNTIME_MS 300
#define MIGRATE_POLL_MS 250
/* The bandwidth that stands for "no cap" (QEMU has no such value: 1 TiB/s). */
#define MIGRATE_UNCAPPED (1ULL << 40)
/* Milliseconds QEMU has to answer one command of the migration. */
#define MIGRATE_QMP_TIMEOUT_MS 5000
/* The id of the TLS credentials object vmm adds. */
#define MIGRATE_TLS_ID "vmm-migrate-tls"

enum migrate_role { MIGRATE_SOURCE, MIGRATE_DESTINATION };

/* What the user asked for; everything else is vmm's default. */
struct migrate_settings {
	uint64_t bandwidth;       /* bytes per second, 0: no cap */
	bool postcopy;            /* post-copy: postcopy-ram on both ends */
	unsigned postcopy_passes; /* the source switches to post-copy after this many passes (1: after the first) */
	const char *tls_dir;      /* x509 credentials (ca-cert.pem, server-*.pem, client-*.pem), NULL: plain */
	bool pause_before_switchover; /* the source stops in "pre-switchover" (hooks.switchover) until
				       * migration_continue(): disks mirrored alongside are completed there */
	bool multifd;             /* multifd channels (both ends decide alike: migrate_multifd_safe()) */
};

/* Whether a VM of this versioned machine type ("pc-q35-10.0") may migrate over multifd: only
 * when it is MIGRATE_MULTIFD_SINCE or later, so both QEMUs are too. QEMU 7.2's multifd lost
 * pages a guest wrote during the migration (a guest rewriting 8 MiB crashed on arrival in 2 of
 * 17 runs of migrate-killed, none of 10 without multifd); a machine type both ends share is what
 * makes the choice the same on each, whichever QEMU runs there. */
bool migrate_multifd_safe(const char *machine_type);

/* Setup is over: chosen (a new reference, what was applied) and error NULL, or error set. */
typedef void (*migrate_setup_fn)(struct json_object *chosen, const char *error, void *arg);

/* Applies the capabilities and parameters of role to the QEMU behind qmp, then calls fn. */
void migrate_setup(struct qmp_client *qmp, enum migrate_role role, const struct migrate_settings *set,
		   migrate_setup_fn fn, void *arg);

/* What the source side reports. Both receive objects they do not keep (take a reference to keep one). */
struct migrate_hooks {
	/* A fresh reading of query-migrate (MIG_KEY_*), every MIGRATE_POLL_MS while it runs. May be NULL. */
	void (*progress)(struct json_object *progress, void *arg);
	/* The migration ended: result is its last reading; error is NULL when it completed, else
	 * says where it failed (or that it was cancelled). Called once; then migration_free(). */
	void (*done)(struct json_object *result, const char *error, void *arg);
	/* With pause_before_switchover: the guest is paused, its RAM all but sent; the caller calls
	 * migration_continue() (or migration_cancel(), which resumes the guest). */
	void (*switchover)(void *arg);
};

struct migration;

/* Starts migrating the QEMU behind *qmp (the caller's pointer: NULL once its connection is
 * gone) to uri, or, when fd >= 0, into fd (passed to QEMU with getfd; the caller keeps its
 * own); dest names the destination in messages. */
struct migration *migration_start(struct event_base *base, struct qmp_client *const *qmp, const char *uri, int fd,
				  const char *dest, const struct migrate_settings *set,
				  const struct migrate_hooks *hooks, void *arg);

/* Follows a migration the QEMU behind *qmp runs already (one a killed supervisor started), as
 * migration_start() does once QEMU took migrate; without a switch-over hook. */
struct migration *migration_follow(struct event_base *base, struct qmp_client *const *qmp, const char *dest,
				   const struct migrate_hooks *hooks, void *arg);

/* An event of the source QEMU (MIGRATION and MIGRATION_PASS count). */
void migration_event(struct migration *m, const char *name, struct json_object *msg);

/* Lets a migration paused before its switch-over go on to complete. */
void migration_continue(struct migration *m);

/* The NBD server address of a destination listening for a migration on uri, for disks mirrored
 * alongside (--copy-storage): tcp:HOST:PORT -> HOST, PORT + 1; unix:PATH -> PATH.nbd. A new
 * QAPI SocketAddress ({"type": "inet"|"unix", ...}), or NULL for another URI. */
struct json_object *migrate_nbd_address(const char *uri);

/* Asks QEMU to cancel the migration (migrate_cancel); done() follows. False when it has ended. */
bool migration_cancel(struct migration *m);

/* The last reading (a new reference): status, pass, bytes, rates, times, what setup chose. */
struct json_object *migration_progress(const struct migration *m);

/* The QMP connection is gone: the migration ends (done() with an error) unless it has. */
void migration_lost(struct migration *m);

/* Frees it (once done() was called, or to abandon it with the QEMU gone). Safe with NULL. */
void migration_free(struct migration *m);

/* Reads QEMU's query-migrate answer ret into a progress object (MIG_KEY_*); pass is the
 * number of passes seen, settings (may be NULL) what setup chose. */
struct json_object *migrate_reading(struct json_object *ret, int64_t pass, struct json_object *settings);

#endif
