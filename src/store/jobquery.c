/*
 * jobquery.c - filtered, paginated job history (see jobquery.h).
 *
 * The page is chosen by one query over the jobs' ids (the primary key,
 * walked downwards from the cursor; status and connection narrow it through
 * their indexes), asking for one row more than the page to learn whether
 * another page follows. Each job on the page is then read whole by
 * ferry_store_job, so every route shows a job in exactly one shape.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "store/jobquery.h"
#include "store/store_int.h"
#include "util/text.h"

/* The ids of the page (up to limit + 1) into a malloc'd array. */
static int page_ids(struct ferry_store *s, const struct ferry_job_filter *f, long long **ids,
		    int *n, struct ferry_err *err)
{
	sqlite3_stmt *st;
	long long *v;
	char since[32], sql[256];
	int rc, cnt = 0;

	*ids = NULL;
	*n = 0;
	if (!(v = malloc(sizeof(*v) * (size_t)(f->limit + 1))))
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	/*
	 * Only the conditions given, so SQLite can walk an index for them
	 * ("?1 IS NULL OR ..." would hide every index). created_at is
	 * "YYYY-MM-DDTHH:MM:SS.mmmZ": compared as text with the second it must
	 * not precede, it keeps every job of that second.
	 */
	snprintf(sql, sizeof(sql), "SELECT id FROM jobs WHERE 1%s%s%s%s ORDER BY id DESC LIMIT ?5",
		 f->before_id > 0 ? " AND id < ?1" : "", f->status ? " AND status = ?2" : "",
		 f->connection_id ? " AND connection_id = ?3" : "",
		 f->since >= 0 ? " AND created_at >= ?4" : "");
	if ((rc = ferry__store_prepare(s, sql, &st, err))) {
		free(v);
		return rc;
	}
	if (f->before_id > 0)
		sqlite3_bind_int64(st, 1, f->before_id);
	if (f->status)
		sqlite3_bind_text(st, 2, f->status, -1, SQLITE_STATIC);
	if (f->connection_id)
		sqlite3_bind_text(st, 3, f->connection_id, -1, SQLITE_STATIC);
	if (f->since >= 0) {
		ferry_unix_iso(f->since, since);
		since[19] = '\0';   /* "2026-11-23T10:00:00": a prefix of the stored times */
		sqlite3_bind_text(st, 4, since, -1, SQLITE_STATIC);
	}
	sqlite3_bind_int(st, 5, f->limit + 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		v[cnt++] = sqlite3_column_int64(st, 0);
	rc = rc == SQLITE_DONE ? 0 : ferry__store_err(s, err, "listing jobs");
	sqlite3_finalize(st);
	if (rc) {
		free(v);
		return rc;
	}
	*ids = v;
	*n = cnt;
	return 0;
}

int ferry_store_job_query(struct ferry_store *s, const struct ferry_job_filter *f, json_t **jobs,
			  bool *more, struct ferry_err *err)
{
	long long *ids;
	json_t *arr, *job;
	int rc, n, i;

	*jobs = NULL;
	*more = false;
	if (f->limit < 1 || f->limit > 1000)
		return ferry_err_set(err, FERRY_EUSAGE, "a page holds 1 to 1000 jobs, not %d", f->limit);
	if ((rc = ferry__store_exec(s, "BEGIN", err)))
		return rc;
	/* One read transaction: the page and its jobs come from the same snapshot. */
	if ((rc = page_ids(s, f, &ids, &n, err)))
		goto out;
	if (!(arr = json_array())) {
		rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		goto out_ids;
	}
	for (i = 0; i < n && i < f->limit; i++) {
		if ((rc = ferry_store_job(s, ids[i], &job, err))) {
			json_decref(arr);
			goto out_ids;
		}
		json_array_append_new(arr, job);
	}
	*more = n > f->limit;
	*jobs = arr;
out_ids:
	free(ids);
out:
	sqlite3_exec(s->db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
	return rc;
}

int ferry_store_last_job_id(struct ferry_store *s, long long *id, struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	*id = 0;
	if ((rc = ferry__store_prepare(s, "SELECT coalesce(max(id), 0) FROM jobs", &st, err)))
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW)
		*id = sqlite3_column_int64(st, 0);
	else
		rc = ferry__store_err(s, err, "reading the last job id");
	sqlite3_finalize(st);
	return rc;
}

int ferry_store_connection_job_after(struct ferry_store *s, const char *connection_id,
				     long long after_id, long long *job_id, struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	*job_id = 0;
	if ((rc = ferry__store_prepare(s, "SELECT min(id) FROM jobs WHERE connection_id = ? AND id > ?",
				       &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, connection_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, after_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		*job_id = sqlite3_column_int64(st, 0);
	else
		rc = ferry__store_err(s, err, "finding the connection's new job");
	sqlite3_finalize(st);
	return rc;
}
