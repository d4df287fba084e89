/*
 * test_queue.c - the job queue and schedule state of the store (store/queue.c):
 * claim order, idempotency keys, one job per connection, leases that expire
 * and jobs retried on a later attempt, the last attempt failing for good,
 * backoff honoured, cancel of queued and running jobs, the due scan (pause,
 * auto-sync off, no schedule, a job in flight, missed runs listed once),
 * recovery of a dead process's leased job at open, a job given back by a
 * stopping worker (release: queued again, the attempt uncounted), and a store
 * of schema 3 migrated with its jobs still readable. Every time is a fixed
 * `now`.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "store_fixture.h"
#include <sqlite3.h>
#include "sched/cron.h"
#include "store/store.h"

#define NOW 1767225600LL /* 2026-01-01T00:00:00Z */


static int setup(void **state)
{
	store_fixture_path("queue");
	return 0;
}

static int teardown(void **state)
{
	store_fixture_remove();
	return 0;
}

static long long enqueue(struct ferry_store *s, const char *conn, long long run_after,
			 int max_attempts)
{
	struct ferry_job_request r = {.connection_id = conn, .source_id = "src_1",
				      .source_name = "shop", .dest_id = "dst_1",
				      .dest_name = "wh", .mode = "incremental",
				      .max_attempts = max_attempts, .run_after = run_after};
	struct ferry_err e = {0};
	long long id = 0;
	bool existing;

	assert_int_equal(ferry_store_enqueue(s, &r, &id, &existing, &e), 0);
	assert_false(existing);
	assert_true(id > 0);
	return id;
}

static long long claim(struct ferry_store *s, const char *owner, long long now, int *attempt)
{
	struct ferry_claimed c;
	struct ferry_err e = {0};
	long long id;

	assert_int_equal(ferry_store_claim(s, owner, 60, now, &c, &e), 0);
	id = c.job_id;
	if (attempt)
		*attempt = c.attempt;
	ferry_claimed_release(&c);
	return id;
}

static void no_claim(struct ferry_store *s, long long now)
{
	struct ferry_claimed c;
	struct ferry_err e = {0};

	assert_int_equal(ferry_store_claim(s, "w", 60, now, &c, &e), FERRY_DONE);
}

static const char *job_str(struct ferry_store *s, long long id, const char *key, char *buf,
			   size_t n)
{
	struct ferry_err e = {0};
	json_t *j, *v;

	assert_int_equal(ferry_store_job(s, id, &j, &e), 0);
	v = json_object_get(j, key);
	if (json_is_integer(v))
		snprintf(buf, n, "%lld", (long long)json_integer_value(v));
	else if (json_is_true(v) || json_is_false(v))
		snprintf(buf, n, "%s", json_is_true(v) ? "true" : "false");
	else
		snprintf(buf, n, "%s", json_is_string(v) ? json_string_value(v) : "null");
	json_decref(j);
	return buf;
}

#define STATUS(s, id) job_str(s, id, "status", buf, sizeof(buf))

static void order_and_request(void **state)
{
	struct ferry_store *s = open_store();
	struct ferry_err e = {0};
	struct ferry_claimed c;
	struct ferry_job_request r = {.source_name = "shop", .dest_name = "wh", .mode = "full",
				      .max_attempts = 5, .timeout_s = 1800, .run_after = NOW};
	long long a, b, later, n;
	bool existing;
	char buf[64];

	r.request = json_pack("{s:s, s:[s, s], s:i}", "source", "shop", "streams", "users", "orders",
			      "batch_size", 500);
	assert_int_equal(ferry_store_enqueue(s, &r, &a, &existing, &e), 0);
	json_decref(r.request);
	later = enqueue(s, NULL, NOW + 100, 0);
	b = enqueue(s, NULL, NOW, 0);
	assert_int_equal(ferry_store_queue_depth(s, &n, &e), 0);
	assert_int_equal(n, 3);
	assert_string_equal(STATUS(s, a), "queued");
	assert_string_equal(job_str(s, a, "attempt", buf, sizeof(buf)), "0");

	/* Oldest ready first, with what was asked for. */
	assert_int_equal(ferry_store_claim(s, "host:1:w1", 60, NOW, &c, &e), 0);
	assert_int_equal(c.job_id, a);
	assert_int_equal(c.attempt, 1);
	assert_int_equal(c.max_attempts, 5);
	assert_int_equal(c.timeout_s, 1800);
	assert_int_equal(c.lease_until, NOW + 60);
	assert_string_equal(c.mode, "full");
	assert_string_equal(c.connection_id, "");
	assert_int_equal(json_integer_value(json_object_get(c.request, "batch_size")), 500);
	assert_int_equal(json_array_size(json_object_get(c.request, "streams")), 2);
	ferry_claimed_release(&c);
	assert_string_equal(STATUS(s, a), "running");
	assert_string_equal(job_str(s, a, "started_at", buf, sizeof(buf)), "2026-01-01T00:00:00.000Z");

	assert_int_equal(claim(s, "host:1:w2", NOW, NULL), b);
	/* The later one waits for its time. */
	no_claim(s, NOW + 99);
	assert_int_equal(claim(s, "host:1:w2", NOW + 100, NULL), later);
	assert_int_equal(ferry_store_queue_depth(s, &n, &e), 0);
	assert_int_equal(n, 0);

	/* Progress is kept as given. */
	json_t *p = json_pack("{s:i, s:s}", "percentage", 40, "stage", "reading");
	assert_int_equal(ferry_store_job_progress(s, a, p, &e), 0);
	json_decref(p);
	json_t *j;
	assert_int_equal(ferry_store_job(s, a, &j, &e), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "progress"), "percentage")), 40);
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "request"), "source")), "shop");
	json_decref(j);

	/* Finishing: only the lease holder; a job that was never ours is refused. */
	assert_int_equal(ferry_store_finish(s, a, "host:1:w9", "succeeded", NULL, NULL, -1, NOW + 5,
					    NULL, &e), FERRY_ECONFLICT);
	assert_non_null(strstr(e.msg, "no longer leased"));
	assert_int_equal(ferry_store_finish(s, a, "host:1:w1", "succeeded", NULL, NULL, -1, NOW + 5,
					    NULL, &e), 0);
	assert_string_equal(STATUS(s, a), "succeeded");
	assert_string_equal(job_str(s, a, "duration_ms", buf, sizeof(buf)), "5000");
	assert_int_equal(ferry_store_finish(s, 999, "w", "succeeded", NULL, NULL, -1, NOW, NULL, &e),
			 FERRY_ENOTFOUND);
	ferry_store_close(s);
}

static void idempotency(void **state)
{
	struct ferry_store *s = open_store();
	struct ferry_err e = {0};
	struct ferry_job_request r = {.source_name = "shop", .dest_name = "wh",
				      .idempotency_key = "deploy-42", .run_after = NOW};
	long long a = 0, b = 0, n;
	bool existing;

	assert_int_equal(ferry_store_enqueue(s, &r, &a, &existing, &e), 0);
	assert_false(existing);
	assert_int_equal(ferry_store_enqueue(s, &r, &b, &existing, &e), 0);
	assert_true(existing);
	assert_int_equal(a, b);
	/* Still the same job once it has run. */
	assert_int_equal(claim(s, "w", NOW, NULL), a);
	assert_int_equal(ferry_store_finish(s, a, "w", "succeeded", NULL, NULL, -1, NOW, NULL, &e), 0);
	assert_int_equal(ferry_store_enqueue(s, &r, &b, &existing, &e), 0);
	assert_true(existing);
	assert_int_equal(a, b);
	/* Another key, another job. */
	r.idempotency_key = "deploy-43";
	assert_int_equal(ferry_store_enqueue(s, &r, &b, &existing, &e), 0);
	assert_false(existing);
	assert_true(b != a);
	assert_int_equal(ferry_store_queue_depth(s, &n, &e), 0);
	assert_int_equal(n, 1);
	ferry_store_close(s);
}

static void one_job_per_connection(void **state)
{
	struct ferry_store *s = open_store();
	struct ferry_err e = {0};
	struct ferry_job_request r = {.run_after = NOW};
	char crm[32], erp[32], buf[64];
	long long a, b, direct, id, n;
	bool existing;
	json_t *st;

	connection(s, "crm", "{\"schedule\": \"@hourly\"}", crm);
	connection(s, "erp", "{}", erp);
	a = enqueue(s, crm, NOW, 0);
	/* A second trigger while one waits, or runs: conflict, nothing added. */
	r.connection_id = crm;
	assert_int_equal(ferry_store_enqueue(s, &r, &id, &existing, &e), FERRY_ECONFLICT);
	assert_non_null(strstr(e.msg, "connection \"crm\" already has job"));
	assert_non_null(strstr(e.msg, "queued"));
	assert_int_equal(claim(s, "w1", NOW, NULL), a);
	assert_int_equal(ferry_store_enqueue(s, &r, &id, &existing, &e), FERRY_ECONFLICT);
	assert_non_null(strstr(e.msg, "running"));
	assert_int_equal(ferry_store_jobs_count(s, "queued", &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ferry_store_connection_state(s, crm, &st, &e), 0);
	assert_int_equal(json_integer_value(json_object_get(st, "running_job_id")), a);
	json_decref(st);
	/* Other connections are not held up. */
	b = enqueue(s, erp, NOW, 0);
	assert_int_equal(claim(s, "w2", NOW, NULL), b);
	/* Unknown connection. */
	r.connection_id = "con_nope";
	assert_int_equal(ferry_store_enqueue(s, &r, &id, &existing, &e), FERRY_ENOTFOUND);

	assert_int_equal(ferry_store_finish(s, a, "w1", "succeeded", NULL, NULL, -1, NOW + 1, NULL,
					    &e), 0);
	assert_int_equal(ferry_store_connection_state(s, crm, &st, &e), 0);
	assert_true(json_is_null(json_object_get(st, "running_job_id")));
	assert_string_equal(json_string_value(json_object_get(st, "last_sync_status")), "succeeded");
	assert_string_equal(json_string_value(json_object_get(st, "last_sync_at")),
			    "2026-01-01T00:00:01.000Z");
	json_decref(st);

	/*
	 * A `ferry sync` of the connection run directly (no queue) also holds it:
	 * a job queued meanwhile is not claimed until that one ends.
	 */
	a = enqueue(s, crm, NOW, 0);
	assert_int_equal(ferry_store_job_begin(s, crm, "src_1", "shop", "dst_1", "wh", "full", NULL,
					       &direct, &e), 0);
	no_claim(s, NOW + 2);
	assert_int_equal(ferry_store_job_end(s, direct, "succeeded", NULL, NULL, &e), 0);
	assert_int_equal(claim(s, "w1", NOW + 2, NULL), a);
	assert_string_equal(STATUS(s, b), "running");
	ferry_store_close(s);
}

static void lease_expiry_and_attempts(void **state)
{
	struct ferry_store *s = open_store();
	struct ferry_err e = {0};
	char con[32], buf[128];
	long long id;
	int attempt, n;
	json_t *st;

	connection(s, "crm", "{}", con);
	id = enqueue(s, con, NOW, 2);
	assert_int_equal(claim(s, "w1", NOW, &attempt), id);
	assert_int_equal(attempt, 1);
	/* The lease holds; a heartbeat extends it. */
	assert_int_equal(ferry_store_requeue_expired(s, NOW + 30, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ferry_store_heartbeat(s, id, "w1", 60, NOW + 50, &e), 0);
	assert_int_equal(ferry_store_requeue_expired(s, NOW + 100, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ferry_store_heartbeat(s, id, "w2", 60, NOW + 50, &e), FERRY_ECONFLICT);
	/* The worker stops renewing: released at once, to be retried. */
	assert_int_equal(ferry_store_requeue_expired(s, NOW + 111, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(STATUS(s, id), "queued");
	assert_string_equal(job_str(s, id, "error_code", buf, sizeof(buf)), "interrupted");
	assert_non_null(strstr(job_str(s, id, "error", buf, sizeof(buf)), "will be retried"));
	/* The old holder finds out it lost the job. */
	assert_int_equal(ferry_store_heartbeat(s, id, "w1", 60, NOW + 112, &e), FERRY_ECONFLICT);
	assert_non_null(strstr(e.msg, "no longer leased by w1"));
	assert_int_equal(claim(s, "w2", NOW + 112, &attempt), id);
	assert_int_equal(attempt, 2);
	assert_int_equal(ferry_store_finish(s, id, "w1", "succeeded", NULL, NULL, -1, NOW + 113,
					    NULL, &e), FERRY_ECONFLICT);
	/* The last attempt's lease runs out: failed for good. */
	assert_int_equal(ferry_store_requeue_expired(s, NOW + 500, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(STATUS(s, id), "failed");
	assert_string_equal(job_str(s, id, "error_code", buf, sizeof(buf)), "interrupted");
	assert_string_equal(job_str(s, id, "attempt", buf, sizeof(buf)), "2");
	assert_int_equal(ferry_store_connection_state(s, con, &st, &e), 0);
	assert_string_equal(json_string_value(json_object_get(st, "last_sync_status")), "failed");
	assert_non_null(strstr(json_string_value(json_object_get(st, "last_sync_error")), "interrupted"));
	assert_true(json_is_null(json_object_get(st, "running_job_id")));
	json_decref(st);
	no_claim(s, NOW + 1000);
	ferry_store_close(s);
}

static void retries_and_backoff(void **state)
{
	struct ferry_store *s = open_store();
	struct ferry_err e = {0};
	char con[32], buf[128];
	long long id, other;
	bool requeued;
	int attempt;
	json_t *st;

	connection(s, "crm", "{}", con);
	id = enqueue(s, con, NOW, 3);
	assert_int_equal(claim(s, "w", NOW, NULL), id);
	/* A retryable failure: back to the queue after the backoff. */
	assert_int_equal(ferry_store_finish(s, id, "w", "failed", "connect", "cannot connect", 30,
					    NOW + 2, &requeued, &e), 0);
	assert_true(requeued);
	assert_string_equal(STATUS(s, id), "queued");
	assert_string_equal(job_str(s, id, "run_after", buf, sizeof(buf)), "1767225632");
	/* The connection's last sync is not a retry in progress. */
	assert_int_equal(ferry_store_connection_state(s, con, &st, &e), 0);
	assert_true(json_is_null(json_object_get(st, "last_sync_status")));
	assert_true(json_is_null(json_object_get(st, "running_job_id")));
	json_decref(st);
	/* Other jobs go ahead meanwhile; this one waits its turn. */
	other = enqueue(s, NULL, NOW + 3, 0);
	no_claim(s, NOW + 2);
	assert_int_equal(claim(s, "w", NOW + 10, NULL), other);
	no_claim(s, NOW + 31);
	assert_int_equal(claim(s, "w", NOW + 32, &attempt), id);
	assert_int_equal(attempt, 2);
	assert_int_equal(ferry_store_finish(s, id, "w", "failed", "connect", "cannot connect", 60,
					    NOW + 33, &requeued, &e), 0);
	assert_true(requeued);
	assert_int_equal(claim(s, "w", NOW + 93, &attempt), id);
	assert_int_equal(attempt, 3);
	/* It succeeds on its third attempt: the earlier error is gone. */
	assert_int_equal(ferry_store_finish(s, id, "w", "succeeded", NULL, NULL, -1, NOW + 100,
					    &requeued, &e), 0);
	assert_false(requeued);
	assert_string_equal(STATUS(s, id), "succeeded");
	assert_string_equal(job_str(s, id, "error", buf, sizeof(buf)), "null");

	/* Out of attempts: failed, whatever the backoff says. */
	id = enqueue(s, con, NOW + 200, 1);
	assert_int_equal(claim(s, "w", NOW + 200, NULL), id);
	assert_int_equal(ferry_store_finish(s, id, "w", "failed", "connect", "cannot connect", 30,
					    NOW + 201, &requeued, &e), 0);
	assert_false(requeued);
	assert_string_equal(STATUS(s, id), "failed");
	/* Not retryable (auth): failed on the first of 3. */
	id = enqueue(s, con, NOW + 300, 3);
	assert_int_equal(claim(s, "w", NOW + 300, NULL), id);
	assert_int_equal(ferry_store_finish(s, id, "w", "failed", "auth", "API key rejected", -1,
					    NOW + 301, &requeued, &e), 0);
	assert_false(requeued);
	assert_string_equal(STATUS(s, id), "failed");
	assert_string_equal(job_str(s, id, "attempt", buf, sizeof(buf)), "1");
	assert_int_equal(ferry_store_connection_state(s, con, &st, &e), 0);
	assert_string_equal(json_string_value(json_object_get(st, "last_sync_error")), "API key rejected");
	json_decref(st);
	ferry_store_close(s);
}

static void cancel(void **state)
{
	struct ferry_store *s = open_store();
	struct ferry_err e = {0};
	char con[32], status[16], buf[64];
	long long q, r, n;
	bool yes, requeued;

	connection(s, "crm", "{}", con);
	q = enqueue(s, con, NOW, 0);
	/* Queued: cancelled at once, and never claimed. */
	assert_int_equal(ferry_store_request_cancel(s, q, status, &e), 0);
	assert_string_equal(status, "cancelled");
	assert_string_equal(STATUS(s, q), "cancelled");
	no_claim(s, NOW);
	assert_int_equal(ferry_store_queue_depth(s, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ferry_store_request_cancel(s, q, status, &e), FERRY_ECONFLICT);
	assert_non_null(strstr(e.msg, "already ended (cancelled)"));
	assert_int_equal(ferry_store_request_cancel(s, 4242, status, &e), FERRY_ENOTFOUND);

	/* Running: flagged for the worker, which stops; no retry after that. */
	r = enqueue(s, con, NOW, 3);
	assert_int_equal(claim(s, "w", NOW, NULL), r);
	assert_int_equal(ferry_store_cancel_requested(s, r, &yes, &e), 0);
	assert_false(yes);
	assert_int_equal(ferry_store_request_cancel(s, r, status, &e), 0);
	assert_string_equal(status, "running");
	assert_int_equal(ferry_store_cancel_requested(s, r, &yes, &e), 0);
	assert_true(yes);
	assert_int_equal(ferry_store_finish(s, r, "w", "failed", "cancelled", "cancelled at a batch",
					    30, NOW + 1, &requeued, &e), 0);
	assert_false(requeued);
	assert_string_equal(STATUS(s, r), "cancelled");
	assert_string_equal(job_str(s, r, "cancel_requested", buf, sizeof(buf)), "true");

	/* A cancelled running job whose worker died is not retried either. */
	r = enqueue(s, con, NOW, 3);
	assert_int_equal(claim(s, "w", NOW, NULL), r);
	assert_int_equal(ferry_store_request_cancel(s, r, NULL, &e), 0);
	assert_int_equal(ferry_store_requeue_expired(s, NOW + 61, NULL, &e), 0);
	assert_string_equal(STATUS(s, r), "cancelled");
	ferry_store_close(s);
}

static void release(void **state)
{
	struct ferry_store *s = open_store();
	struct ferry_err e = {0};
	struct ferry_claimed c;
	char con[32], buf[64];
	json_t *st;
	long long r;
	bool released;
	int attempt;

	connection(s, "crm", "{}", con);
	r = enqueue(s, con, NOW, 3);
	assert_int_equal(claim(s, "host:1:w1", NOW, &attempt), r);
	assert_int_equal(attempt, 1);
	/* Only the lease holder gives it back. */
	assert_int_equal(ferry_store_release(s, r, "host:1:w2", NOW + 5, &released, &e),
			 FERRY_ECONFLICT);
	assert_false(released);
	assert_string_equal(STATUS(s, r), "running");
	assert_int_equal(ferry_store_release(s, r, "host:1:w1", NOW + 5, &released, &e), 0);
	assert_true(released);
	assert_string_equal(STATUS(s, r), "queued");
	assert_string_equal(job_str(s, r, "attempt", buf, sizeof(buf)), "0");
	assert_string_equal(job_str(s, r, "run_after", buf, sizeof(buf)), "1767225605");
	assert_int_equal(ferry_store_connection_state(s, con, &st, &e), 0);
	assert_true(json_is_null(json_object_get(st, "running_job_id")));
	assert_true(json_is_null(json_object_get(st, "last_sync_status")));
	json_decref(st);
	/* The next worker gets it at once, as its first attempt, and it still has all three. */
	assert_int_equal(ferry_store_claim(s, "host:2:w1", 60, NOW + 5, &c, &e), 0);
	assert_int_equal(c.job_id, r);
	assert_int_equal(c.attempt, 1);
	assert_int_equal(c.max_attempts, 3);
	ferry_claimed_release(&c);
	/* Released again on its last attempt: still not counted, never failed. */
	assert_int_equal(ferry_store_finish(s, r, "host:2:w1", "failed", "source", "x", 0, NOW + 6,
					    NULL, &e), 0);
	assert_int_equal(claim(s, "host:2:w1", NOW + 6, &attempt), r);
	assert_int_equal(ferry_store_finish(s, r, "host:2:w1", "failed", "source", "x", 0, NOW + 7,
					    NULL, &e), 0);
	assert_int_equal(claim(s, "host:2:w1", NOW + 7, &attempt), r);
	assert_int_equal(attempt, 3);
	assert_int_equal(ferry_store_release(s, r, "host:2:w1", NOW + 8, &released, &e), 0);
	assert_string_equal(STATUS(s, r), "queued");
	assert_string_equal(job_str(s, r, "attempt", buf, sizeof(buf)), "2");
	/* A job someone asked to cancel ends cancelled instead. */
	assert_int_equal(claim(s, "host:2:w1", NOW + 8, &attempt), r);
	assert_int_equal(ferry_store_request_cancel(s, r, NULL, &e), 0);
	assert_int_equal(ferry_store_release(s, r, "host:2:w1", NOW + 9, &released, &e), 0);
	assert_false(released);
	assert_string_equal(STATUS(s, r), "cancelled");
	/* An ended job is not anyone's to release. */
	assert_int_equal(ferry_store_release(s, r, "host:2:w1", NOW + 9, &released, &e),
			 FERRY_ECONFLICT);
	assert_int_equal(ferry_store_release(s, 4242, "w", NOW, NULL, &e), FERRY_ENOTFOUND);
	ferry_store_close(s);
}

static bool listed(const struct ferry_due *v, int n, const char *id)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v[i].connection_id, id))
			return true;
	return false;
}

static void due(void **state)
{
	struct ferry_store *s = open_store();
	struct ferry_err e = {0};
	struct ferry_schedule hourly;
	struct ferry_due *v;
	char never[32], past[32], future[32], paused[32], off[32], unscheduled[32], busy[32];
	char missed[32];
	long long job, next;
	int n;

	connection(s, "never", "{\"schedule\": \"15m\", \"auto_sync\": \"on\", \"status\": \"active\"}", never);
	connection(s, "past", "{\"schedule\": \"@hourly\", \"auto_sync\": \"on\"}", past);
	connection(s, "future", "{\"schedule\": \"@hourly\"}", future);
	connection(s, "paused", "{\"schedule\": \"@hourly\", \"status\": \"paused\"}", paused);
	connection(s, "off", "{\"schedule\": \"@hourly\", \"auto_sync\": \"off\"}", off);
	connection(s, "unscheduled", "{\"auto_sync\": \"on\"}", unscheduled);
	connection(s, "busy", "{\"schedule\": \"@hourly\"}", busy);
	connection(s, "missed", "{\"schedule\": \"@hourly\"}", missed);
	assert_int_equal(ferry_store_set_next_run(s, past, NOW - 60, &e), 0);
	assert_int_equal(ferry_store_set_next_run(s, future, NOW + 60, &e), 0);
	assert_int_equal(ferry_store_set_next_run(s, paused, NOW - 60, &e), 0);
	assert_int_equal(ferry_store_set_next_run(s, off, NOW - 60, &e), 0);
	assert_int_equal(ferry_store_set_next_run(s, busy, NOW - 60, &e), 0);
	/* Down for 10 days: 240 hourly runs missed. */
	assert_int_equal(ferry_store_set_next_run(s, missed, NOW - 10 * 86400, &e), 0);
	assert_int_equal(ferry_store_set_next_run(s, "con_nope", NOW, &e), FERRY_ENOTFOUND);
	enqueue(s, busy, NOW + 3600, 0);

	assert_int_equal(ferry_store_due(s, NOW, 0, &v, &n, &e), 0);
	assert_int_equal(n, 3);
	/* Never run first, then the most overdue: one entry for the missed runs. */
	assert_string_equal(v[0].connection_id, never);
	assert_int_equal(v[0].next_run_at, -1);
	assert_string_equal(v[1].connection_id, missed);
	assert_int_equal(v[1].next_run_at, NOW - 10 * 86400);
	assert_string_equal(v[2].connection_id, past);
	free(v);
	assert_int_equal(ferry_store_due(s, NOW, 2, &v, &n, &e), 0);
	assert_int_equal(n, 2);
	free(v);
	assert_int_equal(ferry_store_due(s, NOW + 60, 0, &v, &n, &e), 0);
	assert_int_equal(n, 4);
	assert_true(listed(v, n, future));
	free(v);

	/* The scheduler's tick for "missed": queue one job, next run from now. */
	assert_int_equal(ferry_schedule_parse("@hourly", &hourly, &e), 0);
	job = enqueue(s, missed, NOW, 0);
	next = ferry_schedule_next(&hourly, NOW);
	assert_int_equal(next, NOW + 3600);
	assert_int_equal(ferry_store_set_next_run(s, missed, next, &e), 0);
	assert_int_equal(ferry_store_due(s, NOW, 0, &v, &n, &e), 0);
	assert_false(listed(v, n, missed));
	free(v);
	assert_int_equal(claim(s, "w", NOW, NULL), job);
	assert_int_equal(ferry_store_finish(s, job, "w", "succeeded", NULL, NULL, -1, NOW + 5, NULL,
					    &e), 0);
	assert_int_equal(ferry_store_due(s, NOW + 3599, 0, &v, &n, &e), 0);
	assert_false(listed(v, n, missed));
	free(v);
	assert_int_equal(ferry_store_due(s, NOW + 3600, 0, &v, &n, &e), 0);
	assert_true(listed(v, n, missed));
	free(v);

	/* Resumed: due again. Paused again: not. */
	json_t *set = json_pack("{s:s, s:s}", "schedule", "@hourly", "status", "active");
	char id[32];
	assert_int_equal(ferry_store_put(s, FERRY_CONNECTION, "paused", "sync", set, NULL, NULL, true,
					 id, NULL, &e), 0);
	json_decref(set);
	assert_int_equal(ferry_store_due(s, NOW, 0, &v, &n, &e), 0);
	assert_true(listed(v, n, paused));
	assert_false(listed(v, n, off));
	assert_false(listed(v, n, unscheduled));
	assert_false(listed(v, n, busy));
	free(v);

	/* Removing a connection removes its schedule state. */
	assert_int_equal(ferry_store_rm(s, FERRY_CONNECTION, "past", &e), 0);
	assert_int_equal(ferry_store_connection_state(s, past, &set, &e), FERRY_ENOTFOUND);
	ferry_store_close(s);
}

/* A leased job whose process died is released when the store is next opened. */
static void recover_at_open(void **state)
{
	struct ferry_store *s = open_store();
	char con[32], buf[128];
	long long a, b;
	sqlite3 *db;

	connection(s, "crm", "{}", con);
	a = enqueue(s, con, NOW, 3);
	b = enqueue(s, NULL, NOW, 1);
	assert_int_equal(claim(s, "w", NOW, NULL), a);
	assert_int_equal(claim(s, "w", NOW, NULL), b);
	ferry_store_close(s);
	sqlite3_open(path, &db);
	sqlite3_exec(db, "UPDATE jobs SET pid = 2147483600", NULL, NULL, NULL);
	sqlite3_close(db);

	s = open_store();
	assert_string_equal(STATUS(s, a), "queued");
	assert_non_null(strstr(job_str(s, a, "error", buf, sizeof(buf)), "pid 2147483600"));
	/* Its only attempt: failed. */
	assert_string_equal(STATUS(s, b), "failed");
	assert_string_equal(job_str(s, b, "error_code", buf, sizeof(buf)), "interrupted");
	/* Released at open, on the real clock. */
	assert_int_equal(claim(s, "w", (long long)time(NULL) + 1, NULL), a);
	ferry_store_close(s);
}

/* The schema of version 3, as ferry 0.1 created it. */
static const char *const v3 =
	"CREATE TABLE sources (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL,"
	"  settings TEXT NOT NULL, is_active INTEGER NOT NULL DEFAULT 1,"
	"  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
	"CREATE TABLE destinations (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL,"
	"  settings TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
	"CREATE TABLE connections (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL,"
	"  settings TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
	"CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, connection_id TEXT,"
	"  source_id TEXT, source_name TEXT, dest_id TEXT, dest_name TEXT, mode TEXT NOT NULL,"
	"  options TEXT, status TEXT NOT NULL, error_code TEXT, error TEXT, attempt INTEGER NOT NULL DEFAULT 1,"
	"  pid INTEGER, host TEXT, created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT,"
	"  duration_ms INTEGER);"
	"CREATE INDEX jobs_status ON jobs(status);"
	"CREATE TABLE job_streams (job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
	"  stream TEXT NOT NULL, dest_table TEXT, status TEXT, rows_read INTEGER, inserted INTEGER,"
	"  updated INTEGER, unchanged INTEGER, deleted INTEGER, total_estimate INTEGER, bytes INTEGER,"
	"  PRIMARY KEY (job_id, stream));"
	"CREATE TABLE stream_state (source_id TEXT NOT NULL, dest_id TEXT NOT NULL,"
	"  namespace TEXT NOT NULL, stream TEXT NOT NULL, cursor TEXT, updated_at TEXT NOT NULL,"
	"  PRIMARY KEY (source_id, dest_id, namespace, stream));"
	"ALTER TABLE job_streams ADD COLUMN pages INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE job_streams ADD COLUMN duplicates INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE job_streams ADD COLUMN collisions INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, hash TEXT NOT NULL UNIQUE,"
	"  created_at TEXT NOT NULL, last_used_at TEXT, revoked_at TEXT);"
	"INSERT INTO connections VALUES ('con_old', 'old', 'sync', '{\"schedule\": \"@daily\"}',"
	"  '2025-12-01T00:00:00.000Z', '2025-12-01T00:00:00.000Z');"
	"INSERT INTO jobs (connection_id, source_name, dest_name, mode, options, status, error_code,"
	"  error, attempt, created_at, started_at, finished_at, duration_ms) VALUES"
	"  ('con_old', 'shop', 'wh', 'full', '{\"full\": true}', 'succeeded', NULL, NULL, 1,"
	"   '2025-12-01T00:00:00.000Z', '2025-12-01T00:00:00.000Z', '2025-12-01T00:00:09.000Z', 9000),"
	"  (NULL, 'shop', 'wh', 'incremental', NULL, 'failed', 'source', 'HTTP 500', 1,"
	"   '2025-12-02T00:00:00.000Z', '2025-12-02T00:00:00.000Z', '2025-12-02T00:00:01.000Z', 1000);"
	"INSERT INTO job_streams (job_id, stream, dest_table, status, rows_read, inserted, updated,"
	"  unchanged, deleted, total_estimate, bytes) VALUES (1, 'users', 'users', 'done', 7, 7, 0, 0, 0, 7, 700);"
	"PRAGMA user_version = 3;";

static void migrate_from_3(void **state)
{
	struct ferry_store *s;
	struct ferry_err e = {0};
	struct ferry_due *v;
	sqlite3 *db;
	json_t *j;
	char buf[64];
	int n;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v3, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	s = open_store();
	assert_true(ferry_store_schema_version() >= 4);
	assert_int_equal(ferry_store_jobs(s, 0, &j, &e), 0);
	assert_int_equal(json_array_size(j), 2);
	json_t *old = json_array_get(j, 1);
	assert_string_equal(json_string_value(json_object_get(old, "status")), "succeeded");
	assert_int_equal(json_integer_value(json_object_get(old, "duration_ms")), 9000);
	assert_true(json_is_true(json_object_get(json_object_get(old, "options"), "full")));
	assert_int_equal(json_integer_value(json_object_get(old, "max_attempts")), 3);
	assert_false(json_is_true(json_object_get(old, "cancel_requested")));
	assert_true(json_is_null(json_object_get(old, "run_after")));
	assert_int_equal(json_array_size(json_object_get(old, "streams")), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "error")), "HTTP 500");
	json_decref(j);
	/* Old ended jobs are not queued work, and old connections are scheduled. */
	no_claim(s, NOW);
	assert_int_equal(ferry_store_due(s, NOW, 0, &v, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].connection_id, "con_old");
	free(v);
	assert_string_equal(job_str(s, enqueue(s, "con_old", NOW, 0), "status", buf, sizeof(buf)),
			    "queued");
	ferry_store_close(s);

	/* Opening again leaves it at the current version. */
	sqlite3_open(path, &db);
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), ferry_store_schema_version());
	sqlite3_finalize(st);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(order_and_request, setup, teardown),
		cmocka_unit_test_setup_teardown(idempotency, setup, teardown),
		cmocka_unit_test_setup_teardown(one_job_per_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(lease_expiry_and_attempts, setup, teardown),
		cmocka_unit_test_setup_teardown(retries_and_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(due, setup, teardown),
		cmocka_unit_test_setup_teardown(recover_at_open, setup, teardown),
		cmocka_unit_test_setup_teardown(release, setup, teardown),
		cmocka_unit_test_setup_teardown(migrate_from_3, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
