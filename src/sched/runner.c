/*
 * runner.c - the scheduler's enqueue step and the running of one queued job
 * (see runner.h).
 *
 * The runner is the queue's worker half: store/queue.c decides which job may
 * run and keeps its row true; this file turns a claimed row into a sync and
 * the sync's result into the row's next state. It knows nothing of terminals
 * or HTTP, so `ferry run-due` and `ferry serve` share it.
 */
#define _GNU_SOURCE   /* strptime, timegm */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include "core/entity_spec.h"
#include "ferry/engine.h"
#include "sched/cron.h"
#include "sched/runner.h"
#include "util/text.h"

#define BACKOFF_CAP_S 3600

static long long env_seconds(const char *name, long long dflt, long long max)
{
	const char *v = getenv(name);
	long long n;

	if (v && *v && ferry_parse_ll(v, 1, max, &n))
		return n;
	return dflt;
}

long long ferry_lease_seconds(void)
{
	return env_seconds("FERRY_LEASE_S", 60, 86400);
}

long long ferry_retry_backoff(int attempt)
{
	long long base = env_seconds("FERRY_RETRY_BASE_S", 30, BACKOFF_CAP_S), d = base;
	int i;

	for (i = 1; i < attempt && d < BACKOFF_CAP_S; i++)
		d *= 2;
	if (d > BACKOFF_CAP_S)
		d = BACKOFF_CAP_S;
	/*
	 * Full jitter: workers that failed together do not come back together.
	 * At least 1 s, so a run-due does not retry a job in the same breath.
	 */
	return 1 + (long long)randombytes_uniform((uint32_t)d);
}

bool ferry_runner_retryable(int code)
{
	return code != FERRY_EAUTH && code != FERRY_ECONFIG && code != FERRY_EUSAGE &&
	       code != FERRY_EKEY && code != FERRY_ECANCEL;
}

static const char *str_of(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* ---- the scheduler's tick ---- */

/* The schedule's next run after t. */
static long long next_after(const struct ferry_schedule *sched, long long t)
{
	return sched->kind == FERRY_SCHEDULE_INTERVAL ? t + sched->every : ferry_schedule_next(sched, t);
}

/* When the connection's last job ended (unix s), or -1 when it never ran. */
static long long last_sync_time(struct ferry_store *s, const char *id)
{
	struct ferry_err err = {0};
	json_t *state = NULL;
	const char *at;
	struct tm tm = {0};
	long long t = -1;

	if (ferry_store_connection_state(s, id, &state, &err))
		return -1;
	at = str_of(state, "last_sync_at");
	if (at && strptime(at, "%Y-%m-%dT%H:%M:%S", &tm))
		t = (long long)timegm(&tm);
	json_decref(state);
	return t;
}

/*
 * Queues one job of a due connection and moves its next run on. A
 * connection with no next run yet (a schedule just set) that has run before,
 * by a trigger, waits for its schedule counted from that run instead.
 */
static int enqueue_connection(struct ferry_store *s, const struct ferry_due *due, long long now,
			      bool *added, struct ferry_err *err)
{
	struct ferry_entity con = {0};
	struct ferry_schedule sched;
	struct ferry_err perr = {0};
	const char *text;
	long long job_id, next = -1;
	bool existing;
	int rc;

	*added = false;
	if ((rc = ferry_store_get(s, FERRY_CONNECTION, due->connection_id, &con, err)))
		return rc;
	text = str_of(con.settings, "schedule");
	if (text && !ferry_schedule_parse(text, &sched, &perr)) {
		long long last = due->next_run_at < 0 ? last_sync_time(s, con.id) : -1;
		if (last >= 0 && next_after(&sched, last) > now) {
			rc = ferry_store_set_next_run(s, con.id, next_after(&sched, last), err);
			ferry_entity_release(&con);
			return rc;
		}
		next = next_after(&sched, now);
	}
	rc = ferry_connection_trigger(s, &con, NULL, now, &job_id, &existing, err);
	if (rc == FERRY_ECONFLICT) {
		ferry_err_clear(err);
		rc = 0;
	} else if (!rc) {
		*added = true;
	}
	/* Set even when skipped: a missed run runs once, not once per tick. */
	if (!rc)
		rc = ferry_store_set_next_run(s, con.id, next, err);
	ferry_entity_release(&con);
	return rc;
}

int ferry_sched_enqueue_due(struct ferry_store *s, long long now, int limit, int *enqueued,
			    struct ferry_err *err)
{
	struct ferry_due *due = NULL;
	int rc, n = 0, i, added = 0;

	if (enqueued)
		*enqueued = 0;
	if ((rc = ferry_store_requeue_expired(s, now, NULL, err)))
		return rc;
	if ((rc = ferry_store_due(s, now, limit > 0 ? limit : 100, &due, &n, err)))
		return rc;
	for (i = 0; i < n && !rc; i++) {
		bool one;
		if (!(rc = enqueue_connection(s, &due[i], now, &one, err)))
			added += one;
	}
	free(due);
	if (enqueued)
		*enqueued = added;
	return rc;
}

/* ---- one job ---- */

/*
 * One running job. The engine's threads read cancel; the watchdog writes it
 * and the flags that say why, which the runner reads only after joining it.
 */
struct run {
	struct ferry_store *s;
	const struct ferry_claimed *job;
	const struct ferry_runner_opts *o;
	long long lease_s;
	long long start_ms, last_ms, deadline_ms;
	volatile sig_atomic_t cancel;
	bool timed_out, lease_lost, cancel_asked, stopped;
};

static json_t *progress_json(const struct ferry_progress *p)
{
	json_t *streams = json_array();
	long long read = 0, est = 0;
	bool all_known = p->n > 0;
	double secs = p->elapsed_ms / 1000.0, rate;
	int i;

	for (i = 0; i < p->n; i++) {
		const struct ferry_stream_run *r = &p->streams[i];
		long long written = r->c.inserted + r->c.updated + r->c.unchanged;
		read += r->c.read;
		if (r->estimate > 0)
			est += r->estimate;
		else
			all_known = false;
		json_array_append_new(streams, json_pack("{s:s, s:I, s:I, s:o}", "name", r->stream->name,
							 "read", (json_int_t)r->c.read, "written",
							 (json_int_t)written, "total_estimate",
							 r->estimate >= 0 ? json_integer(r->estimate)
									  : json_null()));
	}
	rate = secs > 0 ? read / secs : 0;
	double pct = !strcmp(p->stage, "done") ? 100.0
		     : all_known && est > 0 ? 100.0 * (double)read / (double)est : -1;
	if (pct > 100)
		pct = 100;
	return json_pack("{s:s, s:o, s:o, s:f, s:I, s:o}", "stage", p->stage, "percentage",
			 pct >= 0 ? json_real(pct) : json_null(), "eta_seconds",
			 pct >= 0 && rate > 0 && est > read ? json_integer((json_int_t)((est - read) / rate))
							     : json_null(),
			 "rows_per_second", rate, "elapsed_ms", (json_int_t)p->elapsed_ms, "streams",
			 streams);
}

static void store_streams(struct run *r, const struct ferry_progress *p)
{
	struct ferry_job_stream v[p->n > 0 ? p->n : 1];
	struct ferry_err err = {0};
	json_t *j;
	int i;

	for (i = 0; i < p->n; i++) {
		const struct ferry_stream_run *sr = &p->streams[i];
		memset(&v[i], 0, sizeof(v[i]));
		v[i].name = sr->stream->name;
		v[i].table = sr->stream->dest_table;
		v[i].status = sr->status;
		v[i].read = sr->c.read;
		v[i].inserted = sr->c.inserted;
		v[i].updated = sr->c.updated;
		v[i].unchanged = sr->c.unchanged;
		v[i].deleted = sr->c.deleted;
		v[i].estimate = sr->estimate;
		v[i].bytes = sr->bytes;
		v[i].pages = sr->c.pages;
		v[i].duplicates = sr->c.duplicates;
		v[i].collisions = sr->c.collisions;
	}
	if (p->n)
		ferry_store_job_streams(r->s, r->job->job_id, v, p->n, &err);
	j = progress_json(p);
	if (j)
		ferry_store_job_progress(r->s, r->job->job_id, j, &err);
	json_decref(j);
}

/* Called by the engine between batches: progress (the watchdog does the rest). */
static void on_progress(void *ctx, const struct ferry_progress *p)
{
	struct run *r = ctx;
	long long now = ferry_mono_ms();

	if (now - r->last_ms < 1000 && strcmp(p->stage, "done"))
		return;
	r->last_ms = now;
	store_streams(r, p);
}

/* ---- the watchdog ---- */

/* How often the watchdog wakes: the stop flag is a memory read, so often. */
#define WATCH_TICK_MS 100
/* How often it asks the store whether a cancel was requested. */
#define CANCEL_POLL_MS 1000

struct watchdog {
	struct run *r;
	struct ferry_store *s;        /* its own handle: SQLite handles are not shared */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done, started;
};

static void stop_for(struct run *r, bool *why)
{
	*why = true;
	r->cancel = 1;
}

/* One look at the job: the caller's stop, the timeout, the lease, a cancel request. */
static void watch_once(struct watchdog *w, long long now, long long *next_beat,
		       long long *next_poll)
{
	struct run *r = w->r;
	struct ferry_err err = {0};
	long long beat_ms = r->lease_s * 1000 / 3;
	bool asked = false;

	if (r->o->stop && *r->o->stop && !r->stopped)
		stop_for(r, &r->stopped);
	if (r->deadline_ms && now >= r->deadline_ms && !r->timed_out)
		stop_for(r, &r->timed_out);
	if (now >= *next_beat && !r->lease_lost) {
		*next_beat = now + (beat_ms > WATCH_TICK_MS ? beat_ms : WATCH_TICK_MS);
		if (ferry_store_heartbeat(w->s, r->job->job_id, r->o->owner, r->lease_s,
					  (long long)time(NULL), &err) == FERRY_ECONFLICT)
			stop_for(r, &r->lease_lost);
	}
	if (now >= *next_poll && !r->cancel_asked) {
		*next_poll = now + CANCEL_POLL_MS;
		if (!ferry_store_cancel_requested(w->s, r->job->job_id, &asked, &err) && asked)
			stop_for(r, &r->cancel_asked);
	}
}

static void *watchdog_main(void *arg)
{
	struct watchdog *w = arg;
	long long next_beat = ferry_mono_ms() + w->r->lease_s * 1000 / 3, next_poll = 0;
	struct timespec ts;

	pthread_mutex_lock(&w->mu);
	while (!w->done) {
		pthread_mutex_unlock(&w->mu);
		watch_once(w, ferry_mono_ms(), &next_beat, &next_poll);
		pthread_mutex_lock(&w->mu);
		if (w->done)
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += WATCH_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!w->done && pthread_cond_timedwait(&w->cv, &w->mu, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static int watchdog_start(struct watchdog *w, struct run *r, struct ferry_err *err)
{
	pthread_condattr_t ca;
	int rc;

	memset(w, 0, sizeof(*w));
	w->r = r;
	if ((rc = ferry_store_open(ferry_store_path(r->s), &w->s, err)))
		return ferry_err_prefix(err, "starting job %lld's watchdog: ", r->job->job_id);
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&w->thread, NULL, watchdog_main, w)) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		ferry_store_close(w->s);
		w->s = NULL;
		return ferry_err_set(err, FERRY_EINTERNAL, "cannot start job %lld's watchdog thread",
				     r->job->job_id);
	}
	w->started = true;
	return 0;
}

static void watchdog_stop(struct watchdog *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->mu);
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	ferry_store_close(w->s);
	w->started = false;
}

struct opened {
	struct ferry_entity se, de, con;
	struct ferry_config sc, dc;
	struct ferry_source src;
	struct ferry_dest dst;
	char **streams;
};

static void opened_release(struct opened *x)
{
	ferry_source_close(&x->src);
	ferry_dest_close(&x->dst);
	ferry_config_release(&x->sc);
	ferry_config_release(&x->dc);
	ferry_entity_release(&x->se);
	ferry_entity_release(&x->de);
	ferry_entity_release(&x->con);
	free(x->streams);
}

/* A stored entity's plaintext settings; FERRY_EKEY when it has secrets and there is no key. */
static int load_entity(struct ferry_store *s, enum ferry_kind_entity k, const char *id,
		       const struct ferry_key *key, struct ferry_entity *e, struct ferry_config *c,
		       struct ferry_err *err)
{
	int rc;

	if (!id || !*id)
		return ferry_err_set(err, FERRY_ECONFIG, "the job names no %s", ferry_entity_word(k));
	if ((rc = ferry_store_get(s, k, id, e, err)))
		return rc == FERRY_ENOTFOUND ? (err->code = FERRY_ECONFIG) : rc;
	if (ferry_entity_has_secrets(e) && !key)
		return ferry_err_set(err, FERRY_EKEY,
				     "%s \"%s\" has secrets and FERRY_ENCRYPTION_KEY is not set (set it "
				     "to the key the secrets were stored with)", ferry_entity_word(k),
				     e->name);
	return ferry_entity_config(e, k, key, c, err);
}

/* Sync options from the connection's settings, then the request's own fields. */
static void job_opts(struct opened *x, const struct ferry_claimed *job, struct ferry_sync_opts *o)
{
	json_t *sets[2] = {x->con.settings, job->request}, *a, *v;
	size_t i;
	int k;

	o->mode = !strcmp(job->mode, "full") ? FERRY_MODE_FULL : FERRY_MODE_INCREMENTAL;
	o->backup_retention = -1;
	o->state_key = x->se.id;
	for (k = 0; k < 2; k++) {
		json_t *set = sets[k];
		if (!set)
			continue;
		if (str_of(set, "namespace"))
			o->namespace = str_of(set, "namespace");
		if (str_of(set, "prefix"))
			o->prefix = str_of(set, "prefix");
		if (str_of(set, "since"))
			o->since = str_of(set, "since");
		if (str_of(set, "until"))
			o->until = str_of(set, "until");
		if (str_of(set, "deletes"))
			o->soft_deletes = !strcmp(str_of(set, "deletes"), "soft");
		if (json_is_integer(json_object_get(set, "batch_size")))
			o->batch_rows = json_integer_value(json_object_get(set, "batch_size"));
		a = json_object_get(set, "streams");
		if (json_array_size(a)) {
			free(x->streams);
			x->streams = calloc(json_array_size(a), sizeof(char *));
			o->nstreams = 0;
			json_array_foreach(a, i, v)
				if (x->streams && json_is_string(v))
					x->streams[o->nstreams++] = (char *)json_string_value(v);
			o->streams = x->streams;
		}
	}
}

static int open_job(struct ferry_store *s, const struct ferry_claimed *job,
		    const struct ferry_runner_opts *ro, struct opened *x, struct ferry_err *err)
{
	const struct ferry_source_ops *ops;
	const char *url;
	int rc;

	if (job->connection_id[0] &&
	    (rc = ferry_store_get(s, FERRY_CONNECTION, job->connection_id, &x->con, err)))
		return rc == FERRY_ENOTFOUND ? (err->code = FERRY_ECONFIG) : rc;
	if ((rc = load_entity(s, FERRY_SOURCE, job->source_id, ro->key, &x->se, &x->sc, err)) ||
	    (rc = load_entity(s, FERRY_DESTINATION, job->dest_id, ro->key, &x->de, &x->dc, err)))
		return rc;
	if (!(ops = ferry_source_type(x->se.type)))
		return ferry_err_set(err, FERRY_ECONFIG, "source \"%s\" has unknown type \"%s\"",
				     x->se.name, x->se.type);
	if (!(url = ferry_config_get(&x->dc, "url")))
		return ferry_err_set(err, FERRY_ECONFIG, "destination \"%s\" has no URL", x->de.name);
	if ((rc = ferry_source_open(&x->src, ops, x->se.name, &x->sc, ro->fault, err)))
		return rc;
	return ferry_dest_open(&x->dst, x->de.name, url, ro->fault, err);
}

/* The cursor mirror `ferry state` shows, as cmd_sync.c keeps it. */
static void mirror_cursors(struct ferry_store *s, struct opened *x, const struct ferry_sync_opts *o,
			   const struct ferry_sync_result *res)
{
	struct ferry_err err = {0};
	int i;

	if (o->since || o->until)
		return;
	for (i = 0; i < res->n; i++) {
		char *cur = NULL;
		struct ferry_write_opts w = {.namespace = o->namespace, .state_key = o->state_key};
		if (res->plan.v[i].cursor < 0)
			continue;
		if (!x->dst.ops->get_cursor(&x->dst, &w, &res->plan.v[i], &cur, &err))
			ferry_store_state_set(s, x->se.id, x->de.id, o->namespace, res->plan.v[i].name,
					      cur, &err);
		free(cur);
	}
}

/* A failure that will not heal: the connection stops running on its schedule. */
static void connection_error(struct ferry_store *s, const char *id)
{
	struct ferry_entity e = {0};
	struct ferry_err err = {0};
	char out[32];
	json_t *set;

	if (!id || !*id || ferry_store_get(s, FERRY_CONNECTION, id, &e, &err))
		return;
	set = json_deep_copy(e.settings);
	json_object_set_new(set, "status", json_string("error"));
	ferry_store_put(s, FERRY_CONNECTION, e.name, e.type, set, NULL, NULL, true, out, NULL, &err);
	json_decref(set);
	ferry_entity_release(&e);
}

/* The caller stopped the job (opts.stop): back to the queue, the attempt uncounted. */
static int release_job(struct ferry_store *s, const struct ferry_claimed *job,
		       const struct ferry_runner_opts *ro, struct ferry_run_outcome *out,
		       struct ferry_err *err)
{
	bool released = false;
	int rc = ferry_store_release(s, job->job_id, ro->owner, (long long)time(NULL), &released, err);

	if (rc == FERRY_ECONFLICT) {
		snprintf(out->status, sizeof(out->status), "lost");
		out->err = *err;
		ferry_err_clear(err);
		return 0;
	}
	if (rc)
		return rc;
	snprintf(out->status, sizeof(out->status), released ? "released" : "cancelled");
	ferry_err_set(&out->err, FERRY_ECANCEL, released
		      ? "stopped because ferry is shutting down; queued again (the attempt does not count)"
		      : "cancelled (a cancel was asked) while ferry was shutting down");
	return 0;
}

int ferry_runner_run(struct ferry_store *s, const struct ferry_claimed *job,
		     const struct ferry_runner_opts *ro, struct ferry_run_outcome *out,
		     struct ferry_err *err)
{
	struct opened x = {0};
	struct ferry_sync_opts o = {0};
	struct ferry_sync_result res = {0};
	struct run r = {0};
	struct watchdog wd = {0};
	struct ferry_err *e = &out->err;
	const char *status, *code;
	long long retry = -1, now;
	int rc, i;

	memset(out, 0, sizeof(*out));
	r.s = s;
	r.job = job;
	r.o = ro;
	r.lease_s = ro->lease_s > 0 ? ro->lease_s : ferry_lease_seconds();
	r.start_ms = r.last_ms = ferry_mono_ms();
	if (job->timeout_s > 0)
		r.deadline_ms = r.start_ms + job->timeout_s * 1000;

	rc = watchdog_start(&wd, &r, e);
	if (!rc)
		rc = open_job(s, job, ro, &x, e);
	if (!rc) {
		job_opts(&x, job, &o);
		o.cancel = &r.cancel;
		rc = ferry_sync(&x.src, &x.dst, &o, on_progress, &r, &res, e);
	}
	/* From here on the flags are the runner's alone. */
	watchdog_stop(&wd);
	out->duration_ms = ferry_mono_ms() - r.start_ms;
	for (i = 0; i < res.n; i++)
		out->rows += res.runs[i].c.read;
	if (res.n) {
		struct ferry_progress p = {res.runs, res.n, -1, rc ? "failed" : "done", out->duration_ms};
		store_streams(&r, &p);
	}
	if (r.lease_lost) {
		snprintf(out->status, sizeof(out->status), "lost");
		ferry_err_set(e, FERRY_ECONFLICT,
			      "job %lld: the lease was lost while it ran (another worker took it over)",
			      job->job_id);
		rc = 0;
		goto done;
	}
	if (rc && r.stopped && !r.cancel_asked) {
		rc = release_job(s, job, ro, out, err);
		goto done;
	}
	if (rc == FERRY_ECANCEL && r.timed_out && !r.cancel_asked)
		rc = ferry_err_set(e, FERRY_ECONNECT,
				   "attempt %d timed out after %llds (the connection's timeout_s) and "
				   "was stopped", job->attempt, job->timeout_s);
	if (!rc) {
		mirror_cursors(s, &x, &o, &res);
		status = "succeeded";
		code = NULL;
		ferry_err_clear(e);
	} else if (rc == FERRY_ECANCEL) {
		status = "cancelled";
		code = "cancelled";
	} else {
		status = "failed";
		code = r.timed_out ? "timeout" : ferry_code_name(rc);
		if (ferry_runner_retryable(rc))
			retry = ferry_retry_backoff(job->attempt);
	}
	now = (long long)time(NULL);
	rc = ferry_store_finish(s, job->job_id, ro->owner, status, code, rc ? e->msg : NULL, retry,
				now, &out->requeued, err);
	if (rc == FERRY_ECONFLICT) {
		snprintf(out->status, sizeof(out->status), "lost");
		*e = *err;
		ferry_err_clear(err);
		rc = 0;
		goto done;
	}
	if (rc)
		goto done;
	snprintf(out->status, sizeof(out->status), "%s", status);
	out->retry_after_s = out->requeued ? retry : 0;
	if (!strcmp(status, "failed") && retry < 0)
		connection_error(s, job->connection_id);
done:
	ferry_sync_result_release(&res);
	opened_release(&x);
	return rc;
}
