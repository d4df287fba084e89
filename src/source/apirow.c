/*
 * apirow.c - API records to COPY text rows, learning columns as they come
 * (see apirow.h).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ferry/copytext.h"
#include "source/apirow.h"
#include "util/jtape.h"

const char *ar_pg_type(enum ar_type t)
{
	switch (t) {
	case AR_BIGINT: return "bigint";
	case AR_DOUBLE: return "double precision";
	case AR_BOOL: return "boolean";
	case AR_JSONB: return "jsonb";
	case AR_TSTZ: return "timestamp with time zone";
	case AR_DATE: return "date";
	case AR_UNKNOWN:
	case AR_TEXT: break;
	}
	return "text";
}

/* ---- time ---------------------------------------------------------------- */

static bool num(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + (*p)[i] - '0';
	}
	*p += n;
	*out = v;
	return true;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static long long days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

bool ar_parse_time(const char *s, long long *us)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0;
	long long frac = 0, scale = 1000000, off = 0;

	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (!num(&p, 4, &y) || *p++ != '-' || !num(&p, 2, &mo) || *p++ != '-' || !num(&p, 2, &d) ||
	    mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))))
		return false;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!num(&p, 2, &h) || *p++ != ':' || !num(&p, 2, &mi) || h > 23 || mi > 59)
			return false;
		if (*p == ':') {
			p++;
			if (!num(&p, 2, &sec) || sec > 60)
				return false;
			if (*p == '.' || *p == ',') {
				p++;
				if (!isdigit((unsigned char)*p))
					return false;
				for (; isdigit((unsigned char)*p); p++)
					if (scale > 1) {
						scale /= 10;
						frac += (*p - '0') * scale;
					}
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1;
			if (!num(&p, 2, &oh))
				return false;
			if (*p == ':')
				p++;
			if (isdigit((unsigned char)*p) && !num(&p, 2, &om))
				return false;
			off = sign * (oh * 3600LL + om * 60LL);
		}
	}
	if (*p)
		return false;
	*us = ((days_from_civil(y, mo, d) * 86400 + h * 3600LL + mi * 60LL + sec) - off) * 1000000 +
	      frac;
	return true;
}

/* Writes v as n digits, zero-padded. */
static char *digits(char *p, long long v, int n)
{
	for (int i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + n;
}

/* Formatted by hand: one per record for every unix_seconds field, printf is too slow. */
void ar_format_time(long long us, char out[40])
{
	long long secs, frac, days, sod, z, era, doe, yoe, doy, mp, y, m, d;
	char *p = out;

	if (us < AR_TIME_MIN_US || us > AR_TIME_MAX_US)
		us = us < 0 ? AR_TIME_MIN_US : AR_TIME_MAX_US;
	secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
	frac = us - secs * 1000000;
	days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	sod = secs - days * 86400;
	/* civil_from_days (Howard Hinnant's algorithm, proleptic Gregorian) */
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = yoe + era * 400 + (m <= 2);
	p = digits(p, y, 4);
	*p++ = '-';
	p = digits(p, m, 2);
	*p++ = '-';
	p = digits(p, d, 2);
	*p++ = 'T';
	p = digits(p, sod / 3600, 2);
	*p++ = ':';
	p = digits(p, sod / 60 % 60, 2);
	*p++ = ':';
	p = digits(p, sod % 60, 2);
	if (frac) {
		*p++ = '.';
		p = digits(p, frac, 6);
	}
	*p++ = 'Z';
	*p = '\0';
}

/* ---- values -------------------------------------------------------------- */

void apirow_json(const struct ar_val *v, struct ferry_buf *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	switch (v->type) {
	case JT_NULL: ferry_buf_adds(out, "null"); return;
	case JT_TRUE: ferry_buf_adds(out, "true"); return;
	case JT_FALSE: ferry_buf_adds(out, "false"); return;
	case JT_STRING:
	case JT_KEY: break;
	default: ferry_buf_add(out, v->s, v->len); return;
	}
	ferry_buf_addc(out, '"');
	for (i = 0; i < v->len; i++) {
		unsigned char c = (unsigned char)v->s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		ferry_buf_add(out, v->s + run, i - run);
		run = i + 1;
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			ferry_buf_add(out, e, 2);
		} else {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			ferry_buf_add(out, e, 6);
		}
	}
	ferry_buf_add(out, v->s + run, i - run);
	ferry_buf_addc(out, '"');
}

/* A number given as a JSON number or a plain decimal string; false otherwise. */
static bool number_of(const struct ar_val *v, double *d)
{
	char *end;

	if ((v->type != JT_INT && v->type != JT_REAL && v->type != JT_STRING) || !v->len ||
	    strspn(v->s, "0123456789+-.eE") != v->len)
		return false;
	errno = 0;
	*d = strtod(v->s, &end);
	return end == v->s + v->len && isfinite(*d) && errno != ERANGE;
}

/* A unix time (seconds or ms) as microseconds, within years 0001..9999. */
bool apirow_unix_us(enum mf_type decl, const struct ar_val *v, long long *us)
{
	double d;

	if (!number_of(v, &d))
		return false;
	d = decl == MF_T_UNIX_MS ? d * 1000 : d * 1000000;
	if (d < (double)AR_TIME_MIN_US || d > (double)AR_TIME_MAX_US)
		return false;
	*us = llround(d);
	return true;
}

/* A JSON real PostgreSQL's double precision can hold (1e400 and 1e-400 cannot). */
static bool double_ok(const struct ar_val *v)
{
	double d;

	return v->type == JT_INT || number_of(v, &d);
}

/*
 * Appends s[0..n) as COPY text; a NUL (JSON "\u0000") cannot travel in COPY
 * text nor in PostgreSQL text, so it becomes U+FFFD.
 */
static void put_text(struct ferry_buf *out, const char *s, size_t n)
{
	const char *z;

	while ((z = memchr(s, '\0', n))) {
		ferry_copy_escape(out, s, (size_t)(z - s));
		ferry_buf_adds(out, "\xef\xbf\xbd");
		n -= (size_t)(z - s) + 1;
		s = z + 1;
	}
	ferry_copy_escape(out, s, n);
}

/* Appends raw JSON text as COPY text, with \u0000 escapes made \ufffd (jsonb refuses them). */
static void put_raw_json(struct ferry_buf *out, const char *s, size_t n)
{
	size_t i = 0, run = 0;

	while (i + 1 < n) {
		if (s[i] != '\\') {
			i++;
			continue;
		}
		if (s[i + 1] == 'u' && i + 6 <= n && !memcmp(s + i + 2, "0000", 4)) {
			ferry_copy_escape(out, s + run, i - run);
			ferry_copy_escape(out, "\\ufffd", 6);
			i += 6;
			run = i;
		} else {
			i += 2; /* an escaped character, maybe a backslash */
		}
	}
	ferry_copy_escape(out, s + run, n - run);
}

/* An integer that fits bigint. */
static bool fits_bigint(const struct ar_val *v)
{
	char *end;

	if (v->type != JT_INT)
		return false;
	if (v->len < 18)
		return true;
	errno = 0;
	(void)strtoll(v->s, &end, 10);
	return !errno && end == v->s + v->len;
}

bool apirow_cell(enum ar_type t, enum mf_type decl, const struct ar_val *v, struct ferry_buf *out)
{
	char tb[40];
	long long us;

	if (!v || v->type == JT_NULL)
		return false;
	switch (t) {
	case AR_BIGINT:
		if (!fits_bigint(v))
			return false;
		ferry_buf_add(out, v->s, v->len);
		return true;
	case AR_DOUBLE:
		if ((v->type != JT_INT && v->type != JT_REAL) || !double_ok(v))
			return false;
		ferry_buf_add(out, v->s, v->len);
		return true;
	case AR_BOOL:
		if (v->type != JT_TRUE && v->type != JT_FALSE)
			return false;
		ferry_buf_adds(out, v->type == JT_TRUE ? "true" : "false");
		return true;
	case AR_TSTZ:
		if (decl == MF_T_UNIX_SECONDS || decl == MF_T_UNIX_MS) {
			if (!apirow_unix_us(decl, v, &us))
				return false;
			ar_format_time(us, tb);
			ferry_buf_adds(out, tb);
			return true;
		}
		if (v->type != JT_STRING || !ar_parse_time(v->s, &us))
			return false;
		ferry_copy_escape(out, v->s, v->len);
		return true;
	case AR_DATE:
		if (v->type != JT_STRING || v->len != 10 || !ar_parse_time(v->s, &us))
			return false;
		ferry_buf_add(out, v->s, v->len);
		return true;
	case AR_JSONB:
		if (v->type == JT_OBJECT || v->type == JT_ARRAY) {
			put_raw_json(out, v->s, v->len);
		} else {
			struct ferry_buf tmp = FERRY_BUF_INIT;
			apirow_json(v, &tmp);
			put_raw_json(out, tmp.data, tmp.len);
			ferry_buf_release(&tmp);
		}
		return true;
	case AR_UNKNOWN:
	case AR_TEXT:
		break;
	}
	switch (v->type) {
	case JT_TRUE: ferry_buf_adds(out, "true"); break;
	case JT_FALSE: ferry_buf_adds(out, "false"); break;
	case JT_OBJECT:
	case JT_ARRAY: put_raw_json(out, v->s, v->len); break;
	default: put_text(out, v->s, v->len); break;
	}
	return true;
}

/* The type a value asks for in a column declared decl; AR_UNKNOWN for null. */
static enum ar_type type_of(enum mf_type decl, const struct ar_val *v)
{
	long long us;

	if (!v || v->type == JT_NULL)
		return AR_UNKNOWN;
	switch (decl) {
	case MF_T_TEXT: return AR_TEXT;
	case MF_T_JSON: return AR_JSONB;
	case MF_T_UNIX_SECONDS:
	case MF_T_UNIX_MS: return apirow_unix_us(decl, v, &us) ? AR_TSTZ : AR_TEXT;
	case MF_T_RFC3339:
		return v->type == JT_STRING && ar_parse_time(v->s, &us) ? AR_TSTZ : AR_TEXT;
	case MF_T_DATE:
		return v->type == JT_STRING && v->len == 10 && ar_parse_time(v->s, &us) ? AR_DATE
											 : AR_TEXT;
	case MF_T_BIGINT:
	case MF_T_DOUBLE:
	case MF_T_BOOLEAN:
	case MF_T_AUTO:
		break;
	}
	switch (v->type) {
	case JT_INT:
		if (!fits_bigint(v))
			return decl == MF_T_DOUBLE && double_ok(v) ? AR_DOUBLE : AR_TEXT;
		return decl == MF_T_DOUBLE ? AR_DOUBLE : AR_BIGINT;
	case JT_REAL: return double_ok(v) ? AR_DOUBLE : AR_TEXT;
	case JT_TRUE:
	case JT_FALSE: return AR_BOOL;
	case JT_STRING: return AR_TEXT;
	default: return AR_JSONB;
	}
}

/* The type that holds both (DESIGN.md §3). */
static enum ar_type widen(enum ar_type a, enum ar_type b)
{
	if (a == AR_UNKNOWN || a == b)
		return b;
	if (b == AR_UNKNOWN)
		return a;
	if (a == AR_JSONB || b == AR_JSONB)
		return AR_JSONB;
	if ((a == AR_BIGINT && b == AR_DOUBLE) || (a == AR_DOUBLE && b == AR_BIGINT))
		return AR_DOUBLE;
	return AR_TEXT;
}

/* ---- columns ------------------------------------------------------------- */

static int add_col(struct apirow *a, const char *name, enum mf_type decl, enum ar_type t)
{
	if (a->ncols == a->cap) {
		int cap = a->cap ? a->cap * 2 : 16;
		struct ar_col *v = realloc(a->cols, sizeof(*v) * (size_t)cap);
		const struct ar_val **vals;
		if (!v)
			return FERRY_ENOMEM;
		a->cols = v;
		vals = realloc(a->vals, sizeof(*vals) * (size_t)cap);
		if (!vals)
			return FERRY_ENOMEM;
		a->vals = vals;
		a->cap = cap;
	}
	a->cols[a->ncols].name = strdup(name);
	if (!a->cols[a->ncols].name)
		return FERRY_ENOMEM;
	a->cols[a->ncols].decl = decl;
	a->cols[a->ncols].type = t;
	a->ncols++;
	return 0;
}

static enum mf_type declared(const struct mf_stream *ms, const char *name)
{
	for (int i = 0; ms && i < ms->nfields; i++)
		if (!strcmp(ms->fields[i].name, name))
			return ms->fields[i].type;
	return MF_T_AUTO;
}

/* The type a declaration fixes before any value is seen (AR_UNKNOWN when the values decide). */
static enum ar_type declared_type(enum mf_type decl)
{
	switch (decl) {
	case MF_T_TEXT: return AR_TEXT;
	case MF_T_BIGINT: return AR_BIGINT;
	case MF_T_DOUBLE: return AR_DOUBLE;
	case MF_T_BOOLEAN: return AR_BOOL;
	case MF_T_JSON: return AR_JSONB;
	case MF_T_UNIX_SECONDS:
	case MF_T_UNIX_MS:
	case MF_T_RFC3339: return AR_TSTZ;
	case MF_T_DATE: return AR_DATE;
	case MF_T_AUTO: break;
	}
	return AR_UNKNOWN;
}

int apirow_init(struct apirow *a, const struct ferry_stream *s, const struct mf_stream *ms,
		struct ferry_err *err)
{
	memset(a, 0, sizeof(*a));
	a->cursor = s->cursor;
	a->cursor_unordered = s->cursor_unordered;
	if (!(a->stream = strdup(s->name)))
		goto nomem;
	for (int i = 0; i < s->ncols; i++) {
		enum mf_type decl = declared(ms, s->cols[i].name);
		if (!strcmp(s->cols[i].name, "_ferry_key"))
			decl = MF_T_TEXT;
		if (add_col(a, s->cols[i].name, decl, declared_type(decl)))
			goto nomem;
	}
	if (s->npk) {
		if (!(a->pk = malloc(sizeof(int) * (size_t)s->npk)))
			goto nomem;
		memcpy(a->pk, s->pk, sizeof(int) * (size_t)s->npk);
		a->npk = s->npk;
	}
	a->changed = true;
	return 0;
nomem:
	apirow_release(a);
	return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
}

void apirow_release(struct apirow *a)
{
	for (int i = 0; i < a->ncols; i++)
		free(a->cols[i].name);
	free(a->cols);
	free(a->vals);
	free(a->pk);
	for (int i = 0; i < a->nshapes; i++) {
		ferry_stream_release(a->shapes[i]);
		free(a->shapes[i]);
	}
	free(a->shapes);
	free(a->stream);
	memset(a, 0, sizeof(*a));
}

static int find_col(struct apirow *a, const char *name)
{
	int i;

	if (a->hint < a->ncols && !strcmp(a->cols[a->hint].name, name))
		return a->hint++;
	for (i = 0; i < a->ncols; i++)
		if (!strcmp(a->cols[i].name, name)) {
			a->hint = i + 1;
			return i;
		}
	return -1;
}

int apirow_scan(struct apirow *a, const struct ar_field *f, int n, bool *must_publish,
		struct ferry_err *err)
{
	for (int i = 0; i < a->ncols; i++)
		a->vals[i] = NULL;
	a->hint = 0;
	for (int i = 0; i < n; i++) {
		const struct ar_val *v = &f[i].v;
		int c = find_col(a, f[i].name);
		enum ar_type want;
		if (c < 0) {
			if (v->type == JT_NULL)
				continue; /* a column appears with its first value */
			if (add_col(a, f[i].name, MF_T_AUTO, type_of(MF_T_AUTO, v)))
				return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
			a->changed = true;
			c = a->ncols - 1;
			a->hint = 0;
		}
		a->vals[c] = v;
		want = type_of(a->cols[c].decl, v);
		if (want != AR_UNKNOWN && want != a->cols[c].type) {
			enum ar_type w = widen(a->cols[c].type, want);
			if (w != a->cols[c].type) {
				a->cols[c].type = w;
				a->changed = true;
			}
		}
	}
	*must_publish = a->changed;
	return 0;
}

const struct ar_val *apirow_value(const struct apirow *a, int col)
{
	return col >= 0 && col < a->ncols ? a->vals[col] : NULL;
}

int apirow_publish(struct apirow *a, const struct ferry_stream **shape, struct ferry_err *err)
{
	struct ferry_stream *s = calloc(1, sizeof(*s)), **v;

	if (!s)
		goto nomem;
	v = realloc(a->shapes, sizeof(*v) * (size_t)(a->nshapes + 1));
	if (!v) {
		free(s);
		goto nomem;
	}
	a->shapes = v;
	s->cursor = a->cursor;
	s->cursor_unordered = a->cursor_unordered;
	s->estimate = -1;
	if (!(s->name = strdup(a->stream)))
		goto fail;
	for (int i = 0; i < a->ncols; i++)
		if (ferry_stream_add_column(s, a->cols[i].name, ar_pg_type(a->cols[i].type), false))
			goto fail;
	if (a->npk) {
		if (!(s->pk = malloc(sizeof(int) * (size_t)a->npk)))
			goto fail;
		memcpy(s->pk, a->pk, sizeof(int) * (size_t)a->npk);
		s->npk = a->npk;
	}
	a->shapes[a->nshapes++] = s;
	a->changed = false;
	*shape = s;
	return 0;
fail:
	ferry_stream_release(s);
	free(s);
nomem:
	return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
}

const struct ferry_stream *apirow_shape(const struct apirow *a)
{
	return a->nshapes ? a->shapes[a->nshapes - 1] : NULL;
}

int apirow_encode(struct apirow *a, struct ferry_buf *out, struct ferry_err *err)
{
	size_t need = 2;
	int i, rc;

	/* room for the worst case (every byte escaped to \\u00XX), so no cell is cut short */
	for (i = 0; i < a->ncols; i++)
		need += (a->vals[i] ? a->vals[i]->len * 6 : 0) + 48;
	if ((rc = ferry_buf_grow(out, need)))
		goto fail;
	for (i = 0; i < a->ncols; i++) {
		if (i && (rc = ferry_buf_addc(out, '\t')))
			goto fail;
		if (!apirow_cell(a->cols[i].type, a->cols[i].decl, a->vals[i], out) &&
		    (rc = ferry_copy_null(out)))
			goto fail;
	}
	if ((rc = ferry_buf_addc(out, '\n')))
		goto fail;
	return 0;
fail:
	return ferry_err_set(err, rc, "stream \"%s\": a batch grew past its size cap", a->stream);
}
