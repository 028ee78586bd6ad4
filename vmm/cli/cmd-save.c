/* vmm save NAME FILE: saves a running VM into FILE (the supervisor's save,
 * vmm/supervisor/upgrade.h), after which it has ended, saved. vmm restore FILE: starts the
 * VM saved in FILE again (the profile and name its header records, vmm/supervisor/savefile.h),
 * its guest carrying on where it was. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/base/util.h"
#include "vmm/cli/cmd.h"
#include "vmm/cli/vmref.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/savefile.h"
#include "vmm/supervisor/supervisor.h"

/* Seconds vmm restore waits for the guest to be loaded and run. */
#define RESTORE_TIMEOUT 120

/* A member of o as a string ("" when absent). */
static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

/* file as an absolute path (its directory must exist), or NULL with err. */
static char *absolute(const char *file, struct verr *err)
{
	_cleanup_free_ char *copy = xstrdup(file), *copy2 = xstrdup(file), *dir = NULL;
	const char *base = basename(copy2);

	dir = realpath(dirname(copy), NULL);
	if (!dir || !*base || !strcmp(base, ".") || !strcmp(base, "..") || !strcmp(base, "/")) {
		verr_set(err, dir ? EISDIR : errno, "cannot save to '%s'", file);
		return NULL;
	}
	return xasprintf("%s/%s", strcmp(dir, "/") ? dir : "", base);
}

/* vmm save's handler: waits until the VM has ended, saved. */
static int cmd_save(const struct cmd_args *args, struct verr *err)
{
	const char *name = args->argv[0];
	_cleanup_free_ char *file = absolute(args->argv[1], err);
	struct json_object *req, *r;
	int code;

	if (!file)
		return -1;
	/* The reply takes as long as the guest's memory does: first make sure the supervisor answers at all. */
	if (vm_request(name, CTL_REQ_STATUS, NULL, VM_ANSWER_TIMEOUT_MS, &r, err) < 0)
		return -1;
	json_object_put(r);
	req = json_object_new_object();
	json_object_object_add(req, CTL_ARG_FILE, json_object_new_string(file));
	if (vm_request(name, CTL_REQ_SAVE, req, 0, &r, err) < 0)
		return -1;
	if (args->json)
		cmd_print_json(r, JSON_PRETTY);
	else
		fprintf(stderr, "vmm: %s: %s\n", name, str(r, CTL_END_MESSAGE));
	code = (int)json_object_get_int(json_object_object_get(r, CTL_END_CODE));
	json_object_put(r);
	return code == VM_SAVED ? 0 : code;
}

/* Waits until the restored guest runs (QEMU has loaded it), up to RESTORE_TIMEOUT seconds. */
static int wait_loaded(const char *name, struct verr *err)
{
	time_t until = time(NULL) + RESTORE_TIMEOUT;
	struct json_object *st;
	const char *state;

	for (;;) {
		if (vm_request(name, CTL_REQ_STATUS, NULL, VM_ANSWER_TIMEOUT_MS, &st, err) < 0)
			return -1;
		state = str(st, VM_KEY_STATE);
		if (strcmp(state, "inmigrate") && strcmp(state, "starting")) {
			int r = strcmp(state, "running") && strcmp(state, "paused")
				? verr_set(err, 0, "VM '%s' is %s after its restore", name, state)
				: 0;
			json_object_put(st);
			return r;
		}
		json_object_put(st);
		if (time(NULL) > until)
			return verr_set(err, 0, "VM '%s': QEMU did not load the saved guest within %d s", name,
					RESTORE_TIMEOUT);
		usleep(20000);
	}
}

/* vmm restore's handler. */
static int cmd_restore(const struct cmd_args *args, struct verr *err)
{
	const char *file = args->argv[0];
	_cleanup_free_ char *vm = NULL, *path = NULL;
	struct json_object *profile;
	struct sup_options opt = { .detached = true, .attach = ATTACH_NEVER, .restore = true };
	struct plan plan;
	int r, fd;

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return verr_set(err, errno, "cannot open '%s'", file);
	if (savefile_read_header(fd, file, &vm, &path, &profile, err) < 0) {
		close(fd);
		return -1;
	}
	r = plan_from_json(path, profile, NULL, vm, true, &plan, err);
	if (r < 0) {
		close(fd);
		if (r == PLAN_ERR_HOST)
			err->status = VM_START_FAILED;
		return -1;
	}
	opt.restore_fd = fd;
	r = cmd_start_detached(&plan, &opt, err);
	plan_free(&plan);
	close(fd);
	if (r != 0)
		return r;
	if (wait_loaded(vm, err) < 0)
		return -1;
	if (args->json) {
		struct json_object *st;
		if (vm_request(vm, CTL_REQ_STATUS, NULL, VM_ANSWER_TIMEOUT_MS, &st, err) < 0)
			return -1;
		cmd_print_json(st, JSON_PRETTY);
		json_object_put(st);
	} else
		fprintf(stderr, "vmm: %s: restored from %s\n", vm, file);
	return 0;
}

const struct cmd_entry cmd_save_entry = {
	.name = "save",
	.usage = "NAME FILE [--json]",
	.help = "save a running VM into FILE (a new file) and end it; vmm restore FILE brings it back",
	.args = { .lower = 2, .upper = 2 },
	.flags = CMD_JSON,
	.exec = cmd_save,
};

const struct cmd_entry cmd_restore_entry = {
	.name = "restore",
	.usage = "FILE [--json]",
	.help = "start the VM saved in FILE (vmm save) again, its guest carrying on where it was",
	.args = { .lower = 1, .upper = 1 },
	.flags = CMD_JSON,
	.exec = cmd_restore,
};
