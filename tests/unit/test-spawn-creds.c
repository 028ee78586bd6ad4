/* Unit tests of spawn_as() (vmm/launch/spawn.h), run as root: the child runs as the given
 * uid, gid and groups with no capability and no_new_privs; RLIMIT_MEMLOCK is set to what is
 * asked (half the current hard limit: no CAP_SYS_RESOURCE needed); a limit the host does not let
 * root raise fails the spawn with an error naming the user, and no child is left. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "vmm/launch/spawn.h"

/* Runs the script as creds; its output in out. Returns spawn's result. */
static int run_as(const struct spawn_creds *creds, const char *script, char *out, size_t size, struct verr *err)
{
	char *const argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	struct spawned child;
	ssize_t n, got = 0;

	out[0] = '\0';
	if (spawn_as(creds, argv[0], argv, NULL, NULL, 0, &child, err) < 0)
		return -1;
	while ((n = read(child.output_fd, out + got, size - 1 - (size_t)got)) > 0)
		got += n;
	out[got] = '\0';
	waitpid(child.pid, NULL, 0);
	close(child.output_fd);
	return 0;
}

int main(void)
{
	const gid_t groups[] = { 65534, 4242 };
	struct rlimit lim;
	struct verr err = { 0 };
	char out[1024];

	if (geteuid() != 0) {
		printf("1..0 # SKIP only root drops privileges\n");
		return 0;
	}
	getrlimit(RLIMIT_MEMLOCK, &lim);
	struct spawn_creds creds = { .uid = 65534, .gid = 65534, .groups = groups, .n_groups = 2,
				     .memlock = lim.rlim_max == RLIM_INFINITY ? 1ULL << 30 : lim.rlim_max / 2 };
	unsigned long long soft = 0, hard = 0;

	ok(run_as(&creds, "grep -E '^(Uid|Gid|Groups|CapEff|CapPrm|NoNewPrivs):' /proc/self/status | tr -s '\\t ' ' '",
		  out, sizeof(out), &err) == 0,
	   "spawn_as runs the program");
	ok(strstr(out, "Uid: 65534 65534 65534 65534\n") && strstr(out, "Gid: 65534 65534 65534 65534\n"),
	   "as the uid and gid asked for");
	ok(strstr(out, "Groups: 4242 65534") != NULL, "with the supplementary groups asked for");
	ok(strstr(out, "CapEff: 0000000000000000\n") && strstr(out, "CapPrm: 0000000000000000\n"),
	   "with no capability left");
	ok(strstr(out, "NoNewPrivs: 1\n") != NULL, "and no_new_privs");
	ok(run_as(&creds, "grep 'Max locked memory' /proc/self/limits", out, sizeof(out), &err) == 0, "memlock: runs");
	ok(sscanf(out, "Max locked memory %llu %llu", &soft, &hard) == 2 && soft == creds.memlock &&
		   hard == creds.memlock,
	   "RLIMIT_MEMLOCK set to %llu (soft and hard: %llu %llu)", creds.memlock, soft, hard);
	ok(run_as(NULL, "id -u", out, sizeof(out), &err) == 0 && !strcmp(out, "0\n"), "spawn_as(NULL) keeps root");

	/* Above the hard limit: root raises it with CAP_SYS_RESOURCE, else the spawn fails clearly. */
	if (lim.rlim_max != RLIM_INFINITY) {
		creds.memlock = lim.rlim_max + 4096;
		if (run_as(&creds, "grep 'Max locked memory' /proc/self/limits", out, sizeof(out), &err) == 0) {
			ok(sscanf(out, "Max locked memory %llu %llu", &soft, &hard) == 2 && hard == creds.memlock,
			   "root raised RLIMIT_MEMLOCK above the hard limit (%llu)", hard);
		} else {
			ok(err.n == 1 && strstr(err.lines[0], "cannot run '/bin/sh' as uid 65534 (RLIMIT_MEMLOCK"),
			   "a limit root may not raise fails the spawn: %s", err.n ? err.lines[0] : "");
		}
	}
	verr_clear(&err);
	return tap_done();
}
