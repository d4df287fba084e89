/*
 * runner.h - runs jobs from the durable queue (store/queue.c): the scheduler's
 * enqueue step and one claimed job, start to end.
 *
 * ferry_sched_enqueue_due is one scheduler tick: leases that ran out go back
 * to the queue, every due connection gets one job, and its next run is set
 * from its schedule (a run missed while nothing ran is run once). `ferry
 * run-due` calls it once; `ferry serve` may call it on a timer.
 *
 * ferry_runner_run runs one job the caller claimed: it opens the source and
 * destination from the store (secrets opened with the key) and runs the
 * engine, recording per-stream progress between batches (at most once a
 * second). Beside it a watchdog thread, with a store handle of its own,
 * renews the lease every lease/3, and at least every second looks for a
 * cancel request and checks the attempt's timeout: none of these wait for
 * the next batch, so a read stalled longer than the lease keeps its job, and
 * a cancel or a timeout sets the engine's cancel flag at once (API waits -
 * rate limits, retries, libcurl transfers - end on it; the engine stops at
 * its next check, and a full sync stopped so leaves the live tables as they
 * were). The caller may stop the job from another thread through opts.stop
 * (ferry serve's grace period): the job is then given back to the queue,
 * its attempt not counted (ferry_store_release), unless it finished first.
 *
 * The attempt then ends in the store: succeeded, cancelled, or failed -
 * queued again with backoff unless the failure cannot heal by itself
 * (rejected credentials, a configuration or usage error, a missing key:
 * FERRY_EAUTH, FERRY_ECONFIG, FERRY_EUSAGE, FERRY_EKEY), which fails the job
 * at once and sets the connection's settings.status to "error" (`ferry
 * connection resume` clears it). A job that ends (not one queued again)
 * gets its completion webhooks queued by the store (store/deliveries.h).
 *
 * Environment (for tests and operators):
 *   FERRY_RETRY_BASE_S  backoff base in seconds (default 30): attempt n waits
 *                       a random time in [1, base * 2^(n-1)] seconds,
 *                       capped at 1 h
 *   FERRY_LEASE_S       lease length in seconds (default 60)
 */
#ifndef FERRY_SCHED_RUNNER_H
#define FERRY_SCHED_RUNNER_H

#include <signal.h>
#include <stdbool.h>
#include "ferry/err.h"
#include "ferry/fault.h"
#include "store/store.h"
#include "util/crypto.h"

struct ferry_runner_opts {
	const char *owner;             /* lease owner, e.g. "host:pid" */
	long long lease_s;             /* <= 0: ferry_lease_seconds() */
	const struct ferry_key *key;   /* NULL: sources with secrets fail FERRY_EKEY */
	struct ferry_fault *fault;     /* may be NULL */
	/*
	 * May be NULL. Set non-zero from any thread to stop the running job
	 * within a fraction of a second and give it back to the queue.
	 */
	volatile sig_atomic_t *stop;
};

/* What became of one attempt. A value type the caller allocates. */
struct ferry_run_outcome {
	char status[16];               /* "succeeded", "failed", "cancelled", "lost" (lease lost),
					* "released" (stopped by opts.stop, queued again) */
	bool requeued;                 /* failed, and queued again */
	long long retry_after_s;       /* when requeued */
	long long duration_ms;
	long long rows;                /* rows read over every stream */
	struct ferry_err err;          /* why, when not succeeded */
};

/* The lease length: FERRY_LEASE_S or 60. */
long long ferry_lease_seconds(void);
/* Backoff before attempt + 1 after attempt failed: full jitter, see above. */
long long ferry_retry_backoff(int attempt);
/* Whether a failure with this code may heal by itself (and so is retried). */
bool ferry_runner_retryable(int code);

/*
 * One scheduler tick at now: requeues expired leases, enqueues a job for at
 * most limit (<= 0: 100) due connections (one already queued or running is
 * skipped) and sets their next run. *enqueued (may be NULL) gets how many.
 */
int ferry_sched_enqueue_due(struct ferry_store *s, long long now, int limit, int *enqueued,
			    struct ferry_err *err);

/*
 * Runs the claimed job job (borrowed) and ends its attempt in the store;
 * *out says how it went. Returns 0 when the outcome was recorded (whatever
 * it was), or an error when the store could not record it.
 */
int ferry_runner_run(struct ferry_store *s, const struct ferry_claimed *job,
		     const struct ferry_runner_opts *o, struct ferry_run_outcome *out,
		     struct ferry_err *err);

#endif
