/*
 * cron.c - how long the scheduler's next-run question takes: 10,000
 * connections with varied schedules (issue 4: a tick over 10,000 connections
 * should take under 10 ms in total). Built and run by bench/cron.sh.
 *
 * Each round asks ferry_schedule_next once per connection, from start times
 * spread over two years, and the median and fastest round are printed, with
 * the cost of parsing the 10,000 schedules. Not a test: nothing here fails
 * on a slow machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sched/cron.h"

#define NCONN 10000
#define ROUNDS 101

static const char *const exprs[] = {
    "*/15 * * * *",
    "0 * * * *",
    "0 0 * * *",
    "0 9 * * MON-FRI",
    "30 2 * * 0",
    "0 0 1 * *",
    "0 0 1 1 *",
    "5,35 */2 * * *",
    "0 0 13 * 5",
    "0 0 31 * *",
    "0 0 29 2 *",
    "0 12 */2 * 1",
    "*/5 8-18 * * 1-5",
    "0 6 1-7 * 1",
    "45 23 * * 6",
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
    "every 15m",
    "6h",
    "3600",
    "1d",
    "0 0 29 2 */7",
    "59 23 31 12 *",
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(void)
{
	static struct ferry_schedule s[NCONN];
	static long long after[NCONN];
	double t0, parse_ms, round_ms[ROUNDS];
	struct ferry_err err;
	long long sum = 0;
	size_t nexpr = sizeof(exprs) / sizeof(exprs[0]), usable = 0, i;
	int r;

	srand(42);
	t0 = now_ms();
	for (i = 0; i < NCONN; i++) {
		if (ferry_schedule_parse(exprs[i % nexpr], &s[usable], &err) == 0)
			usable++;
		else
			fprintf(stderr, "%s\n", err.msg);
	}
	parse_ms = now_ms() - t0;
	for (i = 0; i < usable; i++)
		after[i] = 1704067200LL + (long long)rand() % (2LL * 365 * 86400); /* 2024-2025 */
	for (r = 0; r < ROUNDS; r++) {
		t0 = now_ms();
		for (i = 0; i < usable; i++)
			sum += ferry_schedule_next(&s[i], after[i]);
		round_ms[r] = now_ms() - t0;
	}
	qsort(round_ms, ROUNDS, sizeof(double), cmp);
	printf("schedules: %zu (%zu distinct expressions)\n", usable, nexpr);
	printf("parse 10,000:            %.3f ms\n", parse_ms);
	printf("next() x %zu, median:  %.3f ms (%.0f ns per call)\n", usable, round_ms[ROUNDS / 2],
	       round_ms[ROUNDS / 2] * 1e6 / (double)usable);
	printf("next() x %zu, fastest: %.3f ms\n", usable, round_ms[0]);
	printf("next() x %zu, slowest: %.3f ms\n", usable, round_ms[ROUNDS - 1]);
	printf("(checksum %lld)\n", sum);
	return 0;
}
