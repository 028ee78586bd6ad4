/* vCPUs (hotplug.h): set cpus=N adds vCPUs in the free places QEMU lists
 * (query-hotpluggable-cpus), lowest first, or removes the hot-added ones, the last first. Each
 * vCPU is a device of its own ("vcpuN", N its index) that goes through the steps of any other
 * (hotplug-steps.c), one after the other; a batch holds the request and takes back the vCPUs it
 * added when a later one fails. A vCPU that cpu.pin has a host CPU for is pinned to it as soon
 * as it is added (before the next one), from the thread id QEMU reports. */
#include "vmm/supervisor/hotplug-dev.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/base/util.h"
#include "vmm/supervisor/pin.h"

struct hp_batch {
	struct hotplug *hp;
	struct control_conn *conn;
	struct json_object *slots; /* adding: the device_add arguments of the vCPUs to add, in order */
	size_t next;               /* adding: the next of slots */
	unsigned want;             /* adding: how many vCPUs to add */
	struct strv added;         /* the ids of the vCPUs it added, to take back when one fails */
	struct strv todo;          /* removing: the ids of the vCPUs to remove, in order */
	size_t todo_next;
	char *failure;             /* why an add failed: its vCPUs are being taken back */
};

/* The vCPUs the VM has: those it boots with, and those hot-added that exist in QEMU. */
static unsigned vcpus(const struct hotplug *hp)
{
	unsigned n = config_vcpus(&hp->plan->config);

	for (size_t i = 0; i < hp->n; i++)
		n += hp->devs[i]->kind == HP_CPU && hp->devs[i]->done > 0;
	return n;
}

/* Ends the batch: answers its request (failure NULL: with the vCPUs the VM has) and frees it. */
static void end(struct hp_batch *b, const char *failure)
{
	struct hotplug *hp = b->hp;

	hp->batch = NULL;
	if (failure)
		control_fail(b->conn, "%s (the VM has %u vCPU%s)", failure, vcpus(hp), vcpus(hp) == 1 ? "" : "s");
	else {
		struct json_object *ret = json_object_new_object();
		json_object_object_add(ret, CTL_ARG_CPUS, json_object_new_int((int)vcpus(hp)));
		control_reply(b->conn, ret);
	}
	json_object_put(b->slots);
	strv_free(&b->added);
	strv_free(&b->todo);
	free(b->failure);
	free(b);
}

void hp_batch_abort(struct hotplug *hp)
{
	if (hp->batch)
		end(hp->batch, "QEMU ended before the vCPUs were changed");
}

/* A vCPU of the record, or of a slot: its device_add arguments json. */
struct hp_device *hp_cpu_device(struct hotplug *hp, struct json_object *json, struct verr *err)
{
	struct json_object *id, *driver, *parts, *part;
	struct hp_device *d;

	if (!json_object_object_get_ex(json, "id", &id) || !json_object_object_get_ex(json, "driver", &driver)) {
		verr_set(err, 0, "a vCPU without an id or driver");
		return NULL;
	}
	parts = json_object_new_array();
	part = json_object_new_object();
	json_object_object_add(part, "option", json_object_new_string("-device"));
	json_object_object_add(part, "json", json_object_get(json));
	json_object_array_add(parts, part);
	d = hp_new_device(hp, json, json_object_get_string(id), HP_CPU, parts, -1);
	d->type = xstrdup(json_object_get_string(driver));
	return d;
}

/* Starts removing the vCPU id for the batch; false when it is gone already. */
static bool remove_one(struct hp_batch *b, const char *id, struct qmp_client *qmp)
{
	struct hp_device *d = hp_find(b->hp, id);

	if (!d || !d->done)
		return false;
	d->batch = b;
	d->state = HP_REMOVING;
	hp_step_remove(d, qmp);
	return true;
}

/* Starts the batch's next step: take back an added vCPU (after a failure), add one, remove one;
 * or ends it. */
static void next(struct hp_batch *b, struct qmp_client *qmp)
{
	while (b->failure && b->added.n) {
		_cleanup_free_ char *id = b->added.v[--b->added.n];
		b->added.v[b->added.n] = NULL;
		if (remove_one(b, id, qmp))
			return;
	}
	if (b->failure) {
		_cleanup_free_ char *text = xasprintf("%s; the vCPUs added before it are taken back", b->failure);
		end(b, text);
	} else if (b->slots && b->next < json_object_array_length(b->slots)) {
		_cleanup_verr_ struct verr err = { 0 };
		struct hp_device *d = hp_cpu_device(b->hp, json_object_array_get_idx(b->slots, b->next++), &err);
		d->batch = b;
		hp_list_add(b->hp, d);
		strv_push(&b->added, d->id);
		hp_step_add(d, qmp);
	} else {
		while (b->todo_next < b->todo.n)
			if (remove_one(b, b->todo.v[b->todo_next++], qmp))
				return;
		end(b, NULL);
	}
}

/* query-cpus-fast answered: the vCPU just added gets its host CPU of cpu.pin (from the thread
 * id QEMU reports), then the batch goes on; a vCPU that cannot be pinned fails the add. */
static void pin_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct hp_batch *b = arg;
	const struct vm_config *cfg = &b->hp->plan->config;
	const char *id = b->added.v[b->added.n - 1];
	_cleanup_free_ char *path = xasprintf("/machine/peripheral/%s", id);
	_cleanup_verr_ struct verr err = { 0 };
	unsigned index = (unsigned)atoi(id + 4);
	pid_t tid = 0;

	for (size_t i = 0; r->failure == QMP_OK && i < json_object_array_length(r->ret); i++) {
		struct json_object *e = json_object_array_get_idx(r->ret, i);
		if (!strcmp(json_object_get_string(json_object_object_get(e, "qom-path")) ?: "", path))
			tid = (pid_t)json_object_get_int(json_object_object_get(e, "thread-id"));
	}
	if (r->failure != QMP_OK)
		verr_set(&err, 0, "query-cpus-fast failed: %s", r->desc);
	else if (!tid)
		verr_set(&err, 0, "QEMU did not report the thread of '%s'", id);
	else
		pin_thread(tid, &(struct cpulist){ .cpus = &cfg->pin.cpus[index], .n = 1 }, id, &err);
	if (err.n) {
		b->failure = xasprintf("cannot pin '%s' (cpu.pin): %s", id, err.lines[0]);
		if (r->failure == QMP_ERR_CLOSED || r->failure == QMP_ERR_PROTOCOL) {
			end(b, b->failure);
			return;
		}
	} else
		say(b->hp->vm, "'%s' pinned to host CPU %u", id, cfg->pin.cpus[index]);
	next(b, c);
}

void hp_batch_done(struct hp_batch *b, const char *failure, struct qmp_client *qmp)
{
	const struct cpulist *pin = &b->hp->plan->config.pin;

	/* A vCPU was added: pinned first when cpu.pin has a host CPU for it. */
	if (!failure && qmp && b->slots && !b->failure && b->added.n &&
	    (unsigned)atoi(b->added.v[b->added.n - 1] + 4) < pin->n) {
		if (qmp_send(qmp, "query-cpus-fast", NULL, CTL_QMP_TIMEOUT_MS, 0, pin_cb, b) < 0)
			end(b, "QEMU's QMP connection is gone");
		return;
	}
	if (failure && b->slots && !b->failure)
		b->failure = xstrdup(failure); /* an add failed: take back the vCPUs added before it */
	else if (failure) {
		_cleanup_free_ char *text = b->failure ? xasprintf("%s; taking back the vCPUs added before it: %s", b->failure,
								   failure) : xstrdup(failure);
		end(b, text);
		return;
	}
	if (!qmp)
		end(b, b->failure ? b->failure : "QEMU's QMP connection is gone");
	else
		next(b, qmp);
}

/* The index of a vCPU place of query-hotpluggable-cpus (its props), as QEMU numbers vCPUs. */
static unsigned place_index(const struct vm_config *c, struct json_object *props)
{
	struct json_object *v;
	unsigned socket = 0, core = 0, thread = 0;

	if (json_object_object_get_ex(props, "socket-id", &v))
		socket = (unsigned)json_object_get_int(v);
	if (json_object_object_get_ex(props, "core-id", &v))
		core = (unsigned)json_object_get_int(v);
	if (json_object_object_get_ex(props, "thread-id", &v))
		thread = (unsigned)json_object_get_int(v);
	return (socket * c->cores + core) * c->threads + thread;
}

/* Orders device_add arguments by the vCPU index in their id ("vcpuN"). */
static int by_index(const void *a, const void *b)
{
	const char *ia = json_object_get_string(json_object_object_get(*(struct json_object *const *)a, "id"));
	const char *ib = json_object_get_string(json_object_object_get(*(struct json_object *const *)b, "id"));

	return atoi(ia + 4) - atoi(ib + 4);
}

/* query-hotpluggable-cpus answered: the free places (no qom-path), lowest first, become the
 * device_add arguments of the vCPUs to add. */
static void places_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct hp_batch *b = arg;
	struct json_object *free_places = json_object_new_array();

	if (r->failure != QMP_OK) {
		_cleanup_free_ char *text = xasprintf("cannot list the places for vCPUs: %s", r->desc);
		json_object_put(free_places);
		end(b, text);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(r->ret); i++) {
		struct json_object *e = json_object_array_get_idx(r->ret, i), *props, *type, *args;
		_cleanup_free_ char *id = NULL;
		if (json_object_object_get_ex(e, "qom-path", NULL) || !json_object_object_get_ex(e, "props", &props) ||
		    !json_object_object_get_ex(e, "type", &type))
			continue;
		id = xasprintf("vcpu%u", place_index(&b->hp->plan->config, props));
		args = json_object_new_object();
		json_object_object_add(args, "driver", json_object_get(type));
		json_object_object_add(args, "id", json_object_new_string(id));
		json_object_object_foreach(props, key, val)
			json_object_object_add(args, key, json_object_get(val));
		json_object_array_add(free_places, args);
	}
	json_object_array_sort(free_places, by_index);
	if (json_object_array_length(free_places) < b->want) {
		_cleanup_free_ char *text = xasprintf("QEMU has %zu free places for vCPUs, not %u",
						      json_object_array_length(free_places), b->want);
		json_object_put(free_places);
		end(b, text);
		return;
	}
	json_object_array_del_idx(free_places, b->want, json_object_array_length(free_places) - b->want);
	b->slots = free_places;
	next(b, c);
}

/* set cpus=n: adds or removes vCPUs, one at a time. */
static void set_cpus(struct hotplug *hp, struct qmp_client *qmp, struct control_conn *conn, int64_t n)
{
	const struct vm_config *c = &hp->plan->config;
	unsigned boot = config_vcpus(c), now = vcpus(hp);
	struct hp_batch *b;

	if (c->max_cpus <= boot) {
		control_fail(conn, "the VM cannot change its vCPUs: set hotplug.max_cpus in its profile (it boots with %u)",
			     boot);
		return;
	}
	if (n < boot || n > c->max_cpus) {
		control_fail(conn, CTL_ARG_CPUS ": expected %u to %u (from the vCPUs the VM boots with to hotplug.max_cpus)",
			     boot, c->max_cpus);
		return;
	}
	if (hp->batch) {
		control_fail(conn, "a change of the vCPUs is under way: wait for it to end");
		return;
	}
	if (n < now && hp->plan->launch.accel == ACCEL_TCG && atoi(hp->vm->version) < 10) {
		control_fail(conn, "vCPUs are not removed under TCG with QEMU %s: it crashes afterwards (at the "
			     "guest's power-off); QEMU 10.0 does not", hp->vm->version);
		return;
	}
	if (n > now && hp->cpu_removed && hp->plan->launch.accel == ACCEL_TCG) {
		control_fail(conn, "no vCPU can be added under TCG after one was removed: QEMU with TCG (7.2 and 10.0 "
			     "alike) crashes then; the VM gets vCPUs again after a restart");
		return;
	}
	b = hp->batch = xzalloc(sizeof(*b));
	b->hp = hp;
	b->conn = conn;
	control_hold(conn);
	if (n > now) {
		b->want = (unsigned)n - now;
		if (qmp_send(qmp, "query-hotpluggable-cpus", NULL, CTL_QMP_TIMEOUT_MS, 0, places_cb, b) < 0)
			end(b, "QEMU's QMP connection is gone");
		return;
	}
	for (size_t i = hp->n; i-- > 0 && b->todo.n < now - (unsigned)n;)
		if (hp->devs[i]->kind == HP_CPU && hp->devs[i]->done > 0)
			strv_push(&b->todo, hp->devs[i]->id);
	next(b, qmp);
}

void hotplug_set(struct hotplug *hp, struct qmp_client *qmp, struct control_conn *conn, struct json_object *args)
{
	struct json_object *v;

	if (json_object_object_get_ex(args, CTL_ARG_CPUS, &v) && json_object_is_type(v, json_type_int))
		set_cpus(hp, qmp, conn, json_object_get_int64(v));
	else if (json_object_object_get_ex(args, CTL_ARG_MEMORY, &v))
		hp_memory_set(hp, qmp, conn, v);
	else
		control_fail(conn, "set: expected " CTL_ARG_CPUS " (a number of vCPUs) or " CTL_ARG_MEMORY " (a size)");
}
