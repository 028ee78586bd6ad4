/* vmm start PROFILE and vmm attach NAME: a detached supervisor, returning once the guest
 * runs. start reconnects when the VM's QEMU runs without a supervisor; attach only does that.
 * start --incoming URI starts the destination of a migration, returning once QEMU listens;
 * PROFILE "-" reads a resolved profile on stdin (what vmm migrate sends over ssh). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "vmm/cli/cmd.h"
#include "vmm/base/host.h"
#include "vmm/base/rundir.h"
#include "vmm/launch/identity.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/state.h"
#include "vmm/supervisor/supervisor.h"
#include "vmm/base/util.h"
#include "vmm/cli/migrate-uri.h"
#include "vmm/cli/vmref.h"

/* The supervisor process: a new session, no terminal, stderr into the pipe until ready. */
static void __attribute__((noreturn)) become_supervisor(struct plan *plan, const struct sup_options *o, int pipe_w)
{
	struct sup_options opt = *o;
	_cleanup_verr_ struct verr err = { 0 };
	int null = open("/dev/null", O_RDWR | O_CLOEXEC), ret;

	setsid();
	if (chdir("/") < 0 || null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0 ||
	    dup2(pipe_w, STDERR_FILENO) < 0)
		_exit(1);
	/* The caller's open descriptors are not the supervisor's to keep for the VM's lifetime
	 * (but for a save file to restore, moved to the first one after stderr). */
	if (opt.restore && (opt.restore_fd = dup2(opt.restore_fd, STDERR_FILENO + 1)) < 0)
		_exit(1);
	close_range(STDERR_FILENO + 1 + opt.restore, ~0U, 0);
	ret = supervise(plan, &opt, &err);
	for (size_t i = 0; i < err.n; i++)
		fprintf(stderr, "vmm: %s\n", err.lines[i]);
	plan_free(plan);
	verr_clear(&err);
	exit(ret < 0 ? 1 : ret);
}

/* Forks the supervisor and relays what it says (cmd.h). */
int cmd_start_detached(struct plan *plan, const struct sup_options *opt, struct verr *err)
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
		become_supervisor(plan, opt, fds[1]);
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
static int launch(struct plan *plan, const struct sup_options *opt, bool json, struct verr *err)
{
	_cleanup_free_ char *name = xstrdup(plan->config.name);
	int ret = cmd_start_detached(plan, opt, err);

	plan_free(plan);
	if (ret == 0 && json && print_status(name, err) < 0)
		return -1;
	return ret;
}

/* Writes the identity that came with a profile on stdin (in: {"profile", "identity"}) as VM
 * name's (the profile's name when NULL): the VM keeps its hardware where it moves. */
static int take_identity(struct json_object *in, const char *name, struct verr *err)
{
	struct json_object *ident = json_object_object_get(in, "identity"), *n;
	_cleanup_free_ char *data = data_dir(), *file = NULL;
	struct identity id = { 0 };

	if (!json_object_is_type(ident, json_type_object))
		return 0;
	if (!name && json_object_object_get_ex(json_object_object_get(in, "profile"), "name", &n))
		name = json_object_get_string(n);
	if (!name)
		return verr_set(err, 0, "-: the profile on stdin names no VM (give --name)");
	if (vm_name_check(name, err) < 0)
		return -1;
	file = xasprintf("%s/%s/identity.json", data, name);
	id = (struct identity){ .json = ident, .file = file, .changed = true };
	return identity_save(&id, err);
}

/* Loads the plan of a resolved profile read on stdin ("-"), with the VM's identity, named as --name says. */
static int plan_from_stdin(const struct cmd_args *args, struct plan *plan, struct verr *err)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *json = NULL;
	char buf[4096];
	ssize_t n;
	int r;

	if (args->plan.layers.n || args->plan.sets.n) {
		json_tokener_free(tok);
		return verr_set(err, 0, "a profile on stdin (-) is resolved already: it takes no -p or --set");
	}
	while (!json && (n = read(STDIN_FILENO, buf, sizeof(buf))) > 0) {
		json = json_tokener_parse_ex(tok, buf, (int)n);
		if (!json && json_tokener_get_error(tok) != json_tokener_continue)
			break;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(json_object_object_get(json, "profile"), json_type_object)) {
		json_object_put(json);
		return verr_set(err, 0, "-: expected {\"profile\": a resolved profile, \"identity\": the VM's identity} "
				"on stdin");
	}
	if (take_identity(json, args->plan.name, err) < 0) {
		json_object_put(json);
		return -1;
	}
	r = plan_from_json("-", json_object_get(json_object_object_get(json, "profile")), NULL, args->plan.name, true,
			   plan, err);
	json_object_put(json);
	if (r == PLAN_ERR_HOST)
		err->status = VM_START_FAILED;
	return r < 0 ? -1 : 0;
}

/* Reads --incoming's settings: where to listen, and --postcopy and --tls as the source has them. */
static int incoming_options(const struct cmd_args *args, struct sup_options *opt, struct verr *err)
{
	opt->incoming = args_get(args, "incoming");
	if (!opt->incoming) {
		if (args_has(args, "postcopy") || args_has(args, "tls") || args_has(args, "copy-storage"))
			return verr_set(err, 0, "--postcopy, --tls and --copy-storage are for --incoming");
		return 0;
	}
	if (strncmp(opt->incoming, "tcp:", 4) && strncmp(opt->incoming, "unix:", 5))
		return verr_set(err, 0, "--incoming '%s': expected tcp:HOST:PORT or unix:PATH", opt->incoming);
	opt->incoming_settings.postcopy = args_has(args, "postcopy");
	opt->incoming_settings.tls_dir = args_get(args, "tls");
	opt->incoming_storage = args_has(args, "copy-storage");
	if (migrate_uri_check(opt->incoming, true, err) < 0)
		return -1;
	if (opt->incoming_storage) { /* the disks are served on PATH.nbd */
		_cleanup_free_ char *nbd = xasprintf("%s.nbd", opt->incoming);
		return migrate_uri_check(nbd, true, err);
	}
	return 0;
}

/* vmm start's handler. */
static int cmd_start(const struct cmd_args *args, struct verr *err)
{
	struct sup_options opt = { .detached = true, .attach = ATTACH_ORPHAN };
	struct plan plan;

	if (incoming_options(args, &opt, err) < 0)
		return -1;
	if (opt.incoming)
		opt.attach = ATTACH_NEVER;
	if ((!strcmp(args->argv[0], "-") ? plan_from_stdin(args, &plan, err) : cmd_load_plan(args, true, &plan, err)) < 0)
		return -1;
	plan.reset_nvram = args_has(args, "reset-nvram");
	/* A post-copy destination needs userfaultfd, which the kernel may keep from QEMU's user. */
	if (opt.incoming_settings.postcopy && plan.qemu_user.name && !plan.config.qemu_user &&
	    !qemu_user_may_postcopy()) {
		fprintf(stderr, "vmm: %s: warning: QEMU runs as root: --postcopy needs userfaultfd, which this kernel "
			"gives the user '%s' only with vm.unprivileged_userfaultfd=1\n", plan.config.name,
			plan.qemu_user.name);
		qemu_user_free(&plan.qemu_user);
	}
	return launch(&plan, &opt, args->json, err);
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
	return launch(&plan, &(const struct sup_options){ .detached = true, .attach = ATTACH_ONLY }, args->json, err);
}

const struct cmd_entry cmd_start_entry = {
	.name = "start",
	.usage = "PROFILE|- [--json] [--reset-nvram] [--incoming URI [--postcopy] [--tls DIR] [--copy-storage]] " PLAN_USAGE,
	.help = "start a VM in the background (reconnect if its QEMU runs unsupervised); --incoming: the "
		"destination of vmm migrate, listening on URI (tcp:HOST:PORT, unix:PATH) with the source's "
		"--postcopy and --tls (--copy-storage: serving its writable disks over NBD for the source's "
		"copy, on PORT+1 or PATH.nbd), returning once it listens; - reads a resolved profile and identity "
		"on stdin",
	.args = { .options = "reset-nvram,incoming:,postcopy,tls:,copy-storage", .lower = 1, .upper = 1 },
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
