/*
 * metrics.c - the queries behind GET /metrics (see metrics.h).
 *
 * Three statements in one read transaction: jobs by status (the status
 * index alone), the duration histogram (one pass over ended jobs, every
 * bucket summed in the same row), and the per-connection figures (rows
 * written and last success grouped by connection, joined to every
 * connection so a new one shows up at 0 before its first job).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ferry/buf.h"
#include "store/metrics.h"
#include "store/store_int.h"

const double ferry_metrics_buckets[FERRY_METRICS_NBUCKETS] = {1,   5,    15,   30,   60,  120,
							       300, 900, 1800, 3600, 10800};
const char *const ferry_metrics_statuses[FERRY_METRICS_NSTATUS] = {
	"queued", "running", "succeeded", "failed", "cancelled"};

#define ENDED "('succeeded', 'failed', 'cancelled')"

static int by_status(struct ferry_store *s, struct ferry_metrics *m, struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc, i;

	if ((rc = ferry__store_prepare(s, "SELECT status, count(*) FROM jobs GROUP BY status", &st,
				       err)))
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *status = (const char *)sqlite3_column_text(st, 0);
		for (i = 0; i < FERRY_METRICS_NSTATUS; i++)
			if (status && !strcmp(status, ferry_metrics_statuses[i]))
				m->jobs[i] = sqlite3_column_int64(st, 1);
	}
	rc = rc == SQLITE_DONE ? 0 : ferry__store_err(s, err, "counting jobs by status");
	sqlite3_finalize(st);
	return rc;
}

static int durations(struct ferry_store *s, struct ferry_metrics *m, struct ferry_err *err)
{
	struct ferry_buf sql;
	sqlite3_stmt *st;
	int rc, i;

	ferry_buf_init(&sql, 4096);
	ferry_buf_adds(&sql, "SELECT count(*), total(duration_ms)");
	for (i = 0; i < FERRY_METRICS_NBUCKETS; i++)
		ferry_buf_addf(&sql, ", total(duration_ms <= %.0f)", ferry_metrics_buckets[i] * 1000);
	if ((rc = ferry_buf_adds(&sql, " FROM jobs WHERE status IN " ENDED
				 " AND duration_ms IS NOT NULL"))) {
		ferry_buf_release(&sql);
		return ferry_err_set(err, rc, "out of memory");
	}
	rc = ferry__store_prepare(s, sql.data, &st, err);
	ferry_buf_release(&sql);
	if (rc)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW) {
		m->duration_count = sqlite3_column_int64(st, 0);
		m->duration_sum = sqlite3_column_double(st, 1) / 1000.0;
		for (i = 0; i < FERRY_METRICS_NBUCKETS; i++)
			m->duration_le[i] = (long long)sqlite3_column_double(st, 2 + i);
	} else {
		rc = ferry__store_err(s, err, "summing job durations");
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * cid is NULL for ad-hoc jobs; UNION keeps one NULL, and "IS" joins it.
 * Connections that were removed keep their jobs, named by their id.
 */
static const char conn_sql[] =
	"WITH r AS (SELECT j.connection_id AS cid, "
	"    total(s.inserted + s.updated + s.unchanged) AS n FROM jobs AS j "
	"    JOIN job_streams AS s ON s.job_id = j.id WHERE j.status IN " ENDED
	"    GROUP BY j.connection_id), "
	"  l AS (SELECT connection_id AS cid, max(finished_at) AS t FROM jobs "
	"    WHERE status = 'succeeded' AND connection_id IS NOT NULL GROUP BY connection_id), "
	"  ids AS (SELECT id AS cid FROM connections UNION SELECT cid FROM r UNION SELECT cid FROM l) "
	"SELECT ids.cid, coalesce(c.name, ids.cid, ''), coalesce(r.n, 0), "
	"  (julianday(l.t) - 2440587.5) * 86400.0 FROM ids "
	"  LEFT JOIN connections AS c ON c.id = ids.cid "
	"  LEFT JOIN r ON r.cid IS ids.cid LEFT JOIN l ON l.cid = ids.cid "
	"ORDER BY 2, 1";

static int connections(struct ferry_store *s, struct ferry_metrics *m, struct ferry_err *err)
{
	struct ferry_metrics_conn *v;
	sqlite3_stmt *st;
	int rc;

	if ((rc = ferry__store_prepare(s, conn_sql, &st, err)))
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);
		const char *name = (const char *)sqlite3_column_text(st, 1);
		if (!(v = realloc(m->conns, sizeof(*v) * (size_t)(m->nconns + 1)))) {
			sqlite3_finalize(st);
			return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		}
		m->conns = v;
		v += m->nconns;
		memset(v, 0, sizeof(*v));
		snprintf(v->id, sizeof(v->id), "%s", id ? id : "");
		if (!(v->name = strdup(name ? name : ""))) {
			sqlite3_finalize(st);
			return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		}
		v->rows_written = (long long)sqlite3_column_double(st, 2);
		v->last_success = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1
									: sqlite3_column_double(st, 3);
		m->nconns++;
	}
	rc = rc == SQLITE_DONE ? 0 : ferry__store_err(s, err, "summing rows per connection");
	sqlite3_finalize(st);
	return rc;
}

int ferry_store_metrics(struct ferry_store *s, struct ferry_metrics *out, struct ferry_err *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = ferry__store_exec(s, "BEGIN", err)))
		return rc;
	if (!(rc = by_status(s, out, err)) && !(rc = durations(s, out, err)))
		rc = connections(s, out, err);
	sqlite3_exec(s->db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
	if (rc)
		ferry_metrics_release(out);
	return rc;
}

void ferry_metrics_release(struct ferry_metrics *m)
{
	int i;

	for (i = 0; i < m->nconns; i++)
		free(m->conns[i].name);
	free(m->conns);
	memset(m, 0, sizeof(*m));
}
