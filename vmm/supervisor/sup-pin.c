/* Pinning after launch: the thread ids of the vCPUs (query-cpus-fast) and iothreads
 * (query-iothreads) come from QMP; each gets its host CPUs, the remaining QEMU threads
 * get cpu.emulator_pin. A pinning that cannot be applied stops the start. */
#include "vmm/supervisor/sup.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "vmm/supervisor/pin.h"
#include "vmm/base/util.h"

/* True when the profile pins anything. */
bool sup_wants_pinning(const struct sup *s)
{
	const struct vm_config *c = &s->plan->config;

	for (size_t i = 0; i < c->n_disks; i++)
		if (c->disks[i].iothread_pin.n)
			return true;
	return c->pin.n || c->emulator_pin.n;
}

/* Pinning failed: QEMU is killed and the start reported as failed with every line of err. */
static void pin_failed(struct sup *s, const struct verr *err)
{
	for (size_t i = 0; i < err->n; i++)
		verr_set(&s->start_error, 0, "%s", err->lines[i]);
	kill(s->pid, SIGKILL);
}

/* Reads "thread-id" for each element of a QMP list, keyed by an integer or string member. */
static pid_t thread_of(struct json_object *list, const char *key, const char *want_str, int want_int)
{
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *e = json_object_array_get_idx(list, i), *k, *tid;
		if (!json_object_object_get_ex(e, key, &k) || !json_object_object_get_ex(e, "thread-id", &tid))
			continue;
		if (want_str ? !strcmp(json_object_get_string(k), want_str) : json_object_get_int(k) == want_int)
			return (pid_t)json_object_get_int(tid);
	}
	return 0;
}

/* query-iothreads answered: pin vCPUs, iothreads, then everything else. */
static void iothreads_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct sup *s = arg;
	const struct vm_config *cfg = &s->plan->config;
	_cleanup_verr_ struct verr err = { 0 };
	_cleanup_free_ pid_t *pinned = xzalloc((config_vcpus(cfg) + cfg->n_disks + 1) * sizeof(pid_t));
	size_t n = 0;

	(void)c;
	if (r->failure != QMP_OK) {
		verr_set(&err, 0, "cannot pin: query-iothreads failed: %s", r->desc);
		pin_failed(s, &err);
		return;
	}
	for (unsigned v = 0; v < config_vcpus(cfg); v++) {
		pid_t tid = thread_of(s->vcpus, "cpu-index", NULL, (int)v);
		char what[32];
		snprintf(what, sizeof(what), "vCPU %u", v);
		if (!tid) {
			verr_set(&err, 0, "cannot pin: QEMU did not report the thread of vCPU %u", v);
			return pin_failed(s, &err);
		}
		pinned[n++] = tid;
		if (cfg->pin.n && pin_thread(tid, &(struct cpulist){ .cpus = &cfg->pin.cpus[v], .n = 1 }, what, &err) < 0)
			return pin_failed(s, &err);
	}
	for (size_t i = 0; i < cfg->n_disks; i++) {
		_cleanup_free_ char *id = xasprintf("io-%s", cfg->disks[i].id), *what = NULL;
		pid_t tid;
		if (!cfg->disks[i].iothread)
			continue;
		tid = thread_of(r->ret, "id", id, 0);
		if (!tid) {
			verr_set(&err, 0, "cannot pin: QEMU did not report iothread '%s'", id);
			return pin_failed(s, &err);
		}
		pinned[n++] = tid;
		what = xasprintf("iothread %s", id);
		if (cfg->disks[i].iothread_pin.n && pin_thread(tid, &cfg->disks[i].iothread_pin, what, &err) < 0)
			return pin_failed(s, &err);
	}
	if (cfg->emulator_pin.n && pin_other_threads(s->pid, pinned, n, &cfg->emulator_pin, &err) < 0)
		return pin_failed(s, &err);
	s->pinned = true;
	sup_pinned(s);
}

/* query-cpus-fast answered: keep the vCPU threads, ask for the iothreads. */
static void vcpus_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct sup *s = arg;

	if (r->failure != QMP_OK) {
		_cleanup_verr_ struct verr err = { 0 };
		verr_set(&err, 0, "cannot pin: query-cpus-fast failed: %s", r->desc);
		pin_failed(s, &err);
		return;
	}
	json_object_put(s->vcpus);
	s->vcpus = json_object_get(r->ret);
	qmp_send(c, "query-iothreads", NULL, COMMAND_TIMEOUT_MS, 0, iothreads_cb, s);
}

void sup_pin(struct sup *s)
{
	qmp_send(s->qmp, "query-cpus-fast", NULL, COMMAND_TIMEOUT_MS, 0, vcpus_cb, s);
}
