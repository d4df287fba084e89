/*
 * fastread.h - the state store reads on the HTTP server's hot path (a token
 * by its hash on every /api/v1 request, a job by id) with their statements
 * prepared once per store handle instead of once per call.
 *
 * Compiling SQL was over half the CPU time of GET /api/v1/jobs/{id} (three
 * statements, one of 22 columns, per request; bench/http.sh). A reader keeps
 * the compiled statements of one handle, resets them after every use (so no
 * read transaction stays open between requests and every request sees the
 * latest commit: a revoked token fails at once), and is used by one thread
 * at a time, as the handle is.
 *
 * The answers are exactly ferry_store_token_find's and ferry_store_job's
 * (tests/unit/test_fastread.c compares them on jobs of every shape): change
 * both together.
 *
 * Ownership: ferry_fastread_close before ferry_store_close of its handle;
 * *out JSON is the caller's.
 */
#ifndef FERRY_STORE_FASTREAD_H
#define FERRY_STORE_FASTREAD_H

#include <jansson.h>
#include "ferry/buf.h"
#include "ferry/err.h"
#include "store/store.h"

struct ferry_fastread;

/* Prepares the statements on s (borrowed; it must outlive the reader). */
int ferry_fastread_open(struct ferry_store *s, struct ferry_fastread **out, struct ferry_err *err);
void ferry_fastread_close(struct ferry_fastread *f);

/* As ferry_store_token_find. */
int ferry_fastread_token(struct ferry_fastread *f, const char *hash, char id_out[32],
			 long long *idle_s, struct ferry_err *err);
/* As ferry_store_job. */
int ferry_fastread_job(struct ferry_fastread *f, long long job_id, json_t **out,
		       struct ferry_err *err);

/*
 * A job as the HTTP API shows it: ferry_store_job's JSON plus "summary"
 * (totals over its streams: read, inserted, updated, unchanged, deleted,
 * bytes, streams) and "progress" made from the status and the stream counts
 * when the runner has recorded none (a queued job, a `ferry sync` job), so
 * that progress is always an object. Takes job and returns it.
 */
json_t *ferry_job_view(json_t *job);

/*
 * ferry_job_view of the job, written as JSON text at the end of out straight
 * from the rows, without building it in jansson (JSON building and dumping
 * were most of the CPU time left of GET /api/v1/jobs/{id}). Parsed, it is
 * equal to ferry_job_view(ferry_store_job(...)) (test_fastread checks).
 */
int ferry_fastread_job_text(struct ferry_fastread *f, long long job_id, struct ferry_buf *out,
			    struct ferry_err *err);

#endif
