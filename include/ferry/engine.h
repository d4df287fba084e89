/*
 * engine.h - one sync: plan -> read -> write -> commit.
 *
 * ferry_sync() drives an opened source and destination through the ops
 * tables: it picks the streams, names their tables, refuses what cannot work
 * (incremental without a primary key, --since without a cursor), then moves
 * each stream batch by batch - a reader thread fetches the next batch while
 * the destination writes the current one - and, for full syncs, asks the
 * destination to swap every stream in at once. Progress goes to a callback;
 * the engine knows nothing of terminals or the state store.
 */
#ifndef FERRY_ENGINE_H
#define FERRY_ENGINE_H

#include <stdbool.h>
#include <signal.h>
#include "ferry/connector.h"

struct ferry_sync_opts {
	enum ferry_mode mode;
	bool reset;                  /* drop tables and state first, then run full */
	bool dry_run;                /* plan only: nothing is written */
	bool soft_deletes;           /* full: keep vanished rows with _ferry_deleted_at */
	const char *since, *until;   /* backfill bounds on the cursor; stored cursor kept */
	const char *namespace;       /* schema / "NS__" prefix; NULL: none */
	const char *prefix;          /* destination table prefix; NULL: none */
	const char *state_key;       /* owner of the cursor rows (source id) */
	long long batch_rows;        /* default 10000 */
	long long batch_bytes;       /* default 8 MiB */
	long long backup_retention;  /* seconds; default 60; < 0 means default */
	char *const *streams;        /* names chosen; NULL/0: every stream */
	int nstreams;
	volatile sig_atomic_t *cancel; /* set non-zero to stop at the next batch; may be NULL */
};

struct ferry_stream_run {
	const struct ferry_stream *stream;  /* read-only, owned by the engine */
	const char *status;          /* "pending", "running", "loaded", "done", "failed" */
	struct ferry_counts c;
	long long bytes;
	long long estimate;
	bool table_exists;           /* dry run: the live table is already there */
};

struct ferry_progress {
	const struct ferry_stream_run *streams;
	int n;
	int current;                 /* index of the stream being moved, -1 when none */
	const char *stage;           /* "plan", "read", "commit", "done" */
	long long elapsed_ms;
};

typedef void (*ferry_progress_fn)(void *ctx, const struct ferry_progress *p);

struct ferry_sync_result {
	struct ferry_stream_list plan;   /* the selected streams, with dest_table set */
	struct ferry_stream_run *runs;   /* one per plan stream */
	int n;
	enum ferry_mode mode;            /* the mode that ran (full after --reset) */
	long long run_unix;
	long long duration_ms;
};

/*
 * Runs one sync. src and dst must be opened. Fills res (release it with
 * ferry_sync_result_release even on failure). progress may be NULL.
 */
int ferry_sync(struct ferry_source *src, struct ferry_dest *dst, const struct ferry_sync_opts *o,
	       ferry_progress_fn progress, void *ctx, struct ferry_sync_result *res,
	       struct ferry_err *err);
void ferry_sync_result_release(struct ferry_sync_result *res);

/* Wrappers every caller uses instead of the ops tables (argument checks, faults). */
int ferry_source_open(struct ferry_source *src, const struct ferry_source_ops *ops, const char *name,
		      const struct ferry_config *config, struct ferry_fault *fault,
		      struct ferry_err *err);
void ferry_source_close(struct ferry_source *src);
int ferry_dest_open(struct ferry_dest *d, const char *name, const char *url,
		    struct ferry_fault *fault, struct ferry_err *err);
void ferry_dest_close(struct ferry_dest *d);
/* Checks settings against a type's spec: unknown keys (with a suggestion) and missing required ones. */
int ferry_source_check_settings(const struct ferry_source_ops *ops, const struct ferry_config *c,
				struct ferry_err *err);
/* Whether a setting of a source type is secret (c: the source's settings, may be NULL). */
bool ferry_source_setting_is_secret(const char *type, const struct ferry_config *c, const char *key);

#endif
