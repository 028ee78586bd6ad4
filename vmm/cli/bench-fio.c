/* fio's jobs and results for vmm bench (bench-fio.h). */
#include "vmm/cli/bench-fio.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "vmm/base/strict.h"
#include "vmm/base/util.h"

/* Every preset: direct I/O through libaio, time-based, one job, percentiles of the total latency. */
#define PRESET_GLOBAL                                                                                  \
	"[global]\nioengine=libaio\ndirect=1\ntime_based=1\nruntime=30\ngroup_reporting=1\n" \
	"lat_percentiles=1\nrandrepeat=0\n"

static const struct {
	const char *name, *job;
} presets[] = {
	{ "randread-4k-qd1", PRESET_GLOBAL "[randread-4k-qd1]\nrw=randread\nbs=4k\niodepth=1\n" },
	{ "randread-4k-qd32", PRESET_GLOBAL "[randread-4k-qd32]\nrw=randread\nbs=4k\niodepth=32\n" },
	{ "randwrite-4k-qd32", PRESET_GLOBAL "[randwrite-4k-qd32]\nrw=randwrite\nbs=4k\niodepth=32\n" },
	{ "seqread-1m", PRESET_GLOBAL "[seqread-1m]\nrw=read\nbs=1M\niodepth=8\n" },
	{ "seqwrite-1m", PRESET_GLOBAL "[seqwrite-1m]\nrw=write\nbs=1M\niodepth=8\n" },
	{ "mixed-70-30", PRESET_GLOBAL "[mixed-70-30]\nrw=randrw\nrwmixread=70\nbs=4k\niodepth=16\n" },
};

const char *const fio_preset_names[] = { "randread-4k-qd1", "randread-4k-qd32", "randwrite-4k-qd32",
					 "seqread-1m",      "seqwrite-1m",      "mixed-70-30",
					 NULL };

const struct fio_metric_info fio_metric_info[FIO_N_METRICS] = {
	{ "iops", "IOPS", true, offsetof(struct fio_metrics, iops) },
	{ "bw", "MB/s", true, offsetof(struct fio_metrics, bw) },
	{ "lat_mean", "us", false, offsetof(struct fio_metrics, lat_mean) },
	{ "p50", "us", false, offsetof(struct fio_metrics, p50) },
	{ "p99", "us", false, offsetof(struct fio_metrics, p99) },
	{ "p99.9", "us", false, offsetof(struct fio_metrics, p999) },
};

double fio_metric(const struct fio_metrics *m, size_t i)
{
	return *(const double *)((const char *)m + fio_metric_info[i].offset);
}

const char *fio_preset(const char *name, struct verr *err)
{
	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		if (!strcmp(presets[i].name, name))
			return presets[i].job;
	return verr_set(err, 0, "--preset %s: no such preset (randread-4k-qd1, randread-4k-qd32, randwrite-4k-qd32, "
				"seqread-1m, seqwrite-1m, mixed-70-30)", name), NULL;
}

/* The key of an option line ("rw" of " rw = read"), in key (at most n bytes); false for a
 * line that is no option (blank, a comment, a section). */
static bool line_key(const char *line, size_t len, char *key, size_t n)
{
	size_t i = 0, k = 0;

	while (i < len && isspace((unsigned char)line[i]))
		i++;
	if (i == len || line[i] == ';' || line[i] == '#' || line[i] == '[')
		return false;
	while (i < len && line[i] != '=' && !isspace((unsigned char)line[i]) && k + 1 < n)
		key[k++] = line[i++];
	key[k] = '\0';
	return k > 0;
}

/* True when the line is a section header "[name]". */
static bool is_section(const char *line, size_t len)
{
	while (len && isspace((unsigned char)*line)) {
		line++;
		len--;
	}
	while (len && isspace((unsigned char)line[len - 1]))
		len--;
	return len >= 3 && line[0] == '[' && line[len - 1] == ']';
}

/* Appends what vmm sets at the end of a section. */
static void add_target(struct strv *out, const struct fio_target *t)
{
	strv_pushf(out, "filename=%s", t->filename);
	if (t->runtime) {
		strv_pushf(out, "runtime=%u", t->runtime);
		strv_push(out, "time_based=1");
	}
}

char *fio_job_for(const char *job, const struct fio_target *t, struct verr *err)
{
	static const char *const dropped[] = { "filename", "directory", "filename_format", "opendir", NULL };
	struct strv out = { 0 };
	size_t sections = 0, total = 1;
	unsigned line_no = 0;
	char *text, *p;

	if (strchr(t->filename, '\n') || strchr(t->filename, ':'))
		return verr_set(err, 0, "fio target '%s': a name with ':' or a newline cannot be given to fio", t->filename),
		       NULL;
	/* A size for a job naming none: a [global] section of its own, first, which the job's own
	 * sections (its [global] included) override. */
	if (t->size)
		strv_pushf(&out, "[global]\nsize=%llu", (unsigned long long)t->size);
	for (const char *l = job; *l;) {
		size_t len = strcspn(l, "\n");
		char key[64];
		bool drop = false;

		line_no++;
		if (memchr(l, '\0', len) || (len && l[len - 1] == '\\')) {
			strv_free(&out);
			return verr_set(err, 0, "job line %u: a line fio cannot read", line_no), NULL;
		}
		if (is_section(l, len)) {
			if (sections++)
				add_target(&out, t);
		} else if (line_key(l, len, key, sizeof(key))) {
			for (size_t i = 0; dropped[i]; i++)
				drop |= !strcmp(key, dropped[i]);
			if (!sections) {
				strv_free(&out);
				return verr_set(err, 0, "job line %u: an option before the first [section]", line_no), NULL;
			}
		}
		if (!drop)
			strv_pushf(&out, "%.*s", (int)len, l);
		l += len + (l[len] == '\n');
	}
	if (!sections) {
		strv_free(&out);
		return verr_set(err, 0, "the job has no [section]"), NULL;
	}
	add_target(&out, t);
	for (size_t i = 0; i < out.n; i++)
		total += strlen(out.v[i]) + 1;
	p = text = xmalloc(total);
	for (size_t i = 0; i < out.n; i++)
		p += sprintf(p, "%s\n", out.v[i]);
	strv_free(&out);
	return text;
}

bool fio_job_writes(const char *job)
{
	for (const char *l = job; *l;) {
		size_t len = strcspn(l, "\n");
		char key[64];
		const char *eq = memchr(l, '=', len);

		if (eq && line_key(l, len, key, sizeof(key)) && (!strcmp(key, "rw") || !strcmp(key, "readwrite"))) {
			const char *v = eq + 1;
			size_t n = len - (size_t)(v - l);
			while (n && isspace((unsigned char)*v)) {
				v++;
				n--;
			}
			while (n && isspace((unsigned char)v[n - 1]))
				n--;
			n = strcspn(v, ":") < n ? strcspn(v, ":") : n; /* rw=randread:8 */
			if (!((n == 4 && !strncmp(v, "read", 4)) || (n == 8 && !strncmp(v, "randread", 8))))
				return true;
		}
		l += len + (l[len] == '\n');
	}
	return false;
}

/* A non-negative finite number at key of o, or -1 when it is missing or not one. */
static double number(struct json_object *o, const char *key)
{
	struct json_object *v;
	double d;

	return json_object_object_get_ex(o, key, &v) && json_number_in(v, 0, HUGE_VAL, &d) ? d : -1;
}

/* Totals over the directions of every job while reading them. */
struct totals {
	double iops, bw, lat_sum, lat_n;
	double p[3];
};

/* Adds one direction ("read", "write", "trim") of a job; -1 with err for a malformed one. */
static int add_direction(struct json_object *dir, const char *name, struct totals *t, struct verr *err)
{
	static const char *const pct[3] = { "50.000000", "99.000000", "99.900000" };
	struct json_object *lat, *pcts = NULL, *clat;
	double iops = number(dir, "iops"), bw = number(dir, "bw_bytes"), mean, n;

	if (iops < 0 || bw < 0)
		return verr_set(err, 0, "fio's result: %s: expected the numbers 'iops' and 'bw_bytes'", name);
	if (iops == 0)
		return 0;
	t->iops += iops;
	t->bw += bw;
	if (!json_object_object_get_ex(dir, "lat_ns", &lat) || (mean = number(lat, "mean")) < 0 ||
	    (n = number(lat, "N")) < 0)
		return verr_set(err, 0, "fio's result: %s: expected 'lat_ns' with the numbers 'mean' and 'N'", name);
	t->lat_sum += mean * n;
	t->lat_n += n;
	if (!json_object_object_get_ex(lat, "percentile", &pcts) && json_object_object_get_ex(dir, "clat_ns", &clat))
		json_object_object_get_ex(clat, "percentile", &pcts);
	if (!json_object_is_type(pcts, json_type_object))
		return verr_set(err, 0, "fio's result: %s: no latency percentiles (lat_ns or clat_ns)", name);
	for (int i = 0; i < 3; i++) {
		double v = number(pcts, pct[i]);
		if (v < 0)
			return verr_set(err, 0, "fio's result: %s: no %s percentile", name, pct[i]);
		if (v / 1000 > t->p[i])
			t->p[i] = v / 1000;
	}
	return 0;
}

/* Adds one job of the result; -1 with err when it failed or is malformed. */
static int add_job(struct json_object *job, size_t i, struct totals *t, struct verr *err)
{
	static const char *const dirs[] = { "read", "write", "trim" };
	struct json_object *name, *dir;
	const char *jobname;
	double error;

	if (!json_object_is_type(job, json_type_object))
		return verr_set(err, 0, "fio's result: jobs[%zu]: expected an object", i);
	jobname = json_object_object_get_ex(job, "jobname", &name) && json_object_is_type(name, json_type_string)
			  ? json_object_get_string(name)
			  : "?";
	error = number(job, "error");
	if (error != 0) {
		if (error < 0)
			return verr_set(err, 0, "fio's result: job '%.64s': expected the number 'error'", jobname);
		return verr_set(err, 0, "fio job '%.64s' failed: error %d (%s)", jobname, (int)error,
				strerror((int)error));
	}
	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		_cleanup_free_ char *where = xasprintf("job '%.64s' %s", jobname, dirs[d]);
		if (json_object_object_get_ex(job, dirs[d], &dir) &&
		    (!json_object_is_type(dir, json_type_object) || add_direction(dir, where, t, err) < 0))
			return err->n ? -1 : verr_set(err, 0, "fio's result: %s: expected an object", where);
	}
	return 0;
}

int fio_parse_result(const char *text, size_t len, struct fio_metrics *m, char **version, struct verr *err)
{
	const char *start = memchr(text, '{', len);
	struct json_tokener *tok;
	struct json_object *root, *jobs, *v;
	struct totals t = { 0 };
	size_t n, rest;
	int ret = 0;

	if (!start)
		return verr_set(err, 0, "fio's output has no JSON result");
	rest = len - (size_t)(start - text);
	if (rest > INT32_MAX)
		return verr_set(err, 0, "fio's output is too large");
	tok = json_tokener_new();
	root = json_tokener_parse_ex(tok, start, (int)rest);
	if (!root || !json_object_is_type(root, json_type_object)) {
		ret = verr_set(err, 0, "fio's output is not a JSON object: %s",
			       json_tokener_error_desc(json_tokener_get_error(tok)));
		goto out;
	}
	if (!json_object_object_get_ex(root, "jobs", &jobs) || !json_object_is_type(jobs, json_type_array) ||
	    (n = json_object_array_length(jobs)) == 0) {
		ret = verr_set(err, 0, "fio's result: expected a non-empty list 'jobs'");
		goto out;
	}
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = add_job(json_object_array_get_idx(jobs, i), i, &t, err);
	if (ret == 0 && t.iops == 0)
		ret = verr_set(err, 0, "fio's result: the jobs did no I/O");
	if (ret == 0) {
		*m = (struct fio_metrics){ .iops = t.iops, .bw = t.bw, .lat_mean = t.lat_n ? t.lat_sum / t.lat_n / 1000 : 0,
					   .p50 = t.p[0], .p99 = t.p[1], .p999 = t.p[2] };
		*version = xstrdup(json_object_object_get_ex(root, "fio version", &v) &&
						   json_object_is_type(v, json_type_string)
					   ? json_object_get_string(v)
					   : "");
	}
out:
	json_object_put(root);
	json_tokener_free(tok);
	return ret;
}
