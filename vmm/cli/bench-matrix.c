/* The variants of vmm bench (bench-matrix.h). */
#include "vmm/cli/bench-matrix.h"

#include <string.h>

/* Splits values at the commas outside brackets, braces and double quotes (a JSON list or
 * object is one value); -1 for an empty value or unbalanced brackets. */
static int split_values(const char *s, struct strv *out)
{
	int depth = 0;
	bool quoted = false;
	const char *start = s;

	for (const char *p = s;; p++) {
		if (*p == '"' && (p == s || p[-1] != '\\'))
			quoted = !quoted;
		else if (!quoted && (*p == '[' || *p == '{'))
			depth++;
		else if (!quoted && (*p == ']' || *p == '}') && --depth < 0)
			return -1;
		if (*p == '\0' || (*p == ',' && !quoted && depth == 0)) {
			if (p == start)
				return -1;
			strv_pushf(out, "%.*s", (int)(p - start), start);
			start = p + 1;
		}
		if (*p == '\0')
			break;
	}
	return depth || quoted ? -1 : 0;
}

/* Parses one --matrix KEY=V1,V2 into axis. */
static int parse_axis(const char *spec, struct bench_axis *axis, struct verr *err)
{
	const char *eq = strchr(spec, '=');

	*axis = (struct bench_axis){ 0 };
	if (!eq || eq == spec)
		return verr_set(err, 0, "--matrix %s: expected KEY=V1,V2,..., such as 'disks[data].iothread=true,false'",
				spec);
	if (split_values(eq + 1, &axis->values) < 0) {
		strv_free(&axis->values);
		return verr_set(err, 0, "--matrix %s: expected non-empty values separated by commas", spec);
	}
	axis->key = strndup(spec, (size_t)(eq - spec));
	return 0;
}

int bench_matrix_make(const struct strv *specs, struct bench_matrix *m, struct verr *err)
{
	size_t total = 1;

	*m = (struct bench_matrix){ .axes = xzalloc((specs->n + 1) * sizeof(*m->axes)) };
	for (size_t i = 0; i < specs->n; i++) {
		if (parse_axis(specs->v[i], &m->axes[i], err) < 0)
			goto fail;
		m->n_axes++;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->axes[j].key, m->axes[i].key)) {
				verr_set(err, 0, "--matrix %s: the key '%s' has an axis already", specs->v[i], m->axes[i].key);
				goto fail;
			}
		total *= m->axes[i].values.n;
		if (total > BENCH_MAX_VARIANTS) {
			verr_set(err, 0, "--matrix: more than %d variants", BENCH_MAX_VARIANTS);
			goto fail;
		}
	}
	m->variants = xzalloc(total * sizeof(*m->variants));
	for (size_t v = 0; v < total; v++) {
		struct bench_variant *var = &m->variants[m->n_variants++];
		struct strv words = { 0 };
		size_t len = 1;

		/* The last axis varies fastest: v's digits, each axis's stride the product of those after it. */
		for (size_t a = 0; a < m->n_axes; a++) {
			const struct bench_axis *ax = &m->axes[a];
			size_t stride = 1;
			const char *value;
			for (size_t b = a + 1; b < m->n_axes; b++)
				stride *= m->axes[b].values.n;
			value = ax->values.v[v / stride % ax->values.n];
			if (!strcmp(ax->key, BENCH_DISK_KEY))
				var->disk = xstrdup(value);
			else
				strv_pushf(&var->sets, "%s=%s", ax->key, value);
			strv_pushf(&words, "%s=%s", ax->key, value);
			len += strlen(words.v[words.n - 1]) + 1;
		}
		var->label = xzalloc(len + sizeof("(profile)"));
		for (size_t w = 0; w < words.n; w++)
			strcat(strcat(var->label, w ? " " : ""), words.v[w]);
		if (!words.n)
			strcpy(var->label, "(profile)");
		strv_free(&words);
	}
	return 0;
fail:
	bench_matrix_free(m);
	return -1;
}

void bench_matrix_free(struct bench_matrix *m)
{
	for (size_t i = 0; i < m->n_axes; i++) {
		free(m->axes[i].key);
		strv_free(&m->axes[i].values);
	}
	for (size_t i = 0; i < m->n_variants; i++) {
		free(m->variants[i].label);
		free(m->variants[i].disk);
		strv_free(&m->variants[i].sets);
	}
	free(m->axes);
	free(m->variants);
	*m = (struct bench_matrix){ 0 };
}
