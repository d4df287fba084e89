/*
 * connector.h - the ops tables every source and destination implements.
 *
 * The engine never calls a connector directly: it goes through the wrappers in
 * src/core/connector.c, which check arguments, fill defaults and give fault
 * injection a place to act (SQLite's os.c, curl's protocol handlers). Each
 * connector type is one entry in a static registry table.
 *
 * Rows travel as struct ferry_batch (PostgreSQL COPY text, see copytext.h).
 * Cursor values travel as text in PostgreSQL's text form and are compared by
 * the database that holds the column, so a cursor is never parsed by ferry.
 */
#ifndef FERRY_CONNECTOR_H
#define FERRY_CONNECTOR_H

#include <signal.h>
#include <stdbool.h>
#include "ferry/err.h"
#include "ferry/config.h"
#include "ferry/stream.h"
#include "ferry/copytext.h"
#include "ferry/fault.h"

/* ---- sources ---------------------------------------------------------- */

struct ferry_source {
	const struct ferry_source_ops *ops;   /* read-only */
	const char *name;                     /* read-only: the user's name, for messages */
	const char *type;                     /* read-only: the connector type ("stripe") */
	const struct ferry_config *config;    /* read-only: settings, secrets decrypted */
	struct ferry_fault *fault;            /* read-only, may be NULL */
	void *priv;                           /* private to the connector */
};

struct ferry_read_req {
	const struct ferry_stream *stream;
	const char *cursor_from;   /* read rows with cursor >= this; NULL: from the start */
	const char *since;         /* backfill: cursor >= since; NULL: unbounded */
	const char *until;         /* backfill: cursor <  until; NULL: unbounded */
	bool order_by_cursor;      /* incremental with a cursor: rows in cursor order */
	long long batch_rows;      /* at most this many rows per read() */
	long long batch_bytes;     /* stop adding rows once out->data.len reaches this (0: no limit) */
	volatile sig_atomic_t *cancel; /* non-zero: stop waiting (rate limits, retries); may be NULL */
};

/* One declared setting of a connector type. */
struct ferry_setting_spec {
	const char *key;         /* "url"; a trailing '.' means a family: "cursor." matches "cursor.users" */
	bool required;
	bool secret;             /* stored encrypted, shown as ******** */
	const char *help;
};

/* A connection's interval when neither it nor its connector gives one: an hour. */
#define FERRY_SYNC_INTERVAL_DEFAULT 3600

struct ferry_source_ops {
	const char *type;                          /* "postgres", "sqlite", "stripe", "rest" */
	const char *summary;
	const struct ferry_setting_spec *settings; /* terminated by {NULL} */
	/*
	 * Types whose settings depend on the settings themselves (a "rest"
	 * source's manifest file declares its own): the spec for config c.
	 * NULL: settings above.
	 */
	int (*settings_for)(const struct ferry_source_ops *ops, const struct ferry_config *c,
			    const struct ferry_setting_spec **out, struct ferry_err *err);
	/*
	 * Streams that may be read at once, each through its own handle (API
	 * sources); 0 or 1: one at a time. The engine still writes them one after
	 * the other; the others' batches wait in their readers' rings.
	 */
	int (*max_parallel)(struct ferry_source *src);
	/*
	 * API sources: destination tables are named slug(source name) + "_" +
	 * stream (DESIGN.md §3) unless the sync gives its own prefix. Database
	 * sources keep their table names.
	 */
	bool name_by_source;
	/*
	 * How often a connection from this source syncs when auto-sync is on
	 * and it has no schedule of its own (seconds; a manifest's
	 * sync_interval). 0: FERRY_SYNC_INTERVAL_DEFAULT.
	 */
	long long sync_interval_s;

	/* Connects; checks settings. FERRY_ECONNECT/EAUTH/EUSAGE with a message naming host:port, file, or key. */
	int (*open)(struct ferry_source *src, struct ferry_err *err);
	/*
	 * Lists the streams with columns, primary key (from the database, or
	 * "pk.TABLE" settings), cursor ("cursor.TABLE") and a row estimate.
	 * Honours the "tables" setting (comma list; default: every table of schema
	 * public / of the SQLite file).
	 */
	int (*discover)(struct ferry_source *src, struct ferry_stream_list *out, struct ferry_err *err);
	/*
	 * Starts reading one stream; *h (OUT) is the handle read() and end() get.
	 * *cursor_hi (OUT, caller frees, NULL when the stream has no cursor or no
	 * rows, or when the source only learns it while reading) is the highest
	 * cursor value in the snapshot being read; rows above it are left for the
	 * next run. Unless max_parallel allows more, one stream at a time.
	 */
	int (*begin)(struct ferry_source *src, const struct ferry_read_req *req, void **h,
		     char **cursor_hi, struct ferry_err *err);
	/*
	 * Appends up to req->batch_rows rows to out. FERRY_DONE at the end (the
	 * last rows may come with it). Called from a reader thread; with
	 * max_parallel > 1, from several at once on different handles.
	 */
	int (*read)(struct ferry_source *src, void *h, struct ferry_batch *out, struct ferry_err *err);
	/* Ends the stream (after FERRY_DONE or to abandon it) and frees h. */
	void (*end)(struct ferry_source *src, void *h);
	void (*close)(struct ferry_source *src);
};

/* ---- destinations ----------------------------------------------------- */

enum ferry_mode {
	FERRY_MODE_INCREMENTAL = 0,
	FERRY_MODE_FULL = 1,
};

struct ferry_counts {
	long long read, inserted, updated, unchanged, deleted;
	long long duplicates;  /* hashed-key records seen twice with the same content: skipped */
	long long collisions;  /* hashed-key records with the same key, different content: skipped */
	long long pages;       /* API requests that returned records */
};

/* What the engine tells a destination about the run; the same for every stream. */
struct ferry_write_opts {
	enum ferry_mode mode;
	const char *namespace;      /* PostgreSQL schema / SQLite table prefix "NS__"; NULL: none */
	const char *state_key;      /* who owns the cursor rows in _ferry_state (the source id) */
	bool soft_deletes;          /* full: keep vanished rows with _ferry_deleted_at set */
	bool keep_cursor;           /* backfill (--since/--until): never move the stored cursor */
	long long run_unix;         /* suffix of _staging_/_backup_ tables */
	long long backup_retention; /* seconds a backup is kept after a swap */
};

struct ferry_dest {
	const struct ferry_dest_ops *ops;  /* read-only */
	const char *name;                  /* read-only: the user's name, for messages */
	const char *url;                   /* read-only: secret, never print it */
	struct ferry_fault *fault;         /* read-only, may be NULL */
	void *priv;                        /* private to the connector */
};

struct ferry_dest_ops {
	const char *type;       /* "postgres", "sqlite" */
	const char *scheme;     /* URL prefix: "postgres://", "sqlite://" */

	/* Connects. FERRY_ECONNECT naming host:port, FERRY_EAUTH, FERRY_EUSAGE for a malformed URL. */
	int (*open)(struct ferry_dest *d, struct ferry_err *err);
	/*
	 * Before a run: creates the namespace and _ferry_state if missing, drops
	 * staging tables of these streams left by a crashed run, and drops their
	 * backups older than opts->backup_retention.
	 */
	int (*prepare)(struct ferry_dest *d, const struct ferry_write_opts *o,
		       const struct ferry_stream *streams, int n, struct ferry_err *err);
	/* The stored cursor of a stream (OUT, caller frees; NULL when none). */
	int (*get_cursor)(struct ferry_dest *d, const struct ferry_write_opts *o,
			  const struct ferry_stream *s, char **cursor, struct ferry_err *err);
	/* Whether the live table exists (for --dry-run's plan). */
	int (*table_exists)(struct ferry_dest *d, const struct ferry_write_opts *o,
			    const struct ferry_stream *s, bool *exists, struct ferry_err *err);
	/*
	 * Starts a stream. Full: creates <table>_staging_<run_unix> without
	 * indexes. Incremental: creates the live table with its primary key if
	 * missing (adding any new columns) and whatever scratch space upserts need.
	 */
	int (*stream_begin)(struct ferry_dest *d, const struct ferry_write_opts *o,
			    const struct ferry_stream *s, struct ferry_err *err);
	/*
	 * Writes a batch. Full: appends to staging (nothing is visible). Incremental:
	 * upserts by primary key, skipping unchanged rows, and - unless cursor is
	 * NULL or o->keep_cursor - stores cursor in _ferry_state, all in one
	 * transaction. Adds to c->inserted/updated/unchanged.
	 */
	int (*write)(struct ferry_dest *d, const struct ferry_write_opts *o,
		     const struct ferry_stream *s, const struct ferry_batch *b, const char *cursor,
		     struct ferry_counts *c, struct ferry_err *err);
	/*
	 * The stream's columns grew or widened while it was read (API sources:
	 * a new field, a field that was an integer and now holds text). Makes the
	 * table being written (staging in full mode, live otherwise) hold every
	 * column of want: adds the missing ones, widens a narrower type
	 * (bigint -> double precision -> text; anything -> jsonb) and keeps a
	 * wider one, converting incoming values on write. Later writes carry
	 * want's columns in want's order. s is the stream as last begun/evolved.
	 */
	int (*evolve)(struct ferry_dest *d, const struct ferry_write_opts *o,
		      const struct ferry_stream *s, const struct ferry_stream *want,
		      struct ferry_err *err);
	/* Ends a stream. Full: finishes the load and builds primary key and indexes on staging. */
	int (*stream_end)(struct ferry_dest *d, const struct ferry_write_opts *o,
			  const struct ferry_stream *s, struct ferry_err *err);
	/*
	 * Full only, after every stream ended: in ONE transaction, for each stream
	 * count deleted rows (in the old live table, not in staging, by primary
	 * key), keep them when soft deletes are on, swap staging in (rename live
	 * to <table>_backup_<run_unix>, or TRUNCATE + INSERT when views depend on
	 * live), store cursors[i] (NULL: clear) in _ferry_state. counts[i].deleted
	 * and counts[i].inserted (= rows now live) are filled. Calls
	 * ferry_fault_hit(d->fault, "swap") inside the transaction. Drops backups
	 * right away when backup_retention is 0.
	 */
	int (*commit_full)(struct ferry_dest *d, const struct ferry_write_opts *o,
			   const struct ferry_stream *streams, int n, char *const *cursors,
			   struct ferry_counts *counts, struct ferry_err *err);
	/* After a failure: drops this run's staging tables. Best effort, never fails. */
	void (*abort)(struct ferry_dest *d, const struct ferry_write_opts *o,
		      const struct ferry_stream *streams, int n);
	/* --reset: drops the live tables and backups of these streams and their state rows. */
	int (*reset)(struct ferry_dest *d, const struct ferry_write_opts *o,
		     const struct ferry_stream *streams, int n, struct ferry_err *err);
	void (*close)(struct ferry_dest *d);
};

/* ---- registry --------------------------------------------------------- */

const struct ferry_source_ops *ferry_source_type(const char *type);
const struct ferry_dest_ops *ferry_dest_type_for_url(const char *url);
/* NULL-terminated lists, for help and errors. */
const struct ferry_source_ops *const *ferry_source_types(void);

/* The registered implementations (defined by each connector file). */
extern const struct ferry_source_ops ferry_source_postgres;
extern const struct ferry_source_ops ferry_source_sqlite;
extern const struct ferry_dest_ops ferry_dest_postgres;
extern const struct ferry_dest_ops ferry_dest_sqlite;

/*
 * Destination table naming shared by every destination: the name of `table`
 * in namespace ns for SQLite ("NS__table") and the suffixed names used by full
 * syncs. Over 63 bytes: truncated + "_" + 8 hex of a hash (DESIGN.md §3).
 * Writes into out (at least 64 bytes).
 */
void ferry_ident_fit(const char *name, char *out, int outlen);

#endif
