/*
 * bench/queue.c - the scheduler's due scan over 10,000 connections
 * (ferry_store_due, src/store/queue.c): the time of one call, as one
 * scheduler tick pays it. Run by bench/queue.sh.
 *
 *   queue_bench STORE_PATH
 *
 * Builds a fresh state store at STORE_PATH (written with plain SQL in one
 * transaction, not timed: ferry_store_put's checks are not what is measured)
 * and times two shapes of it:
 *
 *   steady  10,000 connections that have all run before: next_run_at spread
 *           over the next 24 hours with 100 of them overdue, 5% paused, 5%
 *           with auto-sync off, 200 with a job queued or running, and a job
 *           history of 100,000 finished jobs;
 *   cold    the same connections, never run (no next_run_at): every one
 *           that may run is due; a tick takes the first 100 (limit 0: all).
 *
 * Each shape: 101 calls after 5 warm-up calls; prints the median, fastest
 * and slowest, and how many connections the call returned.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sqlite3.h>
#include "store/store.h"

#define NCONN 10000
#define NJOBS 100000
#define ROUNDS 101
#define NOW 1767225600LL /* 2026-01-01T00:00:00Z */

static const char *const schedules[] = {
	"*/15 * * * *", "@hourly", "0 9 * * MON-FRI", "6h", "30m", "@daily", "0 */2 * * *", "1d",
};

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "queue_bench: %s: %s\n", what, msg);
	exit(1);
}

static void sql(sqlite3 *db, const char *q)
{
	char *msg = NULL;

	if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK)
		die(q, msg ? msg : "?");
}

/* The rows a real store would have, in one transaction. */
static void fill(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *con, *job;
	char id[32], settings[512];
	int i;

	if (sqlite3_open(path, &db) != SQLITE_OK)
		die(path, sqlite3_errmsg(db));
	sql(db, "BEGIN");
	if (sqlite3_prepare_v2(db, "INSERT INTO connections (id, name, type, settings, created_at, "
			       "updated_at) VALUES (?, ?, 'sync', ?, '2025-12-01T00:00:00.000Z', "
			       "'2025-12-01T00:00:00.000Z')", -1, &con, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT INTO jobs (connection_id, source_id, source_name, dest_id, "
			       "dest_name, mode, status, attempt, created_at, started_at, finished_at, "
			       "duration_ms, run_after, max_attempts) VALUES (?, 'src_1', 'shop', "
			       "'dst_1', 'wh', 'incremental', ?, 1, '2025-12-31T00:00:00.000Z', "
			       "'2025-12-31T00:00:00.000Z', '2025-12-31T00:00:05.000Z', 5000, ?, 3)",
			       -1, &job, NULL))
		die("preparing", sqlite3_errmsg(db));
	srand(42);
	for (i = 0; i < NCONN; i++) {
		char name[32];
		snprintf(id, sizeof(id), "con_%08d", i);
		snprintf(name, sizeof(name), "connection-%d", i);
		snprintf(settings, sizeof(settings),
			 "{\"auto_sync\":\"%s\",\"destination_id\":\"dst_1\",\"max_attempts\":3,"
			 "\"mode\":\"incremental\",\"namespace\":\"tenant_%d\",\"schedule\":\"%s\","
			 "\"source_id\":\"src_1\",\"status\":\"%s\",\"streams\":[\"users\",\"orders\","
			 "\"invoices\"],\"timeout_s\":1800}",
			 i % 20 == 1 ? "off" : "on", i, schedules[i % 8],
			 i % 20 == 2 ? "paused" : "active");
		sqlite3_bind_text(con, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(con, 2, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(con, 3, settings, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(con) != SQLITE_DONE)
			die("inserting a connection", sqlite3_errmsg(db));
		sqlite3_reset(con);
	}
	for (i = 0; i < NJOBS; i++) {
		snprintf(id, sizeof(id), "con_%08d", rand() % NCONN);
		sqlite3_bind_text(job, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(job, 2, i % 10 ? "succeeded" : "failed", -1, SQLITE_STATIC);
		sqlite3_bind_int64(job, 3, NOW - 86400);
		if (sqlite3_step(job) != SQLITE_DONE)
			die("inserting a job", sqlite3_errmsg(db));
		sqlite3_reset(job);
	}
	/* 200 in flight: every 50th connection, half queued, half running. */
	for (i = 0; i < NCONN; i += 50) {
		snprintf(id, sizeof(id), "con_%08d", i);
		sqlite3_bind_text(job, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(job, 2, i % 100 ? "running" : "queued", -1, SQLITE_STATIC);
		sqlite3_bind_int64(job, 3, NOW);
		if (sqlite3_step(job) != SQLITE_DONE)
			die("inserting a job", sqlite3_errmsg(db));
		sqlite3_reset(job);
	}
	sqlite3_finalize(con);
	sqlite3_finalize(job);
	sql(db, "COMMIT");
	sql(db, "ANALYZE");
	sqlite3_close(db);
}

/* Every connection has run: 100 overdue (every 100th, from the 7th), the rest later today. */
static void steady(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char id[32];
	int i;

	sqlite3_open(path, &db);
	sql(db, "BEGIN");
	sqlite3_prepare_v2(db, "UPDATE connection_state SET next_run_at = ?2, last_sync_at = "
			   "'2025-12-31T23:00:00.000Z', last_sync_status = 'succeeded' "
			   "WHERE connection_id = ?1", -1, &st, NULL);
	for (i = 0; i < NCONN; i++) {
		snprintf(id, sizeof(id), "con_%08d", i);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, i % 100 == 7 ? NOW - 60 - i : NOW + 1 + (i * 86400LL) / NCONN);
		if (sqlite3_step(st) != SQLITE_DONE)
			die("inserting schedule state", sqlite3_errmsg(db));
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	sql(db, "COMMIT");
	sql(db, "ANALYZE");
	sqlite3_close(db);
}

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

static void measure(struct ferry_store *s, const char *shape, int limit)
{
	struct ferry_err err = {0};
	struct ferry_due *v;
	double t[ROUNDS];
	int i, n = 0;

	for (i = -5; i < ROUNDS; i++) {
		double t0 = now_ms();
		if (ferry_store_due(s, NOW, limit, &v, &n, &err))
			die("ferry_store_due", err.msg);
		if (i >= 0)
			t[i] = now_ms() - t0;
		free(v);
	}
	qsort(t, ROUNDS, sizeof(t[0]), cmp);
	printf("%-7s limit %-5d %5d due   median %7.2f ms   fastest %7.2f ms   slowest %7.2f ms\n",
	       shape, limit, n, t[ROUNDS / 2], t[0], t[ROUNDS - 1]);
}

int main(int argc, char **argv)
{
	struct ferry_store *s;
	struct ferry_err err = {0};

	if (argc != 2) {
		fprintf(stderr, "usage: queue_bench STORE_PATH\n");
		return 2;
	}
	/* Let the store create its schema, then fill it behind its back. */
	if (ferry_store_open(argv[1], &s, &err))
		die(argv[1], err.msg);
	ferry_store_close(s);
	fill(argv[1]);
	printf("%d connections, %d finished jobs, 200 queued or running; one ferry_store_due call:\n",
	       NCONN, NJOBS);

	if (ferry_store_open(argv[1], &s, &err))
		die(argv[1], err.msg);
	measure(s, "cold", 100);
	measure(s, "cold", 0);
	ferry_store_close(s);

	steady(argv[1]);
	if (ferry_store_open(argv[1], &s, &err))
		die(argv[1], err.msg);
	measure(s, "steady", 100);
	measure(s, "steady", 0);
	ferry_store_close(s);
	return 0;
}
