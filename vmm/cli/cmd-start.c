/* vmm start PROFILE and vmm attach NAME: a detached supervisor, returning once the guest
 * runs. start reconnects when the VM's QEMU runs without a supervisor; attach only does that. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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
	close(null);
	close(pipe_w);
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

	if (vm_request(name, CTL_REQ_STATUS, NULL, 5000, &st, err) < 0)
		return -1;
	puts(json_object_to_json_string_ext(st, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
	json_object_put(st);
	return 0;
}

/* Parses "[--json]" and one operand. */
static int parse(const struct cmd_entry *entry, int argc, char **argv, bool *json, struct verr *err)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' }, { 0 } };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'j')
			*json = true;
		else
			return cmd_usage_error(entry, err);
	}
	return optind == argc - 1 ? 0 : cmd_usage_error(entry, err);
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
static int cmd_start(int argc, char **argv, struct verr *err)
{
	bool json = false;
	struct plan plan;

	if (cmd_load_profile(&cmd_start_entry, argc, argv, &json, true, &plan, err) < 0)
		return -1;
	return launch(&plan, ATTACH_ORPHAN, json, err);
}

/* vmm attach's handler: the profile comes from the state file of the running QEMU. */
static int cmd_attach(int argc, char **argv, struct verr *err)
{
	_cleanup_free_ char *dir = NULL, *path = NULL;
	struct json_object *profile;
	const char *name = NULL;
	bool json = false;
	struct plan plan;
	int r;

	if (parse(&cmd_attach_entry, argc, argv, &json, err) < 0)
		return -1;
	name = argv[optind];
	if (!vm_name_valid(name))
		return verr_set(err, 0, "'%s' is not a valid VM name", name);
	dir = rundir_path(name, err);
	if (!dir)
		return -1;
	if (!state_orphan(dir, name))
		return verr_set(err, 0, "VM '%s' has no QEMU running without a supervisor (nothing to attach to)",
				name);
	if (state_profile(dir, &path, &profile, err) < 0)
		return -1;
	r = plan_from_json(path, profile, NULL, NULL, true, &plan, err);
	if (r == PLAN_ERR_HOST)
		err->status = VM_START_FAILED;
	if (r < 0)
		return -1;
	return launch(&plan, ATTACH_ONLY, json, err);
}

const struct cmd_entry cmd_start_entry = {
	.name = "start",
	.usage = "PROFILE [--json] " PLAN_USAGE,
	.help = "start a VM in the background (reconnect if its QEMU runs unsupervised)",
	.exec = cmd_start,
};

const struct cmd_entry cmd_attach_entry = {
	.name = "attach",
	.usage = "NAME [--json]",
	.help = "start a new supervisor for a VM whose QEMU runs unsupervised",
	.exec = cmd_attach,
};
