/*
 * metrics.h - the numbers behind GET /metrics, read from the state store in
 * one snapshot: jobs by status, a histogram of how long ended jobs ran, and
 * per connection the rows its ended jobs wrote and when it last succeeded.
 *
 * Everything is derived from the jobs table rather than counted in memory,
 * so the numbers survive restarts, agree between several `ferry serve`
 * processes sharing a store, and include jobs run by `ferry sync` and
 * `ferry run-due`. Counters only count ended jobs, whose rows no longer
 * change: a job retried from the start cannot make a counter go down.
 *
 * Ownership: release what ferry_store_metrics fills with ferry_metrics_release.
 */
#ifndef FERRY_STORE_METRICS_H
#define FERRY_STORE_METRICS_H

#include "ferry/err.h"
#include "store/store.h"

/* Upper bounds (seconds) of the job duration histogram's buckets, +Inf not included. */
#define FERRY_METRICS_NBUCKETS 11
extern const double ferry_metrics_buckets[FERRY_METRICS_NBUCKETS];

/* Job statuses in the order of struct ferry_metrics.jobs. */
#define FERRY_METRICS_NSTATUS 5
extern const char *const ferry_metrics_statuses[FERRY_METRICS_NSTATUS];

struct ferry_metrics_conn {
	char id[32];              /* "" for ad-hoc jobs (POST /api/v1/syncs, ferry sync) */
	char *name;               /* the connection's name; its id once it was removed; "" ad hoc */
	long long rows_written;   /* inserted + updated + unchanged over its ended jobs */
	double last_success;      /* unix s (with ms) its last succeeded job ended; < 0: never */
};

struct ferry_metrics {
	long long jobs[FERRY_METRICS_NSTATUS];        /* how many jobs have each status now */
	/* ended jobs (succeeded, failed, cancelled) that ran: cumulative bucket counts */
	long long duration_le[FERRY_METRICS_NBUCKETS];
	long long duration_count;
	double duration_sum;                          /* seconds */
	struct ferry_metrics_conn *conns;             /* every connection and job owner, by name */
	int nconns;
};

int ferry_store_metrics(struct ferry_store *s, struct ferry_metrics *out, struct ferry_err *err);
void ferry_metrics_release(struct ferry_metrics *m);

#endif
