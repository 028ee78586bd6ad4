/* vmm start PROFILE and vmm attach NAME: a detached supervisor, returning once the guest
 * runs. start reconnects when the VM's QEMU runs without a supervisor; attach only does that. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>

#include "vmm/cli/cmd.h"
#include "vmm/base/rundir.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/state.h"
#include "vmm/supervisor/supervisor.h"
#include "vmm/base/util.h"
#include "vmm/cli/vmref.h"

/* The supervisor process: a new session, no terminal, stderr into the pipe until ready. */
static void __attribute__((noreturn)) become_supervisor(struct plan *plan, enum sup_attach attach, int pipe_w)
{
	const struct sup_options opt = { .detached = true, .attach = attach };
	_cleanup_verr_ struct verr err = { 0 };
	int null = open("/dev/null", O_RDWR | O_CLOEXEC), ret;

	setsid();
	if (chdir("/") < 0 || null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
	    dup2(pipe_w, STDERR_FILENO) < 0)
		_exit(1);
	/* The caller's open descriptors are not the supervisor's to keep for the VM's lifetime. */
	close_range(STDERR_FILENO + 1, ~0U, 0);
	ret = supervise(plan, &opt, &err);
	for (size_t i = 0; i < err.n; i++)
		fprintf(stderr, "vmm: %s\n", err.lines[i]);
	plan_free(plan);
	verr_clear(&err);
	exit(ret < 0 ? 1 : ret);
}

/* Forks the supervisor and relays what it says until the guest runs (0) or it gives up (its status). */
static int start_detached(struct plan *plan, enum sup_attach attach, struct verr *err)
{
	int fds[2], status;
	bool ready = false;
	char buf[4096];
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return verr_set(err, errno, "cannot create a pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return verr_set(err, errno, "cannot fork the supervisor");
	if (pid == 0) {
		close(fds[0]);
		become_supervisor(plan, attach, fds[1]);
	}
	close(fds[1]);
	while ((n = read(fds[0], buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (buf[n - 1] == SUP_READY) {
			ready = true;
			n--;
		}
		(void)write_all(STDERR_FILENO, buf, (size_t)n);
	}
	close(fds[0]);
	if (ready)
		return 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* Prints the VM's status as JSON (for --json). */
static int print_status(const char *name, struct verr *err)
{
	struct json_object *st;

	if (vm_request(name, CTL_REQ_STATUS, NULL, VM_ANSWER_TIMEOUT_MS, &st, err) < 0)
		return -1;
	cmd_print_json(st, JSON_PRETTY);
	json_object_put(st);
	return 0;
}

/* Starts (or reconnects) the supervisor and reports. */
static int launch(struct plan *plan, enum sup_attach attach, bool json, struct verr *err)
{
	_cleanup_free_ char *name = xstrdup(plan->config.name);
	int ret = start_detached(plan, attach, err);

	plan_free(plan);
	if (ret == 0 && json && print_status(name, err) < 0)
		return -1;
	return ret;
}

/* vmm start's handler. */
static int cmd_start(const struct cmd_args *args, struct verr *err)
{
	struct plan plan;

	if (cmd_load_plan(args, true, &plan, err) < 0)
		return -1;
	plan.reset_nvram = args_has(args, "reset-nvram");
	return launch(&plan, ATTACH_ORPHAN, args->json, err);
}

/* vmm attach's handler: the profile comes from the state file of the running QEMU. */
static int cmd_attach(const struct cmd_args *args, struct verr *err)
{
	_cleanup_free_ char *dir = NULL, *path = NULL;
	const char *name = args->argv[0];
	struct json_object *profile;
	enum qemu_found found;
	struct plan plan;
	pid_t pid;
	int r;

	dir = rundir_path(name, err);
	if (!dir)
		return -1;
	found = state_find_qemu(dir, name, &pid);
	if (found == QEMU_LOST)
		return state_qemu_error(found, name, dir, pid, err);
	if (found == QEMU_NONE)
		return verr_set(err, 0, "VM '%s' has no QEMU running without a supervisor (nothing to attach to)",
				name);
	if (state_profile(dir, &path, &profile, err) < 0)
		return -1;
	r = plan_from_json(path, profile, NULL, NULL, true, &plan, err);
	if (r == PLAN_ERR_HOST)
		err->status = VM_START_FAILED;
	if (r < 0)
		return -1;
	return launch(&plan, ATTACH_ONLY, args->json, err);
}

const struct cmd_entry cmd_start_entry = {
	.name = "start",
	.usage = "PROFILE [--json] [--reset-nvram] " PLAN_USAGE,
	.help = "start a VM in the background (reconnect if its QEMU runs unsupervised)",
	.args = { .options = "reset-nvram", .lower = 1, .upper = 1 },
	.flags = CMD_JSON | CMD_PLAN,
	.exec = cmd_start,
};

const struct cmd_entry cmd_attach_entry = {
	.name = "attach",
	.usage = "NAME [--json]",
	.help = "start a new supervisor for a VM whose QEMU runs unsupervised",
	.args = { .lower = 1, .upper = 1 },
	.flags = CMD_JSON,
	.exec = cmd_attach,
};
