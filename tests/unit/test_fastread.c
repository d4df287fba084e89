/*
 * test_fastread.c - the HTTP server's hot reads (store/fastread.c) answer
 * exactly what ferry_store_job and ferry_store_token_find answer, on jobs of
 * every shape (a `ferry sync` job with streams and options, a queued job with
 * a request, a claimed job with progress, a failed and a cancelled one), and
 * see a commit made through another handle at once (a revoked token fails
 * on the next call); the statements survive a store written in between.
 * Also the job history pages (store/jobquery.c) and the metrics queries
 * (store/metrics.c) on the same store.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "store_fixture.h"
#include <sqlite3.h>
#include "store/fastread.h"
#include "store/jobquery.h"
#include "store/metrics.h"
#include "store/store.h"

#define NOW 1767225600LL /* 2026-01-01T00:00:00Z */


static int setup(void **state)
{
	store_fixture_path("fastread");
	return 0;
}

static int teardown(void **state)
{
	store_fixture_remove();
	return 0;
}

/* Both readers give the same JSON for job id (or both say it is unknown). */
static void same_job(struct ferry_store *s, struct ferry_fastread *f, long long id)
{
	struct ferry_err e1 = {0}, e2 = {0};
	json_t *a = NULL, *b = NULL;
	int r1 = ferry_store_job(s, id, &a, &e1), r2 = ferry_fastread_job(f, id, &b, &e2);
	char *ta, *tb;

	struct ferry_buf text = FERRY_BUF_INIT;
	json_t *parsed, *view;
	int r3 = ferry_fastread_job_text(f, id, &text, &e2);

	assert_int_equal(r1, r2);
	assert_int_equal(r1, r3);
	if (r1) {
		assert_string_equal(e1.msg, e2.msg);
		assert_int_equal(text.len, 0);
		return;
	}
	/* The text is the view of the same job. */
	parsed = json_loads(text.data, 0, NULL);
	if (!parsed)
		fail_msg("not JSON: %s", text.data);
	view = ferry_job_view(json_deep_copy(a));
	ta = json_dumps(view, JSON_SORT_KEYS);
	tb = json_dumps(parsed, JSON_SORT_KEYS);
	json_decref(view);
	assert_string_equal(ta, tb);
	free(ta);
	free(tb);
	json_decref(parsed);
	ferry_buf_release(&text);
	ta = json_dumps(a, JSON_SORT_KEYS);
	tb = json_dumps(b, JSON_SORT_KEYS);
	assert_string_equal(ta, tb);
	/* The same key order too: clients see the same bytes. */
	free(ta);
	free(tb);
	ta = json_dumps(a, JSON_PRESERVE_ORDER);
	tb = json_dumps(b, JSON_PRESERVE_ORDER);
	assert_string_equal(ta, tb);
	free(ta);
	free(tb);
	json_decref(a);
	json_decref(b);
}

/* An UPDATE of job id through a connection of its own (SET clause given). */
static void raw_update(long long id, const char *set)
{
	char sql[1024];
	sqlite3 *db;

	snprintf(sql, sizeof(sql), "UPDATE jobs SET %s WHERE id = %lld", set, id);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

static long long enqueue(struct ferry_store *s, const char *conn, const char *request)
{
	json_t *req = request ? json_loads(request, 0, NULL) : NULL;
	struct ferry_job_request r = {.connection_id = conn, .source_id = "src_1",
				      .source_name = "shop", .dest_id = "dst_1", .dest_name = "wh",
				      .request = req, .run_after = NOW};
	struct ferry_err e = {0};
	long long id = 0;
	bool existing;

	assert_int_equal(ferry_store_enqueue(s, &r, &id, &existing, &e), 0);
	json_decref(req);
	return id;
}

static void jobs_match(void **state)
{
	struct ferry_store *s = open_store();
	struct ferry_fastread *f;
	struct ferry_err e = {0};
	struct ferry_claimed c;
	struct ferry_job_stream st[2] = {
		{.name = "users", .table = "users", .status = "done", .read = 10, .inserted = 7,
		 .updated = 2, .unchanged = 1, .estimate = 10, .bytes = 300},
		{.name = "events", .table = "shop_events", .status = "running", .read = 5,
		 .inserted = 5, .estimate = -1, .pages = 2, .duplicates = 1}};
	json_t *opts = json_pack("{s:b, s:s}", "reset", 0, "namespace", "ns");
	json_t *progress = json_loads("{\"stage\": \"read\", \"percentage\": 50.5, \"streams\": []}",
				      0, NULL);
	long long sync_job, queued, claimed, cancelled;

	assert_int_equal(ferry_fastread_open(s, &f, &e), 0);
	same_job(s, f, 1);   /* none yet */

	assert_int_equal(ferry_store_job_begin(s, NULL, "src_1", "shop", "dst_1", "wh", "full", opts,
					       &sync_job, &e), 0);
	assert_int_equal(ferry_store_job_streams(s, sync_job, st, 2, &e), 0);
	same_job(s, f, sync_job);
	assert_int_equal(ferry_store_job_end(s, sync_job, "failed", "source", "it broke", &e), 0);
	same_job(s, f, sync_job);

	queued = enqueue(s, NULL, "{\"source\": \"shop\", \"streams\": [\"users\"], \"batch_size\": 5}");
	same_job(s, f, queued);
	claimed = enqueue(s, NULL, NULL);
	cancelled = enqueue(s, NULL, NULL);
	assert_int_equal(ferry_store_request_cancel(s, cancelled, NULL, &e), 0);
	same_job(s, f, cancelled);
	assert_int_equal(ferry_store_claim(s, "w1", 60, NOW + 1, &c, &e), 0);
	assert_int_equal(c.job_id, queued);
	ferry_claimed_release(&c);
	assert_int_equal(ferry_store_claim(s, "w1", 60, NOW + 1, &c, &e), 0);
	assert_int_equal(c.job_id, claimed);
	ferry_claimed_release(&c);
	assert_int_equal(ferry_store_job_progress(s, claimed, progress, &e), 0);
	assert_int_equal(ferry_store_job_streams(s, claimed, st, 1, &e), 0);
	same_job(s, f, claimed);
	assert_int_equal(ferry_store_finish(s, claimed, "w1", "succeeded", NULL, NULL, -1, NOW + 5,
					    NULL, &e), 0);
	same_job(s, f, claimed);
	same_job(s, f, 999);

	/* What the text writer must escape or refuse, written behind the store's back. */
	raw_update(claimed, "error = 'a \"quoted\" word\n\ttab, \u00e9t\u00e9 and ' || char(1), "
		   "request = '{\"a\": [1, -2.5e3, true, null, \"x\\u00e9\\n\"], \"b\": {}}', "
		   "options = '{broken', progress = '[1, 2]', duration_ms = 1500");
	same_job(s, f, claimed);
	raw_update(claimed, "options = '[]  ', request = '{\"s\": \"\\u0000\"}', "
		   "progress = ' {\"stage\": \"read\"} ', status = 'running', duration_ms = NULL");
	same_job(s, f, claimed);
	raw_update(claimed, "options = '{\"a\": 01}', request = '{\"a\": [1,]}', progress = '{}x'");
	same_job(s, f, claimed);

	json_decref(opts);
	json_decref(progress);
	ferry_fastread_close(f);
	ferry_store_close(s);
}

static void tokens_match(void **state)
{
	struct ferry_store *s = open_store(), *other = open_store();
	struct ferry_fastread *f;
	struct ferry_err e = {0};
	char id[32], id2[32], tid[32];
	long long idle = 0, idle2 = 0;
	bool already;
	const char *hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

	assert_int_equal(ferry_fastread_open(s, &f, &e), 0);
	assert_int_equal(ferry_fastread_token(f, hash, id, &idle, &e), FERRY_ENOTFOUND);
	assert_int_equal(ferry_store_token_create(other, "ci", hash, tid, &e), 0);
	assert_int_equal(ferry_fastread_token(f, hash, id, &idle, &e), 0);
	assert_string_equal(id, tid);
	assert_int_equal(idle, -1);
	assert_int_equal(ferry_store_token_touch(other, tid, &e), 0);
	assert_int_equal(ferry_fastread_token(f, hash, id, &idle, &e), 0);
	assert_int_equal(ferry_store_token_find(s, hash, id2, &idle2, &e), 0);
	assert_string_equal(id, id2);
	assert_int_equal(idle, idle2);
	assert_true(idle >= 0 && idle < 5);
	/* Revoked through another handle: the very next lookup fails. */
	assert_int_equal(ferry_store_token_revoke(other, "ci", tid, &already, &e), 0);
	assert_int_equal(ferry_fastread_token(f, hash, id, &idle, &e), FERRY_ENOTFOUND);
	ferry_fastread_close(f);
	ferry_store_close(other);
	ferry_store_close(s);
}

static void pages(void **state)
{
	struct ferry_store *s = open_store();
	struct ferry_job_filter flt = {.since = -1, .limit = 3};
	struct ferry_err e = {0};
	long long ids[8], last = 0, got = 0;
	json_t *jobs;
	bool more;
	int i, n = 0;

	for (i = 0; i < 8; i++)
		ids[i] = enqueue(s, NULL, NULL);
	assert_int_equal(ferry_store_request_cancel(s, ids[2], NULL, &e), 0);
	assert_int_equal(ferry_store_request_cancel(s, ids[5], NULL, &e), 0);
	/* newest first, 3 a page, from below the last id of each page */
	for (;;) {
		assert_int_equal(ferry_store_job_query(s, &flt, &jobs, &more, &e), 0);
		for (i = 0; i < (int)json_array_size(jobs); i++) {
			got = json_integer_value(json_object_get(json_array_get(jobs, i), "id"));
			assert_int_equal(got, ids[7 - n]);
			n++;
		}
		last = got;
		json_decref(jobs);
		if (!more)
			break;
		flt.before_id = last;
	}
	assert_int_equal(n, 8);
	flt = (struct ferry_job_filter){.status = "cancelled", .since = -1, .limit = 1};
	assert_int_equal(ferry_store_job_query(s, &flt, &jobs, &more, &e), 0);
	assert_int_equal(json_array_size(jobs), 1);
	assert_true(more);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(jobs, 0), "id")), ids[5]);
	json_decref(jobs);
	flt.since = 4102444800LL; /* 2100: nothing yet */
	assert_int_equal(ferry_store_job_query(s, &flt, &jobs, &more, &e), 0);
	assert_int_equal(json_array_size(jobs), 0);
	assert_false(more);
	json_decref(jobs);
	flt.limit = 0;
	assert_int_equal(ferry_store_job_query(s, &flt, &jobs, &more, &e), FERRY_EUSAGE);
	assert_int_equal(ferry_store_last_job_id(s, &last, &e), 0);
	assert_int_equal(last, ids[7]);
	ferry_store_close(s);
}

static void metrics(void **state)
{
	struct ferry_store *s = open_store();
	struct ferry_metrics m;
	struct ferry_err e = {0};
	struct ferry_claimed c;
	struct ferry_job_stream st = {.name = "users", .table = "users", .status = "done",
				      .read = 10, .inserted = 7, .updated = 2, .unchanged = 1,
				      .estimate = -1};
	json_t *set = json_loads("{\"source_id\": \"src_1\", \"destination_id\": \"dst_1\"}", 0, NULL);
	char con[32], idle[32];
	long long a;
	int i;

	assert_int_equal(ferry_store_put(s, FERRY_CONNECTION, "nightly", "sync", set, NULL, NULL,
					 false, con, NULL, &e), 0);
	assert_int_equal(ferry_store_put(s, FERRY_CONNECTION, "idle", "sync", set, NULL, NULL,
					 false, idle, NULL, &e), 0);
	a = enqueue(s, con, NULL);
	enqueue(s, NULL, NULL);
	assert_int_equal(ferry_store_claim(s, "w", 60, NOW, &c, &e), 0);
	assert_int_equal(c.job_id, a);
	ferry_claimed_release(&c);
	assert_int_equal(ferry_store_job_streams(s, a, &st, 1, &e), 0);
	/* running: its rows are not counted yet */
	assert_int_equal(ferry_store_metrics(s, &m, &e), 0);
	assert_int_equal(m.jobs[0], 1);   /* queued */
	assert_int_equal(m.jobs[1], 1);   /* running */
	assert_int_equal(m.nconns, 2);
	for (i = 0; i < m.nconns; i++)
		assert_int_equal(m.conns[i].rows_written, 0);
	ferry_metrics_release(&m);
	assert_int_equal(ferry_store_finish(s, a, "w", "succeeded", NULL, NULL, -1, NOW + 2, NULL,
					    &e), 0);
	assert_int_equal(ferry_store_metrics(s, &m, &e), 0);
	assert_int_equal(m.jobs[2], 1);   /* succeeded */
	assert_int_equal(m.duration_count, 1);
	assert_int_equal(m.duration_le[0], 0);    /* ran 2 s: not <= 1 s */
	assert_int_equal(m.duration_le[1], 1);    /* <= 5 s */
	assert_true(m.duration_sum > 1.9 && m.duration_sum < 2.1);
	assert_int_equal(m.nconns, 2);
	assert_string_equal(m.conns[0].name, "idle");
	assert_true(m.conns[0].last_success < 0);
	assert_string_equal(m.conns[1].name, "nightly");
	assert_int_equal(m.conns[1].rows_written, 10);
	assert_true(m.conns[1].last_success > NOW + 1.9 && m.conns[1].last_success < NOW + 2.1);
	ferry_metrics_release(&m);
	json_decref(set);
	ferry_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(jobs_match, setup, teardown),
		cmocka_unit_test_setup_teardown(tokens_match, setup, teardown),
		cmocka_unit_test_setup_teardown(pages, setup, teardown),
		cmocka_unit_test_setup_teardown(metrics, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
