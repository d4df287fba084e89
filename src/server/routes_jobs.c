/*
 * routes_jobs.c - the HTTP routes about jobs and the service itself:
 *
 *   GET  /health                      liveness, store, queue depth (no token)
 *   GET  /metrics                     Prometheus text (no token, no secrets)
 *   POST /api/v1/syncs                queue an ad-hoc sync (idempotency keys)
 *   GET  /api/v1/jobs                 history: filters, keyset pages
 *   GET  /api/v1/jobs/{id}            one job
 *   POST /api/v1/jobs/{id}/cancel     cancel a queued job, stop a running one
 *   GET  /api/v1/jobs/{id}/events     progress as Server-Sent Events
 *   GET  /api/v1/connections/due      what the scheduler would queue now
 *   POST /api/v1/run-due              one scheduler tick
 *
 * Every check of a request runs before anything is written, so a refused
 * request leaves the store as it was. Jobs go out in one shape everywhere
 * (ferry_store_job's, plus "summary" totals and a "progress" object that is
 * never null: ferry_job_view in store/fastread.h), including in the event stream.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sched/runner.h"
#include "server/http_int.h"
#include "server/sse.h"
#include "store/deliveries.h"
#include "store/fastread.h"
#include "store/jobquery.h"
#include "store/metrics.h"
#include "util/text.h"

#define MAX_NAME 200            /* source, destination, stream names and idempotency keys */
#define MAX_URL 2048
#define MAX_STREAMS 1000

static const char *const job_statuses[] = {"queued", "running", "succeeded", "failed",
					   "cancelled", NULL};

static bool is_ended(const char *status)
{
	return status && (!strcmp(status, "succeeded") || !strcmp(status, "failed") ||
			  !strcmp(status, "cancelled"));
}

/* A positive integer id from a path segment; answers 404 otherwise. */
static bool job_id_param(struct req *r, const char *s, long long *id)
{
	const char *p;

	for (p = s; *p >= '0' && *p <= '9'; p++)
		;
	if (*p || !ferry_parse_ll(s, 1, 0x7fffffffffffffffLL, id)) {
		http_error(r, 404, "not_found", "unknown job \"%.100s\" (job ids are numbers; "
			   "see GET /api/v1/jobs)", s);
		return false;
	}
	return true;
}

/*
 * Unix seconds from "1767225600" or an ISO-8601 / RFC 3339 date or time
 * (2026-01-01, 2026-01-01T10:00:00Z, 2026-01-01 10:00:00.5+02:00; no zone
 * means UTC). False when it is neither, or names a day that does not exist.
 */
static bool parse_time(const char *s, long long *out)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0, n = 0;
	const char *p;
	struct tm tm = {0}, back;
	time_t t;

	if (*s && strspn(s, "0123456789") == strlen(s))
		return ferry_parse_ll(s, 0, 253402300799LL, out);
	if (!ferry_is_timestamp(s) || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
		return false;
	p = s + n;
	if (*p == 'T' || *p == ' ') {
		if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &n) != 2)
			return false;
		p += 1 + n;
		if (*p == ':') {
			if (sscanf(p + 1, "%2d%n", &sec, &n) != 1)
				return false;
			p += 1 + n;
			if (*p == '.')
				for (p++; isdigit((unsigned char)*p); p++)
					;
		}
	}
	if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (sscanf(p + 1, "%2d%n", &oh, &n) != 1)
			return false;
		p += 1 + n;
		if (*p == ':')
			p++;
		if (*p && sscanf(p, "%2d", &om) != 1)
			return false;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	/* timegm moves 2026-02-31 to March: refuse a day that is not in its month. */
	if (!gmtime_r(&t, &back) || back.tm_mday != d || back.tm_mon != mo - 1)
		return false;
	*out = (long long)t - sign * (oh * 3600LL + om * 60LL);
	return true;
}

static void iso_time(long long t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static long long int_of(json_t *o, const char *k)
{
	return json_is_integer(json_object_get(o, k)) ? json_integer_value(json_object_get(o, k)) : 0;
}

/* ---- GET /health ---- */

static void h_health(struct req *r)
{
	struct ferry_err err = {0};
	struct ferry_store *st = http_thread_store(r, &err);
	long long queued = 0;
	char store[600];

	if (st && !ferry_store_jobs_count(st, "queued", &queued, &err))
		snprintf(store, sizeof(store), "ok");
	else
		snprintf(store, sizeof(store), "error: %s", err.msg);
	http_answer(r, strcmp(store, "ok") ? 503 : 200,
	       json_pack("{s:s, s:s, s:s, s:I}", "status", strcmp(store, "ok") ? "degraded" : "ok",
			 "version", FERRY_VERSION, "store", store, "queue_depth", (json_int_t)queued));
}

/* ---- GET /api/v1/jobs ---- */

/* Appends "&name=value" with value percent-encoded. */
static void add_param(struct ferry_buf *b, const char *name, const char *value)
{
	const unsigned char *p;

	if (!value)
		return;
	ferry_buf_addf(b, "&%s=", name);
	for (p = (const unsigned char *)value; *p; p++) {
		if (isalnum(*p) || strchr("-._~:", *p))
			ferry_buf_addc(b, (char)*p);
		else
			ferry_buf_addf(b, "%%%02X", *p);
	}
}

/*
 * The connection filter as an id: a connection's name or id, or the id of a
 * connection since removed (its jobs stay). False after answering 400/500.
 */
static bool connection_filter(struct req *r, struct ferry_store *st, const char *v, char id[32])
{
	struct ferry_entity e = {0};
	struct ferry_err err = {0};
	int rc = ferry_store_get(st, FERRY_CONNECTION, v, &e, &err);

	if (!rc) {
		snprintf(id, 32, "%s", e.id);
		ferry_entity_release(&e);
		return true;
	}
	if (rc == FERRY_ENOTFOUND && !strncmp(v, "con_", 4) && strlen(v) < 32) {
		snprintf(id, 32, "%s", v);
		return true;
	}
	if (rc == FERRY_ENOTFOUND)
		http_error(r, 400, "invalid_parameter", "connection: %s", err.msg);
	else
		http_internal_error(r, &err);
	return false;
}

static void h_jobs(struct req *r)
{
	static const char *const known[] = {"limit", "status", "connection", "since", "before", NULL};
	const char *lim = http_query(r, "limit"), *status = http_query(r, "status");
	const char *conn = http_query(r, "connection"), *since = http_query(r, "since");
	const char *before = http_query(r, "before");
	struct ferry_job_filter f = {.since = -1, .limit = 50};
	struct ferry_err err = {0};
	struct ferry_buf next;
	struct ferry_store *st;
	long long v;
	char conn_id[32];
	json_t *jobs, *job;
	bool more;
	size_t i;
	int k;

	if (!http_query_known(r, known))
		return;
	if (lim) {
		if (!ferry_parse_ll(lim, 1, 1000, &v)) {
			http_error(r, 400, "invalid_parameter",
				   "limit must be a whole number from 1 to 1000, not \"%.40s\"", lim);
			return;
		}
		f.limit = (int)v;
	}
	if (status) {
		for (k = 0; job_statuses[k] && strcmp(status, job_statuses[k]); k++)
			;
		if (!job_statuses[k]) {
			http_error(r, 400, "invalid_parameter",
				   "status must be queued, running, succeeded, failed or cancelled, "
				   "not \"%.40s\"", status);
			return;
		}
		f.status = status;
	}
	if (since && !parse_time(since, &f.since)) {
		http_error(r, 400, "invalid_parameter",
			   "since must be a date or time (2026-01-31, 2026-01-31T10:00:00Z) or unix "
			   "seconds, not \"%.60s\"", since);
		return;
	}
	if (before && (strspn(before, "0123456789") != strlen(before) ||
		       !ferry_parse_ll(before, 1, 0x7fffffffffffffffLL, &f.before_id))) {
		http_error(r, 400, "invalid_parameter",
			   "before must be a job id (the cursor of the \"next\" link), not \"%.40s\"",
			   before);
		return;
	}
	if (conn && !*conn) {
		http_error(r, 400, "invalid_parameter", "connection must name a connection (or its id)");
		return;
	}
	if (!(st = http_store(r)))
		return;
	if (conn) {
		if (!connection_filter(r, st, conn, conn_id))
			return;
		f.connection_id = conn_id;
	}
	if (ferry_store_job_query(st, &f, &jobs, &more, &err)) {
		http_internal_error(r, &err);
		return;
	}
	json_array_foreach(jobs, i, job)
		ferry_job_view(job);
	if (!more || !json_array_size(jobs)) {
		http_answer(r, 200, json_pack("{s:o, s:n}", "jobs", jobs, "next"));
		return;
	}
	/* The same filters, from below the last job of this page. */
	ferry_buf_init(&next, 4096);
	ferry_buf_addf(&next, "/api/v1/jobs?limit=%d", f.limit);
	add_param(&next, "connection", conn);
	add_param(&next, "status", status);
	add_param(&next, "since", since);
	ferry_buf_addf(&next, "&before=%lld",
		       (long long)int_of(json_array_get(jobs, json_array_size(jobs) - 1), "id"));
	http_answer(r, 200, json_pack("{s:o, s:s}", "jobs", jobs, "next", next.data));
	ferry_buf_release(&next);
}

/* ---- one job ---- */

/* The job of the {id} parameter (its id in *id), or NULL after answering 404 or 500. */
static json_t *job_of(struct req *r, long long *id)
{
	struct ferry_err err = {0};
	struct ferry_fastread *fr;
	json_t *job;
	int rc;

	if (!job_id_param(r, r->params[0], id) || !(fr = http_fastread(r)))
		return NULL;
	rc = ferry_fastread_job(fr, *id, &job, &err);
	if (rc == FERRY_ENOTFOUND) {
		http_error(r, 404, "not_found", "unknown job %lld (see GET /api/v1/jobs)", *id);
		return NULL;
	}
	if (rc) {
		http_internal_error(r, &err);
		return NULL;
	}
	return ferry_job_view(job);
}

/* The job's completion webhooks and every attempt at each (store/deliveries.h). */
static void h_job_deliveries(struct req *r)
{
	static const char *const known[] = {NULL};
	struct ferry_err err = {0};
	struct ferry_store *st;
	json_t *job, *v;
	long long id;

	if (!http_query_known(r, known) || !(job = job_of(r, &id)))
		return;
	json_decref(job);
	if (!(st = http_store(r)))
		return;
	if (ferry_store_job_deliveries(st, id, &v, &err)) {
		http_internal_error(r, &err);
		return;
	}
	http_answer(r, 200, json_pack("{s:I, s:o}", "job_id", (json_int_t)id, "deliveries", v));
}

/* The hot path (bench/http.sh): written as text straight from the rows. */
static void h_job(struct req *r)
{
	static const char *const known[] = {NULL};
	struct ferry_err err = {0};
	struct ferry_fastread *fr;
	struct ferry_buf b;
	long long id;
	int rc;

	if (!http_query_known(r, known) || !job_id_param(r, r->params[0], &id) ||
	    !(fr = http_fastread(r)))
		return;
	ferry_buf_init(&b, 0);
	rc = ferry_fastread_job_text(fr, id, &b, &err);
	if (rc == FERRY_ENOTFOUND)
		http_error(r, 404, "not_found", "unknown job %lld (see GET /api/v1/jobs)", id);
	else if (rc)
		http_internal_error(r, &err);
	else
		http_answer_text(r, 200, "application/json", ferry_buf_detach(&b, NULL));
	ferry_buf_release(&b);
}

/*
 * A queued job is cancelled at once (200); a running one is flagged, and its
 * worker stops it within about a second (202: watch the job for "cancelled").
 */
static void h_job_cancel(struct req *r)
{
	struct ferry_err err = {0};
	struct ferry_store *st;
	char status[16] = "";
	long long id;
	json_t *job;
	int rc;

	if (!job_id_param(r, r->params[0], &id) || !(st = http_store(r)))
		return;
	rc = ferry_store_request_cancel(st, id, status, &err);
	if (rc == FERRY_ENOTFOUND) {
		http_error(r, 404, "not_found", "unknown job %lld (see GET /api/v1/jobs)", id);
		return;
	}
	if (rc == FERRY_ECONFLICT) {
		http_error(r, 409, "conflict", "%s", err.msg);
		return;
	}
	if (rc || (rc = ferry_store_job(st, id, &job, &err))) {
		http_internal_error(r, &err);
		return;
	}
	http_answer(r, strcmp(status, "running") ? 200 : 202, ferry_job_view(job));
}

/* ---- GET /api/v1/jobs/{id}/events ---- */

struct job_watch {
	long long id;
	char *last;     /* the job JSON last sent */
};

static void job_watch_free(void *ctx)
{
	struct job_watch *w = ctx;

	free(w->last);
	free(w);
}

static bool stream_error(struct ferry_buf *out, const char *code, const char *msg)
{
	json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
	char *text = e ? json_dumps(e, JSON_COMPACT) : NULL;

	ferry_sse_event(out, "error", text ? text : "{}");
	free(text);
	json_decref(e);
	return true;
}

/* "progress" with the job whenever it changed; "end" once it ended. */
static bool job_poll(void *ctx, struct ferry_store *st, const struct ferry_err *serr,
		     struct ferry_buf *out)
{
	struct job_watch *w = ctx;
	struct ferry_err err = {0};
	const char *status;
	char *text, end[96];
	json_t *job;
	bool over;
	int rc;

	if (!st)
		return stream_error(out, "store_error", serr->msg);
	rc = ferry_store_job(st, w->id, &job, &err);
	if (rc == FERRY_ESTORE && err.retryable)
		return false;   /* busy: the next tick will do */
	if (rc)
		return stream_error(out, rc == FERRY_ENOTFOUND ? "not_found" : "store_error", err.msg);
	ferry_job_view(job);
	status = json_string_value(json_object_get(job, "status"));
	over = is_ended(status);
	if (!(text = json_dumps(job, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		json_decref(job);
		return false;
	}
	if (!w->last || strcmp(text, w->last)) {
		ferry_sse_event(out, "progress", text);
		free(w->last);
		w->last = text;
	} else {
		free(text);
	}
	if (over) {
		snprintf(end, sizeof(end), "{\"job_id\":%lld,\"status\":\"%s\"}", w->id, status);
		ferry_sse_event(out, "end", end);
	}
	json_decref(job);
	return over;
}

static void h_job_events(struct req *r)
{
	static const char *const known[] = {NULL};
	struct sse_source src = {job_poll, job_watch_free, NULL};
	struct job_watch *w;
	long long id;
	json_t *job;

	if (!http_query_known(r, known) || !(job = job_of(r, &id)))
		return;
	json_decref(job);
	if (!(w = calloc(1, sizeof(*w)))) {
		http_error(r, 503, "unavailable", "out of memory starting an event stream");
		return;
	}
	w->id = id;
	src.ctx = w;
	ferry_sse_answer(r, &src);
}

/* ---- POST /api/v1/syncs ---- */

static const char *const sync_fields[] = {"source",     "destination", "streams",
					  "mode",       "since",       "until",
					  "namespace",  "batch_size",  "webhook_url",
					  "idempotency_key", NULL};

/* A string field: NULL when absent or null; false after answering 400 when not a string. */
static bool str_field(struct req *r, const char *name, bool required, const char **out)
{
	json_t *v = r->json ? json_object_get(r->json, name) : NULL;
	const unsigned char *p;

	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			http_error(r, 400, "invalid_field", "%s is required", name);
		return !required;
	}
	if (!json_is_string(v) || !*json_string_value(v)) {
		http_error(r, 400, "invalid_field", "%s must be a non-empty string", name);
		return false;
	}
	for (p = (const unsigned char *)json_string_value(v); *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			http_error(r, 400, "invalid_field", "%s must not contain control characters",
				   name);
			return false;
		}
	*out = json_string_value(v);
	return true;
}

static bool valid_ident(const char *s)
{
	if (!*s || strlen(s) > 40 || !(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

static bool streams_field(struct req *r)
{
	json_t *a = json_object_get(r->json, "streams"), *v, *w;
	size_t i, j;

	if (!a || json_is_null(a))
		return true;
	if (!json_is_array(a) || json_array_size(a) > MAX_STREAMS) {
		http_error(r, 400, "invalid_field",
			   "streams must be an array of at most %d stream names", MAX_STREAMS);
		return false;
	}
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || !*json_string_value(v) ||
		    strlen(json_string_value(v)) > MAX_NAME) {
			http_error(r, 400, "invalid_field",
				   "streams[%zu] must be a stream name (a non-empty string of at most "
				   "%d bytes)", i, MAX_NAME);
			return false;
		}
		for (j = 0; j < i; j++) {
			w = json_array_get(a, j);
			if (!strcmp(json_string_value(v), json_string_value(w))) {
				http_error(r, 400, "invalid_field", "streams names \"%s\" twice",
					   json_string_value(v));
				return false;
			}
		}
	}
	return true;
}

struct sync_req {
	const char *source, *destination, *mode, *since, *until, *ns, *webhook, *key;
};

/* Every field of the body, before anything is looked up. False after answering 400. */
static bool sync_checks(struct req *r, struct sync_req *q)
{
	json_t *bs;
	long long a, b;

	if (!r->json) {
		http_error(r, 400, "invalid_json",
			   "POST /api/v1/syncs needs a JSON body: {\"source\": …, \"destination\": …}");
		return false;
	}
	if (!str_field(r, "source", true, &q->source) ||
	    !str_field(r, "destination", true, &q->destination) ||
	    !str_field(r, "mode", false, &q->mode) || !str_field(r, "since", false, &q->since) ||
	    !str_field(r, "until", false, &q->until) || !str_field(r, "namespace", false, &q->ns) ||
	    !str_field(r, "webhook_url", false, &q->webhook) ||
	    !str_field(r, "idempotency_key", false, &q->key) || !streams_field(r))
		return false;
	if (strlen(q->source) > MAX_NAME || strlen(q->destination) > MAX_NAME) {
		http_error(r, 400, "invalid_field", "%s is longer than %d bytes",
			   strlen(q->source) > MAX_NAME ? "source" : "destination", MAX_NAME);
		return false;
	}
	if (q->mode && strcmp(q->mode, "incremental") && strcmp(q->mode, "full")) {
		http_error(r, 400, "invalid_field", "mode must be \"incremental\" or \"full\", not \"%.40s\"",
			   q->mode);
		return false;
	}
	if (q->since && !ferry_is_timestamp(q->since)) {
		http_error(r, 400, "invalid_field", "since \"%.60s\" is not a timestamp (use 2024-01-31 "
			   "or 2024-01-31T10:00:00Z)", q->since);
		return false;
	}
	if (q->until && !ferry_is_timestamp(q->until)) {
		http_error(r, 400, "invalid_field", "until \"%.60s\" is not a timestamp (use 2024-01-31 "
			   "or 2024-01-31T10:00:00Z)", q->until);
		return false;
	}
	if ((q->since || q->until) && q->mode && !strcmp(q->mode, "full")) {
		http_error(r, 400, "invalid_field", "%s backfills a date range into the live tables and "
			   "cannot be combined with mode \"full\"", q->since ? "since" : "until");
		return false;
	}
	if (q->since && q->until && parse_time(q->since, &a) && parse_time(q->until, &b) && a >= b) {
		http_error(r, 400, "invalid_field", "until must be after since");
		return false;
	}
	if (q->ns && !valid_ident(q->ns)) {
		http_error(r, 400, "invalid_field", "namespace \"%.60s\" must be letters, digits and _ "
			   "(at most 40), starting with a letter or _", q->ns);
		return false;
	}
	bs = json_object_get(r->json, "batch_size");
	if (bs && !json_is_null(bs) &&
	    (!json_is_integer(bs) || json_integer_value(bs) < 1 || json_integer_value(bs) > 10000000)) {
		http_error(r, 400, "invalid_field",
			   "batch_size must be a whole number of rows from 1 to 10000000");
		return false;
	}
	if (q->webhook && ((strncmp(q->webhook, "http://", 7) && strncmp(q->webhook, "https://", 8)) ||
			   strlen(q->webhook) > MAX_URL || strchr(q->webhook, ' ') ||
			   !q->webhook[strcspn(q->webhook, ":") + 3])) {
		http_error(r, 400, "invalid_field",
			   "webhook_url must be an http:// or https:// URL of at most %d bytes", MAX_URL);
		return false;
	}
	if (q->key && strlen(q->key) > MAX_NAME) {
		http_error(r, 400, "invalid_field", "idempotency_key is longer than %d bytes", MAX_NAME);
		return false;
	}
	return true;
}

/* A source or destination by name or id; false after answering 404 (or 500). */
static bool entity_of(struct req *r, struct ferry_store *st, enum ferry_kind_entity k,
		      const char *name, struct ferry_entity *e)
{
	struct ferry_err err = {0};
	int rc = ferry_store_get(st, k, name, e, &err);

	if (rc == FERRY_ENOTFOUND)
		http_error(r, 404, "not_found", "%s", err.msg);
	else if (rc)
		http_internal_error(r, &err);
	return rc == 0;
}

/* The same key again: the same job, if the request is the same too. */
static void replay(struct req *r, struct ferry_store *st, long long id, const char *key)
{
	struct ferry_err err = {0};
	char url[64];
	json_t *job;

	if (ferry_store_job(st, id, &job, &err)) {
		http_internal_error(r, &err);
		return;
	}
	if (!json_equal(json_object_get(job, "request"), r->json)) {
		http_error(r, 409, "conflict", "idempotency_key \"%.200s\" was already used for job %lld "
			   "with a different request; use a new key for a new sync", key, id);
	} else {
		snprintf(url, sizeof(url), "/api/v1/jobs/%lld", id);
		http_answer(r, 202, json_pack("{s:I, s:s, s:O}", "job_id", (json_int_t)id, "status_url",
					      url, "status", json_object_get(job, "status")));
	}
	json_decref(job);
}

static void h_syncs(struct req *r)
{
	struct ferry_entity se = {0}, de = {0};
	struct ferry_job_request jr = {0};
	struct ferry_err err = {0};
	struct ferry_store *st;
	struct sync_req q = {0};
	long long id = 0;
	bool existing = false;
	char url[64];
	int rc;

	if (!sync_checks(r, &q) || !(st = http_store(r)))
		return;
	if (!entity_of(r, st, FERRY_SOURCE, q.source, &se) ||
	    !entity_of(r, st, FERRY_DESTINATION, q.destination, &de))
		goto out;
	jr.source_id = se.id;
	jr.source_name = se.name;
	jr.dest_id = de.id;
	jr.dest_name = de.name;
	jr.mode = q.mode ? q.mode : "incremental";
	jr.request = r->json;
	jr.idempotency_key = q.key;
	jr.run_after = (long long)time(NULL);
	if ((rc = ferry_store_enqueue(st, &jr, &id, &existing, &err))) {
		http_fail(r, &err);
		goto out;
	}
	if (existing) {
		replay(r, st, id, q.key);
		goto out;
	}
	snprintf(url, sizeof(url), "/api/v1/jobs/%lld", id);
	http_answer(r, 202, json_pack("{s:I, s:s, s:s}", "job_id", (json_int_t)id, "status_url", url,
				      "status", "queued"));
	if (http_opts(r)->on_enqueue)
		http_opts(r)->on_enqueue(http_opts(r)->ctx);
out:
	ferry_entity_release(&se);
	ferry_entity_release(&de);
}

/* ---- GET /metrics ---- */

/* A label value per the exposition format: \ " and newline escaped. */
static void label(struct ferry_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			ferry_buf_addc(b, '\\');
		if (*v == '\n')
			ferry_buf_adds(b, "\\n");
		else
			ferry_buf_addc(b, *v);
	}
}

static void metric_head(struct ferry_buf *b, const char *name, const char *type, const char *help)
{
	ferry_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_metrics(struct ferry_buf *b, const struct ferry_metrics *m)
{
	int i;

	metric_head(b, "ferry_build_info", "gauge", "The running ferry's version (always 1).");
	ferry_buf_adds(b, "ferry_build_info{version=\"");
	label(b, FERRY_VERSION);
	ferry_buf_adds(b, "\"} 1\n");
	metric_head(b, "ferry_jobs", "gauge", "Jobs in the state store by status.");
	for (i = 0; i < FERRY_METRICS_NSTATUS; i++)
		ferry_buf_addf(b, "ferry_jobs{status=\"%s\"} %lld\n", ferry_metrics_statuses[i],
			       m->jobs[i]);
	metric_head(b, "ferry_queue_depth", "gauge", "Jobs waiting in the queue (status queued).");
	ferry_buf_addf(b, "ferry_queue_depth %lld\n", m->jobs[0]);
	metric_head(b, "ferry_job_duration_seconds", "histogram",
		    "How long ended jobs ran, from the start to the end of their last attempt.");
	for (i = 0; i < FERRY_METRICS_NBUCKETS; i++)
		ferry_buf_addf(b, "ferry_job_duration_seconds_bucket{le=\"%g\"} %lld\n",
			       ferry_metrics_buckets[i], m->duration_le[i]);
	ferry_buf_addf(b, "ferry_job_duration_seconds_bucket{le=\"+Inf\"} %lld\n", m->duration_count);
	ferry_buf_addf(b, "ferry_job_duration_seconds_sum %.3f\n", m->duration_sum);
	ferry_buf_addf(b, "ferry_job_duration_seconds_count %lld\n", m->duration_count);
	metric_head(b, "ferry_rows_synced_total", "counter",
		    "Rows written (inserted, updated or unchanged) by ended jobs, per connection "
		    "(connection=\"\" for ad-hoc syncs).");
	for (i = 0; i < m->nconns; i++) {
		ferry_buf_adds(b, "ferry_rows_synced_total{connection=\"");
		label(b, m->conns[i].name);
		ferry_buf_addf(b, "\"} %lld\n", m->conns[i].rows_written);
	}
	metric_head(b, "ferry_last_success_timestamp_seconds", "gauge",
		    "When the connection's last succeeded job ended (unix seconds).");
	for (i = 0; i < m->nconns; i++) {
		if (m->conns[i].last_success < 0)
			continue;
		ferry_buf_adds(b, "ferry_last_success_timestamp_seconds{connection=\"");
		label(b, m->conns[i].name);
		ferry_buf_addf(b, "\"} %.3f\n", m->conns[i].last_success);
	}
}

static void h_metrics(struct req *r)
{
	static const char *const known[] = {NULL};
	struct ferry_metrics m;
	struct ferry_err err = {0};
	struct ferry_store *st;
	struct ferry_buf b;

	if (!http_query_known(r, known) || !(st = http_store(r)))
		return;
	if (ferry_store_metrics(st, &m, &err)) {
		http_internal_error(r, &err);
		return;
	}
	ferry_buf_init(&b, 0);
	render_metrics(&b, &m);
	ferry_metrics_release(&m);
	http_answer_text(r, 200, "text/plain; version=0.0.4; charset=utf-8",
			 ferry_buf_detach(&b, NULL));
}

/* ---- the scheduler: GET /api/v1/connections/due, POST /api/v1/run-due ---- */

static void connection_name(struct ferry_store *st, const char *id, char *out, size_t n)
{
	struct ferry_entity e = {0};
	struct ferry_err err = {0};

	snprintf(out, n, "%s", id);
	if (!ferry_store_get(st, FERRY_CONNECTION, id, &e, &err))
		snprintf(out, n, "%s", e.name);
	ferry_entity_release(&e);
}

static void h_due(struct req *r)
{
	static const char *const known[] = {"limit", NULL};
	const char *lim = http_query(r, "limit");
	struct ferry_err err = {0};
	struct ferry_store *st;
	struct ferry_due *due;
	long long limit = 100, now = (long long)time(NULL);
	char name[256], when[32];
	json_t *arr;
	int n, i;

	if (!http_query_known(r, known))
		return;
	if (lim && !ferry_parse_ll(lim, 1, 1000, &limit)) {
		http_error(r, 400, "invalid_parameter",
			   "limit must be a whole number from 1 to 1000, not \"%.40s\"", lim);
		return;
	}
	if (!(st = http_store(r)))
		return;
	if (ferry_store_due(st, now, (int)limit, &due, &n, &err)) {
		http_internal_error(r, &err);
		return;
	}
	arr = json_array();
	for (i = 0; i < n; i++) {
		connection_name(st, due[i].connection_id, name, sizeof(name));
		iso_time(due[i].next_run_at, when);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:o}", "id", due[i].connection_id,
						     "name", name, "next_run_at",
						     due[i].next_run_at < 0 ? json_null() : json_string(when),
						     "overdue_seconds",
						     due[i].next_run_at < 0 ? json_null()
									    : json_integer(now - due[i].next_run_at)));
	}
	free(due);
	iso_time(now, when);
	http_answer(r, 200, json_pack("{s:s, s:o}", "now", when, "connections", arr));
}

static const char *const run_due_fields[] = {"limit", NULL};

/*
 * One tick, as `ferry run-due` starts with. The tick only counts what it
 * queued, so the jobs are found afterwards: the due list is read first (with
 * expired leases released, as the tick does), and each listed connection's
 * first job above the highest id from before the tick is its new job.
 */
static void h_run_due(struct req *r)
{
	json_t *lim = r->json ? json_object_get(r->json, "limit") : NULL, *jobs;
	struct ferry_err err = {0};
	struct ferry_store *st;
	struct ferry_due *due = NULL;
	long long limit = 100, last = 0, now = (long long)time(NULL), id;
	char name[256], url[64];
	int n = 0, i, enqueued = 0;

	if (lim && !json_is_null(lim)) {
		if (!json_is_integer(lim) || json_integer_value(lim) < 1 ||
		    json_integer_value(lim) > 100000) {
			http_error(r, 400, "invalid_field",
				   "limit must be a whole number of connections from 1 to 100000");
			return;
		}
		limit = json_integer_value(lim);
	}
	if (!(st = http_store(r)))
		return;
	if (ferry_store_last_job_id(st, &last, &err) ||
	    ferry_store_requeue_expired(st, now, NULL, &err) ||
	    ferry_store_due(st, now, (int)limit, &due, &n, &err) ||
	    ferry_sched_enqueue_due(st, now, (int)limit, &enqueued, &err)) {
		free(due);
		http_internal_error(r, &err);
		return;
	}
	jobs = json_array();
	for (i = 0; i < n; i++) {
		if (ferry_store_connection_job_after(st, due[i].connection_id, last, &id, &err)) {
			free(due);
			json_decref(jobs);
			http_internal_error(r, &err);
			return;
		}
		if (!id)
			continue;
		connection_name(st, due[i].connection_id, name, sizeof(name));
		snprintf(url, sizeof(url), "/api/v1/jobs/%lld", id);
		json_array_append_new(jobs, json_pack("{s:I, s:s, s:s, s:s}", "job_id", (json_int_t)id,
						      "connection_id", due[i].connection_id,
						      "connection", name, "status_url", url));
	}
	free(due);
	http_answer(r, 200, json_pack("{s:i, s:o}", "enqueued", enqueued, "jobs", jobs));
	if (enqueued && http_opts(r)->on_enqueue)
		http_opts(r)->on_enqueue(http_opts(r)->ctx);
}

const struct route ferry_routes_jobs[] = {
	{"GET", "/health", h_health, NULL, false},
	{"GET", "/metrics", h_metrics, NULL, false},
	{"POST", "/api/v1/syncs", h_syncs, sync_fields, false},
	{"GET", "/api/v1/jobs", h_jobs, NULL, false},
	{"GET", "/api/v1/jobs/{id}", h_job, NULL, false},
	{"POST", "/api/v1/jobs/{id}/cancel", h_job_cancel, NULL, false},
	{"GET", "/api/v1/jobs/{id}/events", h_job_events, NULL, false},
	{"GET", "/api/v1/jobs/{id}/deliveries", h_job_deliveries, NULL, false},
	/* Before routes_entities.c's /api/v1/connections/{id}: the core looks here first. */
	{"GET", "/api/v1/connections/due", h_due, NULL, false},
	{"POST", "/api/v1/run-due", h_run_due, run_due_fields, false},
};
const int ferry_nroutes_jobs = (int)(sizeof(ferry_routes_jobs) / sizeof(ferry_routes_jobs[0]));
