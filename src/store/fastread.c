/*
 * fastread.c - prepared-once statements for the HTTP server's hot reads
 * (see fastread.h), and the API's view of a job, as JSON values and as text
 * written straight from the rows.
 *
 * The SQL and the JSON built from the rows mirror store.c (token lookup,
 * job_row_json, job_streams_json) column for column. The text writer puts
 * the JSON documents the store keeps (options, request, progress: written by
 * json_dumps) into the answer as they are, once a scan has found them well
 * formed; what does not scan becomes null, as a failed json_loads does.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "store/fastread.h"
#include "store/store_int.h"

enum { Q_TOKEN, Q_JOB, Q_STREAMS, NQ };

static const char *const sql[NQ] = {
	[Q_TOKEN] = "SELECT id, CAST((julianday('now') - julianday(last_used_at)) * 86400 AS INTEGER) "
		    "FROM tokens WHERE hash = ? AND revoked_at IS NULL",
	[Q_JOB] = "SELECT id, status, mode, source_name, dest_name, source_id, dest_id, connection_id, "
		  "error_code, error, attempt, created_at, started_at, finished_at, duration_ms, "
		  "options, max_attempts, run_after, cancel_requested, request, progress, timeout_s "
		  "FROM jobs WHERE id = ?",
	[Q_STREAMS] = "SELECT stream, dest_table, status, rows_read, inserted, updated, unchanged, "
		      "deleted, total_estimate, bytes, pages, duplicates, collisions FROM job_streams "
		      "WHERE job_id = ? ORDER BY rowid",
};

struct ferry_fastread {
	struct ferry_store *s;
	sqlite3_stmt *q[NQ];
};

int ferry_fastread_open(struct ferry_store *s, struct ferry_fastread **out, struct ferry_err *err)
{
	struct ferry_fastread *f = calloc(1, sizeof(*f));
	int i;

	*out = NULL;
	if (!f)
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	f->s = s;
	for (i = 0; i < NQ; i++)
		if (sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &f->q[i], NULL) !=
		    SQLITE_OK) {
			ferry_fastread_close(f);
			return ferry__store_err(s, err, "preparing a query");
		}
	*out = f;
	return 0;
}

void ferry_fastread_close(struct ferry_fastread *f)
{
	int i;

	if (!f)
		return;
	for (i = 0; i < NQ; i++)
		sqlite3_finalize(f->q[i]);
	free(f);
}

/* Ends the statement's read so the next use sees the latest commit. */
static void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

int ferry_fastread_token(struct ferry_fastread *f, const char *hash, char id_out[32],
			 long long *idle_s, struct ferry_err *err)
{
	sqlite3_stmt *st = f->q[Q_TOKEN];
	int rc = 0;

	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		snprintf(id_out, 32, "%s", (const char *)sqlite3_column_text(st, 0));
		*idle_s = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 1);
		break;
	case SQLITE_DONE:
		rc = ferry_err_set(err, FERRY_ENOTFOUND, "no such token, or it was revoked");
		break;
	default:
		rc = ferry__store_err(f->s, err, "looking up a token");
	}
	done(st);
	return rc;
}

static json_t *streams(struct ferry_fastread *f, long long id)
{
	sqlite3_stmt *st = f->q[Q_STREAMS];
	json_t *arr = json_array();

	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
						     "s:o, s:o, s:o}",
						     "name", ferry__col_json(st, 0), "table", ferry__col_json(st, 1),
						     "status", ferry__col_json(st, 2), "read", ferry__col_json(st, 3),
						     "inserted", ferry__col_json(st, 4), "updated", ferry__col_json(st, 5),
						     "unchanged", ferry__col_json(st, 6), "deleted", ferry__col_json(st, 7),
						     "total_estimate", ferry__col_json(st, 8), "bytes", ferry__col_json(st, 9),
						     "pages", ferry__col_json(st, 10), "duplicates", ferry__col_json(st, 11),
						     "collisions", ferry__col_json(st, 12)));
	done(st);
	return arr;
}

int ferry_fastread_job(struct ferry_fastread *f, long long job_id, json_t **out,
		       struct ferry_err *err)
{
	sqlite3_stmt *st = f->q[Q_JOB];
	json_t *o;
	int rc = 0;

	sqlite3_bind_int64(st, 1, job_id);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
			      "s:o, s:o, s:o}",
			      "id", (json_int_t)job_id, "status", ferry__col_json(st, 1), "mode", ferry__col_json(st, 2),
			      "source", ferry__col_json(st, 3), "destination", ferry__col_json(st, 4),
			      "source_id", ferry__col_json(st, 5), "destination_id", ferry__col_json(st, 6),
			      "connection_id", ferry__col_json(st, 7), "error_code", ferry__col_json(st, 8),
			      "error", ferry__col_json(st, 9), "attempt", ferry__col_json(st, 10),
			      "created_at", ferry__col_json(st, 11), "started_at", ferry__col_json(st, 12),
			      "finished_at", ferry__col_json(st, 13), "duration_ms", ferry__col_json(st, 14),
			      "options", ferry__col_parsed(st, 15), "streams", streams(f, job_id));
		if (!o) {
			rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
			break;
		}
		json_object_set_new(o, "max_attempts", ferry__col_json(st, 16));
		json_object_set_new(o, "run_after", ferry__col_json(st, 17));
		json_object_set_new(o, "cancel_requested", json_boolean(sqlite3_column_int(st, 18)));
		json_object_set_new(o, "request", ferry__col_parsed(st, 19));
		json_object_set_new(o, "progress", ferry__col_parsed(st, 20));
		json_object_set_new(o, "timeout_s", ferry__col_json(st, 21));
		*out = o;
		break;
	case SQLITE_DONE:
		rc = ferry_err_set(err, FERRY_ENOTFOUND, "unknown job %lld (see `ferry jobs`)", job_id);
		break;
	default:
		rc = ferry__store_err(f->s, err, "reading a job");
	}
	done(st);
	return rc;
}

/* ---- the API's view of a job ---- */

static long long int_of(json_t *o, const char *k)
{
	return json_is_integer(json_object_get(o, k)) ? json_integer_value(json_object_get(o, k)) : 0;
}

static const char *stage_of(const char *status)
{
	return !status ? "unknown" : !strcmp(status, "succeeded") ? "done" : status;
}

json_t *ferry_job_view(json_t *job)
{
	static const char *const counts[] = {"read", "inserted", "updated", "unchanged",
					     "deleted", "bytes", NULL};
	json_t *streams = json_object_get(job, "streams"), *summary = json_object(), *v, *ps, *est;
	const char *status = json_string_value(json_object_get(job, "status"));
	long long total[6] = {0}, dur;
	size_t i;
	int k;

	json_array_foreach(streams, i, v)
		for (k = 0; counts[k]; k++)
			total[k] += int_of(v, counts[k]);
	for (k = 0; counts[k]; k++)
		json_object_set_new(summary, counts[k], json_integer(total[k]));
	json_object_set_new(summary, "streams", json_integer((json_int_t)json_array_size(streams)));
	json_object_set_new(job, "summary", summary);
	if (json_is_object(json_object_get(job, "progress")))
		return job;
	ps = json_array();
	json_array_foreach(streams, i, v) {
		est = json_object_get(v, "total_estimate");
		json_array_append_new(ps, json_pack("{s:O, s:I, s:I, s:O}", "name",
						    json_object_get(v, "name"), "read",
						    (json_int_t)int_of(v, "read"), "written",
						    (json_int_t)(int_of(v, "inserted") + int_of(v, "updated") +
								 int_of(v, "unchanged")),
						    "total_estimate", est ? est : json_null()));
	}
	dur = int_of(job, "duration_ms");
	json_object_set_new(job, "progress",
			    json_pack("{s:s, s:o, s:n, s:o, s:o}", "stage", stage_of(status),
				      "percentage", status && !strcmp(status, "succeeded")
							    ? json_real(100.0) : json_null(),
				      "eta_seconds", "rows_per_second",
				      dur > 0 ? json_real(total[0] * 1000.0 / (double)dur) : json_null(),
				      "streams", ps));
	return job;
}

/* ---- the same, as text ---- */

/* A JSON string, escaped as jansson does: quote, backslash, control characters. */
static void put_str(struct ferry_buf *b, const char *s)
{
	const char *run;

	ferry_buf_addc(b, '"');
	for (;;) {
		for (run = s; (unsigned char)*s >= 0x20 && *s != '"' && *s != '\\'; s++)
			;
		ferry_buf_add(b, run, (size_t)(s - run));
		if (!*s)
			break;
		switch (*s) {
		case '"': ferry_buf_adds(b, "\\\""); break;
		case '\\': ferry_buf_adds(b, "\\\\"); break;
		case '\n': ferry_buf_adds(b, "\\n"); break;
		case '\r': ferry_buf_adds(b, "\\r"); break;
		case '\t': ferry_buf_adds(b, "\\t"); break;
		case '\b': ferry_buf_adds(b, "\\b"); break;
		case '\f': ferry_buf_adds(b, "\\f"); break;
		default: ferry_buf_addf(b, "\\u%04X", (unsigned char)*s);
		}
		s++;
	}
	ferry_buf_addc(b, '"');
}

/* A column as col() makes it: null, an integer, or its text as a string. */
static void put_col(struct ferry_buf *b, sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL: ferry_buf_adds(b, "null"); break;
	case SQLITE_INTEGER: ferry_buf_addf(b, "%lld", (long long)sqlite3_column_int64(st, i)); break;
	default: put_str(b, (const char *)sqlite3_column_text(st, i));
	}
}

/* As int_of on the value col() makes. */
static long long icol(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_INTEGER ? sqlite3_column_int64(st, i) : 0;
}

/* A double as jansson writes a real: enough digits to read back the same, ".0" if integral. */
static void put_real(struct ferry_buf *b, double v)
{
	char t[40];

	snprintf(t, sizeof(t), "%.17g", v);
	ferry_buf_adds(b, t);
	if (!strpbrk(t, ".eEn"))
		ferry_buf_adds(b, ".0");
}

/* ---- a scan that tells well-formed JSON (RFC 8259) from the rest, building nothing ---- */

static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *scan_value(const char *p, int depth);

static const char *scan_string(const char *p)
{
	int i;

	for (p++; *p != '"'; p++) {
		if ((unsigned char)*p < 0x20)
			return NULL;   /* a control character, or the end */
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (i = 1; i <= 4; i++)
					if (!isxdigit((unsigned char)p[i]))
						return NULL;
				if (!strncmp(p + 1, "0000", 4))
					return NULL;   /* jansson refuses NUL */
				p += 4;
			} else if (!*p || !strchr("\"\\/bfnrt", *p)) {
				return NULL;
			}
		}
	}
	return p + 1;
}

static const char *scan_number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (isdigit((unsigned char)*p))
			p++;
	else
		return NULL;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char)*p))
			return NULL;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return p;
}

/* Members of an object (pairs) or an array, from just after the opening bracket. */
static const char *scan_members(const char *p, int depth, char close, bool pairs)
{
	p = ws(p);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (pairs) {
			if (*p != '"' || !(p = scan_string(p)))
				return NULL;
			p = ws(p);
			if (*p++ != ':')
				return NULL;
		}
		if (!(p = scan_value(ws(p), depth + 1)))
			return NULL;
		p = ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
		p = ws(p);
	}
}

static const char *scan_value(const char *p, int depth)
{
	if (depth > 64)
		return NULL;
	switch (*p) {
	case '{': return scan_members(p + 1, depth, '}', true);
	case '[': return scan_members(p + 1, depth, ']', false);
	case '"': return scan_string(p);
	case 't': return strncmp(p, "true", 4) ? NULL : p + 4;
	case 'f': return strncmp(p, "false", 5) ? NULL : p + 5;
	case 'n': return strncmp(p, "null", 4) ? NULL : p + 4;
	default: return scan_number(p);
	}
}

/*
 * A stored JSON document as ferry__col_parsed() reads it (json_loads: an object or
 * an array, nothing after it): as it is, or null. want_object: only an
 * object counts (the progress); false is returned when nothing was written.
 */
static bool put_parsed(struct ferry_buf *b, sqlite3_stmt *st, int i, bool want_object)
{
	const char *t = (const char *)sqlite3_column_text(st, i), *p, *end;

	if (t) {
		p = ws(t);
		if ((*p == '{' || (*p == '[' && !want_object)) && (end = scan_value(p, 0)) &&
		    !*ws(end)) {
			ferry_buf_add(b, p, (size_t)(end - p));
			return true;
		}
	}
	if (want_object)
		return false;
	ferry_buf_adds(b, "null");
	return true;
}

static const char *const job_keys[] = {
	"id", "status", "mode", "source", "destination", "source_id", "destination_id",
	"connection_id", "error_code", "error", "attempt", "created_at", "started_at",
	"finished_at", "duration_ms"};

int ferry_fastread_job_text(struct ferry_fastread *f, long long job_id, struct ferry_buf *out,
			    struct ferry_err *err)
{
	sqlite3_stmt *st = f->q[Q_JOB], *ss = f->q[Q_STREAMS];
	struct ferry_buf fill = FERRY_BUF_INIT;
	const char *status;
	long long total[6] = {0}, n = 0, dur;
	size_t start = out->len;
	int rc = 0, i;

	sqlite3_bind_int64(st, 1, job_id);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		break;
	case SQLITE_DONE:
		rc = ferry_err_set(err, FERRY_ENOTFOUND, "unknown job %lld (see `ferry jobs`)", job_id);
		goto out;
	default:
		rc = ferry__store_err(f->s, err, "reading a job");
		goto out;
	}
	ferry_buf_addf(out, "{\"id\":%lld", job_id);
	for (i = 1; i < 15; i++) {
		ferry_buf_addf(out, ",\"%s\":", job_keys[i]);
		put_col(out, st, i);
	}
	ferry_buf_adds(out, ",\"options\":");
	put_parsed(out, st, 15, false);
	/* the streams, their totals, and the progress they make when none was recorded */
	ferry_buf_adds(out, ",\"streams\":[");
	sqlite3_bind_int64(ss, 1, job_id);
	while (sqlite3_step(ss) == SQLITE_ROW) {
		static const char *const keys[] = {"name", "table", "status", "read", "inserted",
						   "updated", "unchanged", "deleted",
						   "total_estimate", "bytes", "pages", "duplicates",
						   "collisions"};
		static const int counted[6] = {3, 4, 5, 6, 7, 9};
		for (i = 0; i < 13; i++) {
			ferry_buf_addf(out, "%s\"%s\":", i ? "," : n ? ",{" : "{", keys[i]);
			put_col(out, ss, i);
		}
		ferry_buf_addc(out, '}');
		for (i = 0; i < 6; i++)
			total[i] += icol(ss, counted[i]);
		ferry_buf_adds(&fill, n ? ",{\"name\":" : "{\"name\":");
		put_col(&fill, ss, 0);
		ferry_buf_addf(&fill, ",\"read\":%lld,\"written\":%lld,\"total_estimate\":",
			       icol(ss, 3), icol(ss, 4) + icol(ss, 5) + icol(ss, 6));
		put_col(&fill, ss, 8);
		ferry_buf_addc(&fill, '}');
		n++;
	}
	done(ss);
	ferry_buf_addf(out, "],\"max_attempts\":");
	put_col(out, st, 16);
	ferry_buf_adds(out, ",\"run_after\":");
	put_col(out, st, 17);
	ferry_buf_addf(out, ",\"cancel_requested\":%s,\"request\":",
		       sqlite3_column_int(st, 18) ? "true" : "false");
	put_parsed(out, st, 19, false);
	ferry_buf_adds(out, ",\"progress\":");
	if (!put_parsed(out, st, 20, true)) {
		status = sqlite3_column_type(st, 1) == SQLITE_TEXT
				 ? (const char *)sqlite3_column_text(st, 1) : NULL;
		ferry_buf_adds(out, "{\"stage\":");
		put_str(out, stage_of(status));
		ferry_buf_adds(out, status && !strcmp(status, "succeeded") ? ",\"percentage\":100.0"
									  : ",\"percentage\":null");
		ferry_buf_adds(out, ",\"eta_seconds\":null,\"rows_per_second\":");
		dur = icol(st, 14);
		if (dur > 0)
			put_real(out, total[0] * 1000.0 / (double)dur);
		else
			ferry_buf_adds(out, "null");
		ferry_buf_addf(out, ",\"streams\":[%s]}", fill.data);
	}
	ferry_buf_adds(out, ",\"timeout_s\":");
	put_col(out, st, 21);
	ferry_buf_addf(out, ",\"summary\":{\"read\":%lld,\"inserted\":%lld,\"updated\":%lld,"
		       "\"unchanged\":%lld,\"deleted\":%lld,\"bytes\":%lld,\"streams\":%lld}}",
		       total[0], total[1], total[2], total[3], total[4], total[5], n);
	if (out->len == out->max && out->max)
		rc = ferry_err_set(err, FERRY_ETOOBIG, "job %lld is too large to show", job_id);
out:
	done(st);
	ferry_buf_release(&fill);
	if (rc)
		ferry_buf_setlen(out, start);
	return rc;
}
