/*
 * cron.h - connection schedules: cron expressions and intervals, and the
 * next run time they give.
 *
 * A connection runs on a cron expression ("*\/15 * * * *", "0 9 * * MON-FRI",
 * "@daily") or an interval ("every 15m", "6h", "3600"). The scheduler asks,
 * for each connection and each tick, when the next run is due; this module
 * answers without walking minute by minute: it skips whole months, days and
 * hours that cannot match, so a next-run query costs about as much as one
 * time conversion.
 *
 * (A step such as "*\/15" is written with a backslash in these comments only:
 * a star followed by a slash would end the comment.)
 *
 * Cron, as Vixie cron reads it (issue 4, DESIGN.md §5):
 *   - 5 fields: minute (0-59) hour (0-23) day-of-month (1-31) month (1-12)
 *     day-of-week (0-7, 0 and 7 are Sunday), separated by blanks;
 *   - per field: "*", a value, a range "a-b", steps "*\/n", "a-b/n" and "a/n"
 *     (a up to the field's maximum), and comma lists of those;
 *   - month names JAN-DEC and day names SUN-SAT, in any case;
 *   - macros @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually;
 *   - when day-of-month and day-of-week are both restricted, a day matches if
 *     either does; when either field starts with "*" (also "*\/2"), a day
 *     must match both (the "*" one then matches every day, or its steps);
 *   - all times are UTC, in seconds since the Unix epoch; no seconds field.
 * An expression that can never run ("0 0 30 2 *") is refused when parsed.
 *
 * Intervals: an optional "every", a positive whole number and a unit: s, m,
 * h, d (or sec, min, hour, day, and their plurals), or no unit for seconds.
 * At most 3650 days. The next run of an interval is `after + interval`.
 *
 * struct ferry_schedule is a public value type: the caller allocates it, it
 * holds no pointers, and it can be copied; there is nothing to release.
 */
#ifndef FERRY_SCHED_CRON_H
#define FERRY_SCHED_CRON_H

#include <stddef.h>
#include <stdint.h>
#include "ferry/err.h"

enum ferry_schedule_kind {
	FERRY_SCHEDULE_NONE = 0, /* zeroed, or a parse failed */
	FERRY_SCHEDULE_CRON = 1,
	FERRY_SCHEDULE_INTERVAL = 2,
};

/* The longest interval accepted, in seconds (3650 days). */
#define FERRY_SCHEDULE_MAX_INTERVAL (3650LL * 86400)
/* A buffer of this size always holds ferry_schedule_describe's text. */
#define FERRY_SCHEDULE_TEXT_MAX 512

struct ferry_schedule {
	int kind;        /* read-only: enum ferry_schedule_kind */
	long long every; /* read-only: seconds, for FERRY_SCHEDULE_INTERVAL */
	/* private: cron fields as bitsets, bit i set when value i matches */
	uint64_t minute; /* bits 0-59 */
	uint32_t hour;   /* bits 0-23 */
	uint32_t mday;   /* bits 1-31 */
	uint32_t month;  /* bits 1-12 */
	uint32_t wday;   /* bits 0-6, Sunday 0 (7 is folded into 0) */
	unsigned flags;  /* private: which day fields start with "*" */
};

/*
 * Parses text into *out. 0, or FERRY_EUSAGE with a message naming the field
 * and value at fault, e.g. `cron expression "61 * * * *": minute field "61"
 * is out of range 0-59`; *out is then zeroed (kind FERRY_SCHEDULE_NONE).
 */
int ferry_schedule_parse(const char *text, struct ferry_schedule *out, struct ferry_err *err);

/*
 * The first run time strictly after after_unix (UTC seconds; a cron time is
 * always on a whole minute), or -1 when there is none before the year 10000,
 * when after_unix is negative, or when s is not a parsed schedule.
 */
long long ferry_schedule_next(const struct ferry_schedule *s, long long after_unix);

/*
 * Writes s's canonical text into out (n bytes, always NUL-terminated, cut
 * short if n is too small): 5 numeric fields for cron ("@daily" gives
 * "0 0 * * *", "mon-fri" gives "1-5", "*\/15" stays "*\/15"), or the largest
 * exact unit for intervals ("every 900" gives "15m"). Parsing the text gives
 * back the same schedule.
 */
void ferry_schedule_describe(const struct ferry_schedule *s, char *out, size_t n);

#endif
