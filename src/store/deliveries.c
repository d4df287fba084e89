/*
 * deliveries.c - completion webhooks in the state store (see deliveries.h).
 *
 * A delivery is a row of webhook_deliveries: the URL, the message id and the
 * payload fixed when the job ended, and the state of its attempts. The
 * attempts themselves are a small JSON array in the row (at most
 * FERRY_DELIVERY_MAX_ATTEMPTS entries), which is all a delivery log needs.
 * Reading and writing a row's attempt state happens in BEGIN IMMEDIATE
 * transactions, so two senders (two `ferry serve` on one store) never take
 * the same delivery at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include "store/deliveries.h"
#include "store/store_int.h"
#include "util/text.h"

#define SECRET_NAME "webhook_secret"
#define SECRET_CTX "store/webhook_secret"

static int run(struct ferry_store *s, sqlite3_stmt *st, const char *what, struct ferry_err *err)
{
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ferry__store_err(s, err, what);

	sqlite3_finalize(st);
	return rc;
}

long long ferry_delivery_backoff(int attempt, long long base_s)
{
	long long d = base_s > 0 ? base_s : FERRY_DELIVERY_RETRY_BASE_S;
	int i;

	for (i = 1; i < attempt && d < 86400; i++)
		d *= 4;
	return d < 86400 ? d : 86400;
}

long long ferry_delivery_retry_base(void)
{
	const char *v = getenv("FERRY_WEBHOOK_RETRY_BASE_S");
	long long n;

	if (v && *v && ferry_parse_ll(v, 1, 3600, &n))
		return n;
	return FERRY_DELIVERY_RETRY_BASE_S;
}

void ferry_delivery_url_shown(const char *url, char *out, size_t n)
{
	const char *p = strstr(url, "://"), *auth, *end, *at;
	size_t len;

	if (!n)
		return;
	if (!p) {
		snprintf(out, n, "(not a URL)");
		return;
	}
	auth = p + 3;
	/* The authority ends at the first '/', '?' or '#'; userinfo is before its last '@'. */
	end = auth + strcspn(auth, "/?#");
	at = memchr(auth, '@', (size_t)(end - auth));
	while (at && memchr(at + 1, '@', (size_t)(end - at - 1)))
		at = memchr(at + 1, '@', (size_t)(end - at - 1));
	len = (size_t)(auth - url);
	snprintf(out, n, "%.*s", (int)len, url);
	if (at)
		auth = at + 1;
	len = strcspn(auth, "?#");
	snprintf(out + strlen(out), n - strlen(out), "%.*s", (int)len, auth);
}

/* ---- queueing at a job's end ---- */

static void new_msg_id(char out[40])
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	int i;

	memcpy(out, "msg_", 4);
	for (i = 0; i < 27; i++)
		out[4 + i] = abc[randombytes_uniform(sizeof(abc) - 1)];
	out[31] = '\0';
}

/* The job's webhook URLs: the request's and the connection's (each at most once). */
static int job_urls(struct ferry_store *s, long long job_id, char *urls[2], struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc, i;

	urls[0] = urls[1] = NULL;
	if ((rc = ferry__store_prepare(s, "SELECT json_extract(j.request, '$.webhook_url'), "
				       "json_extract(c.settings, '$.webhook_url') FROM jobs AS j "
				       "LEFT JOIN connections AS c ON c.id = j.connection_id "
				       "WHERE j.id = ? AND json_valid(coalesce(j.request, '{}'))",
				       &st, err)))
		return rc;
	sqlite3_bind_int64(st, 1, job_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		for (i = 0; i < 2; i++) {
			const char *u = (const char *)sqlite3_column_text(st, i);
			if (sqlite3_column_type(st, i) != SQLITE_TEXT || !u || !*u)
				continue;
			if (i == 1 && urls[0] && !strcmp(urls[0], u))
				continue;
			if (!(urls[i] = strdup(u)))
				rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		}
	}
	sqlite3_finalize(st);
	return rc;
}

static char *payload_of(struct ferry_store *s, long long job_id, const char *event, long long now,
			struct ferry_err *err)
{
	json_t *job = NULL, *body;
	char when[32], *text;

	if (ferry_store_job(s, job_id, &job, err))
		return NULL;
	ferry_unix_iso(now, when);
	body = json_pack("{s:s, s:s, s:o}", "type", event, "timestamp", when, "job", job);
	text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(body);
	if (!text)
		ferry_err_set(err, FERRY_ENOMEM, "out of memory building job %lld's webhook", job_id);
	return text;
}

int ferry__deliveries_job_ended(struct ferry_store *s, long long job_id, const char *status,
				long long now, struct ferry_err *err)
{
	sqlite3_stmt *st;
	char *urls[2], *payload = NULL, event[32], msg[40], when[32];
	int rc, i;

	if ((rc = job_urls(s, job_id, urls, err)) || (!urls[0] && !urls[1]))
		goto out;
	snprintf(event, sizeof(event), "sync.%s", status);
	if (!(payload = payload_of(s, job_id, event, now, err))) {
		rc = err->code;
		goto out;
	}
	ferry_unix_iso(now, when);
	for (i = 0; i < 2 && !rc; i++) {
		if (!urls[i])
			continue;
		new_msg_id(msg);
		if ((rc = ferry__store_prepare(s, "INSERT INTO webhook_deliveries (job_id, url, event, "
					       "msg_id, payload, next_attempt_at, created_at) VALUES "
					       "(?, ?, ?, ?, ?, ?, ?)", &st, err)))
			break;
		sqlite3_bind_int64(st, 1, job_id);
		sqlite3_bind_text(st, 2, urls[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, event, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, msg, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, payload, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, now);
		sqlite3_bind_text(st, 7, when, -1, SQLITE_STATIC);
		rc = run(s, st, "queueing the job's webhook", err);
	}
out:
	free(urls[0]);
	free(urls[1]);
	free(payload);
	return rc;
}

/* ---- sending ---- */

void ferry_deliveries_free(struct ferry_delivery *v, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		free(v[i].url);
		free(v[i].payload);
	}
	free(v);
}

static void copy_col(sqlite3_stmt *st, int i, char *out, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(out, n, "%s", t ? (const char *)t : "");
}

static int claim_read(struct ferry_store *s, long long job_id, long long now, int limit,
		      struct ferry_delivery **out, int *n, struct ferry_err *err)
{
	struct ferry_delivery *v = NULL, *nv;
	sqlite3_stmt *st;
	int rc, cnt = 0;

	if ((rc = ferry__store_prepare(s, "SELECT d.id, d.job_id, d.attempt, j.connection_id, "
				       "d.msg_id, d.event, d.url, d.payload FROM webhook_deliveries AS d "
				       "JOIN jobs AS j ON j.id = d.job_id WHERE d.status = 'pending' "
				       "AND d.next_attempt_at <= ?1 AND (?2 <= 0 OR d.job_id = ?2) "
				       "ORDER BY d.next_attempt_at, d.id LIMIT ?3", &st, err)))
		return rc;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, job_id);
	sqlite3_bind_int(st, 3, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct ferry_delivery *d;
		if (!(nv = realloc(v, sizeof(*v) * (size_t)(cnt + 1))))
			goto nomem;
		v = nv;
		d = &v[cnt++];
		memset(d, 0, sizeof(*d));
		d->id = sqlite3_column_int64(st, 0);
		d->job_id = sqlite3_column_int64(st, 1);
		d->attempt = sqlite3_column_int(st, 2);
		copy_col(st, 3, d->connection_id, sizeof(d->connection_id));
		copy_col(st, 4, d->msg_id, sizeof(d->msg_id));
		copy_col(st, 5, d->event, sizeof(d->event));
		d->url = strdup((const char *)sqlite3_column_text(st, 6));
		d->payload = strdup((const char *)sqlite3_column_text(st, 7));
		if (!d->url || !d->payload)
			goto nomem;
	}
	rc = rc == SQLITE_DONE ? 0 : ferry__store_err(s, err, "finding due webhooks");
	sqlite3_finalize(st);
	if (rc) {
		ferry_deliveries_free(v, cnt);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
nomem:
	sqlite3_finalize(st);
	ferry_deliveries_free(v, cnt);
	return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
}

int ferry_store_deliveries_claim(struct ferry_store *s, long long job_id, long long now,
				 long long lease_s, int limit, struct ferry_delivery **out, int *n,
				 struct ferry_err *err)
{
	struct ferry_delivery *v = NULL;
	sqlite3_stmt *st;
	int rc, cnt = 0, i;

	*out = NULL;
	*n = 0;
	if ((rc = ferry__store_exec(s, "BEGIN IMMEDIATE", err)))
		return rc;
	if ((rc = claim_read(s, job_id, now, limit > 0 ? limit : 20, &v, &cnt, err)))
		return ferry__store_end(s, rc, err);
	for (i = 0; i < cnt && !rc; i++) {
		if ((rc = ferry__store_prepare(s, "UPDATE webhook_deliveries SET next_attempt_at = ? "
					       "WHERE id = ?", &st, err)))
			break;
		sqlite3_bind_int64(st, 1, now + lease_s);
		sqlite3_bind_int64(st, 2, v[i].id);
		rc = run(s, st, "claiming a webhook", err);
	}
	if ((rc = ferry__store_end(s, rc, err))) {
		ferry_deliveries_free(v, cnt);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int ferry_store_delivery_result(struct ferry_store *s, long long id, long http_status,
				const char *error, long long now, long long base_s,
				char *status_out, struct ferry_err *err)
{
	sqlite3_stmt *st;
	const char *status;
	json_t *log = NULL;
	char when[32], *text = NULL;
	int rc, attempt = 0;

	ferry_unix_iso(now, when);
	if ((rc = ferry__store_exec(s, "BEGIN IMMEDIATE", err)))
		return rc;
	if ((rc = ferry__store_prepare(s, "SELECT attempt, log FROM webhook_deliveries WHERE id = ?",
				       &st, err)))
		goto out;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *l = (const char *)sqlite3_column_text(st, 1);
		attempt = sqlite3_column_int(st, 0) + 1;
		log = l ? json_loads(l, 0, NULL) : NULL;
	} else {
		rc = ferry_err_set(err, FERRY_ENOTFOUND, "unknown webhook delivery %lld", id);
	}
	sqlite3_finalize(st);
	if (rc)
		goto out;
	if (!json_is_array(log)) {
		json_decref(log);
		log = json_array();
	}
	json_array_append_new(log, json_pack("{s:s, s:o, s:o}", "at", when, "http_status",
					     http_status > 0 ? json_integer(http_status) : json_null(),
					     "error", error ? json_string(error) : json_null()));
	if (!(text = json_dumps(log, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		goto out;
	}
	status = !error ? "delivered" : attempt >= FERRY_DELIVERY_MAX_ATTEMPTS ? "failed" : "pending";
	if ((rc = ferry__store_prepare(s, "UPDATE webhook_deliveries SET attempt = ?, status = ?, "
				       "last_http_status = ?, last_error = ?, log = ?, next_attempt_at = ?, "
				       "delivered_at = ? WHERE id = ?", &st, err)))
		goto out;
	sqlite3_bind_int(st, 1, attempt);
	sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
	if (http_status > 0)
		sqlite3_bind_int64(st, 3, http_status);
	else
		sqlite3_bind_null(st, 3);
	if (error)
		sqlite3_bind_text(st, 4, error, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_text(st, 5, text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, strcmp(status, "pending") ? now
			   : now + ferry_delivery_backoff(attempt, base_s));
	if (!error)
		sqlite3_bind_text(st, 7, when, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 7);
	sqlite3_bind_int64(st, 8, id);
	if (!(rc = run(s, st, "recording a webhook attempt", err)) && status_out)
		snprintf(status_out, 16, "%s", status);
out:
	json_decref(log);
	free(text);
	return ferry__store_end(s, rc, err);
}

int ferry_store_job_deliveries(struct ferry_store *s, long long job_id, json_t **out,
			       struct ferry_err *err)
{
	sqlite3_stmt *st;
	json_t *arr;
	int rc;

	if ((rc = ferry__store_prepare(s, "SELECT id, url, event, msg_id, status, attempt, "
				       "last_http_status, last_error, next_attempt_at, created_at, "
				       "delivered_at, log FROM webhook_deliveries WHERE job_id = ? "
				       "ORDER BY id", &st, err)))
		return rc;
	sqlite3_bind_int64(st, 1, job_id);
	arr = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *l = (const char *)sqlite3_column_text(st, 11);
		json_t *log = l ? json_loads(l, 0, NULL) : NULL, *next = json_null();
		char shown[512], when[32];
		ferry_delivery_url_shown((const char *)sqlite3_column_text(st, 1), shown,
					 sizeof(shown));
		if (!strcmp((const char *)sqlite3_column_text(st, 4), "pending")) {
			ferry_unix_iso(sqlite3_column_int64(st, 8), when);
			next = json_string(when);
		}
		json_array_append_new(arr, json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:i, s:o, s:o, "
						     "s:o, s:o, s:o, s:o}",
						     "id", (json_int_t)sqlite3_column_int64(st, 0),
						     "url", shown, "type", ferry__col_json(st, 2),
						     "message_id", ferry__col_json(st, 3),
						     "status", ferry__col_json(st, 4), "attempt", ferry__col_json(st, 5),
						     "max_attempts", FERRY_DELIVERY_MAX_ATTEMPTS,
						     "last_http_status", ferry__col_json(st, 6),
						     "last_error", ferry__col_json(st, 7), "next_attempt_at", next,
						     "created_at", ferry__col_json(st, 9),
						     "delivered_at", ferry__col_json(st, 10),
						     "attempts", json_is_array(log) ? log : json_array()));
		if (log && !json_is_array(log))
			json_decref(log);
	}
	rc = rc == SQLITE_DONE ? 0 : ferry__store_err(s, err, "reading the job's webhooks");
	sqlite3_finalize(st);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

/* ---- the store-wide secret ---- */

static int secret_put(struct ferry_store *s, const struct ferry_key *key, const char *fresh,
		      struct ferry_err *err)
{
	sqlite3_stmt *st;
	char *sealed = NULL, now[32];
	int rc;

	if ((rc = ferry_secret_seal(key, SECRET_CTX, fresh, &sealed, err)))
		return rc;
	ferry_now_iso(now);
	if ((rc = ferry__store_prepare(s, "INSERT INTO store_secrets (name, sealed, created_at, "
				       "updated_at) VALUES (?1, ?2, ?3, ?3) ON CONFLICT (name) DO UPDATE "
				       "SET sealed = excluded.sealed, updated_at = excluded.updated_at",
				       &st, err)))
		goto out;
	sqlite3_bind_text(st, 1, SECRET_NAME, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, sealed, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, now, -1, SQLITE_STATIC);
	rc = run(s, st, "saving the webhook secret", err);
out:
	free(sealed);
	return rc;
}

int ferry_store_webhook_secret(struct ferry_store *s, const struct ferry_key *key,
			       const char *fresh, bool rotate, char *out, size_t n, bool *created,
			       struct ferry_err *err)
{
	sqlite3_stmt *st;
	char *sealed = NULL, *plain = NULL;
	int rc;

	if (created)
		*created = false;
	if (!key)
		return ferry_err_set(err, FERRY_EKEY,
				     FERRY_KEY_ENV " is not set: it is needed to read the store's webhook "
				     "signing secret (set it to the key the store's secrets were sealed "
				     "with)");
	if ((rc = ferry__store_exec(s, "BEGIN IMMEDIATE", err)))
		return rc;
	if ((rc = ferry__store_prepare(s, "SELECT sealed FROM store_secrets WHERE name = ?", &st, err)))
		goto out;
	sqlite3_bind_text(st, 1, SECRET_NAME, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && !(sealed = strdup((const char *)sqlite3_column_text(st, 0))))
		rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	sqlite3_finalize(st);
	if (rc)
		goto out;
	if (!sealed || rotate) {
		if (!fresh || !*fresh) {
			rc = ferry_err_set(err, FERRY_EINTERNAL, "no new webhook secret given (a bug)");
			goto out;
		}
		if ((rc = secret_put(s, key, fresh, err)))
			goto out;
		if (strlen(fresh) >= n) {
			rc = ferry_err_set(err, FERRY_ETOOBIG, "webhook secret buffer too small (a bug)");
			goto out;
		}
		snprintf(out, n, "%s", fresh);
		if (created)
			*created = true;
		goto out;
	}
	if ((rc = ferry_secret_open(key, SECRET_CTX, sealed, &plain, err))) {
		ferry_err_prefix(err, "the store's webhook signing secret: ");
		goto out;
	}
	if (strlen(plain) >= n)
		rc = ferry_err_set(err, FERRY_ETOOBIG, "webhook secret buffer too small (a bug)");
	else
		snprintf(out, n, "%s", plain);
out:
	if (plain) {
		sodium_memzero(plain, strlen(plain));
		free(plain);
	}
	free(sealed);
	return ferry__store_end(s, rc, err);
}
