/*
 * routes_jobs.c - the HTTP routes about jobs and the service itself:
 * GET /health, GET /api/v1/jobs, GET /api/v1/jobs/{id}, POST
 * /api/v1/jobs/{id}/cancel.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server/http_int.h"
#include "util/text.h"

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

static const char *const job_statuses[] = {"queued", "running", "succeeded", "failed",
					   "cancelled", NULL};

static void h_jobs(struct req *r)
{
	static const char *const known[] = {"limit", "status", NULL};
	struct ferry_err err = {0};
	struct ferry_store *st;
	const char *lim = http_query(r, "limit"), *status = http_query(r, "status");
	long long limit = 50;
	json_t *jobs;
	int i;

	if (!http_query_known(r, known))
		return;
	if (lim && !ferry_parse_ll(lim, 1, 1000, &limit)) {
		http_error(r, 400, "invalid_parameter",
			   "limit must be a whole number from 1 to 1000, not \"%.40s\"", lim);
		return;
	}
	if (status) {
		for (i = 0; job_statuses[i] && strcmp(status, job_statuses[i]); i++)
			;
		if (!job_statuses[i]) {
			http_error(r, 400, "invalid_parameter",
				   "status must be queued, running, succeeded, failed or cancelled, "
				   "not \"%.40s\"", status);
			return;
		}
	}
	if (!(st = http_store(r)))
		return;
	if (ferry_store_jobs_with(st, (int)limit, status, &jobs, &err)) {
		http_internal_error(r, &err);
		return;
	}
	http_answer(r, 200, json_pack("{s:o}", "jobs", jobs));
}

/* The job of the {id} parameter, or NULL after answering 404 or 500. */
static json_t *job_of(struct req *r)
{
	struct ferry_err err = {0};
	struct ferry_store *st;
	long long id;
	json_t *job;
	int rc;

	if (!job_id_param(r, r->params[0], &id) || !(st = http_store(r)))
		return NULL;
	rc = ferry_store_job(st, id, &job, &err);
	if (rc == FERRY_ENOTFOUND) {
		http_error(r, 404, "not_found", "unknown job %lld (see GET /api/v1/jobs)", id);
		return NULL;
	}
	if (rc) {
		http_internal_error(r, &err);
		return NULL;
	}
	return job;
}

static void h_job(struct req *r)
{
	static const char *const known[] = {NULL};
	json_t *job;

	if (http_query_known(r, known) && (job = job_of(r)))
		http_answer(r, 200, job);
}

static void h_job_cancel(struct req *r)
{
	json_t *job = job_of(r);
	const char *status;

	if (!job)
		return;
	status = json_string_value(json_object_get(job, "status"));
	if (status && strcmp(status, "queued") && strcmp(status, "running"))
		http_error(r, 409, "conflict", "job %s already ended (%s): there is nothing to cancel",
			   r->params[0], status);
	else
		/* Jobs run in the `ferry sync` process that started them until the job queue exists. */
		http_error(r, 501, "not_implemented",
			   "job %s is %s in another ferry process; cancelling it over HTTP needs the "
			   "job queue, which this ferry does not have yet (stop that process instead)",
			   r->params[0], status ? status : "running");
	json_decref(job);
}

const struct route ferry_routes_jobs[] = {
	{"GET", "/health", h_health, NULL, false},
	{"GET", "/api/v1/jobs", h_jobs, NULL, false},
	{"GET", "/api/v1/jobs/{id}", h_job, NULL, false},
	{"POST", "/api/v1/jobs/{id}/cancel", h_job_cancel, NULL, false},
};
const int ferry_nroutes_jobs = (int)(sizeof(ferry_routes_jobs) / sizeof(ferry_routes_jobs[0]));
