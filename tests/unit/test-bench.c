/* Unit tests of vmm bench's pure parts: fio's JSON result read (recorded outputs of fio 3.33
 * and malformed ones), the presets and a job pointed at its target, the matrix's variants,
 * medians, spreads and what counts as a significant change. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "vmm/base/util.h"
#include "vmm/cli/bench-fio.h"
#include "vmm/cli/bench-matrix.h"
#include "vmm/cli/bench-stats.h"

/* Reads a fixture whole (owned) into *len. */
static char *fixture(const char *name, size_t *len)
{
	_cleanup_free_ char *path = xasprintf("%s/tests/fixtures/%s", getenv("SRCDIR") ? getenv("SRCDIR") : ".", name);
	FILE *f = fopen(path, "re");
	char *buf = xzalloc(1 << 20);

	*len = f ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	if (f)
		fclose(f);
	return buf;
}

/* True when a and b agree to a millionth. */
static bool near(double a, double b)
{
	return fabs(a - b) <= fabs(b) * 1e-6 + 1e-9;
}

/* A parse that must fail, with err's first line containing want. */
static void parse_fails(const char *text, const char *want)
{
	_cleanup_verr_ struct verr err = { 0 };
	struct fio_metrics m;
	char *version = NULL;
	int r = fio_parse_result(text, strlen(text), &m, &version, &err);

	ok(r < 0 && err.n && strstr(err.lines[0], want), "fio result refused (%s): %s", want, err.n ? err.lines[0] : "accepted");
	free(version);
}

/* fio's output as fio 3.33 writes it, one direction with total-latency percentiles and two
 * with completion-latency ones only, and malformed outputs. */
static void test_parse(void)
{
	_cleanup_verr_ struct verr err = { 0 };
	_cleanup_free_ char *a = NULL, *b = NULL, *version = NULL, *version2 = NULL, *noisy = NULL;
	struct fio_metrics m;
	size_t la, lb;

	a = fixture("fio-3.33-randread.json", &la);
	ok(fio_parse_result(a, la, &m, &version, &err) == 0, "randread result parses");
	ok(!strcmp(version, "fio-3.33") && near(m.iops, 1383) && near(m.bw, 5664768) && near(m.lat_mean, 702.871298867) &&
		   near(m.p50, 240.64) && near(m.p999, 27131.904),
	   "randread: iops, bandwidth, mean latency and percentiles (us) of lat_ns");
	b = fixture("fio-3.33-randrw.json", &lb);
	ok(fio_parse_result(b, lb, &m, &version2, &err) == 0, "randrw result parses");
	ok(near(m.iops, 14291.708292) && near(m.bw, 58538836) && near(m.lat_mean, 64.83005990504907) && near(m.p99, 2.32),
	   "randrw: both directions summed, latency weighted by I/Os, percentiles of clat_ns, the slower direction's");
	noisy = xasprintf("fio: warning: something\n%s", a);
	free(version);
	version = NULL;
	ok(fio_parse_result(noisy, strlen(noisy), &m, &version, &err) == 0, "text before the JSON is skipped");

	parse_fails("", "no JSON");
	parse_fails("{\"jobs\": [", "not a JSON object");
	parse_fails("[1]", "no JSON result");
	parse_fails("{\"jobs\": 1", "not a JSON object");
	parse_fails("{}", "non-empty list 'jobs'");
	parse_fails("{\"jobs\": []}", "non-empty list 'jobs'");
	parse_fails("{\"jobs\": [1]}", "jobs[0]: expected an object");
	parse_fails("{\"jobs\": [{\"jobname\": \"j\", \"error\": 2}]}", "fio job 'j' failed: error 2");
	parse_fails("{\"jobs\": [{\"jobname\": \"j\", \"error\": \"x\"}]}", "expected the number 'error'");
	parse_fails("{\"jobs\": [{\"error\": 0, \"read\": {\"iops\": -1, \"bw_bytes\": 1}}]}", "'iops' and 'bw_bytes'");
	parse_fails("{\"jobs\": [{\"error\": 0, \"read\": {\"iops\": 5, \"bw_bytes\": 1}}]}", "expected 'lat_ns'");
	parse_fails("{\"jobs\": [{\"error\": 0, \"read\": {\"iops\": 5, \"bw_bytes\": 1, \"lat_ns\": {\"mean\": 1, \"N\": 1}}}]}",
		    "no latency percentiles");
	parse_fails("{\"jobs\": [{\"error\": 0, \"read\": {\"iops\": 5, \"bw_bytes\": 1, \"lat_ns\": {\"mean\": 1, \"N\": 1, "
		    "\"percentile\": {\"50.000000\": 1}}}}]}", "no 99.000000 percentile");
	parse_fails("{\"jobs\": [{\"error\": 0, \"read\": {\"iops\": 0, \"bw_bytes\": 0}}]}", "did no I/O");
	parse_fails("{\"jobs\": [{\"error\": 0, \"read\": 7}]}", "expected an object");
}

/* Presets exist by name; a job is pointed at the target in every section, options that would
 * move it dropped; bad jobs are refused; writing jobs are told apart. */
static void test_jobs(void)
{
	_cleanup_verr_ struct verr err = { 0 };
	_cleanup_free_ char *j = NULL, *k = NULL;

	for (size_t i = 0; fio_preset_names[i]; i++)
		ok(fio_preset(fio_preset_names[i], &err) != NULL, "preset %s", fio_preset_names[i]);
	ok(!fio_preset("nosuch", &err) && strstr(err.lines[err.n - 1], "no such preset (randread-4k-qd1"),
	   "an unknown preset names the presets");
	j = fio_job_for("; comment\n[global]\ndirectory=/tmp\n[a]\nrw=read\nfilename=/x\n[b]\nrw=write\n",
			&(struct fio_target){ .filename = "/dev/vdb", .runtime = 3 }, &err);
	ok(j && !strcmp(j, "; comment\n[global]\nfilename=/dev/vdb\nruntime=3\ntime_based=1\n[a]\nrw=read\n"
			   "filename=/dev/vdb\nruntime=3\ntime_based=1\n[b]\nrw=write\nfilename=/dev/vdb\nruntime=3\n"
			   "time_based=1\n"),
	   "each section ends with the target and runtime; directory and filename dropped: %s", j);
	k = fio_job_for("[a]\nrw=read\n", &(struct fio_target){ .filename = "/f", .size = 1024 }, &err);
	ok(k && !strcmp(k, "[global]\nsize=1024\n[a]\nrw=read\nfilename=/f\n"), "a size comes first, for the job to override");
	ok(!fio_job_for("rw=read\n", &(struct fio_target){ .filename = "/f" }, &err) &&
		   strstr(err.lines[err.n - 1], "line 1: an option before the first [section]"),
	   "an option outside a section is refused");
	ok(!fio_job_for("; nothing\n", &(struct fio_target){ .filename = "/f" }, &err) &&
		   strstr(err.lines[err.n - 1], "no [section]"),
	   "a job without a section is refused");
	ok(!fio_job_for("[a]\n", &(struct fio_target){ .filename = "/a:b" }, &err), "a target with ':' is refused");
	ok(!fio_job_writes("[a]\nrw=randread\n[b]\n readwrite = read\n") && fio_job_writes("[a]\nrw=randrw\n") &&
		   fio_job_writes("[a]\nrw=write:4k\n") && !fio_job_writes("[a]\nrw=read:8\n"),
	   "writing jobs told from reading ones");
}

/* The matrix: the cartesian product, the last axis fastest, "disk" picking the disk. */
static void test_matrix(void)
{
	_cleanup_verr_ struct verr err = { 0 };
	struct strv specs = { 0 };
	struct bench_matrix m;

	ok(bench_matrix_make(&specs, &m, &err) == 0 && m.n_variants == 1 && !strcmp(m.variants[0].label, "(profile)") &&
		   m.variants[0].sets.n == 0,
	   "no matrix: one variant, the profile");
	bench_matrix_free(&m);
	strv_push(&specs, "disks[data].iothread=true,false");
	strv_push(&specs, "disk=data,other");
	strv_push(&specs, "qemu.extra_args=[\"-a\",\"b\"],[]");
	ok(bench_matrix_make(&specs, &m, &err) == 0 && m.n_variants == 8, "2 x 2 x 2 variants");
	ok(!strcmp(m.variants[0].label, "disks[data].iothread=true disk=data qemu.extra_args=[\"-a\",\"b\"]") &&
		   !strcmp(m.variants[1].label, "disks[data].iothread=true disk=data qemu.extra_args=[]") &&
		   !strcmp(m.variants[2].disk, "other") && !strcmp(m.variants[7].sets.v[0], "disks[data].iothread=false") &&
		   m.variants[7].sets.n == 2 && !strcmp(m.variants[7].sets.v[1], "qemu.extra_args=[]"),
	   "the last axis varies fastest; disk is no --set; a JSON list is one value");
	bench_matrix_free(&m);
	strv_free(&specs);

	strv_push(&specs, "novalue");
	ok(bench_matrix_make(&specs, &m, &err) < 0 && strstr(err.lines[err.n - 1], "--matrix novalue: expected KEY=V1,V2"),
	   "an axis without '=' is refused");
	strv_free(&specs);
	strv_push(&specs, "a=1,,2");
	ok(bench_matrix_make(&specs, &m, &err) < 0 && strstr(err.lines[err.n - 1], "non-empty values"), "an empty value is refused");
	strv_free(&specs);
	strv_push(&specs, "a=1,2");
	strv_push(&specs, "a=3");
	ok(bench_matrix_make(&specs, &m, &err) < 0 && strstr(err.lines[err.n - 1], "the key 'a' has an axis already"),
	   "a key given twice is refused");
	strv_free(&specs);
	strv_push(&specs, "a=1,2,3,4,5,6,7,8");
	strv_push(&specs, "b=1,2,3,4,5,6,7,8,9");
	ok(bench_matrix_make(&specs, &m, &err) < 0 && strstr(err.lines[err.n - 1], "more than 64 variants"),
	   "too many variants are refused");
	strv_free(&specs);
}

/* Medians, spreads, and changes against the spread. */
static void test_stats(void)
{
	double v1[] = { 3, 1, 2 }, v2[] = { 10, 12 }, v3[] = { 100, 104 }, v4[] = { 100, 104 };
	struct bench_stat a, b, none;
	struct bench_change c;

	bench_stat_of(v1, 3, &a);
	ok(a.median == 2 && a.lo == 1 && a.hi == 3 && a.n == 3, "median of three");
	bench_stat_of(v2, 2, &b);
	ok(b.median == 11 && near(bench_spread_pct(&b), 100.0 / 11), "median of two, spread as half the range");
	bench_stat_of(v3, 2, &a);
	bench_stat_of(v4, 2, &b);
	bench_compare(&a, &b, &c);
	ok(c.pct == 0 && !c.significant, "the same runs: no significant difference");
	v4[0] = 120;
	v4[1] = 124;
	bench_stat_of(v4, 2, &b);
	bench_compare(&a, &b, &c);
	ok(c.significant && near(c.pct, 19.6078431372549) && c.noise_pct > 3.5 && c.noise_pct < 3.7,
	   "20 %% faster with 2 %% spreads: significant");
	v4[0] = 101;
	v4[1] = 105;
	bench_stat_of(v4, 2, &b);
	bench_compare(&a, &b, &c);
	ok(!c.significant, "1 %% within 2 %% spreads: not significant");
	bench_stat_of(NULL, 0, &none);
	bench_compare(&a, &none, &c);
	ok(none.n == 0 && !c.significant, "no figures: nothing significant");
}

int main(void)
{
	test_parse();
	test_jobs();
	test_matrix();
	test_stats();
	return tap_done();
}
