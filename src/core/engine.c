/*
 * engine.c - plan -> read -> write -> commit (see ferry/engine.h).
 *
 * Reading and writing overlap: a reader thread fills a small ring of batches
 * from the source while the calling thread hands full ones to the
 * destination, so a PostgreSQL -> PostgreSQL copy runs at the speed of the
 * slower side, as the raw `COPY | COPY` pipe does, in memory bounded by the
 * ring (NSLOTS batches of at most batch_bytes each).
 *
 * Incremental syncs commit rows and cursor together per batch (the source
 * reads in cursor order), so an interrupted run resumes after the last
 * committed batch. Full syncs load every stream into staging tables and only
 * then ask the destination to swap them all in one transaction.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ferry/engine.h"
#include "util/text.h"

#define NSLOTS 3
#define DEFAULT_BATCH_ROWS 10000
#define DEFAULT_BATCH_BYTES (8 << 20)
#define BATCH_CAP (256 << 20) /* one row may be large; a batch never grows past this */

struct slot {
	struct ferry_batch b;
	int rc;
	struct ferry_err err;
};

struct reader {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot slots[NSLOTS];
	int head, tail, count;
	bool stop;
	struct ferry_source *src;
	void *h;              /* the source's handle of this stream */
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	for (;;) {
		struct slot *s;
		int rc;

		pthread_mutex_lock(&r->mu);
		while (r->count == NSLOTS && !r->stop)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->stop) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		s = &r->slots[r->tail];
		pthread_mutex_unlock(&r->mu);

		ferry_batch_reset(&s->b);
		ferry_err_clear(&s->err);
		rc = ferry_fault_hit(r->src->fault, "read", &s->err);
		if (!rc)
			rc = r->src->ops->read(r->src, r->h, &s->b, &s->err);
		if (rc < 0 && !s->err.code)
			ferry_err_set(&s->err, rc, "the source failed without saying why");

		pthread_mutex_lock(&r->mu);
		s->rc = rc;
		r->tail = (r->tail + 1) % NSLOTS;
		r->count++;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		if (rc != 0)
			break;
	}
	return NULL;
}

static int reader_start(struct reader *r, struct ferry_source *src, void *h)
{
	int i;

	memset(r, 0, sizeof(*r));
	r->src = src;
	r->h = h;
	for (i = 0; i < NSLOTS; i++)
		ferry_batch_init(&r->slots[i].b, BATCH_CAP);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	return pthread_create(&r->thread, NULL, reader_main, r) ? FERRY_EINTERNAL : 0;
}

/* Waits for the next filled slot. */
static struct slot *reader_next(struct reader *r)
{
	struct slot *s;

	pthread_mutex_lock(&r->mu);
	while (r->count == 0)
		pthread_cond_wait(&r->cv, &r->mu);
	s = &r->slots[r->head];
	pthread_mutex_unlock(&r->mu);
	return s;
}

static void reader_release(struct reader *r)
{
	pthread_mutex_lock(&r->mu);
	r->head = (r->head + 1) % NSLOTS;
	r->count--;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void reader_stop(struct reader *r)
{
	int i;

	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	for (i = 0; i < NSLOTS; i++)
		ferry_batch_release(&r->slots[i].b);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
}

/* ---- planning ---- */

static void names_list(const struct ferry_stream_list *l, char *out, size_t n)
{
	size_t o = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < l->n && o + 4 < n; i++)
		o += (size_t)snprintf(out + o, n - o, "%s%s", i ? ", " : "", l->v[i].name);
	if (o >= n - 4)
		snprintf(out + n - 5, 5, "...");
}

/* ferry's own bookkeeping tables, found when a ferry destination is read as a source. */
static bool is_ferry_table(const char *name)
{
	const char *base = strrchr(name, '.') ? strrchr(name, '.') + 1 : name;
	const char *kinds[] = {"_staging_", "_backup_"};
	size_t i;

	if (!strcmp(base, "_ferry_state") || strstr(base, "___ferry_state"))
		return true;
	for (i = 0; i < 2; i++) {
		const char *p = strstr(base, kinds[i]), *q;
		if (!p || p == base)
			continue;
		q = p + strlen(kinds[i]);
		while (*q >= '0' && *q <= '9')
			q++;
		if (!*q && q > p + strlen(kinds[i]))
			return true;
	}
	return false;
}

static int pick_streams(struct ferry_source *src, const struct ferry_sync_opts *o,
			struct ferry_stream_list *all, struct ferry_stream_list *plan,
			struct ferry_err *err)
{
	char avail[400];
	int i, j;

	if (!o->nstreams) {
		for (i = 0; i < all->n; i++) {
			struct ferry_stream *d;
			if (is_ferry_table(all->v[i].name))
				continue;
			d = ferry_stream_list_push(plan);
			if (!d)
				return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
			*d = all->v[i];
			memset(&all->v[i], 0, sizeof(all->v[i]));
			all->v[i].cursor = -1;
		}
		return 0;
	}
	names_list(all, avail, sizeof(avail));
	for (i = 0; i < o->nstreams; i++) {
		const char *want = o->streams[i];
		struct ferry_stream *s = NULL;
		for (j = 0; j < all->n; j++)
			if (!strcmp(all->v[j].name, want))
				s = &all->v[j];
		if (!s) {
			const char *names[256];
			const char *best;
			int n = all->n < 256 ? all->n : 256;
			for (j = 0; j < n; j++)
				names[j] = all->v[j].name;
			best = ferry_closest(want, names, n);
			return ferry_err_set(err, FERRY_EUSAGE,
					     "stream \"%s\" not found in source \"%s\"%s%s%s (it has: %s)",
					     want, src->name, best ? ": did you mean \"" : "",
					     best ? best : "", best ? "\"?" : "", avail);
		}
		for (j = 0; j < plan->n; j++)
			if (!strcmp(plan->v[j].name, want))
				break;
		if (j < plan->n)
			continue; /* named twice */
		struct ferry_stream *d = ferry_stream_list_push(plan);
		if (!d || ferry_stream_copy(d, s))
			return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	}
	return 0;
}

/*
 * Destination table names: the sync's prefix + stream name; API sources
 * without a prefix get slug(source name) + "_" (DESIGN.md §3).
 */
static int name_tables(struct ferry_source *src, const struct ferry_sync_opts *o,
		       struct ferry_stream_list *plan, struct ferry_err *err)
{
	char slug[256] = "";
	const char *prefix = o->prefix ? o->prefix : "";
	int i, j;

	if (!o->prefix && src->ops->name_by_source) {
		ferry_slug(src->name, slug, sizeof(slug) - 1);
		if (*slug)
			strcat(slug, "_");
		prefix = slug;
	}
	for (i = 0; i < plan->n; i++) {
		struct ferry_stream *s = &plan->v[i];
		char want[512], fit[64];
		char *p;

		snprintf(want, sizeof(want), "%s%s", prefix, s->name);
		for (p = want; *p; p++)
			if (*p == '.')
				*p = '_';
		ferry_ident_fit(want, fit, sizeof(fit));
		free(s->dest_table);
		s->dest_table = strdup(fit);
		if (!s->dest_table)
			return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		for (j = 0; j < i; j++)
			if (!strcmp(plan->v[j].dest_table, s->dest_table))
				return ferry_err_set(err, FERRY_ECONFIG,
						     "streams \"%s\" and \"%s\" would both be written to table "
						     "\"%s\": sync them separately with different --prefix values",
						     plan->v[j].name, s->name, s->dest_table);
	}
	return 0;
}

static int check_plan(struct ferry_source *src, const struct ferry_sync_opts *o,
		      enum ferry_mode mode, const struct ferry_stream_list *plan,
		      struct ferry_err *err)
{
	int i;

	if (plan->n == 0)
		return ferry_err_set(err, FERRY_ENOTFOUND,
				     "source \"%s\" has no tables to sync (check its \"tables\" setting)",
				     src->name);
	for (i = 0; i < plan->n; i++) {
		const struct ferry_stream *s = &plan->v[i];
		bool api = src->ops->name_by_source;
		if (mode == FERRY_MODE_INCREMENTAL && s->npk == 0)
			return api ? ferry_err_set(err, FERRY_ECONFIG,
						   "stream \"%s\" of source \"%s\" has no primary key in its "
						   "manifest, so an incremental sync cannot upsert it: run it "
						   "with --full, or declare primary_key (or key_fields) in a "
						   "manifest of your own (docs/manifest.md)", s->name, src->name)
				   : ferry_err_set(err, FERRY_ECONFIG,
						   "table \"%s\" of source \"%s\" has no primary key, so an "
						   "incremental sync cannot upsert it: name one with "
						   "`ferry source set \"%s\" --set pk.%s=COLUMN[,COLUMN...]`, "
						   "or run with --full", s->name, src->name, src->name, s->name);
		if ((o->since || o->until) && s->cursor < 0)
			return api ? ferry_err_set(err, FERRY_EUSAGE,
						   "--since/--until need a cursor, and stream \"%s\" of source "
						   "\"%s\" has none in its manifest (see docs/builtin-connectors.md "
						   "for the streams that have one)", s->name, src->name)
				   : ferry_err_set(err, FERRY_EUSAGE,
						   "--since/--until need a cursor column, and stream \"%s\" has "
						   "none: set one with `ferry source set \"%s\" --set "
						   "cursor.%s=COLUMN`", s->name, src->name, s->name);
		if (s->ncols == 0 && !src->ops->name_by_source)
			return ferry_err_set(err, FERRY_ECONFIG, "table \"%s\" has no columns", s->name);
	}
	return 0;
}

/* ---- moving one stream ---- */

struct run {
	struct ferry_source *src;
	struct ferry_dest *dst;
	const struct ferry_sync_opts *o;
	struct ferry_write_opts w;
	struct ferry_sync_result *res;
	ferry_progress_fn progress;
	void *ctx;
	long long t0;
};

static void report(struct run *r, int current, const char *stage)
{
	struct ferry_progress p;

	if (!r->progress)
		return;
	p.streams = r->res->runs;
	p.n = r->res->n;
	p.current = current;
	p.stage = stage;
	p.elapsed_ms = ferry_mono_ms() - r->t0;
	r->progress(r->ctx, &p);
}

/* The cursor value of the last row of an ordered batch, or NULL. */
static char *last_cursor(const struct ferry_batch *b, int idx)
{
	struct ferry_buf out = FERRY_BUF_INIT;
	const char *line, *end;
	bool null = false;

	line = ferry_copy_last_line(&b->data, &end);
	if (!line || ferry_copy_field_at(line, end, idx, &out, &null) || null) {
		ferry_buf_release(&out);
		return NULL;
	}
	return ferry_buf_detach(&out, NULL);
}

/*
 * One stream being read: the source's handle and a reader thread filling a
 * ring. Several lanes may be open at once (sources that read streams in
 * parallel); the destination takes them one after the other.
 */
struct lane {
	int i;                     /* plan index */
	struct ferry_read_req req;
	char *from;                /* stored cursor the read starts at */
	void *h;
	bool began, reading;
	struct reader rd;
	const struct ferry_stream *shape;  /* columns last given to the destination */
};

/* Stream i as seen by the engine: the plan owns it; the lane's source got a read-only view. */
static struct ferry_stream *plan_stream(struct run *r, int i)
{
	return &r->res->plan.v[i];
}

static bool incremental_cursor(struct run *r, const struct ferry_stream *s)
{
	return r->w.mode == FERRY_MODE_INCREMENTAL && s->cursor >= 0;
}

/* Starts reading stream i (main thread: it asks the destination for the stored cursor). */
static int lane_open(struct run *r, struct lane *l, int i, char **cursor_hi, struct ferry_err *err)
{
	struct ferry_stream *s = plan_stream(r, i);
	const struct ferry_sync_opts *o = r->o;
	int rc;

	memset(l, 0, sizeof(*l));
	l->i = i;
	if (incremental_cursor(r, s) && !o->since && !o->until && !o->dry_run &&
	    (rc = r->dst->ops->get_cursor(r->dst, &r->w, s, &l->from, err)))
		return rc;
	l->req.stream = s;
	l->req.cursor_from = l->from;
	l->req.since = o->since;
	l->req.until = o->until;
	l->req.order_by_cursor = incremental_cursor(r, s);
	l->req.batch_rows = o->batch_rows > 0 ? o->batch_rows : DEFAULT_BATCH_ROWS;
	l->req.batch_bytes = o->batch_bytes > 0 ? o->batch_bytes : DEFAULT_BATCH_BYTES;
	l->req.cancel = o->cancel;
	if ((rc = r->src->ops->begin(r->src, &l->req, &l->h, cursor_hi, err)))
		return rc;
	l->began = true;
	if (reader_start(&l->rd, r->src, l->h))
		return ferry_err_set(err, FERRY_EINTERNAL, "cannot start the reader thread");
	l->reading = true;
	return 0;
}

static void lane_close(struct run *r, struct lane *l)
{
	if (l->reading)
		reader_stop(&l->rd);
	if (l->began)
		r->src->ops->end(r->src, l->h);
	free(l->from);
	memset(l, 0, sizeof(*l));
}

static bool same_columns(const struct ferry_stream *a, const struct ferry_stream *b)
{
	if (a->ncols != b->ncols)
		return false;
	for (int i = 0; i < a->ncols; i++)
		if (strcmp(a->cols[i].name, b->cols[i].name) || strcmp(a->cols[i].pg_type, b->cols[i].pg_type))
			return false;
	return true;
}

/* Takes the columns and keys of shape into the plan's stream (names, estimate, indexes kept). */
static int adopt(struct run *r, struct lane *l, const struct ferry_stream *shape, struct ferry_err *err)
{
	struct ferry_stream *s = plan_stream(r, l->i), next;

	l->shape = shape;
	if (same_columns(s, shape))
		return 0;
	if (ferry_stream_copy(&next, shape))
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	/* keep the plan's names, estimate and indexes; take the columns and keys */
	free(next.name);
	free(next.source_table);
	free(next.dest_table);
	for (int k = 0; k < next.nindexes; k++) {
		free(next.indexes[k].name);
		free(next.indexes[k].cols);
	}
	free(next.indexes);
	next.name = s->name;
	next.source_table = s->source_table;
	next.dest_table = s->dest_table;
	next.estimate = s->estimate;
	next.cursor_unordered = s->cursor_unordered;
	next.indexes = s->indexes;
	next.nindexes = s->nindexes;
	s->name = s->source_table = s->dest_table = NULL;
	s->indexes = NULL;
	s->nindexes = 0;
	ferry_stream_release(s);
	*s = next;
	return 0;
}

/* The batch's rows carry other columns than the table has: grow the table first. */
static int evolve(struct run *r, struct lane *l, const struct ferry_stream *shape, struct ferry_err *err)
{
	struct ferry_stream *s = plan_stream(r, l->i);
	int rc;

	l->shape = shape;
	if (same_columns(s, shape))
		return 0;
	if (!r->dst->ops->evolve)
		return ferry_err_set(err, FERRY_EINTERNAL, "destination \"%s\" cannot add columns",
				     r->dst->name);
	if ((rc = r->dst->ops->evolve(r->dst, &r->w, s, shape, err)))
		return rc;
	return adopt(r, l, shape, err);
}

/* The destination takes stream l->i from its lane until the source is done. */
static int lane_write(struct run *r, struct lane *l, char **cursor_hi, struct ferry_err *err)
{
	struct ferry_stream_run *sr = &r->res->runs[l->i];
	struct ferry_stream *s = plan_stream(r, l->i);
	const struct ferry_sync_opts *o = r->o;
	bool ordered = incremental_cursor(r, s) && !s->cursor_unordered && !o->since && !o->until;
	long long last_report = 0;
	int rc;

	bool begun = false;

	sr->status = "running";
	report(r, l->i, "read");
	for (;;) {
		struct slot *sl = reader_next(&l->rd);
		char *cur = NULL;

		if (sl->rc < 0) {
			*err = sl->err;
			return sl->rc;
		}
		if (o->cancel && *o->cancel)
			return ferry_err_set(err, FERRY_ECANCEL, "cancelled while syncing stream \"%s\"",
					     s->name);
		/*
		 * The table is created when the first batch is in, so a source that
		 * learns its columns from the data creates it with what it learned.
		 */
		if (!begun) {
			if (sl->b.shape && (rc = adopt(r, l, sl->b.shape, err)))
				return rc;
			if ((rc = r->dst->ops->stream_begin(r->dst, &r->w, s, err)))
				return rc;
			begun = true;
		}
		if (sl->b.shape && sl->b.shape != l->shape && (rc = evolve(r, l, sl->b.shape, err)))
			return rc;
		if (sl->b.nrows > 0) {
			if ((rc = ferry_fault_hit(r->dst->fault, "write", err)))
				return rc;
			if (ordered)
				cur = last_cursor(&sl->b, s->cursor);
			rc = r->dst->ops->write(r->dst, &r->w, s, &sl->b, cur, &sr->c, err);
			free(cur);
			if (rc)
				return rc;
			sr->c.read += sl->b.nrows;
			sr->bytes += sl->b.src_bytes ? sl->b.src_bytes : (long long)sl->b.data.len;
		}
		sr->c.pages += sl->b.pages;
		sr->c.duplicates += sl->b.duplicates;
		sr->c.collisions += sl->b.collisions;
		if (sl->b.total >= 0)
			sr->estimate = sl->b.total;
		rc = sl->rc;
		if (rc == FERRY_DONE && sl->b.cursor_hi) {
			free(*cursor_hi);
			*cursor_hi = sl->b.cursor_hi;
			sl->b.cursor_hi = NULL;
		}
		reader_release(&l->rd);
		if (rc == FERRY_DONE)
			break;
		if (ferry_mono_ms() - last_report >= 100) {
			last_report = ferry_mono_ms();
			report(r, l->i, "read");
		}
	}
	/* rows that came out of cursor order: the cursor moves now that all are in */
	if (incremental_cursor(r, s) && s->cursor_unordered && *cursor_hi && !r->w.keep_cursor) {
		struct ferry_batch none;
		ferry_batch_init(&none, 0);
		rc = r->dst->ops->write(r->dst, &r->w, s, &none, *cursor_hi, &sr->c, err);
		ferry_batch_release(&none);
		if (rc)
			return rc;
	}
	if ((rc = ferry_fault_hit(r->dst->fault, "stream_end", err)))
		return rc;
	if ((rc = r->dst->ops->stream_end(r->dst, &r->w, s, err)))
		return rc;
	sr->status = r->w.mode == FERRY_MODE_FULL ? "loaded" : "done";
	report(r, l->i, "read");
	return 0;
}

/*
 * Moves every stream of the plan. Up to `par` streams are read at once; the
 * destination writes them in plan order, so a lane opened early waits (its
 * ring full) until its turn.
 */
static int move_streams(struct run *r, char **cursors, struct ferry_err *err)
{
	int n = r->res->n, par = 1, next = 0, i, rc = 0;
	struct lane *lanes;

	if (r->src->ops->max_parallel)
		par = r->src->ops->max_parallel(r->src);
	par = par < 1 ? 1 : par > n ? n : par;
	lanes = calloc((size_t)n, sizeof(*lanes));
	if (!lanes)
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	for (i = 0; i < n && !rc; i++) {
		struct ferry_stream *s = plan_stream(r, i);
		while (!rc && next < n && next < i + par) {
			rc = lane_open(r, &lanes[next], next, &cursors[next], err);
			next++;
		}
		if (!rc)
			rc = lane_write(r, &lanes[i], &cursors[i], err);
		if (rc) {
			r->res->runs[i].status = "failed";
			char quoted[300];
			snprintf(quoted, sizeof(quoted), "\"%s\"", s->name);
			if (rc != FERRY_ECANCEL && !strstr(err->msg, quoted))
				ferry_err_prefix(err, "stream \"%s\": ", s->name);
		}
		lane_close(r, &lanes[i]);
	}
	for (i = 0; i < next; i++)
		lane_close(r, &lanes[i]);
	free(lanes);
	return rc;
}

/*
 * Dry run of a source that learns its columns from the data: read its first
 * batch so the plan shows the columns the table would get. Nothing is written.
 */
static int sample(struct run *r, int i, struct ferry_err *err)
{
	struct lane l;
	struct slot *sl;
	char *hi = NULL;
	int rc;

	if (!(rc = lane_open(r, &l, i, &hi, err))) {
		sl = reader_next(&l.rd);
		if (sl->rc < 0) {
			*err = sl->err;
			rc = sl->rc;
		} else {
			r->res->runs[i].c.read = sl->b.nrows;
			r->res->runs[i].c.pages = sl->b.pages;
			if (sl->b.total >= 0)
				r->res->runs[i].estimate = sl->b.total;
			if (sl->b.shape)
				rc = adopt(r, &l, sl->b.shape, err);
		}
	}
	lane_close(r, &l);
	free(hi);
	return rc;
}

/* ---- the whole sync ---- */

void ferry_sync_result_release(struct ferry_sync_result *res)
{
	ferry_stream_list_release(&res->plan);
	free(res->runs);
	memset(res, 0, sizeof(*res));
}

int ferry_sync(struct ferry_source *src, struct ferry_dest *dst, const struct ferry_sync_opts *o,
	       ferry_progress_fn progress, void *ctx, struct ferry_sync_result *res,
	       struct ferry_err *err)
{
	struct ferry_stream_list all = {0};
	struct run r = {0};
	char **cursors = NULL;
	struct ferry_counts *counts = NULL;
	bool staged = false;
	int rc, i;

	memset(res, 0, sizeof(*res));
	if (!src || !src->ops || !dst || !dst->ops || !o)
		return ferry_err_set(err, FERRY_EINTERNAL, "ferry_sync: source or destination not open");
	r.src = src;
	r.dst = dst;
	r.o = o;
	r.res = res;
	r.progress = progress;
	r.ctx = ctx;
	r.t0 = ferry_mono_ms();
	res->mode = o->reset ? FERRY_MODE_FULL : o->mode;
	res->run_unix = (long long)time(NULL);
	r.w.mode = res->mode;
	r.w.namespace = o->namespace && *o->namespace ? o->namespace : NULL;
	r.w.state_key = o->state_key ? o->state_key : src->name;
	r.w.soft_deletes = o->soft_deletes;
	r.w.keep_cursor = o->since || o->until;
	r.w.run_unix = res->run_unix;
	r.w.backup_retention = o->backup_retention >= 0 ? o->backup_retention : 60;

	/* plan */
	if ((rc = ferry_fault_hit(src->fault, "plan", err)))
		goto out;
	if ((rc = src->ops->discover(src, &all, err)))
		goto out;
	if ((rc = pick_streams(src, o, &all, &res->plan, err)) ||
	    (rc = name_tables(src, o, &res->plan, err)) ||
	    (rc = check_plan(src, o, res->mode, &res->plan, err)))
		goto out;
	res->n = res->plan.n;
	res->runs = calloc((size_t)res->n, sizeof(*res->runs));
	cursors = calloc((size_t)res->n, sizeof(*cursors));
	counts = calloc((size_t)res->n, sizeof(*counts));
	if (!res->runs || !cursors || !counts) {
		rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < res->n; i++) {
		res->runs[i].stream = &res->plan.v[i];
		res->runs[i].status = "pending";
		res->runs[i].estimate = res->plan.v[i].estimate;
	}
	report(&r, -1, "plan");

	if (o->dry_run) {
		for (i = 0; i < res->n; i++)
			if ((rc = dst->ops->table_exists(dst, &r.w, &res->plan.v[i],
							 &res->runs[i].table_exists, err)) ||
			    (src->ops->name_by_source && (rc = sample(&r, i, err))))
				goto out;
		rc = 0;
		goto out;
	}

	if (o->reset && (rc = dst->ops->reset(dst, &r.w, res->plan.v, res->n, err)))
		goto out;
	if ((rc = dst->ops->prepare(dst, &r.w, res->plan.v, res->n, err)))
		goto out;
	staged = res->mode == FERRY_MODE_FULL;

	/* read -> write */
	if ((rc = move_streams(&r, cursors, err)))
		goto out;

	/* commit */
	if (res->mode == FERRY_MODE_FULL) {
		report(&r, -1, "commit");
		if ((rc = ferry_fault_hit(dst->fault, "before_commit", err)))
			goto out;
		for (i = 0; i < res->n; i++)
			counts[i] = res->runs[i].c;
		if (r.w.keep_cursor)
			for (i = 0; i < res->n; i++) {
				free(cursors[i]);
				cursors[i] = NULL;
			}
		if ((rc = dst->ops->commit_full(dst, &r.w, res->plan.v, res->n, cursors, counts, err)))
			goto out;
		staged = false;
		for (i = 0; i < res->n; i++) {
			res->runs[i].c.inserted = counts[i].inserted;
			res->runs[i].c.deleted = counts[i].deleted;
			res->runs[i].status = "done";
		}
		if ((rc = ferry_fault_hit(dst->fault, "after_commit", err)))
			goto out;
	}
	report(&r, -1, "done");
	rc = 0;
out:
	if (rc && staged)
		dst->ops->abort(dst, &r.w, res->plan.v, res->n);
	if (rc && res->runs)
		for (i = 0; i < res->n; i++)
			if (strcmp(res->runs[i].status, "done") && strcmp(res->runs[i].status, "pending"))
				res->runs[i].status = "failed";
	for (i = 0; cursors && i < res->n; i++)
		free(cursors[i]);
	free(cursors);
	free(counts);
	ferry_stream_list_release(&all);
	res->duration_ms = ferry_mono_ms() - r.t0;
	return rc;
}
