/* One run of a bench target (bench.h): a variant booted under a detached supervisor, fio run
 * in the guest through its agent (guest-exec), the result collected, the VM stopped; or the
 * host reference, fio run on the host. Every step is timed, so that vmm's own part shows. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmm/base/host.h"
#include "vmm/base/util.h"
#include "vmm/cli/bench.h"
#include "vmm/cli/cmd.h"
#include "vmm/cli/guest.h"
#include "vmm/cli/vmref.h"
#include "vmm/supervisor/protocol.h"

/* Seconds the guest gets to boot until its agent answers, and to show the disk. */
#define BOOT_SECONDS 180
#define DISK_SECONDS 15
/* Seconds fio gets beyond its runtime (laying out, starting), and in all without a runtime. */
#define FIO_GRACE_SECONDS 120
#define FIO_UNTIMED_SECONDS 3600
/* Seconds the guest gets to power off when the run is done. */
#define STOP_SECONDS 30

/* Finds the disk whose serial is $1 in the guest and prints "FIO VERSION DEVICE BYTES" (FIO
 * "-" when there is none on PATH, DEVICE "-" when no disk has the serial): virtio-blk and
 * NVMe show the serial in sysfs, SCSI and SATA in their VPD page 0x80. */
static const char lookup_script[] =
	"f=$(command -v fio) || f=-\n"
	"v=-; [ \"$f\" = - ] || v=$(\"$f\" --version 2>/dev/null) || v=-\n"
	"for b in /sys/block/*; do\n"
	"  if [ -r \"$b/serial\" ]; then s=$(tr -d ' \\000-\\037' <\"$b/serial\")\n"
	"  elif [ -r \"$b/device/serial\" ]; then s=$(tr -d ' \\000-\\037' <\"$b/device/serial\")\n"
	"  elif [ -r \"$b/device/vpd_pg80\" ]; then s=$(tail -c +5 \"$b/device/vpd_pg80\" | tr -d ' \\000-\\037')\n"
	"  else continue; fi\n"
	"  [ \"$s\" = \"$1\" ] && { echo \"$f $v /dev/${b##*/} $(($(cat \"$b/size\") * 512))\"; exit 0; }\n"
	"done\n"
	"echo \"$f $v - 0\"\n";

volatile sig_atomic_t bench_interrupted;

/* Encodes n bytes as base64 (owned). */
static char *base64_encode(const char *in, size_t n)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)(unsigned char)in[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)in[i + 2];
		*o++ = set[v >> 18 & 63];
		*o++ = set[v >> 12 & 63];
		*o++ = i + 1 < n ? set[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? set[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/* What a command run in the guest left. */
struct exec_result {
	int code;          /* exit status, 128 + N for signal N */
	char *out, *errs;  /* its stdout and stderr (owned, NUL-terminated) */
	size_t out_len;
};

/* Decodes member key (base64) of a guest-exec-status into *out. */
static void take_output(struct json_object *st, const char *key, char **out, size_t *len)
{
	struct json_object *v;
	size_t n = 0;

	*out = NULL;
	if (!json_object_object_get_ex(st, key, &v) || base64_decode(json_object_get_string(v), out, &n) < 0)
		*out = xstrdup("");
	if (len)
		*len = n;
}

/* Runs argv in the guest of VM name with input on its stdin (NULL: none), for at most seconds,
 * asking whether it ended every poll_ms once expect_ms have passed (every 250 ms before).
 * Returns 0 with *res, or -1 with err. */
static int guest_run(const char *name, const char *const *argv, const char *input, unsigned seconds,
		     unsigned expect_ms, unsigned poll_ms, struct exec_result *res, struct verr *err)
{
	struct json_object *a = json_object_new_object(), *args = json_object_new_array(), *r = NULL, *pid, *v;
	int64_t start = now_ms(), deadline = start + (int64_t)seconds * 1000;

	for (size_t i = 1; argv[i]; i++)
		json_object_array_add(args, json_object_new_string(argv[i]));
	json_object_object_add(a, "path", json_object_new_string(argv[0]));
	json_object_object_add(a, "arg", args);
	json_object_object_add(a, "capture-output", json_object_new_boolean(true));
	if (input) {
		_cleanup_free_ char *b64 = base64_encode(input, strlen(input));
		json_object_object_add(a, "input-data", json_object_new_string(b64));
	}
	if (guest_agent(name, "guest-exec", a, GUEST_AGENT_SECONDS, &r, err) < 0)
		return -1;
	if (!json_object_object_get_ex(r, "pid", &pid)) {
		json_object_put(r);
		return verr_set(err, 0, "the guest agent's guest-exec returned no pid");
	}
	pid = json_object_get(pid);
	json_object_put(r);
	for (;;) {
		struct json_object *st = json_object_new_object();
		int64_t now = now_ms(), wait;

		json_object_object_add(st, "pid", json_object_get(pid));
		if (guest_agent(name, "guest-exec-status", st, GUEST_AGENT_SECONDS, &r, err) < 0) {
			json_object_put(pid);
			return -1;
		}
		if (json_object_object_get_ex(r, "exited", &v) && json_object_get_boolean(v))
			break;
		json_object_put(r);
		if (now >= deadline || bench_interrupted) {
			json_object_put(pid);
			return bench_interrupted ? verr_set(err, 0, "interrupted")
						 : verr_set(err, 0, "'%s' did not end within %u s in the guest", argv[0], seconds);
		}
		wait = now - start < expect_ms ? (int64_t)expect_ms - (now - start) : poll_ms;
		usleep((useconds_t)(wait < 250 ? wait : 250) * 1000);
	}
	json_object_put(pid);
	res->code = guest_exec_code(r);
	take_output(r, "out-data", &res->out, &res->out_len);
	take_output(r, "err-data", &res->errs, NULL);
	json_object_put(r);
	return 0;
}

/* Frees what guest_run gave. */
static void exec_result_free(struct exec_result *res)
{
	free(res->out);
	free(res->errs);
}

/* Waits until the guest agent of VM name answers. */
static int wait_agent(const char *name, struct verr *err)
{
	int64_t deadline = now_ms() + BOOT_SECONDS * 1000;

	for (;;) {
		_cleanup_verr_ struct verr why = { 0 };
		struct json_object *r;
		int ret = guest_agent(name, "guest-ping", NULL, 2, &r, &why);

		if (ret == 0) {
			json_object_put(r);
			return 0;
		}
		if (bench_interrupted)
			return verr_set(err, 0, "interrupted");
		if (ret == -ESRCH || now_ms() >= deadline) {
			verr_append(err, &why);
			verr_wrap(err, "the guest's agent did not answer within %d s of its start", BOOT_SECONDS);
			return -1;
		}
		usleep(20 * 1000);
	}
}

/* Finds the target disk in the guest (its serial) and fio; fills t->size and *dev. Returns 0,
 * 1 when the guest has no fio (err says so), or -1 with err. */
static int find_disk(struct bench_target *t, const struct disk_config *d, char **dev, struct verr *err)
{
	const char *const argv[] = { "/bin/sh", "-c", lookup_script, "sh", d->serial, NULL };
	int64_t deadline = now_ms() + DISK_SECONDS * 1000;

	for (;;) {
		struct exec_result res = { 0 };
		char fio[256], version[64], device[64];
		unsigned long long bytes;

		if (guest_run(t->vm_name, argv, NULL, 10, 0, 20, &res, err) < 0)
			return -1;
		if (res.code != 0 || sscanf(res.out, "%255s %63s %63s %llu", fio, version, device, &bytes) != 4) {
			verr_set(err, 0, "finding disk '%s' in the guest failed (/bin/sh exited %d): %.200s", t->disk, res.code,
				 res.errs);
			exec_result_free(&res);
			return -1;
		}
		exec_result_free(&res);
		if (!strcmp(fio, "-") || !strcmp(version, "-"))
			return verr_set(err, 0, "the guest has no fio%s: install it in the guest (Debian: apt install fio)",
					strcmp(fio, "-") ? " that runs" : " on its PATH"),
			       1;
		if (strcmp(device, "-")) {
			if (!t->fio_version)
				t->fio_version = xstrdup(version);
			t->size = bytes;
			*dev = xstrdup(device);
			return 0;
		}
		if (now_ms() >= deadline)
			return verr_set(err, 0, "no disk with serial '%s' (disk '%s') shows in the guest within %d s",
					d->serial, t->disk, DISK_SECONDS);
		usleep(200 * 1000);
	}
}

/* The disk of the variant fio runs on. */
static const struct disk_config *target_disk(const struct bench_target *t)
{
	for (size_t i = 0; i < t->plan.config.n_disks; i++)
		if (!strcmp(t->plan.config.disks[i].id, t->disk))
			return &t->plan.config.disks[i];
	return NULL;
}

/* Writes len bytes of text to DIR/ID/file. */
static void save(const struct bench *b, const struct bench_target *t, const char *file, const char *text, size_t len)
{
	_cleanup_free_ char *path = xasprintf("%s/%s/%s", b->out_dir, t->id, file);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd >= 0)
		(void)write_all(fd, text, len);
}

/* Copies the VM's console log into the target's directory (console-rN.log). */
static void keep_console(const struct bench *b, const struct bench_target *t, unsigned r)
{
	_cleanup_free_ char *from = xasprintf("%s/console.log", t->plan.run_dir), *name = xasprintf("console-r%u.log", r + 1);
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *f = fopen(from, "re");

	if (!f)
		return;
	text = xmalloc(1 << 20);
	len = fread(text, 1, 1 << 20, f);
	fclose(f);
	save(b, t, name, text, len);
}

/* Keeps this process (and the supervisor it forks) off the CPUs the VM's vCPUs and iothreads
 * are pinned to; *saved gets the affinity to go back to. Says once when nothing is left. */
static void keep_off(const struct bench_target *t, cpu_set_t *saved)
{
	static bool said;
	cpu_set_t want;

	sched_getaffinity(0, sizeof(*saved), saved);
	if (!t->keep_off.n)
		return;
	want = *saved;
	for (size_t i = 0; i < t->keep_off.n; i++)
		if (t->keep_off.cpus[i] < CPU_SETSIZE)
			CPU_CLR(t->keep_off.cpus[i], &want);
	if (CPU_COUNT(&want) == 0) {
		if (!said)
			fprintf(stderr, "vmm: bench: the VM is pinned to every CPU vmm may use (%ld on this host): "
					"vmm's threads run beside its vCPUs and iothreads\n", host_cpu_count());
		said = true;
		return;
	}
	sched_setaffinity(0, sizeof(want), &want);
}

/* Stops the VM (power button, then harder) and waits until it has ended. */
static void stop_vm(const char *name)
{
	_cleanup_verr_ struct verr err = { 0 };
	struct json_object *req = json_object_new_object(), *r;

	json_object_object_add(req, CTL_ARG_TIMEOUT, json_object_new_int(STOP_SECONDS));
	if (vm_request(name, CTL_REQ_STOP, req, 0, &r, &err) == 0)
		json_object_put(r);
}

/* Reads the VM's facts once it runs and is pinned: QEMU's pid and version, the thread map. */
static void read_facts(struct bench_target *t)
{
	_cleanup_verr_ struct verr err = { 0 };
	struct json_object *st, *v;

	if (t->facts || vm_request(t->vm_name, CTL_REQ_STATUS, NULL, VM_ANSWER_TIMEOUT_MS, &st, &err) < 0)
		return;
	t->facts = json_object_new_object();
	if (json_object_object_get_ex(st, VM_KEY_QEMU_VERSION, &v))
		json_object_object_add(t->facts, "qemu_version", json_object_get(v));
	if (json_object_object_get_ex(st, VM_KEY_PINNED, &v))
		json_object_object_add(t->facts, "pinned", json_object_get(v));
	if (json_object_object_get_ex(st, VM_KEY_QEMU_PID, &v))
		json_object_object_add(t->facts, "cpu_map", bench_cpu_map((pid_t)json_object_get_int(v)));
	/* vmm's own threads, which keep off the pinned CPUs when there are others. */
	if (json_object_object_get_ex(st, VM_KEY_SUPERVISOR_PID, &v))
		json_object_object_add(t->facts, "supervisor_cpu_map", bench_cpu_map((pid_t)json_object_get_int(v)));
	json_object_object_add(t->facts, "bench_cpu_map", bench_cpu_map(getpid()));
	json_object_put(st);
}

/* Says why the VM did not start: the supervisor's verdict in the start log ("failed to start:",
 * before what it gave back), else the last line it wrote. */
static void start_failure(const char *log, int status, struct verr *err)
{
	char line[1024], last[1024] = "";
	FILE *f = fopen(log, "re");
	bool verdict = false;

	while (f && fgets(line, sizeof(line), f))
		if (line[strspn(line, " \t\n")] && (!verdict || strstr(line, "failed to start:"))) {
			memcpy(last, line, sizeof(last));
			verdict = strstr(line, "failed to start:") != NULL;
		}
	if (f)
		fclose(f);
	last[strcspn(last, "\n")] = '\0';
	verr_set(err, 0, "the VM did not start (exit status %d%s%s; %s)", status, *last ? ": " : "", last, log);
}

/* Joins the lines of err into one message (owned). */
static char *one_line(const struct verr *err)
{
	char *s = xstrdup(err->n ? err->lines[0] : "failed");

	for (size_t i = 1; i < err->n; i++) {
		char *longer = xasprintf("%s: %s", s, err->lines[i]);
		free(s);
		s = longer;
	}
	return s;
}

/* Boots the variant, runs fio in it, stops it; run->error on a failure. Returns 1 when the
 * guest has no fio (err), else 0. */
static int run_variant(struct bench *b, struct bench_target *t, unsigned r, struct bench_run *run, struct verr *fatal)
{
	_cleanup_verr_ struct verr err = { 0 };
	_cleanup_free_ char *dev = NULL, *job = NULL, *log = xasprintf("%s/%s/start-r%u.log", b->out_dir, t->id, r + 1);
	const struct disk_config *d = target_disk(t);
	const char *const argv[] = { "fio", "--output-format=json", "-", NULL };
	struct exec_result res = { 0 };
	int64_t up = 0, booted = 0, fio0 = 0, fio1 = 0, stop0 = 0;
	int saved_err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3), log_fd, ret = 0, started;
	int64_t t0 = now_ms(), facts = 0, found = 0;
	cpu_set_t saved;

	keep_off(t, &saved);
	/* What the supervisor says while it starts goes to a log of the run, not between the progress lines. */
	log_fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (log_fd >= 0) {
		fflush(stderr);
		dup2(log_fd, STDERR_FILENO);
		close(log_fd);
	}
	started = cmd_start_detached(&t->plan, &(struct sup_options){ .detached = true, .attach = ATTACH_ORPHAN }, &err);
	if (saved_err >= 0) {
		dup2(saved_err, STDERR_FILENO);
		close(saved_err);
	}
	if (started != 0) {
		if (!err.n)
			start_failure(log, started, &err);
		goto out;
	}
	up = now_ms();
	run->start_ms = (double)(up - t0);
	if (wait_agent(t->vm_name, &err) < 0) {
		verr_set(&err, 0, "see %s/%s/console-r%u.log", b->out_dir, t->id, r + 1);
		goto stop;
	}
	booted = now_ms();
	read_facts(t);
	facts = now_ms();
	ret = find_disk(t, d, &dev, &err);
	if (ret != 0) {
		ret = ret > 0;
		goto stop;
	}
	found = now_ms();
	run->lookup_ms = (double)(found - facts);
	job = fio_job_for(b->job, &(struct fio_target){ .filename = dev, .runtime = b->runtime }, &err);
	if (!job)
		goto stop;
	if (!t->job)
		t->job = xstrdup(job);
	fio0 = now_ms();
	if (guest_run(t->vm_name, argv, job, b->runtime ? b->runtime + FIO_GRACE_SECONDS : FIO_UNTIMED_SECONDS,
		      b->runtime * 1000, 10, &res, &err) < 0)
		goto stop;
	fio1 = now_ms();
	{
		_cleanup_free_ char *name = xasprintf("fio-r%u.json", r + 1), *version = NULL;
		save(b, t, name, res.out, res.out_len);
		if (res.code != 0)
			verr_set(&err, 0, "fio exited %d in the guest: %.300s", res.code, res.errs);
		else if (fio_parse_result(res.out, res.out_len, &run->m, &version, &err) == 0)
			run->ok = true;
	}
	exec_result_free(&res);
stop:
	stop0 = now_ms();
	stop_vm(t->vm_name);
	run->stop_ms = (double)(now_ms() - stop0);
	keep_console(b, t, r);
out:
	sched_setaffinity(0, sizeof(saved), &saved);
	if (run->ok) {
		run->boot_ms = (double)(booted - up);
		run->fio_ms = (double)(fio1 - fio0);
	} else
		run->error = one_line(&err);
	if (ret)
		verr_append(fatal, &err);
	return ret;
}

/* Runs the job on the host against the reference's file or device; run->error on a failure. */
static void run_host(struct bench *b, struct bench_target *t, unsigned r, struct bench_run *run)
{
	_cleanup_verr_ struct verr err = { 0 };
	_cleanup_free_ char *job_path = xasprintf("%s/%s/job.fio", b->out_dir, t->id);
	_cleanup_free_ char *out_path = xasprintf("%s/%s/fio-r%u.json", b->out_dir, t->id, r + 1);
	_cleanup_free_ char *err_path = xasprintf("%s/%s/fio-r%u.err", b->out_dir, t->id, r + 1);
	_cleanup_free_ char *fio = find_program("fio", &err), *text = NULL, *version = NULL;
	int status = -1;
	size_t len = 0;
	pid_t pid;

	if (!fio)
		goto out;
	if (!t->job) {
		t->job = fio_job_for(b->job, &(struct fio_target){ .filename = t->image, .runtime = b->runtime,
								    .size = t->block_device ? 0 : t->size }, &err);
		if (!t->job)
			goto out;
		save(b, t, "job.fio", t->job, strlen(t->job));
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644), e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (o < 0 || e < 0 || dup2(o, STDOUT_FILENO) < 0 || dup2(e, STDERR_FILENO) < 0)
			_exit(127);
		execl(fio, fio, "--output-format=json", job_path, (char *)NULL);
		_exit(127);
	}
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		verr_set(&err, 0, "fio on the host failed (see %s)", err_path);
		goto out;
	}
	{
		FILE *f = fopen(out_path, "re");
		text = xmalloc(8 << 20);
		len = f ? fread(text, 1, 8 << 20, f) : 0;
		if (f)
			fclose(f);
	}
	if (fio_parse_result(text, len, &run->m, &version, &err) == 0) {
		run->ok = true;
		if (!t->fio_version)
			t->fio_version = steal_ptr(version);
	}
out:
	if (!run->ok)
		run->error = one_line(&err);
}

/* Milliseconds since the epoch (the runs' times in the manifest). */
static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int bench_run_target(struct bench *b, struct bench_target *t, unsigned r, struct verr *err)
{
	struct bench_run *run = &t->runs[r];
	int64_t t0 = now_ms();
	int ret = 0;

	*run = (struct bench_run){ .done = true, .started = wall_ms() };
	if (t->host)
		run_host(b, t, r, run);
	else
		ret = run_variant(b, t, r, run, err);
	run->ended = wall_ms();
	run->total_ms = (double)(now_ms() - t0);
	if (t->host)
		run->fio_ms = run->total_ms;
	if (!t->host && run->ok)
		run->vmm_ms = run->total_ms - run->boot_ms - run->lookup_ms - run->fio_ms - run->stop_ms;
	return ret ? -1 : 0;
}
