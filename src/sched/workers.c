/*
 * workers.c - the worker pool, scheduler tick and webhook sender of `ferry
 * serve` (see workers.h).
 *
 * All threads share one mutex and one condition variable. A wake-up bumps a
 * generation counter under the mutex and broadcasts, and an idle thread only
 * sleeps when the generation is the one it saw before it last looked for
 * work, so a wake-up that comes between "nothing to do" and the sleep is not
 * lost. Sleeps are bounded (the idle poll, the tick), so work that arrives
 * without a wake-up - queued by another process, a retry's backoff ending -
 * is still found.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "ferry/fault.h"
#include "sched/runner.h"
#include "sched/workers.h"
#include "server/webhook_send.h"
#include "store/store.h"
#include "util/text.h"

/* An idle worker looks for work at least this often. */
#define IDLE_POLL_MS 500
/* The webhook sender looks for due deliveries at least this often. */
#define SEND_POLL_MS 1000
/* Webhooks per sender pass. */
#define SEND_BATCH 20
/* How long the sender may keep sending once the workers have stopped. */
#define SEND_FINAL_MS 10000

struct worker {
	struct ferry_workers *pool;
	int index;
	pthread_t thread;
	bool started;
	char owner[160];
};

struct ferry_workers {
	struct ferry_workers_opts o;
	char *db_path;
	FILE *log;
	long long tick_ms;

	pthread_mutex_t mu;
	pthread_cond_t cv;            /* work may be there, or stop */
	pthread_cond_t idle;          /* a job ended */
	unsigned long gen;            /* bumped by every wake-up */
	bool stopping;                /* no new claims, no more ticks */
	bool send_stop;               /* the sender's last pass */
	int running;
	volatile sig_atomic_t abort;  /* the grace period is over: stop running jobs */

	struct worker *w;
	int n;
	pthread_t sched, send;
	bool sched_started, send_started;
};

static void deadline_in(struct timespec *ts, long long ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void bump(struct ferry_workers *w)
{
	w->gen++;
	pthread_cond_broadcast(&w->cv);
}

void ferry_workers_wake(void *pool)
{
	struct ferry_workers *w = pool;

	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	bump(w);
	pthread_mutex_unlock(&w->mu);
}

int ferry_workers_running(struct ferry_workers *w)
{
	int n;

	pthread_mutex_lock(&w->mu);
	n = w->running;
	pthread_mutex_unlock(&w->mu);
	return n;
}

/* Sleeps up to ms unless woken since generation seen, or *flag is set. Locked. */
static void idle_wait(struct ferry_workers *w, unsigned long seen, const bool *flag, long long ms)
{
	struct timespec ts;

	deadline_in(&ts, ms);
	while (!*flag && w->gen == seen && pthread_cond_timedwait(&w->cv, &w->mu, &ts) != ETIMEDOUT)
		;
}

/* A store handle for a thread; retried each poll until it opens or the pool stops. */
static struct ferry_store *open_store(struct ferry_workers *w, const char *who, const bool *flag)
{
	struct ferry_store *s = NULL;
	struct ferry_err err = {0};
	char last[sizeof(err.msg)] = "";

	for (;;) {
		if (!ferry_store_open(w->db_path, &s, &err))
			return s;
		if (strcmp(last, err.msg)) {
			fprintf(w->log, "ferry serve: %s cannot open the state store: %s (retrying)\n",
				who, err.msg);
			snprintf(last, sizeof(last), "%s", err.msg);
		}
		pthread_mutex_lock(&w->mu);
		idle_wait(w, w->gen, flag, IDLE_POLL_MS);
		if (*flag) {
			pthread_mutex_unlock(&w->mu);
			return NULL;
		}
		pthread_mutex_unlock(&w->mu);
	}
}

/* ---- workers ---- */

static void connection_name(struct ferry_store *s, const char *id, char *out, size_t n)
{
	struct ferry_entity e = {0};
	struct ferry_err err = {0};

	if (!*id)
		snprintf(out, n, "ad hoc");
	else if (!ferry_store_get(s, FERRY_CONNECTION, id, &e, &err))
		snprintf(out, n, "connection %s", e.name);
	else
		snprintf(out, n, "connection %s", id);
	ferry_entity_release(&e);
}

static void log_end(struct worker *wk, struct ferry_store *s, const struct ferry_claimed *job,
		    const struct ferry_run_outcome *r)
{
	FILE *f = wk->pool->log;
	char name[160];

	connection_name(s, job->connection_id, name, sizeof(name));
	if (!strcmp(r->status, "succeeded")) {
		fprintf(f, "ferry serve: w%d: job %lld (%s) succeeded in %.1fs, %lld rows, attempt "
			"%d of %d\n", wk->index, job->job_id, name, r->duration_ms / 1000.0, r->rows,
			job->attempt, job->max_attempts);
	} else if (r->requeued) {
		fprintf(f, "ferry serve: w%d: job %lld (%s) failed after %.1fs, attempt %d of %d, "
			"retry in %llds: %s\n", wk->index, job->job_id, name, r->duration_ms / 1000.0,
			job->attempt, job->max_attempts, r->retry_after_s, r->err.msg);
	} else {
		fprintf(f, "ferry serve: w%d: job %lld (%s) %s after %.1fs, attempt %d of %d: %s\n",
			wk->index, job->job_id, name, r->status, r->duration_ms / 1000.0, job->attempt,
			job->max_attempts, r->err.msg);
	}
	fflush(f);
}

/* Runs one claimed job; the count of running jobs covers it. */
static void run_one(struct worker *wk, struct ferry_store *s, const struct ferry_runner_opts *ro,
		    const struct ferry_claimed *job)
{
	struct ferry_workers *w = wk->pool;
	struct ferry_run_outcome r;
	struct ferry_err err = {0};

	if (ferry_runner_run(s, job, ro, &r, &err)) {
		fprintf(w->log, "ferry serve: w%d: job %lld: its outcome could not be recorded: %s "
			"(its lease will run out and the job will be retried)\n", wk->index,
			job->job_id, err.msg);
		fflush(w->log);
	} else {
		log_end(wk, s, job, &r);
	}
	pthread_mutex_lock(&w->mu);
	w->running--;
	pthread_cond_broadcast(&w->idle);
	bump(w);   /* the sender: the job may have a webhook to send */
	pthread_mutex_unlock(&w->mu);
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	struct ferry_workers *w = wk->pool;
	struct ferry_runner_opts ro = {0};
	struct ferry_err err = {0};
	struct ferry_store *s;
	char last[sizeof(err.msg)] = "";
	char who[32];

	snprintf(who, sizeof(who), "worker w%d", wk->index);
	if (!(s = open_store(w, who, &w->stopping)))
		return NULL;
	ro.owner = wk->owner;
	ro.lease_s = ferry_lease_seconds();
	ro.key = w->o.key;
	ro.fault = ferry_fault_from_env(&err);   /* checked at start: cannot fail here */
	ro.stop = &w->abort;
	for (;;) {
		struct ferry_claimed job;
		unsigned long seen;
		int rc;

		pthread_mutex_lock(&w->mu);
		if (w->stopping) {
			pthread_mutex_unlock(&w->mu);
			break;
		}
		seen = w->gen;
		w->running++;   /* before the claim, so a stop waits for what it claims */
		pthread_mutex_unlock(&w->mu);

		rc = ferry_store_claim(s, wk->owner, ro.lease_s, (long long)time(NULL), &job, &err);
		if (!rc) {
			run_one(wk, s, &ro, &job);
			ferry_claimed_release(&job);
			last[0] = '\0';
			continue;
		}
		if (rc != FERRY_DONE && strcmp(last, err.msg)) {
			fprintf(w->log, "ferry serve: %s: cannot claim a job: %s\n", who, err.msg);
			fflush(w->log);
			snprintf(last, sizeof(last), "%s", err.msg);
		}
		pthread_mutex_lock(&w->mu);
		w->running--;
		pthread_cond_broadcast(&w->idle);
		idle_wait(w, seen, &w->stopping, IDLE_POLL_MS);
		pthread_mutex_unlock(&w->mu);
	}
	ferry_fault_free(ro.fault);
	ferry_store_close(s);
	return NULL;
}

/* ---- the scheduler ---- */

static void *sched_main(void *arg)
{
	struct ferry_workers *w = arg;
	struct ferry_err err = {0};
	struct ferry_store *s;
	char last[sizeof(err.msg)] = "";
	long long next = 0;

	if (!(s = open_store(w, "the scheduler", &w->stopping)))
		return NULL;
	pthread_mutex_lock(&w->mu);
	while (!w->stopping) {
		struct timespec ts;
		long long now = ferry_mono_ms();
		int added = 0;

		if (now < next) {
			deadline_in(&ts, next - now);
			pthread_cond_timedwait(&w->cv, &w->mu, &ts);
			continue;
		}
		next = now + w->tick_ms;
		pthread_mutex_unlock(&w->mu);
		if (ferry_sched_enqueue_due(s, (long long)time(NULL), 100, &added, &err)) {
			if (strcmp(last, err.msg)) {
				fprintf(w->log, "ferry serve: scheduler: %s (trying again next tick)\n",
					err.msg);
				fflush(w->log);
				snprintf(last, sizeof(last), "%s", err.msg);
			}
		} else {
			last[0] = '\0';
		}
		pthread_mutex_lock(&w->mu);
		if (added > 0)
			bump(w);
	}
	pthread_mutex_unlock(&w->mu);
	ferry_store_close(s);
	return NULL;
}

/* ---- the webhook sender ---- */

static void *send_main(void *arg)
{
	struct ferry_workers *w = arg;
	struct ferry_err err = {0};
	struct ferry_store *s;
	char last[sizeof(err.msg)] = "";
	long long final_until = 0;

	if (!(s = open_store(w, "the webhook sender", &w->send_stop)))
		return NULL;
	for (;;) {
		unsigned long seen;
		bool last_pass;
		int sent = 0;

		pthread_mutex_lock(&w->mu);
		seen = w->gen;
		last_pass = w->send_stop;
		pthread_mutex_unlock(&w->mu);
		if (last_pass && !final_until)
			final_until = ferry_mono_ms() + SEND_FINAL_MS;
		if (ferry_webhooks_send_due(s, w->o.key, 0, last_pass ? 1 : SEND_BATCH, w->log, &sent,
					    &err)) {
			if (strcmp(last, err.msg)) {
				fprintf(w->log, "ferry serve: webhook sender: %s\n", err.msg);
				fflush(w->log);
				snprintf(last, sizeof(last), "%s", err.msg);
			}
			sent = 0;
		}
		if (last_pass && (!sent || ferry_mono_ms() >= final_until))
			break;
		if (sent == SEND_BATCH || last_pass)
			continue;
		pthread_mutex_lock(&w->mu);
		idle_wait(w, seen, &w->send_stop, SEND_POLL_MS);
		pthread_mutex_unlock(&w->mu);
	}
	ferry_store_close(s);
	return NULL;
}

/* ---- start, stop ---- */

static long long tick_ms(long long asked)
{
	const char *v = getenv("FERRY_TICK_MS");
	long long n;

	if (asked > 0)
		return asked;
	if (v && *v && ferry_parse_ll(v, 10, 60000, &n))
		return n;
	return 1000;
}

void ferry_workers_free(struct ferry_workers *w)
{
	if (!w)
		return;
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->idle);
	pthread_mutex_destroy(&w->mu);
	free(w->w);
	free(w->db_path);
	free(w);
}

int ferry_workers_start(const struct ferry_workers_opts *o, struct ferry_workers **out,
			struct ferry_err *err)
{
	struct ferry_workers *w;
	struct ferry_fault *fault;
	struct ferry_store *probe;
	pthread_condattr_t ca;
	char host[64] = "";
	int rc, i;

	*out = NULL;
	if (o->workers < 1 || o->workers > FERRY_WORKERS_MAX)
		return ferry_err_set(err, FERRY_EUSAGE, "--workers must be from 0 to %d, not %d",
				     FERRY_WORKERS_MAX, o->workers);
	/* A bad FERRY_FAULT is the caller's mistake: say so now, not in each worker. */
	fault = ferry_fault_from_env(err);
	if (err->code)
		return err->code;
	ferry_fault_free(fault);
	/* The store must open (and migrate) before any thread relies on it. */
	if ((rc = ferry_store_open(o->db_path, &probe, err)))
		return rc;
	ferry_store_close(probe);

	if (!(w = calloc(1, sizeof(*w))) || !(w->w = calloc((size_t)o->workers, sizeof(*w->w))) ||
	    !(w->db_path = strdup(o->db_path))) {
		if (w) {
			free(w->w);
			free(w);
		}
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	}
	w->o = *o;
	w->o.db_path = w->db_path;
	w->log = o->log ? o->log : stderr;
	w->tick_ms = tick_ms(o->tick_ms);
	w->n = o->workers;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_cond_init(&w->idle, &ca);
	pthread_condattr_destroy(&ca);
	gethostname(host, sizeof(host) - 1);
	for (i = 0; i < w->n; i++) {
		struct worker *wk = &w->w[i];
		wk->pool = w;
		wk->index = i + 1;
		snprintf(wk->owner, sizeof(wk->owner), "%s:%ld:w%d", host, (long)getpid(), i + 1);
		if (pthread_create(&wk->thread, NULL, worker_main, wk))
			goto nothread;
		wk->started = true;
	}
	if (pthread_create(&w->sched, NULL, sched_main, w))
		goto nothread;
	w->sched_started = true;
	if (pthread_create(&w->send, NULL, send_main, w))
		goto nothread;
	w->send_started = true;
	*out = w;
	return 0;
nothread:
	ferry_workers_stop(w, 0);
	ferry_workers_free(w);
	return ferry_err_set(err, FERRY_EINTERNAL, "cannot start the worker threads");
}

void ferry_workers_hurry(struct ferry_workers *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->abort = 1;
	pthread_mutex_unlock(&w->mu);
}

void ferry_workers_stop(struct ferry_workers *w, long long grace_ms)
{
	struct timespec ts;
	int i;

	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	bump(w);
	deadline_in(&ts, grace_ms > 0 ? grace_ms : 0);
	if (w->running > 0 && grace_ms > 0) {
		fprintf(w->log, "ferry serve: waiting up to %.1fs for running jobs to finish\n",
			grace_ms / 1000.0);
		fflush(w->log);
	}
	while (w->running > 0 && grace_ms > 0 &&
	       pthread_cond_timedwait(&w->idle, &w->mu, &ts) != ETIMEDOUT)
		;
	if (w->running > 0) {
		fprintf(w->log, "ferry serve: grace period over: stopping the running jobs (they are "
			"queued again)\n");
		fflush(w->log);
		w->abort = 1;
	}
	pthread_mutex_unlock(&w->mu);
	for (i = 0; i < w->n; i++)
		if (w->w[i].started)
			pthread_join(w->w[i].thread, NULL);
	if (w->sched_started)
		pthread_join(w->sched, NULL);
	pthread_mutex_lock(&w->mu);
	w->send_stop = true;
	bump(w);
	pthread_mutex_unlock(&w->mu);
	if (w->send_started)
		pthread_join(w->send, NULL);
	w->n = 0;
	w->sched_started = w->send_started = false;
}
