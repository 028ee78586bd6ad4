/* What a finished bench writes (bench.h): results.json with every run, summary.csv, the
 * table on stdout, report.svg (a panel per metric, a bar per target with its spread), and a
 * manifest per target. Each file is written whole to a temporary name and renamed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm/base/util.h"
#include "vmm/cli/bench.h"
#include "vmm/cli/cmd.h"

void bench_target_stat(const struct bench_target *t, size_t i, struct bench_stat *s)
{
	double v[256];
	size_t n = 0;

	for (size_t r = 0; r < t->n_runs && r < 256; r++)
		if (t->runs[r].done && t->runs[r].ok)
			v[n++] = fio_metric(&t->runs[r].m, i);
	bench_stat_of(v, n, s);
}

/* A metric as shown: bytes per second in MB/s, the rest as measured. */
static double shown(size_t i, double v)
{
	return i == 1 ? v / 1e6 : v;
}

/* The median of metric i of target t in percent of its host reference's, or -1 without one. */
static double vs_host(const struct bench *b, const struct bench_target *t, size_t i)
{
	struct bench_stat s, h;

	if (t->host || t->ref < 0)
		return -1;
	bench_target_stat(t, i, &s);
	bench_target_stat(&b->targets[t->ref], i, &h);
	return s.n && h.n && h.median > 0 ? s.median / h.median * 100 : -1;
}

/* Adds a number rounded to 3 decimals. */
static void add_num(struct json_object *o, const char *key, double v)
{
	json_object_object_add(o, key, json_object_new_double((double)(int64_t)(v * 1000 + (v < 0 ? -0.5 : 0.5)) / 1000));
}

/* One run as results.json has it. */
static struct json_object *run_json(const struct bench_run *run, unsigned r)
{
	struct json_object *o = json_object_new_object(), *m = json_object_new_object(), *t = json_object_new_object();

	json_object_object_add(o, "repeat", json_object_new_int((int)r + 1));
	json_object_object_add(o, "ok", json_object_new_boolean(run->ok));
	if (run->error)
		json_object_object_add(o, "error", json_object_new_string(run->error));
	json_object_object_add(o, "started_ms", json_object_new_int64(run->started));
	json_object_object_add(o, "ended_ms", json_object_new_int64(run->ended));
	if (run->ok)
		for (size_t i = 0; i < FIO_N_METRICS; i++)
			add_num(m, fio_metric_info[i].name, fio_metric(&run->m, i));
	json_object_object_add(o, "metrics", m);
	add_num(t, "total_ms", run->total_ms);
	add_num(t, "boot_ms", run->boot_ms);
	add_num(t, "fio_ms", run->fio_ms);
	add_num(t, "stop_ms", run->stop_ms);
	add_num(t, "vmm_ms", run->vmm_ms);
	add_num(t, "start_ms", run->start_ms);
	add_num(t, "lookup_ms", run->lookup_ms);
	json_object_object_add(o, "timing", t);
	return o;
}

struct json_object *bench_results_json(const struct bench *b)
{
	struct json_object *o = json_object_new_object(), *targets = json_object_new_array();

	json_object_object_add(o, "format", json_object_new_string("vmm-bench-fio/1"));
	json_object_object_add(o, "job_name", json_object_new_string(b->job_name));
	json_object_object_add(o, "runtime", json_object_new_int((int)b->runtime));
	json_object_object_add(o, "repeats", json_object_new_int((int)b->repeats));
	json_object_object_add(o, "duration_ms", json_object_new_int64(b->ended - b->started));
	for (size_t k = 0; k < b->n_targets; k++) {
		const struct bench_target *t = &b->targets[k];
		struct json_object *to = json_object_new_object(), *runs = json_object_new_array(),
				   *sum = json_object_new_object();
		json_object_object_add(to, "id", json_object_new_string(t->id));
		json_object_object_add(to, "label", json_object_new_string(t->label));
		json_object_object_add(to, "kind", json_object_new_string(t->host ? "host" : "variant"));
		if (!t->host && t->ref >= 0)
			json_object_object_add(to, "reference", json_object_new_string(b->targets[t->ref].id));
		if (t->ref_note)
			json_object_object_add(to, "reference_note", json_object_new_string(t->ref_note));
		if (t->error)
			json_object_object_add(to, "error", json_object_new_string(t->error));
		for (unsigned r = 0; r < b->repeats; r++)
			if (t->runs[r].done)
				json_object_array_add(runs, run_json(&t->runs[r], r));
		json_object_object_add(to, "runs", runs);
		for (size_t i = 0; i < FIO_N_METRICS; i++) {
			struct json_object *m = json_object_new_object();
			struct bench_stat s;
			bench_target_stat(t, i, &s);
			add_num(m, "median", s.median);
			add_num(m, "min", s.lo);
			add_num(m, "max", s.hi);
			add_num(m, "spread_pct", bench_spread_pct(&s));
			json_object_object_add(m, "n", json_object_new_int((int)s.n));
			if (vs_host(b, t, i) >= 0)
				add_num(m, "vs_host_pct", vs_host(b, t, i));
			json_object_object_add(sum, fio_metric_info[i].name, m);
		}
		json_object_object_add(to, "summary", sum);
		json_object_array_add(targets, to);
	}
	json_object_object_add(o, "targets", targets);
	return o;
}

/* Writes text to DIR/name atomically (a temporary file renamed). */
static int write_file(const char *dir, const char *name, const char *text, struct verr *err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name), *tmp = xasprintf("%s/.%s.tmp", dir, name);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return verr_set(err, e, "cannot write '%s'", path);
	}
	return 0;
}

/* Writes s as a CSV field: in double quotes, each double quote doubled. */
static void csv_field(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* summary.csv: a row per target and metric. */
static char *summary_csv(const struct bench *b)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fprintf(f, "target,label,metric,unit,median,min,max,spread_pct,repeats_ok,vs_host_pct\n");
	for (size_t k = 0; k < b->n_targets; k++) {
		const struct bench_target *t = &b->targets[k];
		for (size_t i = 0; i < FIO_N_METRICS; i++) {
			struct bench_stat s;
			double h = vs_host(b, t, i);
			bench_target_stat(t, i, &s);
			fprintf(f, "%s,", t->id);
			csv_field(f, t->label);
			fprintf(f, ",%s,%s,%.3f,%.3f,%.3f,%.2f,%zu,", fio_metric_info[i].name,
				fio_metric_info[i].unit, shown(i, s.median), shown(i, s.lo), shown(i, s.hi),
				bench_spread_pct(&s), s.n);
			if (h >= 0)
				fprintf(f, "%.2f", h);
			fputc('\n', f);
		}
	}
	fclose(f);
	return buf;
}

/* Writes s with XML's special characters escaped. */
static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

/* report.svg: a panel per metric, a bar per target (its median) with a whisker from its
 * smallest to its largest repeat; the host references in grey. */
static char *report_svg(const struct bench *b)
{
	const int panel_w = 360, bar_h = 18, gap = 6, label_w = 150, pad = 30;
	int panel_h = pad + (int)b->n_targets * (bar_h + gap) + 10;
	int width = 2 * panel_w + 20, height = 40 + 3 * panel_h;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		   "height=\"%d\" font-family=\"sans-serif\" font-size=\"11\">\n", width, height);
	fprintf(f, "<text x=\"10\" y=\"22\" font-size=\"15\">vmm bench fio: ");
	xml_text(f, b->job_name);
	fprintf(f, " (median of %u, bars from the smallest to the largest run)</text>\n", b->repeats);
	for (size_t i = 0; i < FIO_N_METRICS; i++) {
		int x0 = 10 + (int)(i % 2) * (panel_w + 10), y0 = 40 + (int)(i / 2) * panel_h;
		double top = 0;
		for (size_t k = 0; k < b->n_targets; k++) {
			struct bench_stat s;
			bench_target_stat(&b->targets[k], i, &s);
			if (shown(i, s.hi) > top)
				top = shown(i, s.hi);
		}
		if (top <= 0)
			top = 1;
		fprintf(f, "<g><text x=\"%d\" y=\"%d\" font-weight=\"bold\">%s (%s, %s is better)</text>\n", x0,
			y0 + 16, fio_metric_info[i].name, fio_metric_info[i].unit,
			fio_metric_info[i].higher_better ? "higher" : "lower");
		for (size_t k = 0; k < b->n_targets; k++) {
			const struct bench_target *t = &b->targets[k];
			int y = y0 + pad + (int)k * (bar_h + gap), span = panel_w - label_w - 60;
			struct bench_stat s;
			bench_target_stat(t, i, &s);
			fprintf(f, "<text x=\"%d\" y=\"%d\">", x0, y + bar_h - 5);
			xml_text(f, t->id);
			fprintf(f, "</text>\n");
			if (!s.n) {
				fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"#b00\">failed</text>\n", x0 + 40, y + bar_h - 5);
				continue;
			}
			fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>", x0 + 40, y,
				shown(i, s.median) / top * span, bar_h, t->host ? "#999" : "#4a7ebb");
			xml_text(f, t->label);
			fprintf(f, "</title></rect>\n");
			fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#000\"/>\n",
				x0 + 40 + shown(i, s.lo) / top * span, x0 + 40 + shown(i, s.hi) / top * span, y + bar_h / 2,
				y + bar_h / 2);
			fprintf(f, "<text x=\"%.1f\" y=\"%d\">%.4g ±%.1f%%</text>\n", x0 + 44 + shown(i, s.hi) / top * span,
				y + bar_h - 5, shown(i, s.median), bench_spread_pct(&s));
		}
		fprintf(f, "</g>\n");
	}
	fprintf(f, "</svg>\n");
	fclose(f);
	return buf;
}

int bench_write_files(const struct bench *b, struct verr *err)
{
	struct json_object *results = bench_results_json(b);
	_cleanup_free_ char *csv = summary_csv(b), *svg = report_svg(b);
	int ret = write_file(b->out_dir, "results.json", cmd_json_text(results, JSON_PRETTY), err);

	json_object_put(results);
	if (ret == 0)
		ret = write_file(b->out_dir, "summary.csv", csv, err);
	if (ret == 0)
		ret = write_file(b->out_dir, "report.svg", svg, err);
	for (size_t k = 0; ret == 0 && k < b->n_targets; k++) {
		struct json_object *m = bench_manifest(b, &b->targets[k]);
		_cleanup_free_ char *dir = xasprintf("%s/%s", b->out_dir, b->targets[k].id);
		ret = write_file(dir, "manifest.json", cmd_json_text(m, JSON_PRETTY), err);
		json_object_put(m);
	}
	return ret;
}

void bench_print_table(const struct bench *b)
{
	printf("%-6s %-34s", "target", "variant");
	for (size_t i = 0; i < FIO_N_METRICS; i++) {
		char head[32];
		snprintf(head, sizeof(head), "%s %s", fio_metric_info[i].name, fio_metric_info[i].unit);
		printf(" %16s", head);
	}
	printf(" %12s\n", "IOPS vs host");
	for (size_t k = 0; k < b->n_targets; k++) {
		const struct bench_target *t = &b->targets[k];
		struct bench_stat s;
		double h = vs_host(b, t, 0);

		printf("%-6s %-34.34s", t->id, t->label);
		for (size_t i = 0; i < FIO_N_METRICS; i++) {
			char cell[48];
			bench_target_stat(t, i, &s);
			if (s.n)
				snprintf(cell, sizeof(cell), "%.4g ±%.1f%%", shown(i, s.median), bench_spread_pct(&s));
			else
				snprintf(cell, sizeof(cell), "-");
			printf(" %16s", cell);
		}
		if (h >= 0)
			printf(" %11.1f%%", h);
		else
			printf(" %12s", t->host ? "reference" : "-");
		printf("\n");
		for (unsigned r = 0; r < b->repeats; r++)
			if (t->runs[r].done && !t->runs[r].ok) {
				printf("       failed (run %u): %s\n", r + 1, t->runs[r].error);
				if (t->error)
					break;
			}
		if (t->ref_note)
			printf("       no host reference: %s\n", t->ref_note);
	}
}
