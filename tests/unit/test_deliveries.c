/*
 * test_deliveries.c - completion webhooks in the state store
 * (store/deliveries.c): the retry schedule, URLs shown without userinfo or
 * query, deliveries queued when a job ends (succeeded, failed for good,
 * cancelled, interrupted) and not when it is queued again, one per distinct
 * URL, the payload fixed at the end; claims hidden from other senders for a
 * lease; attempts recorded until delivered or failed after the last; the
 * per-job delivery log; the store-wide secret made once, kept, rotated, and
 * refused without the key. Every time is a fixed `now`.
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
#include "store/deliveries.h"
#include "store/store.h"

#define NOW 1767225600LL /* 2026-01-01T00:00:00Z */


static int setup(void **state)
{
	store_fixture_path("deliveries");
	return 0;
}

static int teardown(void **state)
{
	store_fixture_remove();
	return 0;
}

/* Queues and claims a job (of conn, with request JSON text or NULL); returns its id. */
static long long running_job(struct ferry_store *s, const char *conn, const char *request,
			     int max_attempts)
{
	struct ferry_job_request r = {.connection_id = conn, .source_name = "shop",
				      .dest_name = "wh", .max_attempts = max_attempts,
				      .run_after = NOW};
	struct ferry_claimed c;
	struct ferry_err e = {0};
	long long id;
	bool existing;

	r.request = request ? json_loads(request, 0, NULL) : NULL;
	assert_int_equal(ferry_store_enqueue(s, &r, &id, &existing, &e), 0);
	json_decref(r.request);
	assert_int_equal(ferry_store_claim(s, "w", 60, NOW, &c, &e), 0);
	assert_int_equal(c.job_id, id);
	ferry_claimed_release(&c);
	return id;
}

static json_t *log_of(struct ferry_store *s, long long job)
{
	struct ferry_err e = {0};
	json_t *v;

	assert_int_equal(ferry_store_job_deliveries(s, job, &v, &e), 0);
	return v;
}

static const char *field(json_t *v, size_t i, const char *k)
{
	return json_string_value(json_object_get(json_array_get(v, i), k));
}

static void backoff(void **state)
{
	/* 45 s, 3 min, 12 min, 48 min: the fifth attempt about an hour after the first. */
	assert_int_equal(ferry_delivery_backoff(1, 45), 45);
	assert_int_equal(ferry_delivery_backoff(2, 45), 180);
	assert_int_equal(ferry_delivery_backoff(3, 45), 720);
	assert_int_equal(ferry_delivery_backoff(4, 45), 2880);
	assert_int_equal(45 + 180 + 720 + 2880, 3825);
	assert_int_equal(ferry_delivery_backoff(1, 1), 1);
	assert_int_equal(ferry_delivery_backoff(3, 1), 16);
	assert_int_equal(ferry_delivery_backoff(0, 0), FERRY_DELIVERY_RETRY_BASE_S);
	assert_int_equal(ferry_delivery_backoff(40, 3600), 86400);

	setenv("FERRY_WEBHOOK_RETRY_BASE_S", "2", 1);
	assert_int_equal(ferry_delivery_retry_base(), 2);
	setenv("FERRY_WEBHOOK_RETRY_BASE_S", "0", 1);
	assert_int_equal(ferry_delivery_retry_base(), FERRY_DELIVERY_RETRY_BASE_S);
	setenv("FERRY_WEBHOOK_RETRY_BASE_S", "soon", 1);
	assert_int_equal(ferry_delivery_retry_base(), FERRY_DELIVERY_RETRY_BASE_S);
	unsetenv("FERRY_WEBHOOK_RETRY_BASE_S");
	assert_int_equal(ferry_delivery_retry_base(), FERRY_DELIVERY_RETRY_BASE_S);
}

static void url_shown(void **state)
{
	static const char *const cases[][2] = {
		{"https://hooks.example/ferry", "https://hooks.example/ferry"},
		{"https://hooks.example/ferry?token=s3cret&x=1", "https://hooks.example/ferry"},
		{"https://user:pa%40ss@hooks.example:8443/in#frag", "https://hooks.example:8443/in"},
		{"http://a@b@127.0.0.1:9/x?y@z", "http://127.0.0.1:9/x"},
		{"http://127.0.0.1:9?k=v", "http://127.0.0.1:9"},
		{"nonsense", "(not a URL)"},
	};
	char out[128], tiny[8];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ferry_delivery_url_shown(cases[i][0], out, sizeof(out));
		assert_string_equal(out, cases[i][1]);
	}
	ferry_delivery_url_shown("https://hooks.example/ferry", tiny, sizeof(tiny));
	assert_int_equal(strlen(tiny), 7);
}

static void queued_when_a_job_ends(void **state)
{
	struct ferry_store *s = open_store();
	struct ferry_err e = {0};
	struct ferry_delivery *v;
	char hooked[32], plain[32];
	long long a, b, c, d, n;
	bool requeued;
	json_t *log, *body;
	int cnt;

	connection(s, "hooked", "{\"webhook_url\": \"http://127.0.0.1:9/in?k=secret\"}", hooked);
	connection(s, "plain", "{}", plain);

	/* Succeeded: one delivery, its payload the job as it ended. */
	a = running_job(s, hooked, NULL, 3);
	assert_int_equal(ferry_store_finish(s, a, "w", "succeeded", NULL, NULL, -1, NOW + 2, NULL,
					    &e), 0);
	log = log_of(s, a);
	assert_int_equal(json_array_size(log), 1);
	assert_string_equal(field(log, 0, "type"), "sync.succeeded");
	assert_string_equal(field(log, 0, "status"), "pending");
	assert_string_equal(field(log, 0, "url"), "http://127.0.0.1:9/in");
	assert_int_equal(strncmp(field(log, 0, "message_id"), "msg_", 4), 0);
	assert_null(strchr(field(log, 0, "message_id"), '.'));
	assert_string_equal(field(log, 0, "next_attempt_at"), "2026-01-01T00:00:02.000Z");
	json_decref(log);
	assert_int_equal(ferry_store_deliveries_claim(s, 0, NOW + 2, 60, 0, &v, &cnt, &e), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(v[0].job_id, a);
	assert_string_equal(v[0].connection_id, hooked);
	assert_string_equal(v[0].url, "http://127.0.0.1:9/in?k=secret");
	assert_string_equal(v[0].event, "sync.succeeded");
	body = json_loads(v[0].payload, 0, NULL);
	assert_non_null(body);
	assert_string_equal(json_string_value(json_object_get(body, "type")), "sync.succeeded");
	assert_string_equal(json_string_value(json_object_get(body, "timestamp")),
			    "2026-01-01T00:00:02.000Z");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(body, "job"), "id")), a);
	assert_string_equal(json_string_value(json_object_get(json_object_get(body, "job"), "status")),
			    "succeeded");
	json_decref(body);
	ferry_deliveries_free(v, cnt);

	/* A retry is not an end; the failure after the last attempt is. */
	b = running_job(s, hooked, NULL, 2);
	assert_int_equal(ferry_store_finish(s, b, "w", "failed", "source", "HTTP 500", 0, NOW,
					    &requeued, &e), 0);
	assert_true(requeued);
	log = log_of(s, b);
	assert_int_equal(json_array_size(log), 0);
	json_decref(log);
	struct ferry_claimed cl;
	assert_int_equal(ferry_store_claim(s, "w", 60, NOW, &cl, &e), 0);
	ferry_claimed_release(&cl);
	assert_int_equal(ferry_store_finish(s, b, "w", "failed", "source", "HTTP 500", 0, NOW,
					    &requeued, &e), 0);
	assert_false(requeued);
	log = log_of(s, b);
	assert_int_equal(json_array_size(log), 1);
	assert_string_equal(field(log, 0, "type"), "sync.failed");
	json_decref(log);

	/* Cancelled while queued: an end too. */
	struct ferry_job_request r = {.connection_id = hooked, .run_after = NOW + 100};
	bool existing;
	assert_int_equal(ferry_store_enqueue(s, &r, &c, &existing, &e), 0);
	assert_int_equal(ferry_store_request_cancel(s, c, NULL, &e), 0);
	log = log_of(s, c);
	assert_string_equal(field(log, 0, "type"), "sync.cancelled");
	json_decref(log);

	/* The request's URL and the connection's, each once; none without any. */
	d = running_job(s, hooked, "{\"webhook_url\": \"http://127.0.0.1:9/in?k=secret\"}", 3);
	assert_int_equal(ferry_store_finish(s, d, "w", "succeeded", NULL, NULL, -1, NOW, NULL, &e), 0);
	log = log_of(s, d);
	assert_int_equal(json_array_size(log), 1);
	json_decref(log);
	d = running_job(s, hooked, "{\"webhook_url\": \"https://other.example/x\"}", 3);
	assert_int_equal(ferry_store_finish(s, d, "w", "succeeded", NULL, NULL, -1, NOW, NULL, &e), 0);
	log = log_of(s, d);
	assert_int_equal(json_array_size(log), 2);
	assert_string_equal(field(log, 0, "url"), "https://other.example/x");
	assert_string_equal(field(log, 1, "url"), "http://127.0.0.1:9/in");
	assert_string_not_equal(field(log, 0, "message_id"), field(log, 1, "message_id"));
	json_decref(log);
	d = running_job(s, plain, NULL, 3);
	assert_int_equal(ferry_store_finish(s, d, "w", "succeeded", NULL, NULL, -1, NOW, NULL, &e), 0);
	log = log_of(s, d);
	assert_int_equal(json_array_size(log), 0);
	json_decref(log);
	/* Ad hoc (no connection): the request's URL. */
	d = running_job(s, NULL, "{\"webhook_url\": \"http://127.0.0.1:9/adhoc\"}", 3);
	assert_int_equal(ferry_store_finish(s, d, "w", "failed", "auth", "no", -1, NOW, NULL, &e), 0);
	log = log_of(s, d);
	assert_int_equal(json_array_size(log), 1);
	assert_string_equal(field(log, 0, "type"), "sync.failed");
	json_decref(log);

	/* A lease that ran out on the last attempt ends the job: a webhook too. */
	d = running_job(s, hooked, NULL, 1);
	assert_int_equal(ferry_store_requeue_expired(s, NOW + 61, NULL, &e), 0);
	log = log_of(s, d);
	assert_string_equal(field(log, 0, "type"), "sync.failed");
	json_decref(log);
	/* Released by a stopping worker: not an end. */
	d = running_job(s, hooked, NULL, 3);
	assert_int_equal(ferry_store_release(s, d, "w", NOW, NULL, &e), 0);
	log = log_of(s, d);
	assert_int_equal(json_array_size(log), 0);
	json_decref(log);

	log = log_of(s, 4242);
	assert_int_equal(json_array_size(log), 0);
	json_decref(log);
	(void)n;
	ferry_store_close(s);
}

static void attempts(void **state)
{
	struct ferry_store *s = open_store();
	struct ferry_err e = {0};
	struct ferry_delivery *v;
	char hooked[32], status[16];
	long long a, b, id;
	json_t *log, *tries;
	int cnt, i;

	connection(s, "hooked", "{\"webhook_url\": \"http://127.0.0.1:9/in\"}", hooked);
	a = running_job(s, hooked, NULL, 3);
	assert_int_equal(ferry_store_finish(s, a, "w", "succeeded", NULL, NULL, -1, NOW, NULL, &e), 0);

	/* Claimed: hidden from other senders for the lease, then due again. */
	assert_int_equal(ferry_store_deliveries_claim(s, 0, NOW, 60, 0, &v, &cnt, &e), 0);
	assert_int_equal(cnt, 1);
	id = v[0].id;
	assert_int_equal(v[0].attempt, 0);
	ferry_deliveries_free(v, cnt);
	assert_int_equal(ferry_store_deliveries_claim(s, 0, NOW + 59, 60, 0, &v, &cnt, &e), 0);
	assert_int_equal(cnt, 0);
	free(v);
	assert_int_equal(ferry_store_deliveries_claim(s, 0, NOW + 60, 60, 0, &v, &cnt, &e), 0);
	assert_int_equal(cnt, 1);
	ferry_deliveries_free(v, cnt);

	/* A 500: retried after the backoff, and only then. */
	assert_int_equal(ferry_store_delivery_result(s, id, 500, "127.0.0.1:9/in answered HTTP 500",
						     NOW + 60, 10, status, &e), 0);
	assert_string_equal(status, "pending");
	assert_int_equal(ferry_store_deliveries_claim(s, 0, NOW + 69, 60, 0, &v, &cnt, &e), 0);
	assert_int_equal(cnt, 0);
	free(v);
	assert_int_equal(ferry_store_deliveries_claim(s, 0, NOW + 70, 60, 0, &v, &cnt, &e), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(v[0].attempt, 1);
	ferry_deliveries_free(v, cnt);
	/* No answer, then a 2xx: delivered, never due again. */
	assert_int_equal(ferry_store_delivery_result(s, id, 0, "cannot reach 127.0.0.1:9",
						     NOW + 70, 10, status, &e), 0);
	assert_int_equal(ferry_store_delivery_result(s, id, 204, NULL, NOW + 200, 10, status, &e), 0);
	assert_string_equal(status, "delivered");
	assert_int_equal(ferry_store_deliveries_claim(s, 0, NOW + 100000, 60, 0, &v, &cnt, &e), 0);
	assert_int_equal(cnt, 0);
	free(v);

	log = log_of(s, a);
	assert_string_equal(field(log, 0, "status"), "delivered");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(log, 0), "attempt")), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(log, 0), "last_http_status")), 204);
	assert_true(json_is_null(json_object_get(json_array_get(log, 0), "last_error")));
	assert_true(json_is_null(json_object_get(json_array_get(log, 0), "next_attempt_at")));
	assert_string_equal(field(log, 0, "delivered_at"), "2026-01-01T00:03:20.000Z");
	tries = json_object_get(json_array_get(log, 0), "attempts");
	assert_int_equal(json_array_size(tries), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(tries, 0), "http_status")), 500);
	assert_string_equal(json_string_value(json_object_get(json_array_get(tries, 0), "at")),
			    "2026-01-01T00:01:00.000Z");
	assert_true(json_is_null(json_object_get(json_array_get(tries, 1), "http_status")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(tries, 1), "error")),
			    "cannot reach 127.0.0.1:9");
	assert_true(json_is_null(json_object_get(json_array_get(tries, 2), "error")));
	json_decref(log);

	/* Five failures: failed for good. Deliveries of one job only, when asked. */
	b = running_job(s, hooked, NULL, 3);
	assert_int_equal(ferry_store_finish(s, b, "w", "succeeded", NULL, NULL, -1, NOW, NULL, &e), 0);
	assert_int_equal(ferry_store_deliveries_claim(s, a, NOW, 60, 0, &v, &cnt, &e), 0);
	assert_int_equal(cnt, 0);
	free(v);
	assert_int_equal(ferry_store_deliveries_claim(s, b, NOW, 60, 0, &v, &cnt, &e), 0);
	assert_int_equal(cnt, 1);
	id = v[0].id;
	ferry_deliveries_free(v, cnt);
	for (i = 1; i <= FERRY_DELIVERY_MAX_ATTEMPTS; i++) {
		assert_int_equal(ferry_store_delivery_result(s, id, 503, "HTTP 503", NOW + i, 1,
							     status, &e), 0);
		assert_string_equal(status, i < FERRY_DELIVERY_MAX_ATTEMPTS ? "pending" : "failed");
	}
	log = log_of(s, b);
	assert_string_equal(field(log, 0, "status"), "failed");
	assert_int_equal(json_array_size(json_object_get(json_array_get(log, 0), "attempts")),
			 FERRY_DELIVERY_MAX_ATTEMPTS);
	json_decref(log);
	assert_int_equal(ferry_store_deliveries_claim(s, 0, NOW + 100000, 60, 0, &v, &cnt, &e), 0);
	assert_int_equal(cnt, 0);
	free(v);
	assert_int_equal(ferry_store_delivery_result(s, 4242, 200, NULL, NOW, 1, NULL, &e),
			 FERRY_ENOTFOUND);
	ferry_store_close(s);
}

static void store_secret(void **state)
{
	struct ferry_store *s = open_store();
	struct ferry_err e = {0};
	struct ferry_key key = {0}, other = {0};
	char out[128], first[128];
	bool created;

	memset(key.k, 7, sizeof(key.k));
	strcpy(key.id, "0707070707070707");
	memset(other.k, 9, sizeof(other.k));
	strcpy(other.id, "0909090909090909");

	assert_int_equal(ferry_store_webhook_secret(s, NULL, "whsec_x", false, out, sizeof(out),
						    &created, &e), FERRY_EKEY);
	assert_non_null(strstr(e.msg, "FERRY_ENCRYPTION_KEY"));
	assert_int_equal(ferry_store_webhook_secret(s, &key, "whsec_AAAA", false, out, sizeof(out),
						    &created, &e), 0);
	assert_true(created);
	assert_string_equal(out, "whsec_AAAA");
	strcpy(first, out);
	/* Kept: a later fresh one is not used. */
	assert_int_equal(ferry_store_webhook_secret(s, &key, "whsec_BBBB", false, out, sizeof(out),
						    &created, &e), 0);
	assert_false(created);
	assert_string_equal(out, first);
	/* Sealed at rest. */
	ferry_store_close(s);
	s = open_store();
	assert_int_equal(ferry_store_webhook_secret(s, &other, "whsec_CCCC", false, out, sizeof(out),
						    &created, &e), FERRY_EKEY);
	/* Rotated. */
	assert_int_equal(ferry_store_webhook_secret(s, &key, "whsec_DDDD", true, out, sizeof(out),
						    &created, &e), 0);
	assert_true(created);
	assert_string_equal(out, "whsec_DDDD");
	assert_int_equal(ferry_store_webhook_secret(s, &key, "whsec_EEEE", false, out, sizeof(out),
						    &created, &e), 0);
	assert_string_equal(out, "whsec_DDDD");
	ferry_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(backoff),
		cmocka_unit_test(url_shown),
		cmocka_unit_test_setup_teardown(queued_when_a_job_ends, setup, teardown),
		cmocka_unit_test_setup_teardown(attempts, setup, teardown),
		cmocka_unit_test_setup_teardown(store_secret, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
