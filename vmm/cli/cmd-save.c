/* vmm save NAME FILE: saves a running VM into FILE (the supervisor's save,
 * vmm/supervisor/upgrade.h), after which it has ended, saved. vmm restore FILE: starts the
 * VM saved in FILE again (the profile and name its header records, vmm/supervisor/savefile.h),
 * its guest carrying on where it was. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmm/base/util.h"
#include "vmm/cli/cmd.h"
#include "vmm/cli/interrupt.h"
#include "vmm/cli/vmref.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/savefile.h"
#include "vmm/supervisor/supervisor.h"

/* Milliseconds between two looks for a Ctrl-C while the save runs. */
#define SAVE_POLL_MS 100

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

/* Asks VM name's supervisor to cancel its save; says so. */
static int cancel_save(const char *name, struct verr *err)
{
	struct json_object *r = NULL;

	if (vm_request(name, CTL_REQ_SAVE_CANCEL, NULL, VM_ANSWER_TIMEOUT_MS, &r, err) < 0)
		return -1;
	json_object_put(r);
	fprintf(stderr, "vmm: cancelling the save of %s (it runs on)\n", name);
	return 0;
}

/* Waits for the save request on fd to be answered; Ctrl-C (SIGINT, SIGTERM, SIGHUP) cancels it. */
static int wait_saved(const char *name, int fd, struct json_object **r, struct verr *err)
{
	struct interrupt_guard guard;
	bool cancelled = false;
	int ret;

	interrupt_guard_begin(&guard);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int ready = poll(&pfd, 1, SAVE_POLL_MS), e = errno;

		if (ready < 0 && e != EINTR) {
			ret = verr_set(err, e, "cannot wait for the supervisor of VM '%s'", name);
			break;
		}
		if (interrupt_guard_hit() && !cancelled) {
			_cleanup_verr_ struct verr cerr = { 0 };
			cancelled = true;
			if (cancel_save(name, &cerr) < 0) /* it may have ended meanwhile: the reply tells */
				fprintf(stderr, "vmm: %s\n", cerr.lines[0]);
		}
		if (ready > 0) {
			ret = vm_request_reply(fd, name, 0, r, err);
			break;
		}
	}
	interrupt_guard_end(&guard);
	return ret;
}

/* vmm save's handler: waits until the VM has ended, saved; --cancel cancels another's save. */
static int cmd_save(const struct cmd_args *args, struct verr *err)
{
	const char *name = args->argv[0], *rate = args_get(args, "bandwidth");
	_cleanup_free_ char *file = NULL;
	_cleanup_close_ int fd = -1;
	struct json_object *req, *r;
	uint64_t bytes = 0;
	int code;

	if (args_has(args, "cancel")) {
		if (args->argc != 1 || rate)
			return cmd_usage_error(args->entry, err);
		return cancel_save(name, err);
	}
	if (args->argc != 2)
		return cmd_usage_error(args->entry, err);
	if (rate && (parse_size(rate, &bytes) < 0 || !bytes || bytes > INT64_MAX))
		return verr_set(err, 0, "--bandwidth '%s': expected bytes per second, such as 100M or 1G", rate);
	if (!(file = absolute(args->argv[1], err)))
		return -1;
	/* The reply takes as long as the guest's memory does: first make sure the supervisor answers at all. */
	if (vm_request(name, CTL_REQ_STATUS, NULL, VM_ANSWER_TIMEOUT_MS, &r, err) < 0)
		return -1;
	json_object_put(r);
	req = json_object_new_object();
	json_object_object_add(req, CTL_ARG_FILE, json_object_new_string(file));
	if (rate)
		json_object_object_add(req, CTL_ARG_BANDWIDTH, json_object_new_int64((int64_t)bytes));
	fd = vm_request_send(name, CTL_REQ_SAVE, req, VM_ANSWER_TIMEOUT_MS, err);
	if (fd < 0 || wait_saved(name, fd, &r, err) < 0)
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
	.usage = "NAME FILE [--json] [--bandwidth RATE] | NAME --cancel",
	.help = "save a running VM into FILE (a new file) and end it; vmm restore FILE brings it back; "
		"--bandwidth caps the rate it writes at; Ctrl-C or --cancel cancels (the VM runs on)",
	.args = { .options = "bandwidth:,cancel", .lower = 1, .upper = 2 },
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
