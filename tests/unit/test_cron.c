/*
 * test_cron.c - schedules: next run times against published vectors, Vixie's
 * day-of-month/day-of-week rule, month ends and leap years, intervals, the
 * canonical text, and every refusal with its message.
 *
 * Vectors converted to 5 fields and UTC from two published test suites:
 *   - robfig/cron, spec_test.go (TestNext and TestActivation, the 6-field
 *     version with seconds): the seconds field is dropped, "?" becomes "*",
 *     and its New York DST cases become UTC cases (in UTC nothing is skipped
 *     or repeated);
 *   - croniter (kiorky/croniter), src/croniter/tests/test_croniter.py:
 *     testMinute, testHour, testDay, testWeekDay, testMonth,
 *     testSundayToThursdayWithAlphaConversion and testError.
 * The others are this project's own, each checked against a calendar.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "ferry/err.h"
#include "sched/cron.h"

/* "2012-07-09 14:45" or "2012-07-09 14:45:30", UTC, via the C library. */
static long long at(const char *iso)
{
	struct tm tm;
	int sec = 0;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(iso, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	           &tm.tm_min, &sec) < 5)
		fail_msg("bad time in test table: %s", iso);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_sec = sec;
	return (long long)timegm(&tm);
}

static const char *iso(long long t, char buf[32])
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t < 0)
		return "none";
	gmtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

static struct ferry_schedule must_parse(const char *text)
{
	struct ferry_schedule s;
	struct ferry_err err = {0};

	if (ferry_schedule_parse(text, &s, &err) != 0)
		fail_msg("\"%s\" refused: %s", text, err.msg);
	return s;
}

/* Cases as data: expression, start, then the next runs one after another. */
static const struct {
	const char *expr, *from;
	const char *want[4];
} next_cases[] = {
    /* robfig/cron TestNext: simple cases */
    {"0/15 * * * *", "2012-07-09 14:45", {"2012-07-09 15:00"}},
    {"0/15 * * * *", "2012-07-09 14:59", {"2012-07-09 15:00"}},
    {"0/15 * * * *", "2012-07-09 14:59:59", {"2012-07-09 15:00"}},
    /* wrap around hours */
    {"20-35/15 * * * *", "2012-07-09 15:45", {"2012-07-09 16:20"}},
    /* wrap around days */
    {"*/15 * * * *", "2012-07-09 23:46", {"2012-07-10 00:00"}},
    {"20-35/15 * * * *", "2012-07-09 23:45", {"2012-07-10 00:20"}},
    {"20-35/15 * * * *", "2012-07-09 23:35:51", {"2012-07-10 00:20"}},
    {"20-35/15 1/2 * * *", "2012-07-09 23:35:51", {"2012-07-10 01:20"}},
    {"20-35/15 10-12 * * *", "2012-07-09 23:35:51", {"2012-07-10 10:20"}},
    {"20-35/15 1/2 */2 * *", "2012-07-09 23:35:51", {"2012-07-11 01:20"}},
    {"20-35/15 * 9-20 * *", "2012-07-09 23:35:51", {"2012-07-10 00:20"}},
    {"20-35/15 * 9-20 Jul *", "2012-07-09 23:35:51", {"2012-07-10 00:20"}},
    /* wrap around months; "*" + "/5" with a weekday: both must match */
    {"0 0 9 Apr-Oct *", "2012-07-09 23:35", {"2012-08-09 00:00"}},
    {"0 0 */5 Apr,Aug,Oct Mon", "2012-07-09 23:35", {"2012-08-06 00:00"}},
    {"0 0 */5 Oct Mon", "2012-07-09 23:35", {"2012-10-01 00:00"}},
    /* wrap around years */
    {"0 0 * Feb Mon", "2012-07-09 23:35", {"2013-02-04 00:00"}},
    {"0 0 * Feb Mon/2", "2012-07-09 23:35", {"2013-02-01 00:00"}},
    /* wrap around minute, hour, day, month and year */
    {"* * * * *", "2012-12-31 23:59:45", {"2013-01-01 00:00"}},
    /* leap year */
    {"0 0 29 Feb *", "2012-07-09 23:35", {"2016-02-29 00:00"}},
    /* robfig's New York DST cases, in UTC: nothing is skipped or repeated */
    {"30 2 11 Mar *", "2012-03-11 00:00", {"2012-03-11 02:30", "2013-03-11 02:30"}},
    {"30 2 4 Nov *", "2012-11-04 00:00", {"2012-11-04 02:30"}},
    {"30 1 4 Nov *", "2012-11-04 01:45", {"2013-11-04 01:30"}},

    /* robfig/cron TestActivation, as "the next run after t - 1s is t" */
    {"* * 1,15 * Sun", "2012-07-14 23:59:59", {"2012-07-15 00:00"}},
    {"* * 1,15 * Sun", "2012-06-14 23:59:59", {"2012-06-15 00:00"}},
    {"* * 1,15 * Sun", "2012-07-31 23:59:59", {"2012-08-01 00:00"}},
    {"* * * * Mon", "2012-07-14 23:59:59", {"2012-07-16 00:00"}},    /* not Sunday 15 */
    {"* * */10 * Sun", "2012-07-14 23:59:59", {"2012-10-21 00:00"}}, /* both must match */
    {"* * 1,15 * *", "2012-07-08 23:59:59", {"2012-07-15 00:00"}},
    {"* * */2 * Sun", "2012-07-14 23:59:59", {"2012-07-15 00:00"}},
    {"0 * * * *", "2012-07-09 14:59:59", {"2012-07-09 15:00"}}, /* @hourly */
    {"0 0 * * 0", "2012-07-07 23:59:59", {"2012-07-08 00:00"}}, /* @weekly */

    /* croniter testMinute, testHour, testDay, testWeekDay, testMonth */
    {"*/1 * * * *", "2010-01-23 12:18", {"2010-01-23 12:19", "2010-01-23 12:20"}},
    {"*/1 * * * *", "2010-01-23 12:58", {"2010-01-23 12:59", "2010-01-23 13:00"}},
    {"*/5 * * * *", "2010-01-23 12:18", {"2010-01-23 12:20", "2010-01-23 12:25"}},
    {"*/5 * * * *", "2010-01-23 12:50", {"2010-01-23 12:55", "2010-01-23 13:00"}},
    {"0 */3 * * *",
     "2010-01-24 12:02",
     {"2010-01-24 15:00", "2010-01-24 18:00", "2010-01-24 21:00", "2010-01-25 00:00"}},
    {"0 0 */3 * *",
     "2010-02-24 12:09",
     {"2010-02-25 00:00", "2010-02-28 00:00", "2010-03-01 00:00"}},
    {"0 0 * * *", "1996-02-27 00:00", {"1996-02-28 00:00", "1996-02-29 00:00", "1996-03-01 00:00"}},
    {"0 0 * * *", "2000-02-27 00:00", {"2000-02-28 00:00", "2000-02-29 00:00", "2000-03-01 00:00"}},
    {"0 0 * * sat", "2010-02-25 00:00", {"2010-02-27 00:00", "2010-03-06 00:00"}},
    {"0 0 1 * wed",
     "2010-01-25 00:00",
     {"2010-01-27 00:00", "2010-02-01 00:00", "2010-02-03 00:00"}},
    {"0 0 1 * *", "2010-01-25 00:00", {"2010-02-01 00:00", "2010-03-01 00:00"}},
    {"0 0 1 * *", "2010-11-15 00:00", {"2010-12-01 00:00", "2011-01-01 00:00"}},
    {"30 22 * * sun-thu", "2010-08-25 15:56", {"2010-08-25 22:30"}},

    /* weekdays over a weekend: Friday 5 January 2024, then Monday */
    {"0 0 * * 1-5", "2024-01-05 00:00", {"2024-01-08 00:00", "2024-01-09 00:00"}},
    {"0 9 * * MON-FRI", "2024-01-05 09:00", {"2024-01-08 09:00"}},
    /* Vixie: both day fields restricted, so the 13th or a Friday */
    {"0 0 13 * 5",
     "2024-01-01 00:00",
     {"2024-01-05 00:00", "2024-01-12 00:00", "2024-01-13 00:00", "2024-01-19 00:00"}},
    {"0 0 29 2 1", "2023-03-01 00:00", {"2024-02-05 00:00"}}, /* 29 Feb or a Monday in Feb */
    /* a day field starting with "*" is unrestricted, even with a step */
    {"0 0 */2 * 1", "2024-01-01 00:00", {"2024-01-15 00:00", "2024-01-29 00:00"}},
    {"0 0 1 * */7", "2024-01-01 00:00", {"2024-09-01 00:00"}}, /* a Sunday 1st */
    {"0 0 1 * */2", "2024-01-01 00:00", {"2024-02-01 00:00"}}, /* Sun, Tue, Thu, Sat */
    /* steps, lists, names */
    {"*/5 * * * *", "2024-05-05 10:58", {"2024-05-05 11:00", "2024-05-05 11:05"}},
    {"5/20 * * * *", "2024-05-05 10:58", {"2024-05-05 11:05", "2024-05-05 11:25"}},
    {"0 9,12,18 * * *", "2024-05-05 12:00", {"2024-05-05 18:00", "2024-05-06 09:00"}},
    {"15 3 1 jan,JUL *", "2024-01-01 03:15", {"2024-07-01 03:15", "2025-01-01 03:15"}},
    {"0 0 * * 7", "2024-01-01 00:00", {"2024-01-07 00:00"}}, /* 7 is Sunday */
    {"0 0 * * 5-7",
     "2024-01-01 00:00",
     {"2024-01-05 00:00", "2024-01-06 00:00", "2024-01-07 00:00"}},
    {"1-3,58 * * * *",
     "2024-01-01 00:02",
     {"2024-01-01 00:03", "2024-01-01 00:58", "2024-01-01 01:01"}},
    /* month ends: the 31st only in months that have one */
    {"0 0 31 * *",
     "2024-01-31 00:00",
     {"2024-03-31 00:00", "2024-05-31 00:00", "2024-07-31 00:00", "2024-08-31 00:00"}},
    {"0 0 30 * *", "2024-01-30 00:00", {"2024-03-30 00:00"}},
    /* 29 February: leap years only, 2100 is not one */
    {"0 0 29 2 *", "2023-03-01 00:00", {"2024-02-29 00:00", "2028-02-29 00:00"}},
    {"0 0 29 2 *", "2096-03-01 00:00", {"2104-02-29 00:00"}},
    {"0 0 29 2 */7", "2004-03-01 00:00", {"2032-02-29 00:00"}}, /* a Sunday 29 Feb */
    /* macros */
    {"@hourly", "2024-01-01 10:30", {"2024-01-01 11:00"}},
    {"@daily", "2024-01-01 10:30", {"2024-01-02 00:00"}},
    {"@midnight", "2024-01-01 00:00", {"2024-01-02 00:00"}},
    {"@weekly", "2024-01-01 10:30", {"2024-01-07 00:00"}},
    {"@monthly", "2024-01-31 23:59:59", {"2024-02-01 00:00"}},
    {"@yearly", "2024-01-01 00:00", {"2025-01-01 00:00"}},
    {"@ANNUALLY", "2024-06-01 00:00", {"2025-01-01 00:00"}},
    /* the epoch, and the last year searched */
    {"0 0 * * *", "1970-01-01 00:00", {"1970-01-02 00:00"}},
    {"59 23 31 12 *", "9998-12-31 23:59", {"9999-12-31 23:59"}},
};

static void next_runs_match_published_vectors(void **state)
{
	char a[32], b[32];
	size_t i;
	int k;

	(void)state;
	for (i = 0; i < sizeof(next_cases) / sizeof(next_cases[0]); i++) {
		struct ferry_schedule s = must_parse(next_cases[i].expr);
		long long t = at(next_cases[i].from);

		for (k = 0; k < 4 && next_cases[i].want[k]; k++) {
			long long got = ferry_schedule_next(&s, t),
			          want = at(next_cases[i].want[k]);

			if (got != want)
				fail_msg("\"%s\" after %s: got %s, want %s", next_cases[i].expr,
				         iso(t, a), iso(got, b), next_cases[i].want[k]);
			t = got;
		}
	}
}

static void next_has_an_end(void **state)
{
	struct ferry_schedule s = must_parse("0 0 1 1 *"), zero;

	(void)state;
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(ferry_schedule_next(&s, at("9999-06-01 00:00")), -1);
	assert_int_equal(ferry_schedule_next(&s, -1), -1);
	assert_int_equal(ferry_schedule_next(&zero, 0), -1);
	assert_int_equal(ferry_schedule_next(NULL, 0), -1);
}

/*
 * A slow, obviously correct reference, read with the C library's calendar:
 * which parts of minute t match? Vixie's rule is taken from the text: a day
 * field starting with '*' makes it "both", otherwise "either".
 */
enum { DAY_OK = 1, HOUR_OK = 2, MINUTE_OK = 4 };

static int matches(const struct ferry_schedule *s, long long t, const char *expr)
{
	char f[5][64];
	struct tm tm;
	time_t tt = (time_t)t;
	bool in_mday, in_wday, day;
	int r = 0;

	assert_int_equal(sscanf(expr, "%63s %63s %63s %63s %63s", f[0], f[1], f[2], f[3], f[4]), 5);
	gmtime_r(&tt, &tm);
	in_mday = s->mday >> tm.tm_mday & 1;
	in_wday = s->wday >> tm.tm_wday & 1;
	day = f[2][0] != '*' && f[4][0] != '*' ? in_mday || in_wday : in_mday && in_wday;
	if (day && (s->month >> (tm.tm_mon + 1) & 1))
		r |= DAY_OK;
	if (s->hour >> tm.tm_hour & 1)
		r |= HOUR_OK;
	if (s->minute >> tm.tm_min & 1)
		r |= MINUTE_OK;
	return r;
}

static void next_is_the_first_matching_minute(void **state)
{
	static const char *exprs[] = {
	    "*/7 */5 * * *",         "13 2-20/6 */9 * 1,3", "0 0 13 * 5",  "45 23 * * 6",
	    "30 4 1,15 * 5",         "0 12 */2 * 0-2",      "59 * 31 * *", "0 0 28-31 2 *",
	    "10,20 1 * feb,mar sun", "5 5 5 5 *",           "0 0 * * 1-5", "*/20 8-18 * * mon-fri",
	    "0 6 1-7 * 1",           "0 0 29 2 *",
	};
	char a[32], b[32];
	size_t i;
	int k;

	(void)state;
	srand(7);
	for (i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
		struct ferry_schedule s = must_parse(exprs[i]);

		for (k = 0; k < 20; k++) {
			/* A start between 2019 and 2030, on a whole minute or not. */
			long long t = 1546300800LL + (long long)rand() % (12LL * 365 * 86400), got,
			          u;

			if (k % 2)
				t -= t % 60;
			got = ferry_schedule_next(&s, t);
			if (got <= t || got % 60 != 0 || matches(&s, got, exprs[i]) != 7)
				fail_msg("\"%s\" after %s: %s does not match", exprs[i], iso(t, a),
				         iso(got, b));
			/* Nothing matches in between; whole days and hours that cannot are skipped.
			 */
			for (u = t - t % 60 + 60; u < got;) {
				int m = matches(&s, u, exprs[i]);

				if (m == 7)
					fail_msg("\"%s\" after %s: got %s, but %s matches earlier",
					         exprs[i], iso(t, a), iso(got, b), iso(u, b));
				if (!(m & DAY_OK))
					u = u - u % 86400 + 86400;
				else if (!(m & HOUR_OK))
					u = u - u % 3600 + 3600;
				else
					u += 60;
			}
		}
	}
}

static void intervals_add_to_the_time(void **state)
{
	static const struct {
		const char *text;
		long long every;
		const char *canon;
	} cases[] = {
	    {"every 15m", 900, "15m"},
	    {"15m", 900, "15m"},
	    {"30s", 30, "30s"},
	    {"6h", 21600, "6h"},
	    {"1d", 86400, "1d"},
	    {"3600", 3600, "1h"},
	    {"90", 90, "90s"},
	    {"every 2 hours", 7200, "2h"},
	    {"EVERY 10 Minutes", 600, "10m"},
	    {"  45 sec\n", 45, "45s"},
	    {"every 1day", 86400, "1d"},
	    {"3650d", 3650LL * 86400, "3650d"},
	};
	char out[FERRY_SCHEDULE_TEXT_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ferry_schedule s = must_parse(cases[i].text);

		assert_int_equal(s.kind, FERRY_SCHEDULE_INTERVAL);
		assert_int_equal(s.every, cases[i].every);
		assert_int_equal(ferry_schedule_next(&s, 1000), 1000 + cases[i].every);
		ferry_schedule_describe(&s, out, sizeof(out));
		assert_string_equal(out, cases[i].canon);
	}
	/* Not past the end of year 9999. */
	{
		struct ferry_schedule s = must_parse("1d");

		assert_int_equal(ferry_schedule_next(&s, at("9999-12-31 12:00")), -1);
	}
}

/* Canonical text: numbers, no names or macros; parsing it gives the same schedule. */
static void describe_is_canonical_and_round_trips(void **state)
{
	static const struct {
		const char *text, *canon;
	} cases[] = {
	    {"* * * * *", "* * * * *"},
	    {"@hourly", "0 * * * *"},
	    {"@daily", "0 0 * * *"},
	    {"@weekly", "0 0 * * 0"},
	    {"@monthly", "0 0 1 * *"},
	    {"@yearly", "0 0 1 1 *"},
	    {"*/15 * * * *", "*/15 * * * *"},
	    {"0/15 * * * *", "*/15 * * * *"},
	    {"0-59/15 * * * *", "*/15 * * * *"},
	    {"0,15,30,45 * * * *", "*/15 * * * *"},
	    {"5/20 * * * *", "5,25,45 * * * *"},
	    {"0 9 * * MON-FRI", "0 9 * * 1-5"},
	    {"0 0 * jan,Jul *", "0 0 * 1,7 *"},
	    {"0 0 * * 7", "0 0 * * 0"},
	    {"0 0 * * 5-7", "0 0 * * 0,5,6"},
	    {"0 0 * * 0-7", "0 0 * * 0-6"}, /* restricted: keeps Vixie's "either" */
	    {"0 0 1-31 * *", "0 0 1-31 * *"},
	    {"0 0 */2 * 1", "0 0 */2 * 1"}, /* the star stays: "both" */
	    {"0 0 */2,4 * 1", "0 0 */2,4 * 1"},
	    {"0 0 * * */3", "0 0 * * */3"},
	    {"0 0 * * */7", "0 0 * * */7"},
	    {"0 0-23 * 1-12 *", "0 * * * *"},
	    {"1,2,3,5 1,2 * * *", "1-3,5 1,2 * * *"},
	    {"0 */12 * * *", "0 0,12 * * *"},
	    {"*/20 */8 * * *", "*/20 */8 * * *"},
	    {"\t0  0\t13 *   5 ", "0 0 13 * 5"},
	};
	char out[FERRY_SCHEDULE_TEXT_MAX], again[FERRY_SCHEDULE_TEXT_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ferry_schedule s = must_parse(cases[i].text), r;

		ferry_schedule_describe(&s, out, sizeof(out));
		if (strcmp(out, cases[i].canon) != 0)
			fail_msg("\"%s\" described as \"%s\", want \"%s\"", cases[i].text, out,
			         cases[i].canon);
		r = must_parse(out);
		assert_memory_equal(&s, &r, sizeof(s));
		ferry_schedule_describe(&r, again, sizeof(again));
		assert_string_equal(out, again);
	}
	/* The longest text fits, and a short buffer is cut, not overrun. */
	{
		struct ferry_schedule s =
		    must_parse("0,1,3,4,6,7,9,10,12,13,15,16,18,19,21,22,24,25,27,28,"
		               "30,31,33,34,36,37,39,40,42,43,45,46,48,49,51,52,54,55,57,58"
		               " 0,1,3,4,6,7,9,10,12,13,15,16,18,19,21,22"
		               " 1,2,4,5,7,8,10,11,13,14,16,17,19,20,22,23,25,26,28,29,31"
		               " 1,2,4,5,7,8,10,11 0,2,4,6");
		char small[8];

		ferry_schedule_describe(&s, out, sizeof(out));
		assert_true(strlen(out) < sizeof(out) - 1);
		ferry_schedule_describe(&s, small, sizeof(small));
		assert_string_equal(small, "0,1,3,4");
	}
}

/* Every refusal: FERRY_EUSAGE, the field and the value at fault. */
static const struct {
	const char *text, *msg;
} bad_cases[] = {
    {"61 * * * *", "cron expression \"61 * * * *\": minute field \"61\" is out of range 0-59"},
    {"* 24 * * *", "cron expression \"* 24 * * *\": hour field \"24\" is out of range 0-23"},
    {"0 0 0 * *", "cron expression \"0 0 0 * *\": day-of-month field \"0\" is out of range 1-31"},
    {"0 0 32 * *",
     "cron expression \"0 0 32 * *\": day-of-month field \"32\" is out of range 1-31"},
    {"0 0 * 13 *",
     "cron expression \"0 0 * 13 *\": month field \"13\" is out of range 1-12 (or JAN-DEC)"},
    {"0 0 * * 8", "cron expression \"0 0 * * 8\": day-of-week field \"8\" is out of range 0-7 "
                  "(or SUN-SAT; 0 and 7 are Sunday)"},
    {"1,61 * * * *",
     "cron expression \"1,61 * * * *\": minute field \"1,61\": \"61\" is out of range 0-59"},
    {"99999999999 * * * *",
     "cron expression \"99999999999 * * * *\": minute field \"99999999999\" is out of range 0-59"},
    /* wrong field count */
    {"* * * *", "cron expression \"* * * *\": 4 fields, expected 5 "
                "(minute hour day-of-month month day-of-week)"},
    {"0 * * * * *", "cron expression \"0 * * * * *\": 6 fields, expected 5 "
                    "(minute hour day-of-month month day-of-week; ferry has no seconds field)"},
    {"*/5",
     "cron expression \"*/5\": 1 field, expected 5 (minute hour day-of-month month day-of-week)"},
    /* empty */
    {"",
     "schedule is empty (give a cron expression such as \"0 * * * *\" or an interval such as 15m)"},
    {" \t\n",
     "schedule is empty (give a cron expression such as \"0 * * * *\" or an interval such as 15m)"},
    /* macros */
    {"@dayly",
     "cron expression \"@dayly\": unknown macro \"@dayly\" (did you mean @daily?) (known: "
     "@hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually)"},
    {"@fortnightly", "cron expression \"@fortnightly\": unknown macro \"@fortnightly\" (known: "
                     "@hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually)"},
    {"@reboot", "cron expression \"@reboot\": @reboot is not a schedule ferry runs "
                "(use @hourly, @daily, ... or an interval such as 15m)"},
    {"@daily 5", "cron expression \"@daily 5\": a macro such as @daily stands alone"},
    /* steps */
    {"*/0 * * * *",
     "cron expression \"*/0 * * * *\": minute field \"*/0\" has a step of 0 (a step is 1 or more)"},
    {"0-10/ * * * *",
     "cron expression \"0-10/ * * * *\": minute field \"0-10/\" has a step that is "
     "not a whole number (write */N or A-B/N)"},
    {"*/x * * * *", "cron expression \"*/x * * * *\": minute field \"*/x\" has a step that is "
                    "not a whole number (write */N or A-B/N)"},
    {"/5 * * * *",
     "cron expression \"/5 * * * *\": minute field \"/5\" has no value before the \"/\" "
     "(write */N or A-B/N)"},
    /* ranges */
    {"5-1 * * * *",
     "cron expression \"5-1 * * * *\": minute field \"5-1\" is a reversed range (write 1-5)"},
    {"0 0 * * fri-mon", "cron expression \"0 0 * * fri-mon\": day-of-week field \"fri-mon\" "
                        "is a reversed range (write 1-5)"},
    {"* * 5-1 * *",
     "cron expression \"* * 5-1 * *\": day-of-month field \"5-1\" is a reversed range (write 1-5)"},
    {"-90 * * * *", "cron expression \"-90 * * * *\": minute field \"-90\" is a range with a "
                    "missing end (write A-B)"},
    {"1- * * * *", "cron expression \"1- * * * *\": minute field \"1-\" is a range with a missing "
                   "end (write A-B)"},
    /* not numbers, not names (croniter testError) */
    {"a * * * *", "cron expression \"a * * * *\": minute field \"a\" is not a number (0-59)"},
    {"1-1_0 * * * *",
     "cron expression \"1-1_0 * * * *\": minute field \"1-1_0\": \"1_0\" is not a number (0-59)"},
    {"0-1& * * * *",
     "cron expression \"0-1& * * * *\": minute field \"0-1&\": \"1&\" is not a number (0-59)"},
    {"* * * janu-jun *", "cron expression \"* * * janu-jun *\": month field \"janu-jun\": \"janu\" "
                         "is not a number or a month name (JAN-DEC)"},
    {"0 0 * * Monday", "cron expression \"0 0 * * Monday\": day-of-week field \"Monday\" "
                       "is not a number or a day name (SUN-SAT)"},
    {"0 0 ? * MON",
     "cron expression \"0 0 ? * MON\": day-of-month field \"?\" is not a number (1-31)"},
    {"0 0 L * *", "cron expression \"0 0 L * *\": day-of-month field \"L\" is not a number (1-31)"},
    {"1,,2 * * * *",
     "cron expression \"1,,2 * * * *\": minute field \"1,,2\" has an empty item in its list"},
    {"1, * * * *",
     "cron expression \"1, * * * *\": minute field \"1,\" has an empty item in its list"},
    {"0 JAN * * *", "cron expression \"0 JAN * * *\": hour field \"JAN\" is not a number (0-23)"},
    /* never runs */
    {"0 0 30 2 *", "cron expression \"0 0 30 2 *\": never runs: no month in month field \"2\" "
                   "has a day in day-of-month field \"30\""},
    {"0 0 31 Apr *",
     "cron expression \"0 0 31 Apr *\": never runs: no month in month field \"Apr\" "
     "has a day in day-of-month field \"31\""},
    {"0 0 31 4,6,9,11 */2",
     "cron expression \"0 0 31 4,6,9,11 */2\": never runs: no month in month field "
     "\"4,6,9,11\" has a day in day-of-month field \"31\""},
    /* intervals */
    {"0s", "interval \"0s\" is zero (the shortest interval is 1s)"},
    {"0", "interval \"0\" is zero (the shortest interval is 1s)"},
    {"every 0m", "interval \"every 0m\" is zero (the shortest interval is 1s)"},
    {"-5m", "interval \"-5m\" is negative (write a positive duration such as 15m)"},
    {"every -1h", "interval \"every -1h\" is negative (write a positive duration such as 15m)"},
    {"15x", "interval \"15x\": unknown unit \"x\" (use s, m, h or d)"},
    {" 15 x\n", "interval \"15 x\": unknown unit \"x\" (use s, m, h or d)"},
    {"\t61 * * * * ", "cron expression \"61 * * * *\": minute field \"61\" is out of range 0-59"},
    {"every 2 weeks", "interval \"every 2 weeks\": unknown unit \"weeks\" (use s, m, h or d)"},
    {"10m30s", "interval \"10m30s\": unknown unit \"m30s\" (use s, m, h or d)"},
    {"1.5h", "interval \"1.5h\" is not a whole number of units (write 90m for 1.5h)"},
    {"every", "interval \"every\" has no number (write e.g. 30s, 15m, 6h, 1d or 3600)"},
    {"every m", "interval \"every m\" has no number (write e.g. 30s, 15m, 6h, 1d or 3600)"},
    {"3651d", "interval \"3651d\" is too long (at most 3650d)"},
    {"99999999999999999999999s",
     "interval \"99999999999999999999999s\" is too long (at most 3650d)"},
    {"9223372036854775807", "interval \"9223372036854775807\" is too long (at most 3650d)"},
};

static void refusals_name_the_field_and_value(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct ferry_schedule s;
		struct ferry_err err = {0};
		int rc = ferry_schedule_parse(bad_cases[i].text, &s, &err);

		if (rc != FERRY_EUSAGE)
			fail_msg("\"%s\" gave %d, want FERRY_EUSAGE", bad_cases[i].text, rc);
		assert_int_equal(err.code, FERRY_EUSAGE);
		if (strcmp(err.msg, bad_cases[i].msg) != 0)
			fail_msg("\"%s\":\n got: %s\nwant: %s", bad_cases[i].text, err.msg,
			         bad_cases[i].msg);
		assert_int_equal(s.kind, FERRY_SCHEDULE_NONE);
		assert_int_equal(ferry_schedule_next(&s, 0), -1);
	}
}

static void long_or_null_text_is_refused_cleanly(void **state)
{
	char text[1000];
	struct ferry_schedule s;
	struct ferry_err err = {0};

	(void)state;
	memset(text, '1', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	assert_int_equal(ferry_schedule_parse(text, &s, &err), FERRY_EUSAGE);
	assert_non_null(strstr(err.msg, "is too long (999 characters, at most 255)"));
	assert_int_equal(ferry_schedule_parse(NULL, &s, &err), FERRY_EUSAGE);
	assert_non_null(strstr(err.msg, "schedule is empty"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(next_runs_match_published_vectors),
	    cmocka_unit_test(next_has_an_end),
	    cmocka_unit_test(next_is_the_first_matching_minute),
	    cmocka_unit_test(intervals_add_to_the_time),
	    cmocka_unit_test(describe_is_canonical_and_round_trips),
	    cmocka_unit_test(refusals_name_the_field_and_value),
	    cmocka_unit_test(long_or_null_text_is_refused_cleanly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
