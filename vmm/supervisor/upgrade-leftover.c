#include "vmm/supervisor/upgrade-leftover.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>

#include "qmp/qmp-sync.h"
#include "vmm/base/util.h"

/* How long the left QEMU gets to greet, answer and close its monitor. */
#define LEFTOVER_TIMEOUT_MS 5000

/* Sends command (no arguments) over s; returns its reply (owned) or NULL. */
static struct json_object *call(struct qmp_sync *s, const char *command)
{
	struct json_object *cmd = json_object_new_object(), *ret = NULL;
	char why[256], *cls = NULL;
	enum qmp_failure f;

	json_object_object_add(cmd, "execute", json_object_new_string(command));
	f = qmp_sync_call(s, cmd, LEFTOVER_TIMEOUT_MS, &ret, &cls, why, sizeof(why)); /* cmd consumed */
	free(cls);
	if (f != QMP_OK) {
		json_object_put(ret);
		return NULL;
	}
	return ret ? ret : json_object_new_object();
}

/* Quits the QEMU listening on new-monitor.sock when it still waits for the guest. Returns
 * false when one has the guest already: its sockets stay. */
static bool quit_waiting(struct rundir *rd)
{
	_cleanup_verr_ struct verr err = { 0 };
	int fd = rundir_connect(rd, "new-monitor.sock", &err);
	struct json_object *status, *st, *event = NULL;
	struct qmp_sync *s;
	char why[256];
	bool waiting;

	if (fd < 0)
		return true; /* nobody listens: only files are left */
	if (!(s = qmp_sync_open(fd, LEFTOVER_TIMEOUT_MS, why, sizeof(why))))
		return false;
	status = call(s, "query-status");
	waiting = status && json_object_object_get_ex(status, "status", &st) &&
		  !strcmp(json_object_get_string(st), "inmigrate");
	json_object_put(status);
	if (waiting)
		json_object_put(call(s, "quit"));
	/* Its monitor closes as it exits. */
	while (waiting && qmp_sync_event(s, LEFTOVER_TIMEOUT_MS, &event, why, sizeof(why)) == QMP_OK)
		json_object_put(steal_ptr(event));
	qmp_sync_close(s);
	return waiting;
}

int upgrade_leftover_clear(struct rundir *rd)
{
	int n = 0, fd;
	struct dirent *e;
	DIR *d;

	if (faccessat(rd->dir_fd, "new-monitor.sock", F_OK, AT_SYMLINK_NOFOLLOW) < 0 || !quit_waiting(rd))
		return 0;
	if ((fd = openat(rd->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "new-", 4) && unlinkat(rd->dir_fd, e->d_name, 0) == 0)
			n++;
	closedir(d);
	return n;
}
