/* vmm bench compare DIR_A DIR_B (bench.h): the targets of two benches matched (variants by
 * their matrix values, host references by id), each metric's change against the run-to-run
 * spread of both, and the manifest fields that differ, a different kernel or QEMU first. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "vmm/base/strict.h"
#include "vmm/base/util.h"
#include "vmm/cli/bench.h"
#include "vmm/cli/cmd.h"

/* Reads DIR/file as JSON (owned). */
static struct json_object *read_json(const char *dir, const char *file, struct verr *err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, file);
	struct json_object *o = json_object_from_file(path);

	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return verr_set(err, 0, "'%s': expected the JSON object vmm bench fio writes", path), NULL;
	}
	return o;
}

/* A string member (or "" when missing). */
static const char *str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : "";
}

/* The target of results r matching t (a variant by label, a host reference by id), or NULL. */
static struct json_object *match(struct json_object *targets, struct json_object *t)
{
	bool host = !strcmp(str(t, "kind"), "host");

	for (size_t i = 0; i < json_object_array_length(targets); i++) {
		struct json_object *o = json_object_array_get_idx(targets, i);
		if (!strcmp(str(o, "kind"), str(t, "kind")) &&
		    !strcmp(str(o, host ? "id" : "label"), str(t, host ? "id" : "label")))
			return o;
	}
	return NULL;
}

/* The statistic of metric name over the successful runs of a target of results.json. */
static void stat_of(struct json_object *t, const char *name, struct bench_stat *s)
{
	struct json_object *runs, *m, *v;
	double vals[256], d;
	size_t n = 0;

	if (json_object_object_get_ex(t, "runs", &runs) && json_object_is_type(runs, json_type_array))
		for (size_t r = 0; r < json_object_array_length(runs) && n < 256; r++)
			if (json_object_object_get_ex(json_object_array_get_idx(runs, r), "metrics", &m) &&
			    json_object_object_get_ex(m, name, &v) && json_number_in(v, 0, HUGE_VAL, &d))
				vals[n++] = d;
	bench_stat_of(vals, n, s);
}

/* The change of one metric in words. */
static void print_change(const struct fio_metric_info *mi, const struct bench_stat *a, const struct bench_stat *b)
{
	struct bench_change c;

	bench_compare(a, b, &c);
	printf("  %-9s ", mi->name);
	if (!a->n || !b->n)
		printf("no result in %s\n", !a->n ? "A" : "B");
	else if (!c.significant)
		printf("no significant difference (%+.1f %% within the spread ± %.1f %%)\n", c.pct, c.noise_pct);
	else
		printf("%s by %.1f %% ± %.1f %%\n", (c.pct > 0) == mi->higher_better ? "faster" : "slower",
		       c.pct < 0 ? -c.pct : c.pct, c.noise_pct);
}

/* A JSON value as a short text, with the VM's name replaced (it differs from bench to bench). */
static char *shown_value(struct json_object *v, const char *vm_name)
{
	const char *text = v ? cmd_json_text(v, JSON_LINE) : "(none)";
	struct strv parts = { 0 };
	char *out;
	size_t n = strlen(vm_name);

	if (!n)
		return xasprintf("%.100s%s", text, strlen(text) > 100 ? "..." : "");
	for (const char *p = text, *hit; *p; p = hit + n) {
		hit = strstr(p, vm_name);
		if (!hit) {
			strv_push(&parts, p);
			break;
		}
		strv_pushf(&parts, "%.*sVM", (int)(hit - p), p);
	}
	out = xstrdup("");
	for (size_t i = 0; i < parts.n; i++) {
		char *longer = xasprintf("%s%s", out, parts.v[i]);
		free(out);
		out = longer;
	}
	strv_free(&parts);
	return out;
}

/* Prints "  KEY: A -> B" when the two values differ (the VM names aside); returns 1 then. */
static int diff_value(const char *key, struct json_object *a, struct json_object *b, const char *name_a,
		      const char *name_b)
{
	_cleanup_free_ char *ta = shown_value(a, name_a), *tb = shown_value(b, name_b);

	if (!strcmp(ta, tb))
		return 0;
	printf("  %s: %.120s -> %.120s\n", key, ta, tb);
	return 1;
}

/* The manifest fields of a target pair that differ (section.key for objects). */
static void diff_manifests(const char *dir_a, const char *dir_b, struct json_object *ta, struct json_object *tb)
{
	static const char *const sections[] = { "host", "image", "qemu", "disk", "fio", "pinning", "sets", "argv",
						"profile", NULL };
	_cleanup_free_ char *fa = xasprintf("%s/manifest.json", str(ta, "id")), *fb = xasprintf("%s/manifest.json", str(tb, "id"));
	_cleanup_verr_ struct verr err = { 0 };
	struct json_object *ma = read_json(dir_a, fa, &err), *mb = ma ? read_json(dir_b, fb, &err) : NULL;
	const char *na, *nb;
	int n = 0;

	if (!ma || !mb) {
		printf("  manifests: %s\n", err.n ? err.lines[0] : "missing");
		json_object_put(ma);
		return;
	}
	na = str(ma, "vm_name");
	nb = str(mb, "vm_name");
	for (size_t s = 0; sections[s]; s++) {
		struct json_object *a = NULL, *b = NULL;
		json_object_object_get_ex(ma, sections[s], &a);
		json_object_object_get_ex(mb, sections[s], &b);
		if (json_object_is_type(a, json_type_object) && json_object_is_type(b, json_type_object) &&
		    strcmp(sections[s], "profile")) {
			json_object_object_foreach(a, key, va) {
				struct json_object *vb = NULL;
				_cleanup_free_ char *k = xasprintf("%s.%s", sections[s], key);
				json_object_object_get_ex(b, key, &vb);
				n += diff_value(k, va, vb, na, nb);
			}
			json_object_object_foreach(b, key2, vb2) {
				_cleanup_free_ char *k = xasprintf("%s.%s", sections[s], key2);
				if (!json_object_object_get_ex(a, key2, NULL))
					n += diff_value(k, NULL, vb2, na, nb);
			}
		} else
			n += diff_value(sections[s], a, b, na, nb);
	}
	if (!n)
		printf("  manifests: the same (times and thread ids aside)\n");
	json_object_put(ma);
	json_object_put(mb);
}

/* A host fact of the first manifest of a bench directory (owned; "" when unknown). */
static char *fact(const char *dir, struct json_object *targets, const char *section, const char *key)
{
	_cleanup_verr_ struct verr err = { 0 };
	char *v = xstrdup("");

	for (size_t i = 0; i < json_object_array_length(targets); i++) {
		struct json_object *t = json_object_array_get_idx(targets, i), *m, *s;
		_cleanup_free_ char *file = xasprintf("%s/manifest.json", str(t, "id"));
		if (!(m = read_json(dir, file, &err)))
			continue;
		if (json_object_object_get_ex(m, section, &s) && *str(s, key)) {
			free(v);
			v = xstrdup(str(s, key));
			json_object_put(m);
			break;
		}
		json_object_put(m);
	}
	return v;
}

/* Says a different kernel or QEMU up front. */
static void print_headline(const char *dir_a, const char *dir_b, struct json_object *ta, struct json_object *tb)
{
	static const struct {
		const char *section, *key, *what;
	} facts[] = { { "host", "kernel", "host kernel" }, { "qemu", "version", "QEMU" }, { "host", "cpu_model", "CPU" } };

	for (size_t i = 0; i < sizeof(facts) / sizeof(facts[0]); i++) {
		_cleanup_free_ char *a = fact(dir_a, ta, facts[i].section, facts[i].key);
		_cleanup_free_ char *b = fact(dir_b, tb, facts[i].section, facts[i].key);
		if (strcmp(a, b))
			printf("different %s: %s (A) vs %s (B)\n", facts[i].what, a, b);
	}
}

int bench_compare_dirs(const char *dir_a, const char *dir_b, struct verr *err)
{
	struct json_object *ra = read_json(dir_a, "results.json", err), *rb = ra ? read_json(dir_b, "results.json", err) : NULL;
	struct json_object *ta, *tb;

	if (!ra || !rb) {
		json_object_put(ra);
		return -1;
	}
	if (!json_object_object_get_ex(ra, "targets", &ta) || !json_object_is_type(ta, json_type_array) ||
	    !json_object_object_get_ex(rb, "targets", &tb) || !json_object_is_type(tb, json_type_array)) {
		json_object_put(ra);
		json_object_put(rb);
		return verr_set(err, 0, "'%s' or '%s': results.json has no list 'targets'", dir_a, dir_b);
	}
	printf("A: %s (%s)\nB: %s (%s)\n", dir_a, str(ra, "job_name"), dir_b, str(rb, "job_name"));
	if (strcmp(str(ra, "job_name"), str(rb, "job_name")))
		printf("different jobs: %s (A) vs %s (B)\n", str(ra, "job_name"), str(rb, "job_name"));
	print_headline(dir_a, dir_b, ta, tb);
	for (size_t i = 0; i < json_object_array_length(ta); i++) {
		struct json_object *a = json_object_array_get_idx(ta, i), *b = match(tb, a);
		printf("\n%s %s\n", str(a, "id"), str(a, "label"));
		if (!b) {
			printf("  not in B\n");
			continue;
		}
		for (size_t m = 0; m < FIO_N_METRICS; m++) {
			struct bench_stat sa, sb;
			stat_of(a, fio_metric_info[m].name, &sa);
			stat_of(b, fio_metric_info[m].name, &sb);
			print_change(&fio_metric_info[m], &sa, &sb);
		}
		diff_manifests(dir_a, dir_b, a, b);
	}
	for (size_t i = 0; i < json_object_array_length(tb); i++)
		if (!match(ta, json_object_array_get_idx(tb, i)))
			printf("\n%s %s\n  not in A\n", str(json_object_array_get_idx(tb, i), "id"),
			       str(json_object_array_get_idx(tb, i), "label"));
	json_object_put(ra);
	json_object_put(rb);
	return 0;
}
