/* vmm bench fio PROFILE ... and vmm bench compare DIR_A DIR_B: storage variants of a profile
 * booted one after the other (repeats interleaved), fio run in each guest and on the host as
 * the reference, the results written to a directory (bench.h) and compared. Everything that
 * can be known before a VM boots (the job, the matrix, each variant's plan, its disk and
 * agent channel, fio on the host) is checked first. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmm/base/host.h"
#include "vmm/base/util.h"
#include "vmm/cli/bench-matrix.h"
#include "vmm/cli/bench.h"
#include "vmm/cli/cmd.h"

/* Defaults: repeats of each target, and the runtime of a preset. */
#define DEFAULT_REPEATS 3
#define PRESET_RUNTIME 30
/* The largest job file read. */
#define MAX_JOB_BYTES (1 << 20)

/* Reads the job: a preset's text or a job file's (owned). */
static char *read_job(const struct cmd_args *args, const char **name, struct verr *err)
{
	const char *preset = args_get(args, "preset"), *file = args_get(args, "job");
	char *text;
	size_t n;
	FILE *f;

	if (!preset == !file)
		return verr_set(err, 0, "vmm bench fio: give exactly one of --preset NAME and --job FILE"), NULL;
	if (preset) {
		const char *job = fio_preset(preset, err);
		*name = preset;
		return job ? xstrdup(job) : NULL;
	}
	*name = file;
	f = fopen(file, "re");
	if (!f)
		return verr_set(err, errno, "--job: cannot read '%s'", file), NULL;
	text = xmalloc(MAX_JOB_BYTES + 1);
	n = fread(text, 1, MAX_JOB_BYTES + 1, f);
	fclose(f);
	text[n > MAX_JOB_BYTES ? MAX_JOB_BYTES : n] = '\0';
	if (n > MAX_JOB_BYTES || strlen(text) != n) {
		free(text);
		return verr_set(err, 0, "--job '%s': expected a fio job file (text, at most 1 MiB)", file), NULL;
	}
	return text;
}

/* Joins the lines of err into one message (owned). */
static char *err_text(const struct verr *err)
{
	char *s = xstrdup(err->n ? err->lines[0] : "failed");

	for (size_t i = 1; i < err->n; i++) {
		char *longer = xasprintf("%s; %s", s, err->lines[i]);
		free(s);
		s = longer;
	}
	return s;
}

/* The size of an image: a block device's, a raw file's, or the virtual size in a qcow2 header. */
static uint64_t image_size(const char *path, const struct stat *st, enum disk_format format)
{
	unsigned char h[32];
	uint64_t size = (uint64_t)st->st_size;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return size;
	if (S_ISBLK(st->st_mode) && ioctl(fd, BLKGETSIZE64, &size) < 0)
		return 0;
	if (format == FORMAT_QCOW2 && pread(fd, h, sizeof(h), 0) == sizeof(h) && !memcmp(h, "QFI\xfb", 4)) {
		size = 0;
		for (int i = 24; i < 32; i++)
			size = size << 8 | h[i];
	}
	return size;
}

/* Adds cpu to l unless it is there. */
static void cpulist_add(struct cpulist *l, unsigned cpu)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->cpus[i] == cpu)
			return;
	l->cpus = xrealloc(l->cpus, (l->n + 1) * sizeof(*l->cpus));
	l->cpus[l->n++] = cpu;
}

/* Checks what the variant needs before it boots (an agent channel, the disk, its image) and
 * fills in its disk's facts and the CPUs vmm keeps off; -1 with err when it cannot run. */
static int check_variant(const struct bench *b, struct bench_target *t, struct verr *err)
{
	const struct vm_config *c = &t->plan.config;
	const struct disk_config *d = NULL;
	struct stat st;

	if (!c->agent)
		return verr_set(err, 0, "the profile has no guest agent channel (\"agent\": true): vmm bench fio runs "
					"fio in the guest through the agent");
	for (size_t i = 0; i < c->n_disks; i++)
		if (!strcmp(c->disks[i].id, t->disk))
			d = &c->disks[i];
	if (!d) {
		_cleanup_free_ char *ids = xstrdup("");
		for (size_t i = 0; i < c->n_disks; i++) {
			char *longer = xasprintf("%s%s'%s'", ids, i ? ", " : "", c->disks[i].id);
			free(ids);
			ids = longer;
		}
		return verr_set(err, 0, "the profile has no disk '%s' (its disks: %s)", t->disk, c->n_disks ? ids : "none");
	}
	if (d->readonly && fio_job_writes(b->job))
		return verr_set(err, 0, "disk '%s' is read-only and the job writes", d->id);
	if (stat(d->file, &st) < 0)
		return verr_set(err, errno, "disk '%s': cannot stat '%s'", d->id, d->file);
	t->image = xstrdup(d->file);
	t->block_device = S_ISBLK(st.st_mode);
	t->size = image_size(d->file, &st, d->format);
	for (size_t i = 0; i < c->pin.n; i++)
		cpulist_add(&t->keep_off, c->pin.cpus[i]);
	for (size_t k = 0; k < c->n_disks; k++)
		for (size_t i = 0; i < c->disks[k].iothread_pin.n; i++)
			cpulist_add(&t->keep_off, c->disks[k].iothread_pin.cpus[i]);
	return 0;
}

/* Makes the variants' targets from the matrix, each planned and checked; a variant that
 * cannot run keeps its error. Returns the number that can run. */
static size_t make_variants(const struct cmd_args *args, struct bench *b, const struct bench_matrix *m)
{
	size_t ok = 0;

	for (size_t i = 0; i < m->n_variants; i++) {
		struct bench_target *t = &b->targets[b->n_targets++];
		const struct bench_variant *v = &m->variants[i];
		struct plan_options o = { .start = true };
		_cleanup_verr_ struct verr err = { 0 };

		*t = (struct bench_target){ .id = xasprintf("v%zu", i + 1), .label = xstrdup(v->label), .ref = -1,
					    .vm_name = xasprintf("bench-%d-v%zu", (int)getpid(), i + 1),
					    .runs = xzalloc(b->repeats * sizeof(struct bench_run)), .n_runs = b->repeats };
		t->disk = xstrdup(v->disk ? v->disk : args_get(args, "disk"));
		for (size_t s = 0; s < args->plan.sets.n; s++)
			strv_push(&t->sets, args->plan.sets.v[s]);
		for (size_t s = 0; s < v->sets.n; s++)
			strv_push(&t->sets, v->sets.v[s]);
		o.layers = args->plan.layers;
		o.sets = t->sets;
		o.name = t->vm_name;
		if (plan_load(args->argv[1], &o, &t->plan, &err) < 0) {
			t->error = err_text(&err);
			continue;
		}
		t->planned = true;
		if (check_variant(b, t, &err) < 0) {
			t->error = err_text(&err);
			continue;
		}
		ok++;
	}
	return ok;
}

/* Gives each variant the host reference of its image's filesystem (or block device), made
 * when it is the first there; the references go before the variants. */
static void make_references(struct bench *b)
{
	size_t n_vars = b->n_targets, n_hosts = 0;
	struct bench_target *all = xzalloc((2 * n_vars) * sizeof(*all));
	dev_t *devs = xzalloc(n_vars * sizeof(*devs));
	bool writes = fio_job_writes(b->job);

	for (size_t i = 0; i < n_vars; i++) {
		struct bench_target *v = &b->targets[i];
		_cleanup_free_ char *dir = NULL;
		struct stat st;
		size_t h;

		if (v->error)
			continue;
		if (v->block_device && writes) {
			v->ref_note = xstrdup("the image is a block device and the job writes: fio on the host would destroy it");
			continue;
		}
		dir = xstrdup(v->image);
		if (!v->block_device)
			*(strrchr(dir, '/') ? strrchr(dir, '/') : dir) = '\0';
		if (stat(v->block_device ? v->image : (*dir ? dir : "/"), &st) < 0) {
			v->ref_note = xasprintf("cannot stat the image's directory '%s'", dir);
			continue;
		}
		for (h = 0; h < n_hosts; h++)
			if (devs[h] == (v->block_device ? st.st_rdev : st.st_dev) && all[h].block_device == v->block_device)
				break;
		if (h == n_hosts) {
			struct bench_target *t = &all[n_hosts];
			devs[n_hosts++] = v->block_device ? st.st_rdev : st.st_dev;
			*t = (struct bench_target){ .id = n_hosts == 1 ? xstrdup("host") : xasprintf("host%zu", n_hosts),
						    .host = true, .ref = -1, .block_device = v->block_device,
						    .size = v->size,
						    .runs = xzalloc(b->repeats * sizeof(struct bench_run)), .n_runs = b->repeats };
			t->image = v->block_device ? xstrdup(v->image)
						   : xasprintf("%s/.vmm-bench-fio-%d-%zu.dat", *dir ? dir : "", (int)getpid(),
							       n_hosts);
			t->label = xasprintf("host %s", v->block_device ? v->image : (*dir ? dir : "/"));
		}
		v->ref = (int)h;
	}
	/* The references go first, so a variant's ref (its reference's index among them) holds. */
	for (size_t i = 0; i < n_vars; i++)
		all[n_hosts + i] = b->targets[i];
	free(b->targets);
	free(devs);
	b->targets = all;
	b->n_targets = n_hosts + n_vars;
}

/* Prints a progress line on stderr: which run of how many, and the time left at the pace so far. */
static void progress(const struct bench *b, const struct bench_target *t, unsigned r, size_t done, size_t total)
{
	int64_t spent = now_ms() - b->started;
	long eta = done ? (long)(spent / (int64_t)done * (int64_t)(total - done) / 1000) : -1;

	fprintf(stderr, "vmm: bench: [%zu/%zu] %s %s, repeat %u of %u", done + 1, total, t->id, t->label, r + 1,
		b->repeats);
	if (eta >= 0)
		fprintf(stderr, ", about %ld:%02ld left", eta / 60, eta % 60);
	fputc('\n', stderr);
}

/* Removes what the bench left: the host references' files, each VM's files in its run and
 * data directories (the console log was copied into the output directory). */
static void clean_up(const struct bench *b)
{
	static const char *const run_files[] = { "ended.json", "console.log", "vmm.log", NULL };
	static const char *const data_files[] = { "identity.json", "efivars.fd", NULL };
	_cleanup_free_ char *data = data_dir();

	for (size_t k = 0; k < b->n_targets; k++) {
		const struct bench_target *t = &b->targets[k];
		if (t->host && !t->block_device && t->image)
			unlink(t->image);
		if (t->host || !t->planned)
			continue;
		for (size_t i = 0; run_files[i]; i++) {
			_cleanup_free_ char *p = xasprintf("%s/%s", t->plan.run_dir, run_files[i]);
			unlink(p);
		}
		rmdir(t->plan.run_dir);
		for (size_t i = 0; data_files[i]; i++) {
			_cleanup_free_ char *p = xasprintf("%s/%s/%s", data, t->vm_name, data_files[i]);
			unlink(p);
		}
		{
			_cleanup_free_ char *p = xasprintf("%s/%s", data, t->vm_name);
			rmdir(p);
		}
	}
}

/* Frees the targets. */
static void free_targets(struct bench *b)
{
	for (size_t k = 0; k < b->n_targets; k++) {
		struct bench_target *t = &b->targets[k];
		for (unsigned r = 0; r < b->repeats; r++)
			free(t->runs[r].error);
		free(t->runs);
		free(t->id);
		free(t->label);
		free(t->ref_note);
		free(t->error);
		free(t->disk);
		free(t->vm_name);
		free(t->image);
		free(t->job);
		free(t->fio_version);
		strv_free(&t->sets);
		cpulist_free(&t->keep_off);
		json_object_put(t->facts);
		if (t->planned)
			plan_free(&t->plan);
	}
	free(b->targets);
}

/* Makes the output directory (it must not exist, or be empty). */
static int make_out_dir(const char *dir, struct verr *err)
{
	if (mkdir(dir, 0755) < 0 && (errno != EEXIST || rmdir(dir) < 0 || mkdir(dir, 0755) < 0))
		return verr_set(err, errno, "--out: cannot make the directory '%s' (it must be new or empty)", dir);
	return 0;
}

/* SIGINT and SIGTERM: end the bench after stopping the VM that runs. */
static void on_signal(int sig)
{
	(void)sig;
	bench_interrupted = 1;
}

/* Runs every target's repeats interleaved (each round runs every target once). */
static int run_all(struct bench *b, struct verr *err)
{
	size_t total = b->n_targets * b->repeats, done = 0;

	for (unsigned r = 0; r < b->repeats; r++)
		for (size_t k = 0; k < b->n_targets; k++, done++) {
			struct bench_target *t = &b->targets[k];
			if (t->error) {
				t->runs[r] = (struct bench_run){ .done = true, .error = xstrdup(t->error) };
				continue;
			}
			progress(b, t, r, done, total);
			if (bench_run_target(b, t, r, err) < 0) {
				verr_wrap(err, "%s (%s)", t->id, t->label);
				return -1;
			}
			if (bench_interrupted)
				return verr_set(err, 0, "interrupted: the results so far are in '%s'", b->out_dir);
			if (!t->runs[r].ok)
				fprintf(stderr, "vmm: bench: %s failed: %s\n", t->id, t->runs[r].error);
		}
	return 0;
}

/* vmm bench fio PROFILE ... */
static int bench_fio(const struct cmd_args *args, struct verr *err)
{
	_cleanup_verr_ struct verr write_err = { 0 };
	struct bench b = { .repeats = DEFAULT_REPEATS };
	struct bench_matrix m;
	_cleanup_free_ char *job = NULL, *check = NULL, *fio = NULL, *out = NULL;
	size_t runnable, failed = 0;
	int ret;

	if (args->argc != 2)
		return cmd_usage_error(args->entry, err);
	if (args->plan.name)
		return verr_set(err, 0, "--name: vmm bench fio names each variant's VM itself");
	job = read_job(args, &b.job_name, err);
	if (!job)
		return -1;
	b.job = job;
	b.runtime = args_has(args, "preset") ? PRESET_RUNTIME : 0;
	if (args_uint(args, "repeat", "a whole number", 1, 100, &b.repeats, err) < 0 ||
	    args_uint(args, "runtime", "seconds", 1, 86400, &b.runtime, err) < 0)
		return -1;
	check = fio_job_for(job, &(struct fio_target){ .filename = "/dev/null" }, err);
	if (!check) {
		verr_wrap(err, "%s", b.job_name);
		return -1;
	}
	fio = find_program("fio", err);
	if (!fio) {
		verr_clear(err);
		return verr_set(err, 0, "no fio on this host's PATH: the host reference runs it (Debian: apt install fio)");
	}
	if (bench_matrix_make(args_values(args, "matrix"), &m, err) < 0)
		return -1;
	for (size_t i = 0; i < m.n_variants; i++)
		if (!m.variants[i].disk && !args_get(args, "disk")) {
			bench_matrix_free(&m);
			return verr_set(err, 0, "name the disk fio runs on (it writes on it): --disk ID, or --matrix disk=ID,...");
		}
	b.targets = xzalloc(m.n_variants * sizeof(*b.targets));
	runnable = make_variants(args, &b, &m);
	bench_matrix_free(&m);
	if (!runnable) {
		/* Nothing would run: the same mistake in every variant is bad input, said before anything boots. */
		verr_set(err, 0, "%s", b.targets[0].error);
		if (b.n_targets > 1)
			verr_wrap(err, "no variant can run (v1: %s)", b.targets[0].label);
		free_targets(&b);
		return -1;
	}
	if (args_get(args, "out"))
		out = xstrdup(args_get(args, "out"));
	else {
		time_t now = time(NULL);
		struct tm tm;
		char stamp[32];
		strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", localtime_r(&now, &tm));
		out = xasprintf("bench-fio-%s", stamp);
	}
	b.out_dir = out;
	if (make_out_dir(out, err) < 0) {
		free_targets(&b);
		return -1;
	}
	make_references(&b);
	for (size_t k = 0; k < b.n_targets; k++) {
		_cleanup_free_ char *dir = xasprintf("%s/%s", out, b.targets[k].id);
		mkdir(dir, 0755);
		if (b.targets[k].error)
			fprintf(stderr, "vmm: bench: %s (%s) cannot run: %s\n", b.targets[k].id, b.targets[k].label,
				b.targets[k].error);
	}
	b.started = now_ms();
	sigaction(SIGINT, &(struct sigaction){ .sa_handler = on_signal }, NULL);
	sigaction(SIGTERM, &(struct sigaction){ .sa_handler = on_signal }, NULL);
	ret = run_all(&b, err);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	b.ended = now_ms();
	clean_up(&b);
	if (bench_write_files(&b, ret < 0 ? &write_err : err) < 0 && ret == 0)
		ret = -1;
	if (ret == 0) {
		if (args->json) {
			struct json_object *o = bench_results_json(&b);
			cmd_print_json(o, JSON_PRETTY);
			json_object_put(o);
		} else
			bench_print_table(&b);
		for (size_t k = 0; k < b.n_targets; k++)
			for (unsigned r = 0; r < b.repeats; r++)
				failed += !b.targets[k].runs[r].ok;
		fprintf(stderr, "vmm: bench: results in %s%s\n", out, failed ? " (some runs failed)" : "");
	}
	free_targets(&b);
	return ret < 0 ? -1 : failed ? 1 : 0;
}

/* vmm bench fio|compare ... */
static int cmd_bench(const struct cmd_args *args, struct verr *err)
{
	if (!strcmp(args->argv[0], "fio"))
		return bench_fio(args, err);
	if (!strcmp(args->argv[0], "compare") && args->argc == 3)
		return bench_compare_dirs(args->argv[1], args->argv[2], err) < 0 ? -1 : 0;
	return cmd_usage_error(args->entry, err);
}

const struct cmd_entry cmd_bench_entry = {
	.name = "bench",
	.usage = "fio PROFILE [-p PROFILE,...] [--set KEY=VALUE ...] [--matrix KEY=V1,V2,...]... "
		 "(--preset NAME | --job FILE) [--repeat N] [--runtime S] [--disk ID] [--out DIR] [--json] | "
		 "compare DIR_A DIR_B",
	.help = "run fio in each variant of a profile and on the host, with repeats, and compare two such runs",
	.args = { .options = "matrix:,preset:,job:,repeat:,runtime:,disk:,out:", .lower = 2, .upper = 3 },
	.flags = CMD_JSON | CMD_PLAN,
	.exec = cmd_bench,
};
