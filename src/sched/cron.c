/*
 * cron.c - cron expressions and intervals: parsing, next run time, canonical
 * text (see cron.h for the grammar and the rules).
 *
 * A cron expression becomes five bitsets, one per field, so "does value v
 * match" is one AND and "the next matching value from v" is a mask and a
 * count of trailing zeros. ferry_schedule_next walks the calendar from the
 * field with the coarsest unit down: a month that does not match is skipped
 * whole, then the first matching day of the month is found directly (from the
 * day-of-month bits and the weekday of the candidate day), then the hour, then
 * the minute; a field with nothing left moves the next coarser one on and
 * starts again. A typical query makes one or two passes; the worst a parsed
 * expression can need ("0 0 29 2 *\/7"-like: a Sunday 29 February) is one
 * pass per year for 28 years. Dates are converted with day counts (no
 * gmtime/timegm, no time zone: everything is UTC).
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "sched/cron.h"
#include "util/text.h"

#define MDAY_STAR 1u /* the day-of-month field starts with '*' */
#define WDAY_STAR 2u /* the day-of-week field starts with '*' */

/* 9999-12-31T23:59:59Z: no run time past it is looked for. */
#define LAST_UNIX 253402300799LL
/*
 * The Gregorian calendar repeats every 400 years, weekdays included
 * (146097 days = 20871 weeks): an expression with no run in 400 years has
 * none at all. Parsing refuses those, so the bound is a safety net.
 */
#define SEARCH_YEARS 400

enum { F_MINUTE, F_HOUR, F_MDAY, F_MONTH, F_WDAY, NFIELDS };

static const char *const month_names[] = {
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
};
static const char *const day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

static const struct field_def {
	const char *name;
	int min, max;
	const char *const *names; /* names[i] is value names_base + i */
	int nnames, names_base;
	const char *names_hint; /* " (or JAN-DEC)" in range messages */
} fields[NFIELDS] = {
    {"minute", 0, 59, NULL, 0, 0, ""},
    {"hour", 0, 23, NULL, 0, 0, ""},
    {"day-of-month", 1, 31, NULL, 0, 0, ""},
    {"month", 1, 12, month_names, 12, 1, " (or JAN-DEC)"},
    {"day-of-week", 0, 7, day_names, 7, 0, " (or SUN-SAT; 0 and 7 are Sunday)"},
};

static const struct macro {
	const char *name, *expr;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};
#define NMACROS ((int)(sizeof(macros) / sizeof(macros[0])))

static const struct unit {
	const char *name;
	long long seconds;
} units[] = {
    {"s", 1},     {"sec", 1},     {"secs", 1},     {"second", 1},  {"seconds", 1},
    {"m", 60},    {"min", 60},    {"mins", 60},    {"minute", 60}, {"minutes", 60},
    {"h", 3600},  {"hr", 3600},   {"hrs", 3600},   {"hour", 3600}, {"hours", 3600},
    {"d", 86400}, {"day", 86400}, {"days", 86400},
};
#define NUNITS ((int)(sizeof(units) / sizeof(units[0])))

/* ---- calendar arithmetic (proleptic Gregorian, UTC) ---- */

static bool is_leap(long long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(long long y, int m)
{
	static const int len[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : len[m];
}

/*
 * Days from 1970-01-01 to y-m-d, for y >= 1. The year is counted from March
 * so that the leap day is the last day of its year; then whole 400-year
 * cycles, years within the cycle with their leap days, and days within the
 * March-based year (months of 31, 30, 31, 30, 31 days repeat: 153 days per
 * 5 months) add up.
 */
static long long days_from_civil(long long y, int m, int d)
{
	long long cycle, yoc, doy, doc;

	if (m <= 2)
		y--;
	cycle = y / 400;
	yoc = y - cycle * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doc = yoc * 365 + yoc / 4 - yoc / 100 + doy;
	return cycle * 146097 + doc - 719468; /* 719468: 0000-03-01 to 1970-01-01 */
}

/* The inverse of days_from_civil, for days >= 0. */
static void civil_from_days(long long days, long long *y, int *m, int *d)
{
	long long z = days + 719468, cycle, doc, yoc, doy, mp;

	cycle = z / 146097;
	doc = z - cycle * 146097;
	/* Subtract the leap days before this day of the cycle, then divide. */
	yoc = (doc - doc / 1460 + doc / 36524 - doc / 146096) / 365;
	doy = doc - (365 * yoc + yoc / 4 - yoc / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoc + cycle * 400 + (*m <= 2);
}

/* 0 = Sunday; 1970-01-01 was a Thursday. */
static int weekday(long long days)
{
	return (int)((days % 7 + 11) % 7);
}

/* ---- parsing ---- */

struct parser {
	const char *text; /* the whole schedule, for messages */
	struct ferry_err *err;
};

/*
 * Fails with `cron expression "TEXT": FIELD field "F" WHAT`, or, when the
 * fault is in a part of the field, `... field "F": "PART" WHAT`.
 */
__attribute__((format(printf, 7, 8))) static int
field_error(struct parser *p, const struct field_def *f, const char *fs, size_t fn,
            const char *part, size_t pn, const char *what, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, what);
	vsnprintf(why, sizeof(why), what, ap);
	va_end(ap);
	if (part == fs && pn == fn)
		return ferry_err_set(p->err, FERRY_EUSAGE,
		                     "cron expression \"%.100s\": %s field \"%.*s\" %s", p->text,
		                     f->name, (int)(fn > 60 ? 60 : fn), fs, why);
	return ferry_err_set(
	    p->err, FERRY_EUSAGE, "cron expression \"%.100s\": %s field \"%.*s\": \"%.*s\" %s",
	    p->text, f->name, (int)(fn > 60 ? 60 : fn), fs, (int)(pn > 40 ? 40 : pn), part, why);
}

/* A whole number of at most 9 digits; false for anything else. */
static bool parse_digits(const char *s, size_t n, long *out)
{
	long v = 0;
	size_t i;

	if (n == 0 || n > 9)
		return false;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* One value of field f: a number in range, or a name (JAN, mon, ...). */
static int parse_value(struct parser *p, const struct field_def *f, const char *fs, size_t fn,
                       const char *s, size_t n, int *out)
{
	long v;
	int i;

	if (n > 0 && isdigit((unsigned char)s[0])) {
		size_t k = 0;

		while (k < n && isdigit((unsigned char)s[k]))
			k++;
		if (k == n) {
			if (!parse_digits(s, n, &v) || v < f->min || v > f->max)
				return field_error(p, f, fs, fn, s, n, "is out of range %d-%d%s",
				                   f->min, f->max, f->names_hint);
			*out = (int)v;
			return 0;
		}
	}
	for (i = 0; i < f->nnames; i++) {
		if (n == 3 && strncasecmp(s, f->names[i], 3) == 0) {
			*out = f->names_base + i;
			return 0;
		}
	}
	if (f->nnames)
		return field_error(p, f, fs, fn, s, n, "is not a number or a %s name (%s-%s)",
		                   f == &fields[F_MONTH] ? "month" : "day", f->names[0],
		                   f->names[f->nnames - 1]);
	return field_error(p, f, fs, fn, s, n, "is not a number (%d-%d)", f->min, f->max);
}

/*
 * One item of a list: "*", "v", "a-b", each optionally "/step"; "v/step"
 * runs from v to the field's maximum.
 */
static int parse_item(struct parser *p, const struct field_def *f, const char *fs, size_t fn,
                      const char *s, size_t n, uint64_t *bits)
{
	const char *slash = memchr(s, '/', n), *dash;
	size_t bn = slash ? (size_t)(slash - s) : n;
	int lo, hi, rc, v;
	long step = 1;

	if (bn == 0)
		return field_error(p, f, fs, fn, s, n,
		                   "has no value before the \"/\" (write */N or A-B/N)");
	if (slash) {
		const char *ss = slash + 1;
		size_t sn = n - bn - 1;

		if (!parse_digits(ss, sn, &step))
			return field_error(
			    p, f, fs, fn, s, n,
			    "has a step that is not a whole number (write */N or A-B/N)");
		if (step == 0)
			return field_error(p, f, fs, fn, s, n,
			                   "has a step of 0 (a step is 1 or more)");
	}
	dash = memchr(s, '-', bn);
	if (bn == 1 && s[0] == '*') {
		lo = f->min;
		hi = f->max;
	} else if (dash) {
		size_t ln = (size_t)(dash - s);

		if (ln == 0 || ln + 1 == bn)
			return field_error(p, f, fs, fn, s, bn,
			                   "is a range with a missing end (write A-B)");
		if ((rc = parse_value(p, f, fs, fn, s, ln, &lo)) < 0 ||
		    (rc = parse_value(p, f, fs, fn, dash + 1, bn - ln - 1, &hi)) < 0)
			return rc;
		if (lo > hi)
			return field_error(p, f, fs, fn, s, bn, "is a reversed range (write %d-%d)",
			                   hi, lo);
	} else {
		if ((rc = parse_value(p, f, fs, fn, s, bn, &lo)) < 0)
			return rc;
		hi = slash ? f->max : lo;
	}
	for (v = lo; v <= hi; v += (int)(step > 64 ? 64 : step))
		*bits |= 1ULL << v;
	return 0;
}

/* A comma list of items; *star when the field starts with '*' (Vixie's rule). */
static int parse_field(struct parser *p, const struct field_def *f, const char *s, size_t n,
                       uint64_t *bits, bool *star)
{
	size_t i = 0;
	int rc;

	*bits = 0;
	*star = s[0] == '*';
	for (;;) {
		const char *comma = memchr(s + i, ',', n - i);
		size_t in = comma ? (size_t)(comma - (s + i)) : n - i;

		if (in == 0)
			return field_error(p, f, s, n, s, n, "has an empty item in its list");
		if ((rc = parse_item(p, f, s, n, s + i, in, bits)) < 0)
			return rc;
		if (!comma)
			return 0;
		i += in + 1;
	}
}

/*
 * Whether some month of the expression has one of its days of the month.
 * When the day-of-month field decides alone or together with the weekday
 * (either field starts with '*'), "0 0 30 2 *" can never run; when both are
 * restricted, any weekday occurs in every month. A date that exists occurs
 * on every weekday within 400 years, so this is the whole question.
 */
static bool can_run(const struct ferry_schedule *s)
{
	int m;

	if (!(s->flags & (MDAY_STAR | WDAY_STAR)))
		return true;
	for (m = 1; m <= 12; m++) {
		uint32_t days = (uint32_t)((2ULL << month_days(2000, m)) - 2); /* 2000 is leap */

		if ((s->month >> m & 1) && (s->mday & days))
			return true;
	}
	return false;
}

static int parse_cron(struct parser *p, const char *expr, struct ferry_schedule *out)
{
	const char *f[NFIELDS + 1];
	size_t len[NFIELDS + 1];
	int nf = 0, i, rc;
	const char *c = expr;

	while (*c) {
		while (*c == ' ' || *c == '\t')
			c++;
		if (!*c)
			break;
		if (nf <= NFIELDS)
			f[nf] = c;
		while (*c && *c != ' ' && *c != '\t')
			c++;
		if (nf <= NFIELDS)
			len[nf] = (size_t)(c - f[nf]);
		nf++;
	}
	if (nf != NFIELDS)
		return ferry_err_set(p->err, FERRY_EUSAGE,
		                     "cron expression \"%.100s\": %d field%s, expected 5 "
		                     "(minute hour day-of-month month day-of-week%s)",
		                     p->text, nf, nf == 1 ? "" : "s",
		                     nf == 6 ? "; ferry has no seconds field" : "");
	for (i = 0; i < NFIELDS; i++) {
		uint64_t bits;
		bool star;

		if ((rc = parse_field(p, &fields[i], f[i], len[i], &bits, &star)) < 0)
			return rc;
		switch (i) {
		case F_MINUTE:
			out->minute = bits;
			break;
		case F_HOUR:
			out->hour = (uint32_t)bits;
			break;
		case F_MDAY:
			out->mday = (uint32_t)bits;
			out->flags |= star ? MDAY_STAR : 0;
			break;
		case F_MONTH:
			out->month = (uint32_t)bits;
			break;
		case F_WDAY:
			/* 7 is Sunday too. */
			out->wday = (uint32_t)((bits | bits >> 7) & 0x7f);
			out->flags |= star ? WDAY_STAR : 0;
			break;
		}
	}
	if (!can_run(out))
		return ferry_err_set(
		    p->err, FERRY_EUSAGE,
		    "cron expression \"%.100s\": never runs: no month in month field \"%.*s\" "
		    "has a day in day-of-month field \"%.*s\"",
		    p->text, (int)(len[F_MONTH] > 60 ? 60 : len[F_MONTH]), f[F_MONTH],
		    (int)(len[F_MDAY] > 60 ? 60 : len[F_MDAY]), f[F_MDAY]);
	out->kind = FERRY_SCHEDULE_CRON;
	return 0;
}

static int parse_macro(struct parser *p, const char *name, size_t n, struct ferry_schedule *out)
{
	const char *cands[NMACROS + 1];
	char word[32];
	const char *near;
	int i;

	for (i = 0; i < NMACROS; i++) {
		if (strlen(macros[i].name) == n && strncasecmp(name, macros[i].name, n) == 0)
			return parse_cron(p, macros[i].expr, out);
		cands[i] = macros[i].name;
	}
	if (n == 7 && strncasecmp(name, "@reboot", 7) == 0)
		return ferry_err_set(
		    p->err, FERRY_EUSAGE,
		    "cron expression \"%.100s\": @reboot is not a schedule ferry runs "
		    "(use @hourly, @daily, ... or an interval such as 15m)",
		    p->text);
	snprintf(word, sizeof(word), "%.*s", (int)n, name);
	/* Only a typo's worth: every macro ends in "ly", so looser is misleading. */
	near = NULL;
	for (i = 0; i < NMACROS && !near; i++) {
		if (ferry_edit_distance(word, cands[i]) <= 2)
			near = cands[i];
	}
	return ferry_err_set(
	    p->err, FERRY_EUSAGE,
	    "cron expression \"%.100s\": unknown macro \"%.40s\"%s%s%s (known: @hourly, @daily, "
	    "@midnight, @weekly, @monthly, @yearly, @annually)",
	    p->text, word, near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
}

/* "[every] N[ ]unit": N whole and positive, unit from units[] or none. */
static int parse_interval(struct parser *p, const char *s, size_t n, struct ferry_schedule *out)
{
	const char *e = s + n, *u;
	long long v = 0, mult = 1;
	bool big = false;
	int i;

	if (n >= 5 && strncasecmp(s, "every", 5) == 0) {
		s += 5;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
	}
	if (s < e && *s == '-')
		return ferry_err_set(
		    p->err, FERRY_EUSAGE,
		    "interval \"%.100s\" is negative (write a positive duration such as 15m)",
		    p->text);
	if (s == e || !isdigit((unsigned char)*s))
		return ferry_err_set(
		    p->err, FERRY_EUSAGE,
		    "interval \"%.100s\" has no number (write e.g. 30s, 15m, 6h, 1d or 3600)",
		    p->text);
	for (; s < e && isdigit((unsigned char)*s); s++) {
		if (v > FERRY_SCHEDULE_MAX_INTERVAL)
			big = true;
		else
			v = v * 10 + (*s - '0');
	}
	if (s < e && (*s == '.' || *s == ','))
		return ferry_err_set(
		    p->err, FERRY_EUSAGE,
		    "interval \"%.100s\" is not a whole number of units (write 90m for 1.5h)",
		    p->text);
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	u = s;
	if (u < e) {
		for (i = 0; i < NUNITS; i++) {
			if (strlen(units[i].name) == (size_t)(e - u) &&
			    strncasecmp(u, units[i].name, (size_t)(e - u)) == 0)
				break;
		}
		if (i == NUNITS)
			return ferry_err_set(
			    p->err, FERRY_EUSAGE,
			    "interval \"%.100s\": unknown unit \"%.*s\" (use s, m, h or d)",
			    p->text, (int)(e - u > 20 ? 20 : e - u), u);
		mult = units[i].seconds;
	}
	if (!big && v == 0)
		return ferry_err_set(p->err, FERRY_EUSAGE,
		                     "interval \"%.100s\" is zero (the shortest interval is 1s)",
		                     p->text);
	if (big || v > FERRY_SCHEDULE_MAX_INTERVAL / mult)
		return ferry_err_set(p->err, FERRY_EUSAGE,
		                     "interval \"%.100s\" is too long (at most %lldd)", p->text,
		                     FERRY_SCHEDULE_MAX_INTERVAL / 86400);
	out->kind = FERRY_SCHEDULE_INTERVAL;
	out->every = v * mult;
	return 0;
}

/*
 * An interval is "every ...", or starts with a digit or a minus and is one
 * word ("15m", "3600") or a number and a unit ("45 sec"); anything else is
 * read as a cron expression.
 */
static bool looks_like_interval(const char *s, size_t n)
{
	size_t i = 0;

	if (n >= 5 && strncasecmp(s, "every", 5) == 0 && (n == 5 || s[5] == ' ' || s[5] == '\t'))
		return true;
	if (!(isdigit((unsigned char)s[0]) || s[0] == '-'))
		return false;
	while (i < n && s[i] != ' ' && s[i] != '\t')
		i++;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	for (; i < n; i++) {
		if (!isalpha((unsigned char)s[i]))
			return false;
	}
	return true;
}

int ferry_schedule_parse(const char *text, struct ferry_schedule *out, struct ferry_err *err)
{
	struct parser p = {text ? text : "", err};
	const char *s = p.text, *e;
	char buf[256];
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		e--;
	n = (size_t)(e - s);
	if (n == 0)
		return ferry_err_set(
		    err, FERRY_EUSAGE,
		    "schedule is empty (give a cron expression such as \"0 * * * *\" "
		    "or an interval such as 15m)");
	if (n >= sizeof(buf))
		return ferry_err_set(
		    err, FERRY_EUSAGE,
		    "schedule \"%.60s...\" is too long (%zu characters, at most %zu)", s, n,
		    sizeof(buf) - 1);
	memcpy(buf, s, n);
	buf[n] = '\0';
	p.text = buf; /* messages quote the schedule without the blanks around it */
	if (buf[0] == '@') {
		size_t w = strcspn(buf, " \t");

		if (w != n)
			return ferry_err_set(
			    err, FERRY_EUSAGE,
			    "cron expression \"%.100s\": a macro such as @daily stands alone",
			    p.text);
		rc = parse_macro(&p, buf, n, out);
	} else if (looks_like_interval(buf, n)) {
		rc = parse_interval(&p, buf, n, out);
	} else {
		rc = parse_cron(&p, buf, out);
	}
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---- next run ---- */

/*
 * The first day >= d of month m of year y that the day fields accept, or 0
 * when none is left in the month. Vixie's rule: when either day field
 * starts with '*', a day must be in both; otherwise in either.
 * Candidates are the set bits of the day-of-month field, and the next day
 * with a matching weekday: at most 31 + 7 checks, usually one.
 */
static int next_day(const struct ferry_schedule *s, long long y, int m, int d)
{
	int last = month_days(y, m), wd, c, k;
	uint32_t cand;

	if (d > last)
		return 0;
	wd = weekday(days_from_civil(y, m, d));
	cand = s->mday & ~((1u << d) - 1) & (uint32_t)((2ULL << last) - 1);
	if (s->flags & (MDAY_STAR | WDAY_STAR)) {
		for (; cand; cand &= cand - 1) {
			c = __builtin_ctz(cand);
			if (s->wday >> ((wd + c - d) % 7) & 1)
				return c;
		}
		return 0;
	}
	c = cand ? __builtin_ctz(cand) : 0;
	for (k = 0; k < 7 && d + k <= last && (!c || d + k < c); k++) {
		if (s->wday >> ((wd + k) % 7) & 1)
			return d + k;
	}
	return c;
}

long long ferry_schedule_next(const struct ferry_schedule *s, long long after_unix)
{
	long long t, y, limit;
	int mo, d, h, mi, nd;
	uint64_t mbits;
	uint32_t bits;

	if (!s || after_unix < 0 || after_unix >= LAST_UNIX)
		return -1;
	if (s->kind == FERRY_SCHEDULE_INTERVAL)
		return s->every > 0 && after_unix + s->every <= LAST_UNIX ? after_unix + s->every
		                                                          : -1;
	if (s->kind != FERRY_SCHEDULE_CRON)
		return -1;

	t = after_unix / 60 + 1; /* the next whole minute, in minutes */
	mi = (int)(t % 60);
	t /= 60;
	h = (int)(t % 24);
	civil_from_days(t / 24, &y, &mo, &d);
	limit = y + SEARCH_YEARS;
	for (;;) {
		if (y > limit || y > 9999)
			return -1;
		if (!(s->month >> mo & 1)) {
			bits = s->month & ~((1u << mo) - 1);
			if (!bits) {
				y++;
				bits = s->month;
			}
			mo = __builtin_ctz(bits);
			d = 1;
			h = mi = 0;
			continue;
		}
		nd = next_day(s, y, mo, d);
		if (!nd) {
			if (++mo > 12) {
				mo = 1;
				y++;
			}
			d = 1;
			h = mi = 0;
			continue;
		}
		if (nd != d) {
			d = nd;
			h = mi = 0;
		}
		bits = s->hour & ~((1u << h) - 1);
		if (!bits) {
			d++;
			h = mi = 0;
			continue;
		}
		if (__builtin_ctz(bits) != h) {
			h = __builtin_ctz(bits);
			mi = 0;
		}
		mbits = s->minute & ~((1ULL << mi) - 1);
		if (!mbits) {
			h++;
			mi = 0;
			if (h == 24) {
				d++;
				h = 0;
			}
			continue;
		}
		mi = __builtin_ctzll(mbits);
		return ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60;
	}
}

/* ---- canonical text ---- */

struct out {
	char *p;
	size_t n, len;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (o->n == 0 || o->len + 1 >= o->n)
		return;
	va_start(ap, fmt);
	w = vsnprintf(o->p + o->len, o->n - o->len, fmt, ap);
	va_end(ap);
	if (w > 0)
		o->len += (size_t)w < o->n - o->len ? (size_t)w : o->n - o->len - 1;
}

/* The values in bits from lo to hi as a list with ranges: "1-5,9,11,12". */
static void put_list(struct out *o, uint64_t bits, int lo, int hi, bool first)
{
	int v = lo, end;

	while (v <= hi) {
		if (!(bits >> v & 1)) {
			v++;
			continue;
		}
		for (end = v; end + 1 <= hi && (bits >> (end + 1) & 1); end++)
			;
		if (end - v >= 2)
			put(o, "%s%d-%d", first ? "" : ",", v, end);
		else if (end - v == 1)
			put(o, "%s%d,%d", first ? "" : ",", v, end);
		else
			put(o, "%s%d", first ? "" : ",", v);
		first = false;
		v = end + 1;
	}
}

/* The values min, min+step, ... up to max. */
static uint64_t steps_from_min(int min, int max, int step)
{
	uint64_t b = 0;
	int v;

	for (v = min; v <= max; v += step)
		b |= 1ULL << v;
	return b;
}

/*
 * One field. In a day field that started with '*' the star decides Vixie's
 * rule, so it is kept: "*", or "*\/N" for the steps it holds followed by any
 * other values. Elsewhere "*" stands for the full set and "*\/N" for exact
 * steps; a restricted day field is a plain list, even when full ("1-31").
 */
static void put_field(struct out *o, uint64_t bits, const struct field_def *f, int max,
                      bool day_field, bool star)
{
	uint64_t full = steps_from_min(f->min, max, 1), prog = 0;
	int range = max - f->min + 1, step;

	if (star) {
		if (bits == full) {
			put(o, "*");
			return;
		}
		/* The field holds min (it began with "*\/N"): step == range finds it. */
		for (step = 2; step <= range; step++) {
			prog = steps_from_min(f->min, max, step);
			if ((bits & prog) == prog)
				break;
		}
		put(o, "*/%d", step);
		put_list(o, bits & ~prog, f->min, max, false);
		return;
	}
	if (!day_field) {
		if (bits == full) {
			put(o, "*");
			return;
		}
		/* Steps for 3 values or more: "0,30" reads better than "*\/30". */
		for (step = 2; step <= (range - 1) / 2; step++) {
			if (bits == steps_from_min(f->min, max, step)) {
				put(o, "*/%d", step);
				return;
			}
		}
	}
	put_list(o, bits, f->min, max, true);
}

void ferry_schedule_describe(const struct ferry_schedule *s, char *out, size_t n)
{
	struct out o = {out, n, 0};

	if (n == 0)
		return;
	out[0] = '\0';
	if (!s)
		return;
	if (s->kind == FERRY_SCHEDULE_INTERVAL) {
		if (s->every % 86400 == 0)
			put(&o, "%lldd", s->every / 86400);
		else if (s->every % 3600 == 0)
			put(&o, "%lldh", s->every / 3600);
		else if (s->every % 60 == 0)
			put(&o, "%lldm", s->every / 60);
		else
			put(&o, "%llds", s->every);
		return;
	}
	if (s->kind != FERRY_SCHEDULE_CRON)
		return;
	put_field(&o, s->minute, &fields[F_MINUTE], 59, false, false);
	put(&o, " ");
	put_field(&o, s->hour, &fields[F_HOUR], 23, false, false);
	put(&o, " ");
	put_field(&o, s->mday, &fields[F_MDAY], 31, true, s->flags & MDAY_STAR);
	put(&o, " ");
	put_field(&o, s->month, &fields[F_MONTH], 12, false, false);
	put(&o, " ");
	/* Sunday is written 0, never 7. */
	put_field(&o, s->wday, &fields[F_WDAY], 6, true, s->flags & WDAY_STAR);
}
