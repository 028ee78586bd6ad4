#include "vmm/supervisor/pin.h"

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "vmm/base/util.h"

int pin_thread(pid_t tid, const struct cpulist *cpus, const char *what, struct verr *err)
{
	cpu_set_t want, got;

	CPU_ZERO(&want);
	for (size_t i = 0; i < cpus->n; i++)
		if (cpus->cpus[i] < CPU_SETSIZE)
			CPU_SET(cpus->cpus[i], &want);
	if (sched_setaffinity(tid, sizeof(want), &want) < 0)
		return verr_set(err, errno, "cannot pin %s (thread %d)", what, tid);
	if (sched_getaffinity(tid, sizeof(got), &got) < 0)
		return verr_set(err, errno, "cannot read the affinity of %s (thread %d)", what, tid);
	if (!CPU_EQUAL(&want, &got))
		return verr_set(err, 0, "%s (thread %d) did not keep its pinning (a cgroup cpuset may forbid those CPUs)",
				what, tid);
	return 0;
}

int pin_other_threads(pid_t pid, const pid_t *skip, size_t n_skip, const struct cpulist *cpus, struct verr *err)
{
	_cleanup_free_ char *dir = xasprintf("/proc/%d/task", pid);
	DIR *d = opendir(dir);
	struct dirent *e;
	int ret = 0;

	if (!d)
		return verr_set(err, errno, "cannot list the threads of QEMU (pid %d)", pid);
	while (ret == 0 && (e = readdir(d))) {
		pid_t tid = (pid_t)atoi(e->d_name);
		bool skipped = tid <= 0;
		char what[48];

		for (size_t i = 0; i < n_skip && !skipped; i++)
			skipped = skip[i] == tid;
		if (skipped)
			continue;
		snprintf(what, sizeof(what), "emulator thread %d", tid);
		if (pin_thread(tid, cpus, what, err) < 0) {
			/* A thread that ended meanwhile is no error. */
			if (err->errnum == ESRCH) {
				verr_clear(err);
				continue;
			}
			ret = -1;
		}
	}
	closedir(d);
	return ret;
}
