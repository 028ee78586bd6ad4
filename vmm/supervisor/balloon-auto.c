/* The automatic balloon (balloon-auto.h).
 *
 * Why a timer that reads the pressure file, not a PSI trigger: a trigger (a threshold written
 * to /proc/pressure/memory, then poll) reports through POLLPRI, which libevent's backends do
 * not wait for (it would take an epoll descriptor of its own, watched for EPOLLPRI, or a
 * thread); it only says that pressure began, never that it ended, so giving the memory back
 * needs the readings anyway; and a test's stand-in file (VMM_PROC_ROOT) cannot raise one, so
 * that path could not be proven here (the kernel also limits unprivileged windows to multiples
 * of 2 s). Reading the small file once per BALLOON_AUTO_PERIOD_MS costs a few microseconds, and
 * only for VMs whose profile asks for an automatic balloon: every other supervisor keeps no
 * timer at all and waits for events only. */
#include "vmm/supervisor/balloon-auto.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/base/host.h"
#include "vmm/base/util.h"
#include "vmm/supervisor/protocol.h"

struct balloon_auto {
	const struct plan *plan;
	const struct vm_state *vm;
	struct qmp_client *const *qmp;
	uint64_t *target;         /* the balloon's last target (balloon.c shows it) */
	uint64_t want;            /* where the automatic balloon has put the target */
	bool busy;                /* a balloon command is on its way */
	bool unreadable;          /* the pressure file could not be read (said once) */
	struct event *timer;
};

/* Reads "some avg10" of the host's memory pressure (percent); false when it cannot. */
static bool read_pressure(double *avg10)
{
	_cleanup_free_ char *path = xasprintf("%s/pressure/memory", host_proc_root());
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[256];
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	const char *at;

	if (n <= 0)
		return false;
	buf[n] = '\0';
	at = strstr(buf, "some avg10=");
	if (!at)
		return false;
	*avg10 = strtod(at + strlen("some avg10="), NULL);
	return true;
}

/* QEMU took the new target (or refused it: the next tick tries again). */
static void target_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct balloon_auto *a = arg;

	(void)c;
	a->busy = false;
	if (r->failure == QMP_OK)
		*a->target = a->want;
	else if (r->failure == QMP_ERR_COMMAND)
		say(a->vm, "warning: the automatic balloon's target was refused: %s", r->desc);
}

/* One reading of the pressure: the target a step down under pressure (not below min), a step
 * up without it (not above memory.size). */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct balloon_auto *a = arg;
	const struct vm_config *c = &a->plan->config;
	uint64_t step = c->memory / 8 > (16u << 20) ? c->memory / 8 : 16u << 20, want = a->want;
	struct json_object *value;
	double avg10;

	(void)fd;
	(void)what;
	if (!read_pressure(&avg10)) {
		if (!a->unreadable)
			say(a->vm, "warning: the automatic balloon cannot read %s/pressure/memory (a kernel without PSI?)",
			    host_proc_root());
		a->unreadable = true;
		return;
	}
	a->unreadable = false;
	if (avg10 >= BALLOON_AUTO_HIGH)
		want = want > c->balloon_min + step ? want - step : c->balloon_min;
	else if (avg10 < BALLOON_AUTO_LOW)
		want = want + step < c->memory ? want + step : c->memory;
	if (want == a->want || a->busy || !*a->qmp)
		return;
	say(a->vm, "host memory pressure %.2f%%: the balloon's target goes to %lluM", avg10,
	    (unsigned long long)(want >> 20));
	a->want = want;
	a->busy = true;
	value = json_object_new_object();
	json_object_object_add(value, "value", json_object_new_int64((int64_t)want));
	if (qmp_send(*a->qmp, "balloon", value, CTL_QMP_TIMEOUT_MS, 0, target_cb, a) < 0)
		a->busy = false;
}

struct balloon_auto *balloon_auto_new(struct event_base *base, const struct plan *p, const struct vm_state *vm,
				      struct qmp_client *const *qmp, uint64_t *target)
{
	struct balloon_auto *a = xzalloc(sizeof(*a));

	a->plan = p;
	a->vm = vm;
	a->qmp = qmp;
	a->target = target;
	a->timer = event_new(base, -1, EV_PERSIST, tick_cb, a);
	return a;
}

void balloon_auto_start(struct balloon_auto *a)
{
	struct timeval tv = { BALLOON_AUTO_PERIOD_MS / 1000, BALLOON_AUTO_PERIOD_MS % 1000 * 1000 };

	a->want = a->plan->config.memory;
	a->busy = false;
	evtimer_add(a->timer, &tv);
}

void balloon_auto_stop(struct balloon_auto *a)
{
	evtimer_del(a->timer);
}

void balloon_auto_free(struct balloon_auto *a)
{
	if (!a)
		return;
	event_free(a->timer);
	free(a);
}
