#include "vmm/cli/migrate-ssh.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "vmm/base/host.h"
#include "vmm/base/rundir.h"
#include "vmm/base/util.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/state.h"

bool migrate_ssh_dest(const char *dest)
{
	return !strncmp(dest, "ssh://", 6);
}

/* True when every character of s is one of ok (s not empty, not starting with '-'). */
static bool only(const char *s, const char *ok)
{
	return *s && *s != '-' && strspn(s, ok) == strlen(s);
}

/* Runs argv (ssh) with in_text on its stdin; its stdout (up to max bytes) into *out. Returns
 * its exit status, or -1 with err when it could not run. */
static int run_ssh(char *const argv[], const char *in_text, char **out, struct verr *err)
{
	int in[2], outp[2], status;
	size_t len = 0, cap = 65536;
	char *buf;
	pid_t pid;
	ssize_t n;

	if (pipe2(in, O_CLOEXEC) < 0)
		return verr_set(err, errno, "cannot create a pipe");
	if (pipe2(outp, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return verr_set(err, errno, "cannot create a pipe");
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(in[0]);
		close(in[1]);
		close(outp[0]);
		close(outp[1]);
		return verr_set(err, errno, "cannot fork");
	}
	if (pid == 0) {
		if (dup2(in[0], STDIN_FILENO) < 0 || dup2(outp[1], STDOUT_FILENO) < 0)
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "vmm: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(outp[1]);
	signal(SIGPIPE, SIG_IGN);
	(void)write_all(in[1], in_text, strlen(in_text));
	close(in[1]);
	buf = xmalloc(cap);
	while ((n = read(outp[0], buf + len, cap - len - 1)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		len += (size_t)n;
		if (len + 1 >= cap)
			buf = xrealloc(buf, cap *= 2);
	}
	buf[len] = '\0';
	close(outp[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*out = buf;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int migrate_ssh_start(const char *name, const char *dest, bool postcopy, const char *tls_dir, bool copy_storage,
		      char **uri, struct verr *err)
{
	const char *target = dest + 6, *host = strchr(target, '@') ? strchr(target, '@') + 1 : target;
	_cleanup_free_ char *dir = NULL, *path = NULL, *out = NULL, *listen = NULL, *data = data_dir(), *ident_file = NULL;
	const char *ssh = getenv("VMM_SSH") ? getenv("VMM_SSH") : "ssh";
	struct json_object *profile = NULL, *status, *incoming, *in, *ident;
	struct strv argv = { 0 };
	unsigned port;
	int rc;

	if (!only(target, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@") || !*host ||
	    strchr(host, '@'))
		return verr_set(err, 0, "destination '%s': expected ssh://[USER@]HOST (letters, digits, '.', '_', '-')",
				dest);
	if (tls_dir && !only(tls_dir, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/"))
		return verr_set(err, 0, "--tls '%s': over ssh the directory's path may only have letters, digits, "
				"'.', '_', '-' and '/' (the remote vmm gets it as a word of its command)", tls_dir);
	dir = rundir_path(name, err);
	if (!dir || state_profile(dir, &path, &profile, err) < 0)
		return -1;
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	port = MIGRATE_SSH_PORT_FIRST + (unsigned)rand() % MIGRATE_SSH_PORTS;
	listen = xasprintf("tcp:0.0.0.0:%u", port);
	strv_push(&argv, ssh);
	strv_push(&argv, "-o");
	strv_push(&argv, "BatchMode=yes");
	strv_push(&argv, target);
	strv_push(&argv, "vmm");
	strv_push(&argv, "start");
	strv_push(&argv, "-");
	strv_push(&argv, "--json");
	strv_push(&argv, "--incoming");
	strv_push(&argv, listen);
	strv_push(&argv, "--name");
	strv_push(&argv, name);
	if (postcopy)
		strv_push(&argv, "--postcopy");
	if (copy_storage)
		strv_push(&argv, "--copy-storage");
	if (tls_dir) {
		strv_push(&argv, "--tls");
		strv_push(&argv, tls_dir);
	}
	ident_file = xasprintf("%s/%s/identity.json", data, name);
	in = json_object_new_object();
	json_object_object_add(in, "profile", profile);
	ident = json_object_from_file(ident_file);
	if (ident)
		json_object_object_add(in, "identity", ident);
	rc = run_ssh(argv.v, json_object_to_json_string_ext(in, JSON_C_TO_STRING_PLAIN), &out, err);
	strv_free(&argv);
	json_object_put(in);
	if (rc < 0)
		return -1;
	if (rc != 0)
		return verr_set(err, 0, "the destination on %s did not start (ssh %s ... vmm start exited %d): "
				"nothing was migrated", target, target, rc);
	status = json_tokener_parse(out);
	if (!json_object_object_get_ex(status, VM_KEY_INCOMING, &incoming)) {
		json_object_put(status);
		return verr_set(err, 0, "the destination on %s started but does not wait for a migration", target);
	}
	json_object_put(status);
	*uri = xasprintf("tcp:%s:%u", host, port);
	return 0;
}
