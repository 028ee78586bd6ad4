/* The QMP steps of hot-plugging (hotplug.h): a device's objects created one by one, or
 * deleted one by one in the other order, each step started by the answer to the one before;
 * a device waits for the guest's DEVICE_DELETED before what it used goes. */
#include "vmm/supervisor/hotplug-dev.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmm/base/util.h"

/* How QEMU creates and deletes an object of each command-line option, and the member naming it. */
static const struct kind {
	const char *option, *add, *del, *key;
} kinds[] = {
	{ "-blockdev", "blockdev-add", "blockdev-del", "node-name" },
	{ "-object", "object-add", "object-del", "id" },
	{ "-netdev", "netdev_add", "netdev_del", "id" },
	{ "-device", "device_add", "device_del", "id" },
};
#define N_KINDS (sizeof(kinds) / sizeof(kinds[0]))
#define DEVICE_KIND (&kinds[N_KINDS - 1])

/* Part i of a device's objects ({"option", "json"}, build_hot_disk). */
static struct json_object *part(const struct hp_device *d, size_t i)
{
	return json_object_array_get_idx(d->parts, i);
}

/* The object of a part: the argument of its add command. */
static struct json_object *object_of(struct json_object *p)
{
	return json_object_object_get(p, "json");
}

/* How a part is created and deleted (the builder makes only these options). */
static const struct kind *kind_of(struct json_object *p)
{
	const char *option = json_object_get_string(json_object_object_get(p, "option"));

	for (size_t i = 0; i < N_KINDS; i++)
		if (!strcmp(kinds[i].option, option))
			return &kinds[i];
	abort();
}

/* The name QEMU knows a part by (its node-name or id). */
static const char *name_of(struct json_object *p)
{
	return json_object_get_string(json_object_object_get(object_of(p), kind_of(p)->key));
}

/* Answers what waited for a device: its batch (qmp NULL when no step may follow), or its
 * request conn, with reply (consumed) or failure. */
static void answer_to(struct hp_batch *b, struct control_conn *conn, struct json_object *reply, const char *failure,
		      struct qmp_client *qmp)
{
	if (b) {
		json_object_put(reply);
		hp_batch_done(b, failure, qmp);
	} else if (conn && failure)
		control_fail(conn, "%s", failure);
	else if (conn)
		control_reply(conn, reply);
	else
		json_object_put(reply);
}

/* Answers what waits for the device; it waits for nothing afterwards. */
static void answer(struct hp_device *d, struct json_object *reply, const char *failure, struct qmp_client *qmp)
{
	answer_to(steal_ptr(d->batch), steal_ptr(d->conn), reply, failure, qmp);
}

/* The device's last step could not be done (qmp NULL: QMP is gone or not at hand): answers
 * what waits for it (an add's failure said first) and logs it; the device stays "removing",
 * for a later remove to take on from there. */
static void __attribute__((format(printf, 3, 4))) stuck(struct hp_device *d, struct qmp_client *qmp, const char *fmt,
							 ...)
{
	_cleanup_free_ char *why = NULL, *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	why = xvasprintf(fmt, ap);
	va_end(ap);
	text = d->failure ? xasprintf("%s; undoing it: %s", d->failure, why) : xasprintf("%s", why);
	d->undoing = false;
	say(d->hp->vm, "%s", text);
	answer(d, NULL, text, qmp);
}

/* Every object is created: the device is present; the add is answered with it. */
static void added(struct hp_device *d, struct qmp_client *qmp)
{
	d->state = HP_PRESENT;
	hp_save(d->hp);
	say(d->hp->vm, "%s '%s' hot-added", hp_kind_word(d->kind), d->id);
	answer(d, hp_describe(d), NULL, qmp);
}

/* Every object is deleted: the device is gone and its port free (it is forgotten before what
 * waited for it goes on). */
static void removed(struct hp_device *d, struct qmp_client *qmp)
{
	struct hotplug *hp = d->hp;
	_cleanup_free_ char *failure = d->failure ? xasprintf("%s; nothing of it is left", d->failure) : NULL;
	struct hp_batch *b = steal_ptr(d->batch);
	struct control_conn *conn = steal_ptr(d->conn);

	if (failure)
		say(hp->vm, "%s", failure);
	else
		say(hp->vm, "%s '%s' removed", hp_kind_word(d->kind), d->id);
	hp_forget(d);
	hp_save(hp);
	answer_to(b, conn, NULL, failure, qmp);
}

/* One object was created, or failed to be: on to the next, or back over those created. */
static void add_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct hp_device *d = arg;
	struct json_object *p = part(d, d->done);

	if (r->failure == QMP_OK) {
		d->done++;
		hp_step_add(d, c);
		return;
	}
	d->failure = xasprintf("cannot add '%s': %s (%s of '%s')", d->id,
			       r->failure == QMP_ERR_TIMEOUT ? "QEMU did not answer in time" : r->desc, kind_of(p)->add,
			       name_of(p));
	d->state = HP_REMOVING;
	if (r->failure == QMP_ERR_CLOSED || r->failure == QMP_ERR_PROTOCOL)
		stuck(d, NULL, "QEMU's QMP connection is gone");
	else
		hp_step_remove(d, c);
}

void hp_step_add(struct hp_device *d, struct qmp_client *qmp)
{
	struct json_object *p;

	if (d->done == json_object_array_length(d->parts)) {
		added(d, qmp);
		return;
	}
	p = part(d, d->done);
	if (qmp_send(qmp, kind_of(p)->add, json_object_get(object_of(p)), CTL_QMP_TIMEOUT_MS, 0, add_cb, d) < 0) {
		d->state = HP_REMOVING;
		stuck(d, NULL, "cannot add '%s': QEMU's QMP connection is gone", d->id);
	}
}

/* The guest did not release the device in time: the request fails, saying so, and the removal
 * goes on when DEVICE_DELETED comes. */
static void release_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hp_device *d = arg;

	(void)fd;
	(void)what;
	stuck(d, NULL, "the guest did not release '%s' within %d s: is ACPI/PCIe hotplug enabled in it?", d->id,
	      CTL_RELEASE_TIMEOUT_MS / 1000);
}

/* The last object is gone: on to the one before. */
static void next_removal(struct hp_device *d, struct qmp_client *qmp)
{
	if (d->timer)
		evtimer_del(d->timer);
	d->busy = 0;
	d->releasing = d->asked = d->released = false;
	d->done--;
	hp_step_remove(d, qmp);
}

/* True when QEMU's error says that the object to delete does not exist (the words of QEMU 7.2
 * to 10.0: netdev_del's class, blockdev-del's and object-del's text). */
static bool absent(const struct qmp_result *r)
{
	return r->failure == QMP_ERR_COMMAND && ((r->class && !strcmp(r->class, "DeviceNotFound")) ||
						 (r->desc && (strstr(r->desc, "not found") || strstr(r->desc, "Failed to find"))));
}

/* How often, and how many milliseconds apart, a block node still in use is tried again. */
#define BUSY_TRIES 20
#define BUSY_RETRY_MS 100

/* Time to try the block node again. */
static void busy_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hp_device *d = arg;

	(void)fd;
	(void)what;
	if (*d->hp->qmp)
		hp_step_remove(d, *d->hp->qmp);
	else
		stuck(d, NULL, "cannot remove '%s': QEMU's QMP connection is gone", d->id);
}

/* True when QEMU's error says that a block node is still used (by a device that just went:
 * QEMU 10.0 may let go of a device's drive a little after the device left its tree), after
 * which it is tried again, BUSY_TRIES times at most. */
static bool busy_again(struct hp_device *d, const struct qmp_result *r)
{
	struct timeval tv = { 0, BUSY_RETRY_MS * 1000 };

	if (r->failure != QMP_ERR_COMMAND || !r->desc || !strstr(r->desc, "is in use") || d->busy >= BUSY_TRIES)
		return false;
	d->busy++;
	if (!d->retry)
		d->retry = evtimer_new(d->hp->base, busy_retry_cb, d);
	evtimer_add(d->retry, &tv);
	return true;
}

/* An object was deleted, or failed to be; a device is gone only once the guest released it. */
static void remove_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct hp_device *d = arg;
	struct json_object *p = part(d, d->done - 1);
	bool device = kind_of(p) == DEVICE_KIND;

	/* A device QEMU does not have is gone (its DEVICE_DELETED went to no supervisor). */
	if (device && r->failure == QMP_ERR_COMMAND && r->class && !strcmp(r->class, "DeviceNotFound"))
		d->released = true;
	/* Of a device a supervisor left part-way, QEMU may lack an object. */
	else if (!device && d->unsure && absent(r))
		;
	else if (!device && busy_again(d, r))
		return;
	/* Asked again (or after a supervisor left part-way), QEMU may say that the guest was asked
	 * already: still waiting for it. */
	else if (r->failure != QMP_OK && !(device && (d->asked || d->unsure) && r->failure == QMP_ERR_COMMAND)) {
		d->releasing = d->asked = false;
		stuck(d, r->failure == QMP_ERR_COMMAND ? c : NULL, "cannot remove '%s': %s (%s of '%s')", d->id,
		      r->failure == QMP_ERR_TIMEOUT ? "QEMU did not answer in time" : r->desc, kind_of(p)->del, name_of(p));
		return;
	}
	if (device && !d->released) {
		struct timeval tv = { CTL_RELEASE_TIMEOUT_MS / 1000, (CTL_RELEASE_TIMEOUT_MS % 1000) * 1000 };
		d->asked = true;
		if (!d->timer)
			d->timer = evtimer_new(d->hp->base, release_timeout_cb, d);
		evtimer_add(d->timer, &tv);
		return;
	}
	next_removal(d, c);
}

void hp_step_remove(struct hp_device *d, struct qmp_client *qmp)
{
	struct json_object *p, *args;
	const struct kind *k;

	if (!d->done) {
		removed(d, qmp);
		return;
	}
	p = part(d, d->done - 1);
	k = kind_of(p);
	args = json_object_new_object();
	json_object_object_add(args, k->key, json_object_new_string(name_of(p)));
	d->releasing = k == DEVICE_KIND;
	if (d->releasing && d->kind == HP_CPU && !d->hp->cpu_removed) {
		d->hp->cpu_removed = true;
		hp_save(d->hp);
	}
	if (qmp_send(qmp, k->del, args, CTL_QMP_TIMEOUT_MS, 0, remove_cb, d) < 0)
		stuck(d, NULL, "cannot remove '%s': QEMU's QMP connection is gone", d->id);
}

/* True when a DEVICE_DELETED (its device id, its QOM path; either may be NULL) says device id
 * is gone: its own, or for a vCPU (cpu) its child's below /machine/peripheral/ID, since QEMU 7.2
 * reports a vCPU's removal only through its lapic's (a PCI device's children may go before the
 * device lets go of its drive). */
static bool deleted_is(const char *id, bool cpu, const char *device, const char *path)
{
	static const char prefix[] = "/machine/peripheral/";
	size_t n = strlen(id);

	if (device && !strcmp(device, id))
		return true;
	return cpu && path && !strncmp(path, prefix, sizeof(prefix) - 1) && !strncmp(path + sizeof(prefix) - 1, id, n) &&
	       (path[sizeof(prefix) - 1 + n] == '\0' || path[sizeof(prefix) - 1 + n] == '/');
}

void hp_released(struct hotplug *hp, struct qmp_client *qmp, const char *device, const char *path)
{
	for (size_t i = 0; i < hp->n; i++) {
		struct hp_device *d = hp->devs[i];
		if (!d->releasing || d->released || !deleted_is(name_of(part(d, d->done - 1)), d->kind == HP_CPU, device, path))
			continue;
		d->released = true;
		if (!d->asked)
			return; /* the event came before device_del's answer: remove_cb goes on */
		if (!d->conn && !d->batch && !d->undoing)
			say(hp->vm, "the guest released '%s' late", d->id);
		next_removal(d, qmp);
		return;
	}
}
