#include "vmm/base/strict.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <string.h>

/* The digits s starts with as a number (saturated at UINT64_MAX); *n_digits says how many. */
static uint64_t leading_digits(const char *s, size_t *n_digits)
{
	uint64_t n = 0;
	size_t i = 0;

	for (; s[i] >= '0' && s[i] <= '9'; i++)
		n = n > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10 ? UINT64_MAX : n * 10 + (uint64_t)(s[i] - '0');
	*n_digits = i;
	return n;
}

int parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	size_t len;
	uint64_t n = leading_digits(s, &len);

	if (!len || s[len])
		return errno = EINVAL, -1;
	if (n < min || n > max)
		return errno = ERANGE, -1;
	*out = n;
	return 0;
}

int parse_seconds_ms(const char *s, uint64_t min_ms, uint64_t max_ms, uint64_t *ms)
{
	size_t len, frac_len = 0;
	uint64_t whole = leading_digits(s, &len), frac = 0;

	if (!len)
		return errno = EINVAL, -1;
	if (s[len] == '.') {
		/* Milliseconds: the first three digits of the fraction, the rest only checked. */
		const char *f = s + len + 1;
		frac_len = strspn(f, "0123456789");
		if (!frac_len || f[frac_len])
			return errno = EINVAL, -1;
		for (size_t i = 0; i < 3; i++)
			frac = frac * 10 + (i < frac_len ? (uint64_t)(f[i] - '0') : 0);
	} else if (s[len])
		return errno = EINVAL, -1;
	if (whole > (UINT64_MAX - frac) / 1000 || whole * 1000 + frac < min_ms || whole * 1000 + frac > max_ms)
		return errno = ERANGE, -1;
	*ms = whole * 1000 + frac;
	return 0;
}

bool text_matches(const char *s, const char *template)
{
	for (; *template; s++, template++) {
		bool ok = *template == 'x' ? isxdigit((unsigned char)*s) :
			  *template == 'd' ? isdigit((unsigned char)*s) : *s == *template;
		if (!ok)
			return false;
	}
	return !*s;
}

bool json_int_in(struct json_object *v, int64_t min, int64_t max, int64_t *out)
{
	int64_t n;

	if (!json_object_is_type(v, json_type_int))
		return false;
	/* json-c keeps integers beyond INT64_MAX as unsigned and clamps them when read as int64. */
	if (json_object_get_int64(v) == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX)
		return false;
	n = json_object_get_int64(v);
	if (n < min || n > max)
		return false;
	*out = n;
	return true;
}

bool json_number_in(struct json_object *v, double min, double max, double *out)
{
	double d;

	if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
		return false;
	d = json_object_get_double(v);
	if (!isfinite(d) || d < min || d > max)
		return false;
	*out = d;
	return true;
}

bool json_int_member(struct json_object *obj, const char *key, int64_t min, int64_t max, int64_t *out)
{
	struct json_object *v;

	return json_object_object_get_ex(obj, key, &v) && json_int_in(v, min, max, out);
}

int json_bool_member(struct json_object *obj, const char *key, bool *out)
{
	struct json_object *v;

	*out = false;
	if (!json_object_object_get_ex(obj, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return -1;
	*out = json_object_get_boolean(v);
	return 0;
}
