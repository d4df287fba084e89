/*
 * workers.h - what runs jobs inside `ferry serve`: a pool of worker threads,
 * the scheduler's tick and the completion webhooks' sender.
 *
 * Each worker claims the oldest ready job from the durable queue
 * (store/queue.c), runs it (sched/runner.h) and claims again; with nothing
 * ready it sleeps until woken (ferry_workers_wake, which the HTTP server
 * calls after it queued a job) or half a second has passed, so a job queued
 * by another process is seen soon too. The scheduler thread runs one
 * ferry_sched_enqueue_due per tick (requeueing expired leases, queueing due
 * connections) and wakes the workers when it queued something. The sender
 * thread sends due completion webhooks (server/webhook_send.h), woken when a
 * job ends. Every thread has its own state store handle: an SQLite handle is
 * never shared between threads. A job's failure is its own: the worker
 * records it and takes the next job.
 *
 * Stopping (SIGTERM) is graceful: no new claims and no more ticks at once,
 * running jobs get up to a grace period to finish, then they are stopped and
 * given back to the queue with their attempt uncounted, for the next process
 * to run. Each job's end is logged as one line on the log stream (no secrets:
 * the runner's messages never hold them).
 *
 * Environment: FERRY_TICK_MS, the scheduler's tick in milliseconds (default
 * 1000; 10-60000); FERRY_FAULT, read by each worker (fault.h).
 *
 * Ownership: ferry_workers_start hands back a pool that ferry_workers_free
 * frees (after ferry_workers_stop); the options are copied, the key must outlive the pool.
 */
#ifndef FERRY_SCHED_WORKERS_H
#define FERRY_SCHED_WORKERS_H

#include <stdio.h>
#include "ferry/err.h"
#include "util/crypto.h"

#define FERRY_WORKERS_MAX 64

struct ferry_workers;

struct ferry_workers_opts {
	const char *db_path;            /* the state store */
	int workers;                    /* 1..FERRY_WORKERS_MAX */
	const struct ferry_key *key;    /* opens secrets; NULL: jobs with secrets fail FERRY_EKEY */
	long long tick_ms;              /* <= 0: FERRY_TICK_MS or 1000 */
	FILE *log;                      /* one line per job end and webhook attempt; NULL: stderr */
};

/*
 * Starts the workers, the scheduler and the webhook sender. FERRY_EUSAGE for a
 * bad worker count or FERRY_FAULT; the store's error when it cannot be opened.
 */
int ferry_workers_start(const struct ferry_workers_opts *o, struct ferry_workers **out,
			struct ferry_err *err);
/* Work may be waiting: idle workers look at once. Any thread; pool is a struct ferry_workers *. */
void ferry_workers_wake(void *pool);
/* Jobs running now. */
int ferry_workers_running(struct ferry_workers *w);
/* Ends the grace period now (a second SIGTERM): running jobs are stopped and queued again. */
void ferry_workers_hurry(struct ferry_workers *w);
/*
 * Stops claiming and ticking, waits up to grace_ms for the running jobs to
 * end, stops those still running (each given back to the queue), joins every
 * thread. The webhook sender stops last, so the webhooks of jobs that ended
 * during the grace period are sent when the receiver answers (for up to 10 s
 * more). w stays valid (ferry_workers_hurry may still be called) until freed.
 */
void ferry_workers_stop(struct ferry_workers *w, long long grace_ms);
void ferry_workers_free(struct ferry_workers *w);

#endif
