/*
 * fastread.c - prepared-once statements for the HTTP server's hot reads
 * (see fastread.h).
 *
 * The SQL and the JSON built from the rows mirror store.c (token lookup,
 * job_row_json, job_streams_json) column for column.
 */
#include <stdio.h>
#include <stdlib.h>
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

static json_t *col(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL:
		return json_null();
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(st, i));
	default:
		return json_string((const char *)sqlite3_column_text(st, i));
	}
}

static json_t *col_parsed(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	json_t *v = t ? json_loads((const char *)t, 0, NULL) : NULL;

	return v ? v : json_null();
}

static json_t *streams(struct ferry_fastread *f, long long id)
{
	sqlite3_stmt *st = f->q[Q_STREAMS];
	json_t *arr = json_array();

	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
						     "s:o, s:o, s:o}",
						     "name", col(st, 0), "table", col(st, 1),
						     "status", col(st, 2), "read", col(st, 3),
						     "inserted", col(st, 4), "updated", col(st, 5),
						     "unchanged", col(st, 6), "deleted", col(st, 7),
						     "total_estimate", col(st, 8), "bytes", col(st, 9),
						     "pages", col(st, 10), "duplicates", col(st, 11),
						     "collisions", col(st, 12)));
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
			      "id", (json_int_t)job_id, "status", col(st, 1), "mode", col(st, 2),
			      "source", col(st, 3), "destination", col(st, 4),
			      "source_id", col(st, 5), "destination_id", col(st, 6),
			      "connection_id", col(st, 7), "error_code", col(st, 8),
			      "error", col(st, 9), "attempt", col(st, 10),
			      "created_at", col(st, 11), "started_at", col(st, 12),
			      "finished_at", col(st, 13), "duration_ms", col(st, 14),
			      "options", col_parsed(st, 15), "streams", streams(f, job_id));
		if (!o) {
			rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
			break;
		}
		json_object_set_new(o, "max_attempts", col(st, 16));
		json_object_set_new(o, "run_after", col(st, 17));
		json_object_set_new(o, "cancel_requested", json_boolean(sqlite3_column_int(st, 18)));
		json_object_set_new(o, "request", col_parsed(st, 19));
		json_object_set_new(o, "progress", col_parsed(st, 20));
		json_object_set_new(o, "timeout_s", col(st, 21));
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
