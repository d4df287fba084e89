/*
 * jobquery.h - the job history as the HTTP API pages through it: filters
 * (connection, status, created since) and a keyset cursor on the job id, so
 * a page is one index range scan however deep the history goes, and jobs
 * that arrive while a client pages do not shift the pages it has not read.
 *
 * Also the lookups the scheduler routes need to report which jobs a tick
 * queued (ferry_sched_enqueue_due only counts them).
 *
 * Ownership: *jobs is the caller's (json_decref).
 */
#ifndef FERRY_STORE_JOBQUERY_H
#define FERRY_STORE_JOBQUERY_H

#include <stdbool.h>
#include <jansson.h>
#include "ferry/err.h"
#include "store/store.h"

struct ferry_job_filter {
	const char *connection_id;  /* NULL: any (ad-hoc jobs included) */
	const char *status;         /* NULL: any */
	long long since;            /* unix s: created at or after; < 0: any time */
	long long before_id;        /* only ids below this; <= 0: from the newest */
	int limit;                  /* 1..1000 */
};

/*
 * Jobs matching f, newest first, at most f->limit, each in the shape of
 * ferry_store_job. *more is true when older matching jobs remain (the next
 * page starts before the last id returned).
 */
int ferry_store_job_query(struct ferry_store *s, const struct ferry_job_filter *f, json_t **jobs,
			  bool *more, struct ferry_err *err);

/* The highest job id so far (0 when there is none). */
int ferry_store_last_job_id(struct ferry_store *s, long long *id, struct ferry_err *err);

/*
 * The first job of connection_id with an id above after_id, whatever its
 * status now (a worker may have run it already); *job_id 0 when none.
 */
int ferry_store_connection_job_after(struct ferry_store *s, const char *connection_id,
				     long long after_id, long long *job_id, struct ferry_err *err);

#endif
