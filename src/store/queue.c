/*
 * queue.c - the durable job queue and the connections' schedule state, in
 * the state store (see store.h, "the job queue and schedule state").
 *
 * The jobs table is the queue: there is no separate structure to keep in
 * step with it, so a job's row is its whole truth (status, attempt, lease,
 * request, progress). Every change that reads before it writes runs in a
 * BEGIN IMMEDIATE transaction, which SQLite serialises across processes: two
 * workers cannot claim the same job, and two triggers of one connection
 * cannot both enqueue. connection_state mirrors, per connection, what the
 * scheduler and the API show (next run, last sync, the running job); it is
 * written in the same transactions as the job it describes.
 *
 * A worker holds a claimed job under a lease that it renews by heartbeat. If
 * the lease runs out, the worker is presumed dead and the job is released:
 * queued again while attempts remain, failed "interrupted" after the last.
 * At open, a job whose process on this host is gone is released at once
 * rather than after its lease (ferry__queue_recover).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "store/deliveries.h"
#include "store/store_int.h"
#include "util/text.h"

static int begin(struct ferry_store *s, struct ferry_err *err)
{
	return ferry__store_exec(s, "BEGIN IMMEDIATE", err);
}

/* Runs a prepared statement to completion and finalizes it. */
static int run(struct ferry_store *s, sqlite3_stmt *st, const char *what, struct ferry_err *err)
{
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : ferry__store_err(s, err, what);

	sqlite3_finalize(st);
	return rc;
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v && *v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void copy_col(sqlite3_stmt *st, int i, char *out, size_t n)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	snprintf(out, n, "%s", t ? (const char *)t : "");
}

/* ---- connection_state ---- */

/*
 * Rows exist only for connections that exist (the foreign key): a job may
 * outlive its connection, and then there is nothing to mirror.
 */
static int state_running(struct ferry_store *s, const char *conn, long long job_id,
			 struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (!conn || !*conn)
		return 0;
	if ((rc = ferry__store_prepare(s, "INSERT INTO connection_state (connection_id, running_job_id) "
				       "SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM connections WHERE id = ?1) "
				       "ON CONFLICT (connection_id) DO UPDATE SET "
				       "running_job_id = excluded.running_job_id", &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, conn, -1, SQLITE_TRANSIENT);
	if (job_id > 0)
		sqlite3_bind_int64(st, 2, job_id);
	else
		sqlite3_bind_null(st, 2);
	return run(s, st, "recording the connection's running job", err);
}

static int state_ended(struct ferry_store *s, const char *conn, const char *status,
		       const char *error, const char *when, struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (!conn || !*conn)
		return 0;
	if ((rc = ferry__store_prepare(s, "INSERT INTO connection_state (connection_id, last_sync_at, "
				       "last_sync_status, last_sync_error, running_job_id) "
				       "SELECT ?1, ?2, ?3, ?4, NULL WHERE EXISTS "
				       "(SELECT 1 FROM connections WHERE id = ?1) "
				       "ON CONFLICT (connection_id) DO UPDATE SET "
				       "last_sync_at = excluded.last_sync_at, "
				       "last_sync_status = excluded.last_sync_status, "
				       "last_sync_error = excluded.last_sync_error, running_job_id = NULL",
				       &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, conn, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, when, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, status, -1, SQLITE_TRANSIENT);
	bind_opt_text(st, 4, error);
	return run(s, st, "recording the connection's last sync", err);
}

/* ---- a job's transitions (inside the caller's transaction) ---- */

/*
 * The job ends for good: status, error, finished_at, duration; the lease is
 * dropped, and its completion webhooks are queued (deliveries.h).
 */
static int job_settle(struct ferry_store *s, long long id, const char *conn, const char *status,
		      const char *code, const char *msg, long long now, struct ferry_err *err)
{
	sqlite3_stmt *st;
	char when[32];
	int rc;

	ferry_unix_iso(now, when);
	if ((rc = ferry__store_prepare(s, "UPDATE jobs SET status = ?1, error_code = ?2, error = ?3, "
				       "finished_at = ?4, lease_owner = NULL, lease_until = NULL, "
				       "duration_ms = CASE WHEN started_at IS NULL THEN NULL ELSE "
				       "CAST(round((julianday(?4) - julianday(started_at)) * 86400000) "
				       "AS INTEGER) END WHERE id = ?5", &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, status, -1, SQLITE_TRANSIENT);
	bind_opt_text(st, 2, code);
	bind_opt_text(st, 3, msg);
	sqlite3_bind_text(st, 4, when, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, id);
	if ((rc = run(s, st, "ending the job", err)))
		return rc;
	if (strcmp(status, "succeeded")) {
		if ((rc = ferry__store_prepare(s, "UPDATE job_streams SET status = 'failed' "
					       "WHERE job_id = ? AND status IN ('pending', 'running')",
					       &st, err)))
			return rc;
		sqlite3_bind_int64(st, 1, id);
		if ((rc = run(s, st, "ending the job's streams", err)))
			return rc;
	}
	if ((rc = state_ended(s, conn, status, msg, when, err)))
		return rc;
	return ferry__deliveries_job_ended(s, id, status, now, err);
}

/* Back to the queue for another attempt; the failure stays visible until then. */
static int job_requeue(struct ferry_store *s, long long id, const char *conn, long long run_after,
		       const char *code, const char *msg, struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = ferry__store_prepare(s, "UPDATE jobs SET status = 'queued', run_after = ?, "
				       "error_code = ?, error = ?, lease_owner = NULL, lease_until = NULL "
				       "WHERE id = ?", &st, err)))
		return rc;
	sqlite3_bind_int64(st, 1, run_after);
	bind_opt_text(st, 2, code);
	bind_opt_text(st, 3, msg);
	sqlite3_bind_int64(st, 4, id);
	if ((rc = run(s, st, "queueing the job again", err)))
		return rc;
	return state_running(s, conn, 0, err);
}

struct running {
	long long id;
	char conn[32];
	char owner[128];
	int attempt, max_attempts;
	bool cancel;
};

/* Reads job id if it is running (0), else FERRY_DONE. */
static int running_job(struct ferry_store *s, long long id, struct running *j,
		       struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = ferry__store_prepare(s, "SELECT connection_id, attempt, max_attempts, cancel_requested, "
				       "lease_owner FROM jobs WHERE id = ? AND status = 'running'", &st, err)))
		return rc;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		j->id = id;
		copy_col(st, 0, j->conn, sizeof(j->conn));
		j->attempt = sqlite3_column_int(st, 1);
		j->max_attempts = sqlite3_column_int(st, 2);
		j->cancel = sqlite3_column_int(st, 3) != 0;
		copy_col(st, 4, j->owner, sizeof(j->owner));
	} else {
		rc = FERRY_DONE;
	}
	sqlite3_finalize(st);
	return rc;
}

/* A running job whose worker is gone: retried while attempts remain. */
static int job_release(struct ferry_store *s, const struct running *j, const char *msg,
		       long long now, struct ferry_err *err)
{
	if (j->cancel)
		return job_settle(s, j->id, j->conn, "cancelled", "cancelled", msg, now, err);
	if (j->attempt < j->max_attempts)
		return job_requeue(s, j->id, j->conn, now, "interrupted", msg, err);
	return job_settle(s, j->id, j->conn, "failed", "interrupted", msg, now, err);
}

/* ---- the queue ---- */

void ferry_claimed_release(struct ferry_claimed *c)
{
	json_decref(c->request);
	memset(c, 0, sizeof(*c));
}

/* The connection's name for messages (its id when it has none). */
static void connection_name(struct ferry_store *s, const char *id, char *out, size_t n)
{
	sqlite3_stmt *st;

	snprintf(out, n, "%s", id);
	if (sqlite3_prepare_v2(s->db, "SELECT name FROM connections WHERE id = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		copy_col(st, 0, out, n);
	sqlite3_finalize(st);
}

static int enqueue_checks(struct ferry_store *s, const struct ferry_job_request *r,
			  long long *job_id, bool *existing, struct ferry_err *err)
{
	sqlite3_stmt *st;
	char name[128];
	int rc;

	if (r->idempotency_key) {
		if ((rc = ferry__store_prepare(s, "SELECT id FROM jobs WHERE idempotency_key = ?", &st,
					       err)))
			return rc;
		sqlite3_bind_text(st, 1, r->idempotency_key, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			*job_id = sqlite3_column_int64(st, 0);
			*existing = true;
			rc = FERRY_DONE;
		}
		sqlite3_finalize(st);
		if (rc)
			return rc;
	}
	if (!r->connection_id)
		return 0;
	if ((rc = ferry__store_prepare(s, "SELECT 1 FROM connections WHERE id = ?", &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, r->connection_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		rc = ferry_err_set(err, FERRY_ENOTFOUND,
				   "unknown connection \"%s\" (see `ferry connection list`)",
				   r->connection_id);
	sqlite3_finalize(st);
	if (rc)
		return rc;
	if ((rc = ferry__store_prepare(s, "SELECT id, status FROM jobs WHERE connection_id = ? AND "
				       "status IN ('queued', 'running') ORDER BY id LIMIT 1", &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, r->connection_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		long long other = sqlite3_column_int64(st, 0);
		connection_name(s, r->connection_id, name, sizeof(name));
		rc = ferry_err_set(err, FERRY_ECONFLICT,
				   "connection \"%s\" already has job %lld %s: a connection runs one "
				   "job at a time (wait for it, or cancel it: POST /api/v1/jobs/%lld/cancel)",
				   name, other, (const char *)sqlite3_column_text(st, 1), other);
	}
	sqlite3_finalize(st);
	return rc;
}

int ferry_store_enqueue(struct ferry_store *s, const struct ferry_job_request *r,
			long long *job_id, bool *existing, struct ferry_err *err)
{
	sqlite3_stmt *st;
	char now[32], *req = r->request ? json_dumps(r->request, JSON_COMPACT) : NULL;
	int rc;

	*existing = false;
	if (r->request && !req)
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	if ((rc = begin(s, err)))
		goto out;
	if ((rc = enqueue_checks(s, r, job_id, existing, err)))
		goto done;
	ferry_now_iso(now);
	if ((rc = ferry__store_prepare(s, "INSERT INTO jobs (connection_id, source_id, source_name, "
				       "dest_id, dest_name, mode, status, attempt, created_at, run_after, "
				       "max_attempts, idempotency_key, request, timeout_s) VALUES "
				       "(?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?, ?)", &st, err)))
		goto done;
	bind_opt_text(st, 1, r->connection_id);
	bind_opt_text(st, 2, r->source_id);
	bind_opt_text(st, 3, r->source_name);
	bind_opt_text(st, 4, r->dest_id);
	bind_opt_text(st, 5, r->dest_name);
	sqlite3_bind_text(st, 6, r->mode ? r->mode : "incremental", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, now, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, r->run_after);
	sqlite3_bind_int(st, 9, r->max_attempts > 0 ? r->max_attempts : 3);
	bind_opt_text(st, 10, r->idempotency_key);
	bind_opt_text(st, 11, req);
	if (r->timeout_s > 0)
		sqlite3_bind_int64(st, 12, r->timeout_s);
	else
		sqlite3_bind_null(st, 12);
	if (!(rc = run(s, st, "queueing the job", err)))
		*job_id = sqlite3_last_insert_rowid(s->db);
done:
	rc = ferry__store_end(s, rc, err);
	if (rc == FERRY_DONE)
		rc = 0;
out:
	free(req);
	return rc;
}

static int claim_pick(struct ferry_store *s, long long now, long long *id, struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	/* Oldest ready first; a connection's job waits while another of its jobs runs. */
	if ((rc = ferry__store_prepare(s, "SELECT id FROM jobs AS j WHERE status = 'queued' AND "
				       "run_after <= ? AND (connection_id IS NULL OR NOT EXISTS "
				       "(SELECT 1 FROM jobs AS r WHERE r.connection_id = j.connection_id "
				       "AND r.status = 'running')) ORDER BY run_after, id LIMIT 1",
				       &st, err)))
		return rc;
	sqlite3_bind_int64(st, 1, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? FERRY_DONE : ferry__store_err(s, err, "looking for a queued job");
	}
	sqlite3_finalize(st);
	return rc;
}

static int claim_read(struct ferry_store *s, long long id, struct ferry_claimed *out,
		      struct ferry_err *err)
{
	sqlite3_stmt *st;
	const char *req;
	int rc;

	if ((rc = ferry__store_prepare(s, "SELECT attempt, max_attempts, timeout_s, lease_until, "
				       "connection_id, source_id, dest_id, mode, request FROM jobs "
				       "WHERE id = ?", &st, err)))
		return rc;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return ferry__store_err(s, err, "reading the claimed job");
	}
	memset(out, 0, sizeof(*out));
	out->job_id = id;
	out->attempt = sqlite3_column_int(st, 0);
	out->max_attempts = sqlite3_column_int(st, 1);
	out->timeout_s = sqlite3_column_int64(st, 2);
	out->lease_until = sqlite3_column_int64(st, 3);
	copy_col(st, 4, out->connection_id, sizeof(out->connection_id));
	copy_col(st, 5, out->source_id, sizeof(out->source_id));
	copy_col(st, 6, out->dest_id, sizeof(out->dest_id));
	copy_col(st, 7, out->mode, sizeof(out->mode));
	req = (const char *)sqlite3_column_text(st, 8);
	out->request = req ? json_loads(req, 0, NULL) : NULL;
	if (!json_is_object(out->request)) {
		json_decref(out->request);
		out->request = json_object();
	}
	sqlite3_finalize(st);
	return 0;
}

int ferry_store_claim(struct ferry_store *s, const char *owner, long long lease_s, long long now,
		      struct ferry_claimed *out, struct ferry_err *err)
{
	sqlite3_stmt *st;
	char when[32];
	long long id = 0;
	int rc;

	if ((rc = begin(s, err)))
		return rc;
	if ((rc = claim_pick(s, now, &id, err)))
		goto out;
	ferry_unix_iso(now, when);
	/* pid and host let a restart on this machine release the job before its lease ends. */
	if ((rc = ferry__store_prepare(s, "UPDATE jobs SET status = 'running', attempt = attempt + 1, "
				       "lease_owner = ?, lease_until = ?, started_at = ?, "
				       "finished_at = NULL, duration_ms = NULL, pid = ?, host = ? "
				       "WHERE id = ?", &st, err)))
		goto out;
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now + lease_s);
	sqlite3_bind_text(st, 3, when, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (long long)getpid());
	sqlite3_bind_text(st, 5, s->host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, id);
	if ((rc = run(s, st, "claiming the job", err)) || (rc = claim_read(s, id, out, err)))
		goto out;
	if ((rc = state_running(s, out->connection_id, id, err)))
		ferry_claimed_release(out);
out:
	return ferry__store_end(s, rc, err);
}

/* Why a lease holder's call was refused: the job is unknown, or not its own any more. */
static int lease_lost(struct ferry_store *s, long long id, const char *owner,
		      struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = ferry__store_prepare(s, "SELECT status, lease_owner FROM jobs WHERE id = ?", &st,
				       err)))
		return rc;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_ROW)
		rc = ferry_err_set(err, FERRY_ENOTFOUND, "unknown job %lld (see `ferry jobs`)", id);
	else
		rc = ferry_err_set(err, FERRY_ECONFLICT,
				   "job %lld is no longer leased by %s (it is %s%s%s): its lease "
				   "expired and the job was released; stop working on it",
				   id, owner, (const char *)sqlite3_column_text(st, 0),
				   sqlite3_column_text(st, 1) ? ", leased by " : "",
				   sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "");
	sqlite3_finalize(st);
	return rc;
}

int ferry_store_heartbeat(struct ferry_store *s, long long job_id, const char *owner,
			  long long lease_s, long long now, struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = ferry__store_prepare(s, "UPDATE jobs SET lease_until = ? WHERE id = ? AND "
				       "status = 'running' AND lease_owner = ?", &st, err)))
		return rc;
	sqlite3_bind_int64(st, 1, now + lease_s);
	sqlite3_bind_int64(st, 2, job_id);
	sqlite3_bind_text(st, 3, owner, -1, SQLITE_STATIC);
	if ((rc = run(s, st, "renewing the job's lease", err)))
		return rc;
	if (sqlite3_changes(s->db) == 0)
		return lease_lost(s, job_id, owner, err);
	return 0;
}

/* The running job, if owner holds its lease. */
static int owned_job(struct ferry_store *s, long long id, const char *owner, struct running *j,
		     struct ferry_err *err)
{
	int rc = running_job(s, id, j, err);

	if (rc == FERRY_DONE || (!rc && strcmp(j->owner, owner)))
		return lease_lost(s, id, owner, err);
	return rc;
}

int ferry_store_finish(struct ferry_store *s, long long job_id, const char *owner,
		       const char *status, const char *error_code, const char *error_msg,
		       long long retry_after_s, long long now, bool *requeued, struct ferry_err *err)
{
	struct running j;
	bool failed = !strcmp(status, "failed");
	int rc;

	if (requeued)
		*requeued = false;
	if (!failed && strcmp(status, "succeeded") && strcmp(status, "cancelled"))
		return ferry_err_set(err, FERRY_EINTERNAL,
				     "ending job %lld: \"%s\" is not a final status (succeeded, "
				     "failed or cancelled)", job_id, status);
	if ((rc = begin(s, err)))
		return rc;
	if ((rc = owned_job(s, job_id, owner, &j, err)))
		goto out;
	if (failed && j.cancel) {
		rc = job_settle(s, job_id, j.conn, "cancelled", error_code, error_msg, now, err);
	} else if (failed && retry_after_s >= 0 && j.attempt < j.max_attempts) {
		rc = job_requeue(s, job_id, j.conn, now + retry_after_s, error_code, error_msg, err);
		if (!rc && requeued)
			*requeued = true;
	} else {
		rc = job_settle(s, job_id, j.conn, status, error_code, error_msg, now, err);
	}
out:
	return ferry__store_end(s, rc, err);
}

int ferry_store_release(struct ferry_store *s, long long job_id, const char *owner, long long now,
			bool *released, struct ferry_err *err)
{
	sqlite3_stmt *st;
	struct running j;
	int rc;

	if (released)
		*released = false;
	if ((rc = begin(s, err)))
		return rc;
	if ((rc = owned_job(s, job_id, owner, &j, err)))
		goto out;
	if (j.cancel) {
		/* Someone asked it to stop: that is what happened. */
		rc = job_settle(s, job_id, j.conn, "cancelled", "cancelled",
				"cancelled while the worker was stopping", now, err);
		goto out;
	}
	/* The attempt did not fail: it is given back, uncounted, as if never claimed. */
	if ((rc = ferry__store_prepare(s, "UPDATE jobs SET status = 'queued', run_after = ?, "
				       "attempt = max(attempt - 1, 0), lease_owner = NULL, "
				       "lease_until = NULL, started_at = NULL, pid = NULL, host = NULL "
				       "WHERE id = ?", &st, err)))
		goto out;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, job_id);
	if ((rc = run(s, st, "putting the job back in the queue", err)) ||
	    (rc = state_running(s, j.conn, 0, err)))
		goto out;
	if (released)
		*released = true;
out:
	return ferry__store_end(s, rc, err);
}

/* Running jobs matching where (one bound integer) as a malloc'd list of ids. */
static int job_ids(struct ferry_store *s, const char *sql, long long arg, long long **ids,
		   int *n, struct ferry_err *err)
{
	sqlite3_stmt *st;
	long long *v = NULL, *nv;
	int rc, cnt = 0;

	*ids = NULL;
	*n = 0;
	if ((rc = ferry__store_prepare(s, sql, &st, err)))
		return rc;
	sqlite3_bind_int64(st, 1, arg);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!(nv = realloc(v, sizeof(*v) * (size_t)(cnt + 1)))) {
			sqlite3_finalize(st);
			free(v);
			return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		}
		v = nv;
		v[cnt++] = sqlite3_column_int64(st, 0);
	}
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

int ferry_store_requeue_expired(struct ferry_store *s, long long now, int *n,
				struct ferry_err *err)
{
	long long *ids = NULL;
	int rc, i, cnt = 0, done = 0;

	if (n)
		*n = 0;
	if ((rc = begin(s, err)))
		return rc;
	if ((rc = job_ids(s, "SELECT id FROM jobs WHERE status = 'running' AND lease_until IS NOT NULL "
			  "AND lease_until < ?", now, &ids, &cnt, err)))
		goto out;
	for (i = 0; i < cnt && !rc; i++) {
		struct running j;
		char msg[200];
		if ((rc = running_job(s, ids[i], &j, err)) == FERRY_DONE) {
			rc = 0;
			continue;
		}
		if (rc)
			break;
		snprintf(msg, sizeof(msg),
			 "interrupted: attempt %d stopped renewing its lease (the worker ended or "
			 "stalled)%s", j.attempt,
			 j.attempt < j.max_attempts && !j.cancel ? "; it will be retried" : "");
		if (!(rc = job_release(s, &j, msg, now, err)))
			done++;
	}
out:
	free(ids);
	rc = ferry__store_end(s, rc, err);
	if (!rc && n)
		*n = done;
	return rc;
}

/*
 * Only jobs on this host can be checked (by pid); a job of another machine
 * waits for its lease to end, and one of an old `ferry sync` on another
 * machine stays as it is (it has no lease to end).
 */
int ferry__queue_recover(struct ferry_store *s, struct ferry_err *err)
{
	sqlite3_stmt *st;
	struct {
		long long id, pid;
		bool leased;
	} *dead = NULL, *nv;
	long long now = (long long)time(NULL);
	int rc, i, n = 0;

	if ((rc = ferry__store_prepare(s, "SELECT id, pid, lease_owner IS NOT NULL FROM jobs "
				       "WHERE status = 'running' AND host = ?", &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, s->host, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		long long pid = sqlite3_column_int64(st, 1);
		if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		if (!(nv = realloc(dead, sizeof(*dead) * (size_t)(n + 1)))) {
			sqlite3_finalize(st);
			free(dead);
			return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		}
		dead = nv;
		dead[n].id = sqlite3_column_int64(st, 0);
		dead[n].pid = pid;
		dead[n++].leased = sqlite3_column_int(st, 2) != 0;
	}
	sqlite3_finalize(st);
	if (!n)
		return 0;
	if ((rc = begin(s, err)))
		goto out;
	for (i = 0; i < n && !rc; i++) {
		struct running j;
		char msg[200];
		if ((rc = running_job(s, dead[i].id, &j, err)) == FERRY_DONE) {
			rc = 0;
			continue;
		}
		if (rc)
			break;
		if (!dead[i].leased) {
			snprintf(msg, sizeof(msg),
				 "interrupted: the ferry process (pid %lld) ended while the job was "
				 "running; run the sync again", dead[i].pid);
			rc = job_settle(s, j.id, j.conn, "failed", "interrupted", msg, now, err);
		} else {
			snprintf(msg, sizeof(msg),
				 "interrupted: the ferry process (pid %lld) running attempt %d ended%s",
				 dead[i].pid, j.attempt,
				 j.attempt < j.max_attempts && !j.cancel ? "; it will be retried" : "");
			rc = job_release(s, &j, msg, now, err);
		}
	}
	rc = ferry__store_end(s, rc, err);
out:
	free(dead);
	return rc;
}

/* ---- cancel, progress ---- */

int ferry_store_request_cancel(struct ferry_store *s, long long job_id, char *status_out,
			       struct ferry_err *err)
{
	sqlite3_stmt *st;
	char status[16] = "", conn[32] = "";
	int rc;

	if ((rc = begin(s, err)))
		return rc;
	if ((rc = ferry__store_prepare(s, "SELECT status, connection_id FROM jobs WHERE id = ?", &st,
				       err)))
		goto out;
	sqlite3_bind_int64(st, 1, job_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		copy_col(st, 0, status, sizeof(status));
		copy_col(st, 1, conn, sizeof(conn));
	} else {
		rc = ferry_err_set(err, FERRY_ENOTFOUND, "unknown job %lld (see `ferry jobs`)", job_id);
	}
	sqlite3_finalize(st);
	if (rc)
		goto out;
	if (strcmp(status, "queued") && strcmp(status, "running")) {
		rc = ferry_err_set(err, FERRY_ECONFLICT,
				   "job %lld already ended (%s): there is nothing to cancel", job_id,
				   status);
		goto out;
	}
	if ((rc = ferry__store_prepare(s, "UPDATE jobs SET cancel_requested = 1 WHERE id = ?", &st,
				       err)))
		goto out;
	sqlite3_bind_int64(st, 1, job_id);
	if ((rc = run(s, st, "asking the job to stop", err)))
		goto out;
	if (!strcmp(status, "queued")) {
		rc = job_settle(s, job_id, conn, "cancelled", NULL, NULL, (long long)time(NULL), err);
		snprintf(status, sizeof(status), "cancelled");
	}
out:
	rc = ferry__store_end(s, rc, err);
	if (!rc && status_out)
		snprintf(status_out, 16, "%s", status);
	return rc;
}

int ferry_store_cancel_requested(struct ferry_store *s, long long job_id, bool *yes,
				 struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = ferry__store_prepare(s, "SELECT cancel_requested FROM jobs WHERE id = ?", &st, err)))
		return rc;
	sqlite3_bind_int64(st, 1, job_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		*yes = sqlite3_column_int(st, 0) != 0;
	else
		rc = ferry_err_set(err, FERRY_ENOTFOUND, "unknown job %lld (see `ferry jobs`)", job_id);
	sqlite3_finalize(st);
	return rc;
}

int ferry_store_job_progress(struct ferry_store *s, long long job_id, json_t *progress,
			     struct ferry_err *err)
{
	sqlite3_stmt *st;
	char *text = progress ? json_dumps(progress, JSON_COMPACT) : NULL;
	int rc;

	if (progress && !text)
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	if ((rc = ferry__store_prepare(s, "UPDATE jobs SET progress = ? WHERE id = ?", &st, err))) {
		free(text);
		return rc;
	}
	bind_opt_text(st, 1, text);
	sqlite3_bind_int64(st, 2, job_id);
	rc = run(s, st, "recording progress", err);
	free(text);
	return rc;
}

/* ---- the schedule ---- */

/* Nothing of the connection's queued or running (an index probe). */
#define NOTHING_IN_FLIGHT \
	"NOT EXISTS (SELECT 1 FROM jobs AS j WHERE j.connection_id = cs.connection_id " \
	"AND j.status IN ('queued', 'running'))"

/* Appends the rows of sql (bound: ?1 now, ?2 limit) to v, up to limit in all. */
static int due_add(struct ferry_store *s, const char *sql, long long now, int limit,
		   struct ferry_due **v, int *n, struct ferry_err *err)
{
	sqlite3_stmt *st;
	struct ferry_due *nv;
	int rc;

	if ((rc = ferry__store_prepare(s, sql, &st, err)))
		return rc;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, limit > 0 ? limit - *n : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!(nv = realloc(*v, sizeof(**v) * (size_t)(*n + 1)))) {
			sqlite3_finalize(st);
			return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		}
		*v = nv;
		copy_col(st, 0, nv[*n].connection_id, sizeof(nv[*n].connection_id));
		nv[(*n)++].next_run_at = sqlite3_column_type(st, 1) == SQLITE_NULL
						 ? -1 : sqlite3_column_int64(st, 1);
	}
	rc = rc == SQLITE_DONE ? 0 : ferry__store_err(s, err, "finding due connections");
	sqlite3_finalize(st);
	return rc;
}

/*
 * connection_state.scheduled says whether a connection runs on its own; the
 * store's triggers keep it from the settings (store.c, migration 4), so a
 * tick reads the (scheduled, next_run_at) index, not 10,000 settings objects.
 * Two queries, each in index order and so able to stop at the limit:
 * connections never scheduled yet (oldest first), then the overdue ones
 * (most overdue first).
 */
int ferry_store_due(struct ferry_store *s, long long now, int limit, struct ferry_due **out,
		    int *n, struct ferry_err *err)
{
	struct ferry_due *v = NULL;
	int rc, cnt = 0;

	*out = NULL;
	*n = 0;
	/* One read transaction: a connection is in one list or the other, never both. */
	if ((rc = ferry__store_exec(s, "BEGIN", err)))
		return rc;
	rc = due_add(s, "SELECT connection_id, NULL FROM connection_state AS cs WHERE scheduled = 1 "
		     "AND next_run_at IS NULL AND ?1 = ?1 AND " NOTHING_IN_FLIGHT " ORDER BY rowid "
		     "LIMIT ?2", now, limit, &v, &cnt, err);
	if (!rc && (limit <= 0 || cnt < limit))
		rc = due_add(s, "SELECT connection_id, next_run_at FROM connection_state AS cs "
			     "WHERE scheduled = 1 AND next_run_at <= ?1 AND " NOTHING_IN_FLIGHT
			     " ORDER BY next_run_at, rowid LIMIT ?2", now, limit, &v, &cnt, err);
	rc = ferry__store_end(s, rc, err);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int ferry_store_set_next_run(struct ferry_store *s, const char *connection_id,
			     long long next_run_at, struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = ferry__store_prepare(s, "INSERT INTO connection_state (connection_id, next_run_at) "
				       "SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM connections WHERE id = ?1) "
				       "ON CONFLICT (connection_id) DO UPDATE SET "
				       "next_run_at = excluded.next_run_at", &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, connection_id, -1, SQLITE_STATIC);
	if (next_run_at >= 0)
		sqlite3_bind_int64(st, 2, next_run_at);
	else
		sqlite3_bind_null(st, 2);
	if ((rc = run(s, st, "saving the next run time", err)))
		return rc;
	if (sqlite3_changes(s->db) == 0)
		return ferry_err_set(err, FERRY_ENOTFOUND,
				     "unknown connection \"%s\" (see `ferry connection list`)",
				     connection_id);
	return 0;
}

/* An integer column of unix seconds as "2026-11-23T10:00:00.000Z" (the store's other times' form), or null. */
static json_t *unix_iso_or_null(sqlite3_stmt *st, int col)
{
	char out[32];

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return json_null();
	ferry_unix_iso(sqlite3_column_int64(st, col), out);
	return json_string(out);
}

int ferry_store_connection_state(struct ferry_store *s, const char *connection_id, json_t **out,
				 struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = ferry__store_prepare(s, "SELECT cs.next_run_at, cs.last_sync_at, cs.last_sync_status, "
				       "cs.last_sync_error, cs.running_job_id FROM connections AS c "
				       "LEFT JOIN connection_state AS cs ON cs.connection_id = c.id "
				       "WHERE c.id = ?", &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, connection_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = json_pack("{s:o, s:o, s:o, s:o, s:o}", "next_run_at", unix_iso_or_null(st, 0),
				 "last_sync_at", ferry__col_json(st, 1),
				 "last_sync_status", ferry__col_json(st, 2),
				 "last_sync_error", ferry__col_json(st, 3),
				 "running_job_id", ferry__col_json(st, 4));
	else
		rc = ferry_err_set(err, FERRY_ENOTFOUND,
				   "unknown connection \"%s\" (see `ferry connection list`)",
				   connection_id);
	sqlite3_finalize(st);
	return rc;
}

int ferry_store_queue_depth(struct ferry_store *s, long long *n, struct ferry_err *err)
{
	return ferry_store_jobs_count(s, "queued", n, err);
}
