#include "vmm/supervisor/sup-pin.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "profiles/topology.h"
#include "vmm/base/util.h"
#include "vmm/launch/builder.h"
#include "vmm/supervisor/pin.h"

/* One pinning under way, between its two QMP commands. */
struct pin_job {
	const struct vm_config *cfg;
	pid_t pid;
	unsigned timeout_ms;
	struct json_object *vcpus; /* query-cpus-fast's answer */
	pin_done_fn done;
	void *arg;
};

bool pin_wanted(const struct vm_config *c)
{
	return config_pins(c);
}

/* Ends the job: frees it, then reports (err NULL: pinned). */
static void finish(struct pin_job *job, const struct verr *err)
{
	pin_done_fn done = job->done;
	void *arg = job->arg;

	json_object_put(job->vcpus);
	free(job);
	done(err, arg);
}

/* Ends the job with one line saying why pinning failed. */
static void __attribute__((format(printf, 2, 3))) fail(struct pin_job *job, const char *fmt, ...)
{
	_cleanup_verr_ struct verr err = { 0 };
	va_list ap;

	va_start(ap, fmt);
	verr_vset(&err, 0, fmt, ap);
	va_end(ap);
	verr_wrap(&err, "cannot pin");
	finish(job, &err);
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

/* Pins each vCPU thread, each iothread (listed in iothreads), then every other thread. */
static int pin_all(const struct pin_job *job, struct json_object *iothreads, struct verr *err)
{
	const struct vm_config *cfg = job->cfg;
	_cleanup_free_ pid_t *pinned = xzalloc((config_vcpus(cfg) + cfg->n_disks * DISK_IOTHREADS_MAX + 1) * sizeof(pid_t));
	size_t n = 0;

	for (unsigned v = 0; v < config_vcpus(cfg); v++) {
		pid_t tid = thread_of(job->vcpus, "cpu-index", NULL, (int)v);
		char what[32];
		snprintf(what, sizeof(what), "vCPU %u", v);
		if (!tid)
			return verr_set(err, 0, "cannot pin: QEMU did not report the thread of vCPU %u", v);
		pinned[n++] = tid;
		if (cfg->pin.n && pin_thread(tid, &(struct cpulist){ .cpus = &cfg->pin.cpus[v], .n = 1 }, what, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < cfg->n_disks; i++) {
		const struct disk_config *d = &cfg->disks[i];
		/* Each of the disk's iothreads (iothreads), on the disk's iothread_pin. */
		for (unsigned k = 0; d->iothread && k < (d->iothreads > 1 ? d->iothreads : 1); k++) {
			_cleanup_free_ char *id = build_iothread_id(d, k), *what = NULL;
			pid_t tid = thread_of(iothreads, "id", id, 0);
			if (!tid)
				return verr_set(err, 0, "cannot pin: QEMU did not report iothread '%s'", id);
			pinned[n++] = tid;
			what = xasprintf("iothread %s", id);
			if (d->iothread_pin.n && pin_thread(tid, &d->iothread_pin, what, err) < 0)
				return -1;
		}
	}
	if (cfg->emulator_pin.n && pin_other_threads(job->pid, pinned, n, &cfg->emulator_pin, err) < 0)
		return -1;
	return 0;
}

/* query-iothreads answered: pin vCPUs, iothreads, then everything else. */
static void iothreads_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct pin_job *job = arg;
	_cleanup_verr_ struct verr err = { 0 };

	(void)c;
	if (r->failure != QMP_OK)
		fail(job, "query-iothreads failed: %s", r->desc);
	else
		finish(job, pin_all(job, r->ret, &err) < 0 ? &err : NULL);
}

/* query-cpus-fast answered: keep the vCPU threads, ask for the iothreads. */
static void vcpus_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct pin_job *job = arg;

	if (r->failure != QMP_OK) {
		fail(job, "query-cpus-fast failed: %s", r->desc);
		return;
	}
	job->vcpus = json_object_get(r->ret);
	if (qmp_send(c, "query-iothreads", NULL, job->timeout_ms, 0, iothreads_cb, job) < 0)
		fail(job, "the QMP connection to QEMU is closed");
}

void pin_threads(struct qmp_client *qmp, const struct vm_config *c, pid_t pid, unsigned timeout_ms,
		 pin_done_fn done, void *arg)
{
	struct pin_job *job = xzalloc(sizeof(*job));

	*job = (struct pin_job){ .cfg = c, .pid = pid, .timeout_ms = timeout_ms, .done = done, .arg = arg };
	if (!qmp || qmp_send(qmp, "query-cpus-fast", NULL, timeout_ms, 0, vcpus_cb, job) < 0)
		fail(job, "the QMP connection to QEMU is closed");
}
