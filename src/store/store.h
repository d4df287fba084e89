/*
 * store.h - the state store: sources, destinations, connections, jobs, state.
 *
 * One SQLite file (WAL, versioned migrations). Sources, destinations and
 * connections share one shape, an "entity": a stable id ("src_1a2b…"), a
 * unique name, a type and a JSON object of settings in which secret values
 * are sealed ({"$secret": "fv1:…"}, see util/crypto.h). Commands find an
 * entity by id or by name; an unknown one is an error that suggests the
 * closest name. Jobs and their per-stream counts are rows; list and show
 * calls hand back JSON (jansson) that the CLI prints or renders.
 *
 * Ownership: out-parameters are the caller's; release entities with
 * ferry_entity_release and JSON with json_decref.
 */
#ifndef FERRY_STORE_H
#define FERRY_STORE_H

#include <stdbool.h>
#include <jansson.h>
#include "ferry/err.h"
#include "ferry/config.h"
#include "util/crypto.h"

struct ferry_store;

enum ferry_kind_entity {
	FERRY_SOURCE,
	FERRY_DESTINATION,
	FERRY_CONNECTION,
};

struct ferry_entity {
	char id[32];
	char *name;
	char *type;
	json_t *settings;   /* secrets sealed as {"$secret": "..."} */
	char *created_at;
	char *updated_at;
};

/*
 * Opens (creating) the store, migrates it, and settles jobs left running by
 * dead processes on this host: a job claimed from the queue is released (retried
 * while attempts remain), a `ferry sync` job is marked failed "interrupted".
 */
int ferry_store_open(const char *path, struct ferry_store **out, struct ferry_err *err);
void ferry_store_close(struct ferry_store *s);
const char *ferry_store_path(const struct ferry_store *s);
int ferry_store_schema_version(void);

/* Runs "BEGIN IMMEDIATE", "COMMIT" or "ROLLBACK" (to group several puts). */
int ferry_store_tx(struct ferry_store *s, const char *sql, struct ferry_err *err);

/* "source", "destination", "connection". */
const char *ferry_entity_word(enum ferry_kind_entity k);

/*
 * Creates (or, with update, replaces the settings of) an entity. settings is
 * borrowed; values of keys for which is_secret(key) is true are sealed with
 * key (FERRY_EKEY when key is NULL and a secret is present). id_out gets the id.
 */
int ferry_store_put(struct ferry_store *s, enum ferry_kind_entity k, const char *name,
		    const char *type, json_t *settings, bool (*is_secret)(const char *type, json_t *settings, const char *key),
		    const struct ferry_key *key, bool update, char id_out[32], bool *created,
		    struct ferry_err *err);
/* Finds by id or name. FERRY_ENOTFOUND with a "did you mean" when unknown. */
int ferry_store_get(struct ferry_store *s, enum ferry_kind_entity k, const char *name_or_id,
		    struct ferry_entity *out, struct ferry_err *err);
int ferry_store_list(struct ferry_store *s, enum ferry_kind_entity k, struct ferry_entity **out,
		     int *n, struct ferry_err *err);
/*
 * Removes an entity. FERRY_ECONFLICT for a source or destination that a
 * connection uses, and for a connection with a job queued or running.
 */
int ferry_store_rm(struct ferry_store *s, enum ferry_kind_entity k, const char *name_or_id,
		   struct ferry_err *err);
void ferry_entity_release(struct ferry_entity *e);
void ferry_entities_free(struct ferry_entity *v, int n);

/* Plaintext settings (secrets opened with key; FERRY_EKEY when key is NULL and one is sealed). */
int ferry_entity_config(const struct ferry_entity *e, enum ferry_kind_entity k,
			const struct ferry_key *key, struct ferry_config *out, struct ferry_err *err);
/* Settings for display: secrets as "********". New reference. */
json_t *ferry_entity_redacted(const struct ferry_entity *e);
/* Whether any setting is sealed. */
bool ferry_entity_has_secrets(const struct ferry_entity *e);

/* ---- jobs ---- */

struct ferry_job_stream {
	const char *name;
	const char *table;
	const char *status;   /* "pending", "running", "done", "failed" */
	long long read, inserted, updated, unchanged, deleted, estimate, bytes;
	long long pages, duplicates, collisions;   /* API sources */
};

/* Records a new running job owned by this process. */
int ferry_store_job_begin(struct ferry_store *s, const char *connection_id, const char *source_id,
			  const char *source_name, const char *dest_id, const char *dest_name,
			  const char *mode, json_t *options, long long *job_id, struct ferry_err *err);
/* Replaces the per-stream counts (progress). */
int ferry_store_job_streams(struct ferry_store *s, long long job_id,
			    const struct ferry_job_stream *v, int n, struct ferry_err *err);
/* Ends a job: status "succeeded" | "failed" | "cancelled"; error_code/msg may be NULL. */
int ferry_store_job_end(struct ferry_store *s, long long job_id, const char *status,
			const char *error_code, const char *error_msg, struct ferry_err *err);
/* Jobs newest first as a JSON array (limit <= 0: all). */
int ferry_store_jobs(struct ferry_store *s, int limit, json_t **out, struct ferry_err *err);
int ferry_store_job(struct ferry_store *s, long long job_id, json_t **out, struct ferry_err *err);
/* Like ferry_store_jobs, only jobs with status when status is not NULL. */
int ferry_store_jobs_with(struct ferry_store *s, int limit, const char *status, json_t **out,
			  struct ferry_err *err);
/* How many jobs have status ("queued": the queue depth). */
int ferry_store_jobs_count(struct ferry_store *s, const char *status, long long *n,
			   struct ferry_err *err);

/*
 * ---- the job queue and schedule state (queue.c) ----
 *
 * A job is enqueued as 'queued' with run_after (unix seconds); a worker
 * claims the oldest ready one, which marks it 'running' under a lease
 * (lease_owner, lease_until) that the worker extends by heartbeat; the
 * worker finishes it 'succeeded', 'failed' or 'cancelled', or, for a
 * retryable failure before max_attempts, back to 'queued' with a later
 * run_after. A lease that expires (the worker died or stalled) puts the job
 * back in the queue, or fails it "interrupted" after its last attempt.
 * A connection never has two jobs queued or running at once. Every call that
 * reads or writes several rows runs in one BEGIN IMMEDIATE transaction, so
 * several processes may share the store. Times are unix seconds passed in by
 * the caller (now), so tests and the scheduler agree on one clock.
 */

struct ferry_job_request {
	const char *connection_id;    /* NULL: an ad-hoc sync (no one-job-at-a-time rule) */
	const char *source_id, *source_name;
	const char *dest_id, *dest_name;
	const char *mode;             /* "incremental", "full", ...; NULL: "incremental" */
	json_t *request;              /* borrowed: source, destination, streams, mode, since, until,
				       * namespace, batch_size, webhook_url; may be NULL */
	const char *idempotency_key;  /* NULL or a caller's key: the same key gives the same job */
	int max_attempts;             /* <= 0: 3 */
	long long timeout_s;          /* seconds per attempt; <= 0: none */
	long long run_after;          /* unix s: when it may start (normally now) */
};

/* A claimed job. The caller owns it: release with ferry_claimed_release. */
struct ferry_claimed {
	long long job_id;
	int attempt;                  /* 1 for the first */
	int max_attempts;
	long long timeout_s;          /* 0: none */
	long long lease_until;
	char connection_id[32];       /* "" for an ad-hoc sync */
	char source_id[32], dest_id[32];
	char mode[32];
	json_t *request;              /* never NULL (an empty object when none was given) */
};
void ferry_claimed_release(struct ferry_claimed *c);

/*
 * Queues a job. With an idempotency key already used, *job_id is that job's
 * id, *existing is true and nothing is added (whatever its status now).
 * FERRY_ECONFLICT when the connection already has a job queued or running
 * (the message names it), FERRY_ENOTFOUND for an unknown connection.
 */
int ferry_store_enqueue(struct ferry_store *s, const struct ferry_job_request *r,
			long long *job_id, bool *existing, struct ferry_err *err);
/*
 * Claims the ready job that has waited longest (run_after <= now, oldest
 * first) whose connection has no running job: it becomes 'running', attempt
 * + 1, leased to owner until now + lease_s. FERRY_DONE when none is ready.
 */
int ferry_store_claim(struct ferry_store *s, const char *owner, long long lease_s, long long now,
		      struct ferry_claimed *out, struct ferry_err *err);
/* Extends the lease to now + lease_s. FERRY_ECONFLICT when owner no longer holds it. */
int ferry_store_heartbeat(struct ferry_store *s, long long job_id, const char *owner,
			  long long lease_s, long long now, struct ferry_err *err);
/*
 * Ends an attempt: status "succeeded", "failed" or "cancelled" (error_code
 * and error_msg may be NULL). A failure with retry_after_s >= 0 (retryable;
 * the caller computes the backoff) goes back to the queue with run_after =
 * now + retry_after_s while attempts remain and no cancel was asked; *requeued
 * (may be NULL) tells which happened. A failure when a cancel was asked ends
 * 'cancelled'. The connection's last_sync_* change only when the job ends.
 * FERRY_ECONFLICT when owner no longer holds the lease.
 */
int ferry_store_finish(struct ferry_store *s, long long job_id, const char *owner,
		       const char *status, const char *error_code, const char *error_msg,
		       long long retry_after_s, long long now, bool *requeued, struct ferry_err *err);
/*
 * Gives a running job back to the queue because its worker is stopping (ferry
 * serve on SIGTERM), not because it failed: 'queued' again, ready at now, the
 * attempt not counted, the lease cleared. A job someone asked to cancel ends
 * 'cancelled' instead. *released (may be NULL) tells which happened.
 * FERRY_ECONFLICT when owner no longer holds the lease.
 */
int ferry_store_release(struct ferry_store *s, long long job_id, const char *owner, long long now,
			bool *released, struct ferry_err *err);
/*
 * Jobs 'running' whose lease ended before now: queued again (run_after now)
 * while attempts remain, else failed "interrupted" (cancelled if a cancel was
 * asked). *n (may be NULL) gets how many were released.
 */
int ferry_store_requeue_expired(struct ferry_store *s, long long now, int *n,
				struct ferry_err *err);
/*
 * Asks a job to stop: a queued job is cancelled at once, a running one is
 * flagged for its worker (ferry_store_cancel_requested). status_out (may be
 * NULL, 16 bytes) gets the job's status afterwards. FERRY_ENOTFOUND for an
 * unknown job, FERRY_ECONFLICT when it had already ended.
 */
int ferry_store_request_cancel(struct ferry_store *s, long long job_id, char *status_out,
			       struct ferry_err *err);
int ferry_store_cancel_requested(struct ferry_store *s, long long job_id, bool *yes,
				 struct ferry_err *err);
/* Replaces the job's progress JSON (borrowed). */
int ferry_store_job_progress(struct ferry_store *s, long long job_id, json_t *progress,
			     struct ferry_err *err);

struct ferry_due {
	char connection_id[32];
	long long next_run_at;        /* -1: never scheduled yet */
};
/*
 * Connections due at now, most overdue first, at most limit (<= 0: all):
 * with a schedule, auto_sync not "off", status "active" (the default), no job
 * queued or running, and next_run_at unset or <= now. *out (caller frees) gets
 * *n entries. A connection whose runs were missed is listed once; the
 * scheduler then sets its next run from now (ferry_store_set_next_run).
 */
int ferry_store_due(struct ferry_store *s, long long now, int limit, struct ferry_due **out,
		    int *n, struct ferry_err *err);
/* Sets when the connection runs next (unix s; < 0: unset). FERRY_ENOTFOUND when unknown. */
int ferry_store_set_next_run(struct ferry_store *s, const char *connection_id,
			     long long next_run_at, struct ferry_err *err);
/* The connection's schedule state as {next_run_at, last_sync_at, last_sync_status,
 * last_sync_error, running_job_id} (nulls when it never ran). */
int ferry_store_connection_state(struct ferry_store *s, const char *connection_id, json_t **out,
				 struct ferry_err *err);
/* Jobs waiting in the queue (status 'queued', ready or not). */
int ferry_store_queue_depth(struct ferry_store *s, long long *n, struct ferry_err *err);

/* Mirror of a destination's cursor, for display. */
int ferry_store_state_set(struct ferry_store *s, const char *source_id, const char *dest_id,
			  const char *ns, const char *stream, const char *cursor,
			  struct ferry_err *err);

/*
 * ---- API tokens (server/token.h) ----
 *
 * Only a token's hash is stored; no call here returns it. A revoked token
 * stays listed (with revoked_at) so its name keeps telling what it was.
 */

/* Records a token by its hash; FERRY_EUSAGE when the name is taken. id_out gets "tok_…". */
int ferry_store_token_create(struct ferry_store *s, const char *name, const char *hash,
			     char id_out[32], struct ferry_err *err);
/* Tokens by name as a JSON array of {id, name, created_at, last_used_at, revoked_at}. */
int ferry_store_tokens(struct ferry_store *s, json_t **out, struct ferry_err *err);
/*
 * Revokes by name or id. FERRY_ENOTFOUND with a "did you mean" when unknown;
 * *already is set (and nothing changes) when it was revoked before.
 */
int ferry_store_token_revoke(struct ferry_store *s, const char *name_or_id, char id_out[32],
			     bool *already, struct ferry_err *err);
/*
 * The live (not revoked) token with this hash: its id, and the seconds since
 * it was last used (-1: never). FERRY_ENOTFOUND otherwise.
 */
int ferry_store_token_find(struct ferry_store *s, const char *hash, char id_out[32],
			   long long *idle_s, struct ferry_err *err);
/* Sets last_used_at to now. */
int ferry_store_token_touch(struct ferry_store *s, const char *id, struct ferry_err *err);

#endif
