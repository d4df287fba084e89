/*
 * sqlite.c - the SQLite destination: tables in a SQLite file, in WAL mode.
 *
 * A namespace is a table prefix ("NS__users"), since SQLite has no schemas.
 * Incremental runs upsert each batch in one transaction together with the
 * stream's cursor row in _ferry_state: INSERT ... ON CONFLICT DO NOTHING, and
 * for rows already there an UPDATE guarded by "some column IS NOT the new
 * value", so sqlite3_changes() tells inserted, updated and unchanged apart and
 * unchanged rows are never rewritten.
 *
 * Full runs load <table>_staging_<unix> tables nobody reads, then swap them
 * all in with one transaction: rename live to <table>_backup_<unix> and
 * staging to live, or, when a view or trigger refers to the live table,
 * DELETE + INSERT ... SELECT so the view keeps pointing at it. A crash at any
 * moment leaves either the old or the new tables: SQLite's journal sees to it.
 *
 * Rows arrive as PostgreSQL COPY text and are bound by the column's kind:
 * integers as integers, booleans as 0/1, bytea decoded into blobs, the rest as
 * text, so SQLite's type affinity stores what a SQLite user expects.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include "ferry/connector.h"
#include "ferry/buf.h"
#include "ferry/copytext.h"
#include "ferry/err.h"
#include "ferry/fault.h"
#include "ferry/stream.h"
#include "util/names.h"
#include "util/sqltext.h"

#define BUSY_TIMEOUT_MS 5000
#define SYNCED_AT "_ferry_synced_at"
#define DELETED_AT "_ferry_deleted_at"

struct sqlite_dest {
	sqlite3 *db;
	char *path;

	/* the stream between stream_begin and stream_end */
	char *cur;   /* stream name, NULL when none */
	char *table; /* the table written: live (incremental) or staging (full) */
	enum ferry_mode mode;
	sqlite3_stmt *ins, *upd, *state_put;
	struct ferry_buf *fields; /* one decode buffer per column */
	bool *nulls;
	int *bind;                /* per column: how its values are bound (enum bind) */
	int ncols;
	bool has_deleted_at; /* incremental: live has _ferry_deleted_at (clear it on upsert) */
	bool compare_cols;   /* incremental: some non-key column to compare */
	struct ferry_buf sql, tmp;
};

/* ---- helpers ---------------------------------------------------------- */

/* Current UTC time as 2026-11-23T10:00:00.123Z. */
static void now_iso(char out[32])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);

	snprintf(out + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
}

/* Fills err from the connection's last error. Busy, locked and I/O errors may pass on retry. */
static int db_err(struct ferry_dest *d, struct ferry_err *err, const char *what, const char *table)
{
	struct sqlite_dest *p = d->priv;
	int code = p && p->db ? sqlite3_errcode(p->db) : SQLITE_ERROR;
	const char *hint = "";

	switch (code & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		hint = " (another process holds the database: the job can be retried)";
		break;
	case SQLITE_FULL:
		hint = " (the disk is full)";
		break;
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
		hint = " (check the file's and directory's permissions)";
		break;
	}
	ferry_err_set(err, FERRY_EDEST, "%s%s%s failed in SQLite destination \"%s\": %s%s", what,
	              table ? " of table " : "", table ? table : "", d->name,
	              p && p->db ? sqlite3_errmsg(p->db) : "not open", hint);
	code &= 0xff;
	err->retryable = code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_IOERR;
	return err->code;
}

static int exec_sql(struct ferry_dest *d, const char *sql, const char *what, const char *table,
                    struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;

	if (sqlite3_exec(p->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(d, err, what, table);
	return 0;
}

static void rollback(struct sqlite_dest *p)
{
	if (p->db && !sqlite3_get_autocommit(p->db))
		sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
}

/* prefix + table + suffix: "NS__users", "NS__users_staging_1700000000". Caller frees. */
static char *table_name(const struct ferry_write_opts *o, const struct ferry_stream *s,
                        const char *suffix)
{
	struct ferry_buf b = FERRY_BUF_INIT;
	const char *t = s->dest_table && *s->dest_table ? s->dest_table : s->name;

	if (o->namespace && *o->namespace)
		ferry_buf_addf(&b, "%s__", o->namespace);
	ferry_buf_adds(&b, t);
	if (suffix)
		ferry_buf_adds(&b, suffix);
	if (!b.len)
		return NULL;
	return ferry_buf_detach(&b, NULL);
}

static char *staging_name(const struct ferry_write_opts *o, const struct ferry_stream *s)
{
	char sfx[40];

	snprintf(sfx, sizeof(sfx), "_staging_%lld", o->run_unix);
	return table_name(o, s, sfx);
}

static char *backup_name(const struct ferry_write_opts *o, const struct ferry_stream *s)
{
	char sfx[40];

	snprintf(sfx, sizeof(sfx), "_backup_%lld", o->run_unix);
	return table_name(o, s, sfx);
}

static char *state_table(const struct ferry_write_opts *o)
{
	struct ferry_buf b = FERRY_BUF_INIT;

	if (o->namespace && *o->namespace)
		ferry_buf_addf(&b, "%s__", o->namespace);
	ferry_buf_adds(&b, "_ferry_state");
	return ferry_buf_detach(&b, NULL);
}

/*
 * A stream read from a table ferry wrote (a mirror of a mirror) brings its own
 * metadata columns: they are ignored, and this destination writes its own.
 */
static bool is_meta(const char *name)
{
	return !strcmp(name, SYNCED_AT) || !strcmp(name, DELETED_AT);
}

static int oom(struct ferry_err *err)
{
	return ferry_err_set(err, FERRY_ENOMEM, "out of memory in the SQLite destination");
}

static int table_exists(struct sqlite_dest *p, const char *name, bool *exists)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(p->db,
	                       "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", -1,
	                       &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*exists = rc == SQLITE_ROW;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* The column names of a table, in order (empty when it does not exist). */
struct colset {
	char **v;
	char **type; /* declared type, "" when none */
	int *pk;     /* pk index from table_info, 0 when not part of the key */
	int n;
};

static void colset_release(struct colset *c)
{
	int i;

	for (i = 0; i < c->n; i++) {
		free(c->v[i]);
		free(c->type[i]);
	}
	free(c->v);
	free(c->type);
	free(c->pk);
	memset(c, 0, sizeof(*c));
}

static int colset_find(const struct colset *c, const char *name)
{
	int i;

	for (i = 0; i < c->n; i++)
		if (!strcmp(c->v[i], name))
			return i;
	return -1;
}

static int table_columns(struct sqlite_dest *p, const char *table, struct colset *out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(p->db,
	                       "SELECT name, pk, coalesce(type, '') FROM pragma_table_info(?1) "
	                       "ORDER BY cid",
	                       -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char **v = realloc(out->v, sizeof(*v) * (size_t)(out->n + 1));
		char **t = v ? realloc(out->type, sizeof(*t) * (size_t)(out->n + 1)) : NULL;
		int *k = t ? realloc(out->pk, sizeof(int) * (size_t)(out->n + 1)) : NULL;
		if (v)
			out->v = v;
		if (t)
			out->type = t;
		if (k)
			out->pk = k;
		if (!k || !(v[out->n] = strdup((const char *)sqlite3_column_text(st, 0)))) {
			sqlite3_finalize(st);
			return -1;
		}
		if (!(t[out->n] = strdup((const char *)sqlite3_column_text(st, 2)))) {
			free(v[out->n]);
			sqlite3_finalize(st);
			return -1;
		}
		k[out->n++] = sqlite3_column_int(st, 1);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Every table name of the file (caller releases). */
static int all_tables(struct sqlite_dest *p, struct ferry_names *out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(p->db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1,
	                       &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (ferry_names_push(out, name, strlen(name))) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* If name is live + kind + digits ("users_backup_1700000000"), the digits; else -1. */
static long long suffix_unix(const char *name, const char *live, const char *kind)
{
	size_t l = strlen(live), k = strlen(kind);
	const char *p;

	if (strncmp(name, live, l) || strncmp(name + l, kind, k))
		return -1;
	p = name + l + k;
	if (!*p)
		return -1;
	for (const char *q = p; *q; q++)
		if (*q < '0' || *q > '9')
			return -1;
	return strtoll(p, NULL, 10);
}

static int drop_table(struct ferry_dest *d, const char *name, struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;

	ferry_buf_reset(&p->tmp);
	ferry_buf_adds(&p->tmp, "DROP TABLE IF EXISTS ");
	ferry_sql_ident(&p->tmp, name);
	return exec_sql(d, p->tmp.data, "dropping the table", name, err);
}

/* ---- open / close ----------------------------------------------------- */

static void dest_close(struct ferry_dest *d);

static int dest_open(struct ferry_dest *d, struct ferry_err *err)
{
	const char *url = d->url, *path;
	struct sqlite_dest *p;
	struct stat st;
	char *dir, *slash;
	int rc;

	if (!url || strncmp(url, "sqlite://", 9) || !url[9])
		return ferry_err_set(
		    err, FERRY_EUSAGE,
		    "malformed URL for destination \"%s\" (expected sqlite:///path/to/file.db)",
		    d->name);
	path = url + 9;
	dir = strdup(path);
	if (!dir)
		return oom(err);
	slash = strrchr(dir, '/');
	if (slash) {
		*(slash == dir ? slash + 1 : slash) = '\0';
		if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			rc = ferry_err_set(
			    err, FERRY_ENOTFOUND,
			    "directory \"%s\" of SQLite destination \"%s\" does not exist "
			    "(create it, or fix the path in the destination URL)",
			    dir, d->name);
			free(dir);
			return rc;
		}
	}
	free(dir);
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return ferry_err_set(
		    err, FERRY_EUSAGE,
		    "\"%s\" of SQLite destination \"%s\" is a directory, not a database file", path,
		    d->name);

	p = calloc(1, sizeof(*p));
	if (!p || !(p->path = strdup(path))) {
		free(p);
		return oom(err);
	}
	ferry_buf_init(&p->sql, 0);
	ferry_buf_init(&p->tmp, 0);
	d->priv = p;
	if (sqlite3_open_v2(path, &p->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		ferry_err_set(err, FERRY_ECONNECT,
		              "cannot open SQLite file \"%s\" of destination \"%s\": %s", path,
		              d->name, p->db ? sqlite3_errmsg(p->db) : "out of memory");
		err->retryable = false;
		goto fail;
	}
	sqlite3_busy_timeout(p->db, BUSY_TIMEOUT_MS);
	rc = sqlite3_exec(p->db,
	                  "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
	                  "PRAGMA legacy_alter_table=ON; SELECT count(*) FROM sqlite_master",
	                  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		if (rc == SQLITE_NOTADB)
			ferry_err_set(err, FERRY_EUSAGE,
			              "file \"%s\" of destination \"%s\" is not a SQLite database "
			              "(point the URL at a new or an existing SQLite file)",
			              path, d->name);
		else
			db_err(d, err, "opening the database", NULL);
		goto fail;
	}
	return 0;
fail:
	dest_close(d);
	return err->code;
}

/* Drops the statements and decode buffers of the stream's columns (evolve builds new ones). */
static void columns_clear(struct sqlite_dest *p)
{
	int i;

	sqlite3_finalize(p->ins);
	sqlite3_finalize(p->upd);
	p->ins = p->upd = NULL;
	for (i = 0; i < p->ncols; i++)
		ferry_buf_release(&p->fields[i]);
	free(p->fields);
	free(p->nulls);
	free(p->bind);
	p->fields = NULL;
	p->nulls = NULL;
	p->bind = NULL;
	p->ncols = 0;
}

static void stream_clear(struct sqlite_dest *p)
{
	columns_clear(p);
	sqlite3_finalize(p->state_put);
	p->state_put = NULL;
	free(p->cur);
	free(p->table);
	p->cur = p->table = NULL;
}

static void dest_close(struct ferry_dest *d)
{
	struct sqlite_dest *p = d->priv;

	if (!p)
		return;
	stream_clear(p);
	rollback(p);
	sqlite3_close_v2(p->db);
	ferry_buf_release(&p->sql);
	ferry_buf_release(&p->tmp);
	free(p->path);
	free(p);
	d->priv = NULL;
}

/* ---- state ------------------------------------------------------------ */

static int ensure_state_table(struct ferry_dest *d, const struct ferry_write_opts *o,
                              struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	char *st = state_table(o);
	int rc;

	if (!st)
		return oom(err);
	ferry_buf_reset(&p->tmp);
	ferry_buf_adds(&p->tmp, "CREATE TABLE IF NOT EXISTS ");
	ferry_sql_ident(&p->tmp, st);
	ferry_buf_adds(&p->tmp, " (state_key TEXT NOT NULL, stream TEXT NOT NULL, cursor TEXT, "
	                        "updated_at TEXT, PRIMARY KEY (state_key, stream))");
	rc = exec_sql(d, p->tmp.data, "creating the state table", st, err);
	free(st);
	return rc;
}

/* Stores (cursor != NULL) or clears the stream's cursor, inside the caller's transaction. */
static int put_cursor(struct ferry_dest *d, const struct ferry_write_opts *o, const char *stream,
                      const char *cursor, const char *now, sqlite3_stmt **cache,
                      struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	sqlite3_stmt *st = cache ? *cache : NULL;
	char *tab;
	int rc = 0;

	if (!st) {
		if (!(tab = state_table(o)))
			return oom(err);
		ferry_buf_reset(&p->tmp);
		ferry_buf_adds(&p->tmp, "INSERT INTO ");
		ferry_sql_ident(&p->tmp, tab);
		ferry_buf_adds(&p->tmp,
		               " (state_key, stream, cursor, updated_at) VALUES (?1, ?2, ?3, ?4) "
		               "ON CONFLICT (state_key, stream) DO UPDATE SET "
		               "cursor = excluded.cursor, updated_at = excluded.updated_at");
		free(tab);
		if (sqlite3_prepare_v2(p->db, p->tmp.data, -1, &st, NULL) != SQLITE_OK)
			return db_err(d, err, "storing the cursor", NULL);
	}
	if (!cursor) {
		sqlite3_stmt *del = NULL;
		if (!(tab = state_table(o)))
			rc = oom(err);
		if (!rc) {
			ferry_buf_reset(&p->tmp);
			ferry_buf_adds(&p->tmp, "DELETE FROM ");
			ferry_sql_ident(&p->tmp, tab);
			ferry_buf_adds(&p->tmp, " WHERE state_key = ?1 AND stream = ?2");
			free(tab);
			if (sqlite3_prepare_v2(p->db, p->tmp.data, -1, &del, NULL) != SQLITE_OK)
				rc = db_err(d, err, "clearing the cursor", NULL);
		}
		if (!rc) {
			sqlite3_bind_text(del, 1, o->state_key ? o->state_key : "", -1,
			                  SQLITE_STATIC);
			sqlite3_bind_text(del, 2, stream, -1, SQLITE_STATIC);
			if (sqlite3_step(del) != SQLITE_DONE)
				rc = db_err(d, err, "clearing the cursor", NULL);
		}
		sqlite3_finalize(del);
		goto out;
	}
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, o->state_key ? o->state_key : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, stream, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, cursor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(d, err, "storing the cursor", NULL);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
out:
	if (cache)
		*cache = st;
	else
		sqlite3_finalize(st);
	return rc;
}

static int dest_get_cursor(struct ferry_dest *d, const struct ferry_write_opts *o,
                           const struct ferry_stream *s, char **cursor, struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	sqlite3_stmt *st = NULL;
	char *tab = state_table(o);
	bool exists = false;
	int rc = 0;

	*cursor = NULL;
	if (!tab)
		return oom(err);
	if (table_exists(p, tab, &exists)) {
		rc = db_err(d, err, "reading the cursor", tab);
		goto out;
	}
	if (!exists)
		goto out;
	ferry_buf_reset(&p->tmp);
	ferry_buf_adds(&p->tmp, "SELECT cursor FROM ");
	ferry_sql_ident(&p->tmp, tab);
	ferry_buf_adds(&p->tmp, " WHERE state_key = ?1 AND stream = ?2");
	if (sqlite3_prepare_v2(p->db, p->tmp.data, -1, &st, NULL) != SQLITE_OK) {
		rc = db_err(d, err, "reading the cursor", tab);
		goto out;
	}
	sqlite3_bind_text(st, 1, o->state_key ? o->state_key : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, s->name, -1, SQLITE_STATIC);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		if (sqlite3_column_type(st, 0) != SQLITE_NULL &&
		    !(*cursor = strdup((const char *)sqlite3_column_text(st, 0))))
			rc = oom(err);
		break;
	case SQLITE_DONE:
		break;
	default:
		rc = db_err(d, err, "reading the cursor", tab);
	}
out:
	sqlite3_finalize(st);
	free(tab);
	return rc;
}

static int dest_table_exists(struct ferry_dest *d, const struct ferry_write_opts *o,
                             const struct ferry_stream *s, bool *exists, struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	char *live = table_name(o, s, NULL);
	int rc = 0;

	if (!live)
		return oom(err);
	if (table_exists(p, live, exists))
		rc = db_err(d, err, "looking up the table", live);
	free(live);
	return rc;
}

/* ---- prepare / reset / abort ------------------------------------------ */

static int dest_prepare(struct ferry_dest *d, const struct ferry_write_opts *o,
                        const struct ferry_stream *streams, int n, struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	struct ferry_names all = FERRY_NAMES_INIT;
	long long now = (long long)time(NULL);
	int i, j, rc;

	if ((rc = ensure_state_table(d, o, err)))
		return rc;
	if (all_tables(p, &all)) {
		ferry_names_release(&all);
		return db_err(d, err, "listing tables", NULL);
	}
	for (i = 0; i < n && !rc; i++) {
		char *live = table_name(o, &streams[i], NULL);
		if (!live) {
			rc = oom(err);
			break;
		}
		for (j = 0; j < all.n && !rc; j++) {
			long long t;
			if (suffix_unix(all.v[j], live, "_staging_") >= 0)
				rc = drop_table(d, all.v[j], err);
			else if ((t = suffix_unix(all.v[j], live, "_backup_")) >= 0 &&
			         (o->backup_retention <= 0 || now - t >= o->backup_retention))
				rc = drop_table(d, all.v[j], err);
		}
		free(live);
	}
	ferry_names_release(&all);
	return rc;
}

static int dest_reset(struct ferry_dest *d, const struct ferry_write_opts *o,
                      const struct ferry_stream *streams, int n, struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	struct ferry_names all = FERRY_NAMES_INIT;
	int i, j, rc;

	if ((rc = ensure_state_table(d, o, err)))
		return rc;
	if ((rc = exec_sql(d, "BEGIN IMMEDIATE", "starting the reset", NULL, err)))
		return rc;
	if (all_tables(p, &all)) {
		rc = db_err(d, err, "listing tables", NULL);
		goto out;
	}
	for (i = 0; i < n && !rc; i++) {
		char *live = table_name(o, &streams[i], NULL);
		if (!live) {
			rc = oom(err);
			break;
		}
		for (j = 0; j < all.n && !rc; j++)
			if (!strcmp(all.v[j], live) ||
			    suffix_unix(all.v[j], live, "_staging_") >= 0 ||
			    suffix_unix(all.v[j], live, "_backup_") >= 0)
				rc = drop_table(d, all.v[j], err);
		free(live);
		if (!rc)
			rc = put_cursor(d, o, streams[i].name, NULL, NULL, NULL, err);
	}
	if (!rc)
		rc = exec_sql(d, "COMMIT", "committing the reset", NULL, err);
out:
	if (rc)
		rollback(p);
	ferry_names_release(&all);
	return rc;
}

static void dest_abort(struct ferry_dest *d, const struct ferry_write_opts *o,
                       const struct ferry_stream *streams, int n)
{
	struct sqlite_dest *p = d->priv;
	struct ferry_err ignored = {0};
	int i;

	if (!p)
		return;
	stream_clear(p);
	rollback(p);
	if (o->mode != FERRY_MODE_FULL)
		return;
	for (i = 0; i < n; i++) {
		char *staging = staging_name(o, &streams[i]);
		if (staging)
			drop_table(d, staging, &ignored);
		free(staging);
	}
}

/* ---- creating tables -------------------------------------------------- */

static const char *decl_of(const struct ferry_column *c)
{
	const char *t = ferry_sqlite_decl_of(c);

	return t ? t : c->pg_type;
}

/* Column definitions, PRIMARY KEY and metadata columns of a CREATE TABLE. */
static int create_table_sql(struct ferry_buf *q, const char *name, const struct ferry_stream *s,
                            bool deleted_at)
{
	int i;

	ferry_buf_reset(q);
	ferry_buf_adds(q, "CREATE TABLE ");
	ferry_sql_ident(q, name);
	ferry_buf_adds(q, " (");
	for (i = 0; i < s->ncols; i++) {
		if (is_meta(s->cols[i].name))
			continue;
		ferry_sql_ident(q, s->cols[i].name);
		ferry_buf_addc(q, ' ');
		/* quoted: PostgreSQL names like "integer[]" */
		ferry_sql_ident(q, decl_of(&s->cols[i]));
		if (s->cols[i].not_null)
			ferry_buf_adds(q, " NOT NULL");
		ferry_buf_adds(q, ", ");
	}
	ferry_buf_adds(q, "\"" SYNCED_AT "\" TEXT NOT NULL");
	if (deleted_at)
		ferry_buf_adds(q, ", \"" DELETED_AT "\" TEXT");
	if (s->npk) {
		ferry_buf_adds(q, ", PRIMARY KEY (");
		for (i = 0; i < s->npk; i++) {
			if (i)
				ferry_buf_adds(q, ", ");
			ferry_sql_ident(q, s->cols[s->pk[i]].name);
		}
		ferry_buf_addc(q, ')');
	}
	return ferry_buf_addc(q, ')');
}

/* Secondary indexes of the stream on table; suffix keeps index names unique per run. */
static int create_indexes(struct ferry_dest *d, const char *table, const char *base,
                          const struct ferry_stream *s, const char *suffix, bool if_not_exists,
                          struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	int i, j, rc;

	for (i = 0; i < s->nindexes; i++) {
		const struct ferry_index *ix = &s->indexes[i];
		ferry_buf_reset(&p->sql);
		ferry_buf_addf(&p->sql, "CREATE %sINDEX %s", ix->unique ? "UNIQUE " : "",
		               if_not_exists ? "IF NOT EXISTS " : "");
		ferry_buf_reset(&p->tmp);
		ferry_buf_addf(&p->tmp, "%s__%s%s", base, ix->name ? ix->name : "idx", suffix);
		ferry_sql_ident(&p->sql, p->tmp.data);
		ferry_buf_adds(&p->sql, " ON ");
		ferry_sql_ident(&p->sql, table);
		ferry_buf_adds(&p->sql, " (");
		for (j = 0; j < ix->ncols; j++) {
			if (ix->cols[j] < 0 || ix->cols[j] >= s->ncols)
				return ferry_err_set(err, FERRY_EINTERNAL,
				                     "index %s names column %d of %d", ix->name,
				                     ix->cols[j], s->ncols);
			if (j)
				ferry_buf_adds(&p->sql, ", ");
			ferry_sql_ident(&p->sql, s->cols[ix->cols[j]].name);
		}
		ferry_buf_addc(&p->sql, ')');
		if ((rc = exec_sql(d, p->sql.data, "creating an index", table, err)))
			return rc;
	}
	return 0;
}

/* Adds the stream's columns that table lacks (ALTER TABLE ADD COLUMN cannot add NOT NULL). */
static int add_missing_columns(struct ferry_dest *d, const char *table, const struct colset *have,
                               const struct ferry_stream *s, bool deleted_at, struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	int i, rc;

	for (i = 0; i <= s->ncols; i++) {
		const char *name = i < s->ncols ? s->cols[i].name : DELETED_AT;
		const char *decl = i < s->ncols ? decl_of(&s->cols[i]) : "TEXT";
		if (i == s->ncols && !deleted_at)
			break;
		if ((i < s->ncols && is_meta(name)) || colset_find(have, name) >= 0)
			continue;
		ferry_buf_reset(&p->sql);
		ferry_buf_adds(&p->sql, "ALTER TABLE ");
		ferry_sql_ident(&p->sql, table);
		ferry_buf_adds(&p->sql, " ADD COLUMN ");
		ferry_sql_ident(&p->sql, name);
		ferry_buf_addc(&p->sql, ' ');
		ferry_sql_ident(&p->sql, decl);
		if ((rc = exec_sql(d, p->sql.data, "adding a column", table, err)))
			return rc;
	}
	if (colset_find(have, SYNCED_AT) < 0) {
		ferry_buf_reset(&p->sql);
		ferry_buf_adds(&p->sql, "ALTER TABLE ");
		ferry_sql_ident(&p->sql, table);
		ferry_buf_adds(&p->sql, " ADD COLUMN \"" SYNCED_AT "\" TEXT");
		if ((rc = exec_sql(d, p->sql.data, "adding a column", table, err)))
			return rc;
	}
	return 0;
}

/*
 * Whether the existing table has a primary key or unique index on exactly the
 * stream's key columns: without one, ON CONFLICT would never fire and every
 * run would insert the rows again.
 */
static int has_unique_key(struct sqlite_dest *p, const char *table, const struct ferry_stream *s,
                          const struct colset *have, bool *ok)
{
	sqlite3_stmt *il = NULL, *ii = NULL;
	int i, n = 0, rc;

	*ok = false;
	for (i = 0; i < have->n; i++)
		if (have->pk[i] > 0) {
			int pos = ferry_stream_column(s, have->v[i]);
			bool in = false;
			for (int k = 0; k < s->npk; k++)
				in |= s->pk[k] == pos;
			if (!in)
				goto indexes;
			n++;
		}
	if (n == s->npk) {
		*ok = true;
		return 0;
	}
indexes:
	if (sqlite3_prepare_v2(
	        p->db, "SELECT name FROM pragma_index_list(?1) WHERE \"unique\" AND partial = 0",
	        -1, &il, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(p->db, "SELECT name FROM pragma_index_info(?1)", -1, &ii, NULL) !=
	        SQLITE_OK) {
		rc = -1;
		goto out;
	}
	sqlite3_bind_text(il, 1, table, -1, SQLITE_STATIC);
	while (!*ok && (rc = sqlite3_step(il)) == SQLITE_ROW) {
		int cnt = 0;
		bool all_in = true;
		sqlite3_reset(ii);
		sqlite3_bind_text(ii, 1, (const char *)sqlite3_column_text(il, 0), -1,
		                  SQLITE_TRANSIENT);
		while (sqlite3_step(ii) == SQLITE_ROW) {
			const char *c = (const char *)sqlite3_column_text(ii, 0);
			int pos = c ? ferry_stream_column(s, c) : -1;
			bool in = false;
			for (int k = 0; k < s->npk; k++)
				in |= s->pk[k] == pos;
			all_in &= in;
			cnt++;
		}
		*ok = all_in && cnt == s->npk;
	}
	rc = 0;
out:
	sqlite3_finalize(il);
	sqlite3_finalize(ii);
	return rc;
}

/* ---- statements ------------------------------------------------------- */

/*
 * How a column's COPY text is bound. Normally by the stream column's kind;
 * when the table's column is wider than the stream's (text or jsonb from an
 * earlier run, an integer this run) the value is converted to the table's
 * type on the way in, as the PostgreSQL destination does.
 */
enum bind {
	BIND_KIND,      /* by the stream column's kind */
	BIND_TEXT,      /* the COPY text as it is: 42 into text or jsonb */
	BIND_BOOL_TEXT, /* a boolean as true / false: into text, or jsonb's true / false */
	BIND_JSON_TEXT, /* text as a JSON string into jsonb */
};

/* Parameter i+1 of a statement, converted for the table: "?3", or ?3 as a JSON string. */
static void param(struct ferry_buf *b, const struct sqlite_dest *p, int i)
{
	if (p->bind && p->bind[i] == BIND_JSON_TEXT) /* json_quote(NULL) is 'null': keep NULL */
		ferry_buf_addf(b, "CASE WHEN ?%d IS NULL THEN NULL ELSE json_quote(?%d) END", i + 1,
		               i + 1);
	else
		ferry_buf_addf(b, "?%d", i + 1);
}

static int alloc_fields(struct sqlite_dest *p, int n)
{
	int i;

	p->fields = calloc((size_t)n, sizeof(*p->fields));
	p->nulls = calloc((size_t)n, sizeof(bool));
	p->bind = calloc((size_t)n, sizeof(int));
	if (!p->fields || !p->nulls || !p->bind)
		return -1;
	p->ncols = n;
	for (i = 0; i < n; i++)
		ferry_buf_init(&p->fields[i], 0);
	return 0;
}

/* INSERT (columns, _ferry_synced_at) VALUES (?1..?n, ?n+1) [ON CONFLICT DO NOTHING] */
static int prepare_insert(struct ferry_dest *d, const struct ferry_stream *s, bool upsert,
                          struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	int i;

	ferry_buf_reset(&p->sql);
	ferry_buf_adds(&p->sql, "INSERT INTO ");
	ferry_sql_ident(&p->sql, p->table);
	ferry_buf_adds(&p->sql, " (");
	for (i = 0; i < s->ncols; i++) {
		if (is_meta(s->cols[i].name))
			continue;
		ferry_sql_ident(&p->sql, s->cols[i].name);
		ferry_buf_adds(&p->sql, ", ");
	}
	ferry_buf_adds(&p->sql, "\"" SYNCED_AT "\") VALUES (");
	for (i = 0; i < s->ncols; i++) {
		if (is_meta(s->cols[i].name))
			continue;
		param(&p->sql, p, i);
		ferry_buf_adds(&p->sql, ", ");
	}
	ferry_buf_addf(&p->sql, "?%d", s->ncols + 1);
	ferry_buf_addc(&p->sql, ')');
	if (upsert)
		ferry_buf_adds(&p->sql, " ON CONFLICT DO NOTHING");
	if (sqlite3_prepare_v2(p->db, p->sql.data, -1, &p->ins, NULL) != SQLITE_OK)
		return db_err(d, err, "preparing the insert", p->table);
	return 0;
}

static bool is_pk(const struct ferry_stream *s, int col)
{
	for (int k = 0; k < s->npk; k++)
		if (s->pk[k] == col)
			return true;
	return false;
}

/*
 * UPDATE t SET c = ?i, ..., _ferry_synced_at = ?n+1 WHERE pk = ?k AND
 * (c IS NOT ?i OR ...): changes() is 1 only when some value differed.
 */
static int prepare_update(struct ferry_dest *d, const struct ferry_stream *s, struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	const char *sep;
	int i;

	p->compare_cols = false;
	for (i = 0; i < s->ncols; i++)
		p->compare_cols |= !is_pk(s, i) && !is_meta(s->cols[i].name);
	if (!p->compare_cols && !p->has_deleted_at)
		return 0; /* every column is in the key: an existing row is always unchanged */
	ferry_buf_reset(&p->sql);
	ferry_buf_adds(&p->sql, "UPDATE ");
	ferry_sql_ident(&p->sql, p->table);
	ferry_buf_adds(&p->sql, " SET ");
	for (i = 0; i < s->ncols; i++) {
		if (is_pk(s, i) || is_meta(s->cols[i].name))
			continue;
		ferry_sql_ident(&p->sql, s->cols[i].name);
		ferry_buf_adds(&p->sql, " = ");
		param(&p->sql, p, i);
		ferry_buf_adds(&p->sql, ", ");
	}
	if (p->has_deleted_at)
		ferry_buf_adds(&p->sql, "\"" DELETED_AT "\" = NULL, ");
	ferry_buf_addf(&p->sql, "\"" SYNCED_AT "\" = ?%d WHERE ", s->ncols + 1);
	for (i = 0; i < s->npk; i++) {
		if (i)
			ferry_buf_adds(&p->sql, " AND ");
		ferry_sql_ident(&p->sql, s->cols[s->pk[i]].name);
		ferry_buf_adds(&p->sql, " = ");
		param(&p->sql, p, s->pk[i]);
	}
	ferry_buf_adds(&p->sql, " AND (");
	sep = "";
	for (i = 0; i < s->ncols; i++) {
		if (is_pk(s, i) || is_meta(s->cols[i].name))
			continue;
		ferry_buf_adds(&p->sql, sep);
		ferry_sql_ident(&p->sql, s->cols[i].name);
		ferry_buf_adds(&p->sql, " IS NOT ");
		param(&p->sql, p, i);
		sep = " OR ";
	}
	if (p->has_deleted_at)
		ferry_buf_addf(&p->sql, "%s\"" DELETED_AT "\" IS NOT NULL", sep);
	ferry_buf_addc(&p->sql, ')');
	if (sqlite3_prepare_v2(p->db, p->sql.data, -1, &p->upd, NULL) != SQLITE_OK)
		return db_err(d, err, "preparing the update", p->table);
	return 0;
}

/* ---- schema evolution ------------------------------------------------- */

/*
 * API sources find new fields and wider types while they read (DESIGN.md §3).
 * A new field is an ALTER TABLE ADD COLUMN. A wider type is harder: SQLite
 * has no ALTER COLUMN, and keeping the old declared type is not an option,
 * because affinity rewrites what arrives: text '007' in a BIGINT column is
 * stored as the integer 7, '1.50' in a DOUBLE PRECISION column as 1.5. So
 * the table is rebuilt with the wider declared type (rows copied, converted
 * as PostgreSQL's USING clauses would: booleans become 'true' / 'false', text
 * becomes a JSON string in jsonb). A table already wider than the stream
 * (jsonb from an earlier run, text this run) keeps its type, and the values
 * are converted as they are bound. Only the API types take part
 * (ferry_pg_type_widen): a database source's columns are never retyped.
 */

/* A column to retype in rebuild_table: name, and the PostgreSQL types from and to. */
struct retype {
	const char *name;
	char from[64];
	const char *to;
};

static const char *decl_for(const char *pg_type)
{
	struct ferry_column c = {.pg_type = (char *)pg_type, .kind = ferry_kind_of_pg_type(pg_type)};

	return decl_of(&c);
}

/* Column name copied from a table of type `from` into one of type `to` (SELECT list). */
static void copy_expr(struct ferry_buf *b, const char *name, const char *from, const char *to)
{
	bool json = !strcmp(to, "jsonb");
	enum ferry_kind k = ferry_kind_of_pg_type(from);

	if (k == FERRY_K_BOOL && (json || !strcmp(to, "text"))) {
		ferry_buf_adds(b, "CASE WHEN typeof(");
		ferry_sql_ident(b, name);
		ferry_buf_adds(b, ") = 'integer' THEN CASE ");
		ferry_sql_ident(b, name);
		ferry_buf_adds(b, " WHEN 0 THEN 'false' ELSE 'true' END ELSE ");
		ferry_sql_ident(b, name);
		ferry_buf_adds(b, " END");
	} else if (json && (k == FERRY_K_TEXT || k == FERRY_K_TIMESTAMPTZ || k == FERRY_K_DATE)) {
		ferry_buf_adds(b, "CASE typeof(");
		ferry_sql_ident(b, name);
		ferry_buf_adds(b, ") WHEN 'text' THEN json_quote(");
		ferry_sql_ident(b, name);
		ferry_buf_adds(b, ") ELSE ");
		ferry_sql_ident(b, name);
		ferry_buf_adds(b, " END");
	} else {
		ferry_sql_ident(b, name); /* the new column's affinity does the rest: 42 -> '42' */
	}
}

/* Appends the SQL of table's indexes and triggers (and UNIQUE constraints as indexes) to l. */
static int table_extras(struct sqlite_dest *p, const char *table, struct ferry_names *l)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(
	        p->db,
	        "SELECT sql FROM sqlite_master WHERE tbl_name = ?1 AND type IN ('index', 'trigger')"
	        " AND sql IS NOT NULL "
	        "UNION ALL SELECT 'CREATE UNIQUE INDEX \"' || replace(?1 || '__' || il.name, '\"',"
	        " '\"\"') || '\" ON \"' || replace(?1, '\"', '\"\"') || '\" (' || (SELECT"
	        " group_concat('\"' || replace(name, '\"', '\"\"') || '\"', ', ') FROM (SELECT name"
	        " FROM pragma_index_info(il.name) ORDER BY seqno)) || ')'"
	        " FROM pragma_index_list(?1) il WHERE il.origin = 'u'",
	        -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *q = (const char *)sqlite3_column_text(st, 0);
		if (ferry_names_push(l, q, strlen(q))) {
			sqlite3_finalize(st);
			return -1;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Rebuilds table with the columns of rt retyped, in a savepoint: a new table
 * with the same columns, NOT NULLs, defaults and primary key, the rows copied
 * and converted, the old table dropped and the new one renamed in its place,
 * then its indexes and triggers created again. Views refer to the table by
 * name and find the new one (legacy_alter_table is on).
 */
static int rebuild_table(struct ferry_dest *d, const char *table, const struct retype *rt, int nrt,
                         struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	struct ferry_buf create = FERRY_BUF_INIT, names = FERRY_BUF_INIT, exprs = FERRY_BUF_INIT,
	                 key = FERRY_BUF_INIT, tmp = FERRY_BUF_INIT;
	struct ferry_names extras = FERRY_NAMES_INIT;
	sqlite3_stmt *st = NULL;
	int rc = 0, i, step;

	ferry_buf_addf(&tmp, "%s__ferry_rebuild", table);
	if (table_extras(p, table, &extras) ||
	    sqlite3_prepare_v2(p->db,
	                       "SELECT name, coalesce(type, ''), \"notnull\", dflt_value FROM "
	                       "pragma_table_info(?1) ORDER BY cid",
	                       -1, &st, NULL) != SQLITE_OK) {
		rc = db_err(d, err, "reading the columns", table);
		goto out;
	}
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *decl = (const char *)sqlite3_column_text(st, 1);
		const struct retype *r = NULL;
		for (i = 0; i < nrt && !r; i++)
			r = strcmp(rt[i].name, name) ? NULL : &rt[i];
		if (names.len) {
			ferry_buf_adds(&create, ", ");
			ferry_buf_adds(&names, ", ");
			ferry_buf_adds(&exprs, ", ");
		}
		ferry_sql_ident(&create, name);
		ferry_buf_addc(&create, ' ');
		ferry_sql_ident(&create, r ? decl_for(r->to) : decl);
		if (sqlite3_column_int(st, 2))
			ferry_buf_adds(&create, " NOT NULL");
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			ferry_buf_addf(&create, " DEFAULT (%s)", sqlite3_column_text(st, 3));
		ferry_sql_ident(&names, name);
		if (r)
			copy_expr(&exprs, name, r->from, r->to);
		else
			ferry_sql_ident(&exprs, name);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (step != SQLITE_DONE) {
		rc = db_err(d, err, "reading the columns", table);
		goto out;
	}
	/* the primary key, in key order */
	if (sqlite3_prepare_v2(p->db,
	                       "SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk", -1,
	                       &st, NULL) != SQLITE_OK) {
		rc = db_err(d, err, "reading the key", table);
		goto out;
	}
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		ferry_buf_adds(&key, key.len ? ", " : "");
		ferry_sql_ident(&key, (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	st = NULL;

	ferry_buf_reset(&p->sql);
	ferry_buf_adds(&p->sql, "SAVEPOINT ferry_rebuild; DROP TABLE IF EXISTS ");
	ferry_sql_ident(&p->sql, tmp.data);
	ferry_buf_adds(&p->sql, "; CREATE TABLE ");
	ferry_sql_ident(&p->sql, tmp.data);
	ferry_buf_addf(&p->sql, " (%s", create.data);
	if (key.len)
		ferry_buf_addf(&p->sql, ", PRIMARY KEY (%s)", key.data);
	ferry_buf_adds(&p->sql, "); INSERT INTO ");
	ferry_sql_ident(&p->sql, tmp.data);
	ferry_buf_addf(&p->sql, " (%s) SELECT %s FROM ", names.data, exprs.data);
	ferry_sql_ident(&p->sql, table);
	ferry_buf_adds(&p->sql, "; DROP TABLE ");
	ferry_sql_ident(&p->sql, table);
	ferry_buf_adds(&p->sql, "; ALTER TABLE ");
	ferry_sql_ident(&p->sql, tmp.data);
	ferry_buf_adds(&p->sql, " RENAME TO ");
	ferry_sql_ident(&p->sql, table);
	for (i = 0; i < extras.n; i++)
		ferry_buf_addf(&p->sql, "; %s", extras.v[i]);
	ferry_buf_adds(&p->sql, "; RELEASE ferry_rebuild");
	if (sqlite3_exec(p->db, p->sql.data, NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_err(d, err, "widening the columns", table);
		sqlite3_exec(p->db, "ROLLBACK TO ferry_rebuild; RELEASE ferry_rebuild", NULL, NULL,
		             NULL);
	}
out:
	sqlite3_finalize(st);
	ferry_names_release(&extras);
	ferry_buf_release(&create);
	ferry_buf_release(&names);
	ferry_buf_release(&exprs);
	ferry_buf_release(&key);
	ferry_buf_release(&tmp);
	return rc;
}

/* How values of stream column c are bound into a column of type conv (see enum bind). */
static int bind_for(const struct ferry_column *c, const char *conv)
{
	if (!conv || !strcmp(conv, "double precision"))
		return BIND_KIND; /* an integer into REAL affinity: 3 -> 3.0 */
	if (c->kind == FERRY_K_BOOL)
		return BIND_BOOL_TEXT;
	if (!strcmp(conv, "jsonb") && c->kind != FERRY_K_INT && c->kind != FERRY_K_FLOAT)
		return BIND_JSON_TEXT;
	return BIND_TEXT;
}

/*
 * Makes p->table (whose columns are have) take stream s: retypes narrower
 * columns (rebuild_table) and sets how each column's values are bound.
 * p->bind must hold s->ncols entries.
 */
static int fit_table(struct ferry_dest *d, const struct ferry_stream *s, const struct colset *have,
                     struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	struct retype *rt = calloc((size_t)s->ncols + 1, sizeof(*rt));
	int i, j, nrt = 0, rc = 0;

	if (!rt)
		return oom(err);
	for (i = 0; i < s->ncols; i++) {
		const char *to, *conv;
		char lt[64];

		p->bind[i] = BIND_KIND;
		if ((j = colset_find(have, s->cols[i].name)) < 0 || !*have->type[j])
			continue;
		ferry_pg_type_of_sqlite_decl(have->type[j], lt, sizeof(lt));
		ferry_pg_type_fit(lt, s->cols[i].pg_type, &to, &conv);
		p->bind[i] = bind_for(&s->cols[i], conv);
		if (to) {
			rt[nrt].name = s->cols[i].name;
			snprintf(rt[nrt].from, sizeof(rt[nrt].from), "%s", lt);
			rt[nrt++].to = to;
		}
	}
	if (nrt)
		rc = rebuild_table(d, p->table, rt, nrt, err);
	free(rt);
	return rc;
}

static int stream_setup(struct ferry_dest *d, const struct ferry_write_opts *o,
                        const struct ferry_stream *s, char *table, struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;

	p->table = table;
	p->mode = o->mode;
	if (!(p->cur = strdup(s->name)) || alloc_fields(p, s->ncols))
		return oom(err);
	return 0;
}

static int dest_stream_begin(struct ferry_dest *d, const struct ferry_write_opts *o,
                             const struct ferry_stream *s, struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	struct colset have = {0};
	char *table;
	bool exists = false, ok;
	int rc;

	stream_clear(p);
	rollback(p);
	if (o->mode == FERRY_MODE_FULL) {
		if (!(table = staging_name(o, s)))
			return oom(err);
		if ((rc = stream_setup(d, o, s, table, err)) || (rc = drop_table(d, table, err)))
			goto fail;
		create_table_sql(&p->sql, table, s, o->soft_deletes);
		if ((rc = exec_sql(d, p->sql.data, "creating the staging table", table, err)) ||
		    (rc = prepare_insert(d, s, false, err)))
			goto fail;
		return 0;
	}

	if (s->npk == 0)
		return ferry_err_set(
		    err, FERRY_ECONFIG,
		    "stream \"%s\" has no primary key, which an incremental sync needs to "
		    "upsert rows (name one with --set pk.%s=col1,col2 on the source, or "
		    "sync it with --full)",
		    s->name, s->name);
	if (!(table = table_name(o, s, NULL)))
		return oom(err);
	if ((rc = stream_setup(d, o, s, table, err)))
		goto fail;
	if (table_exists(p, table, &exists)) {
		rc = db_err(d, err, "looking up the table", table);
		goto fail;
	}
	if (!exists) {
		create_table_sql(&p->sql, table, s, false);
		if ((rc = exec_sql(d, p->sql.data, "creating the table", table, err)) ||
		    (rc = create_indexes(d, table, table, s, "", true, err)))
			goto fail;
	} else {
		if (table_columns(p, table, &have)) {
			rc = db_err(d, err, "reading the columns", table);
			goto fail;
		}
		if ((rc = add_missing_columns(d, table, &have, s, false, err)))
			goto fail;
		if (has_unique_key(p, table, s, &have, &ok)) {
			rc = db_err(d, err, "reading the indexes", table);
			goto fail;
		}
		if (!ok) {
			rc = ferry_err_set(
			    err, FERRY_ECONFIG,
			    "table \"%s\" of destination \"%s\" has no primary key or unique "
			    "index on the key of stream \"%s\", so rows cannot be upserted "
			    "(run `ferry sync --full --reset` once to recreate it)",
			    table, d->name, s->name);
			goto fail;
		}
		p->has_deleted_at = colset_find(&have, DELETED_AT) >= 0;
		/* an earlier run may have widened a column, or this one widens it */
		if ((rc = fit_table(d, s, &have, err)))
			goto fail;
	}
	if ((rc = prepare_insert(d, s, true, err)) || (rc = prepare_update(d, s, err)))
		goto fail;
	colset_release(&have);
	return 0;
fail:
	colset_release(&have);
	if (!p->table)
		free(table);
	stream_clear(p);
	rollback(p);
	return rc;
}

/* ---- binding COPY text fields ----------------------------------------- */

/* PostgreSQL bytea text forms, in place: "\x0a0b" hex, or the escape form (\\ and \ooo). */
static int decode_bytea(struct ferry_buf *f)
{
	char *s = f->data, *w = f->data;
	size_t i, n = f->len;

	if (n >= 2 && s[0] == '\\' && s[1] == 'x') {
		for (i = 2; i < n;) {
			int hi, lo;
			if (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r') {
				i++;
				continue;
			}
			if (i + 1 >= n)
				return -1;
			hi = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : (s[i] | 32) - 'a' + 10;
			lo = s[i + 1] >= '0' && s[i + 1] <= '9' ? s[i + 1] - '0'
			                                        : (s[i + 1] | 32) - 'a' + 10;
			if (hi < 0 || hi > 15 || lo < 0 || lo > 15)
				return -1;
			*w++ = (char)(hi * 16 + lo);
			i += 2;
		}
	} else {
		for (i = 0; i < n;) {
			if (s[i] != '\\') {
				*w++ = s[i++];
			} else if (i + 1 < n && s[i + 1] == '\\') {
				*w++ = '\\';
				i += 2;
			} else if (i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' &&
			           s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' &&
			           s[i + 3] <= '7') {
				*w++ = (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
				              (s[i + 3] - '0'));
				i += 4;
			} else {
				return -1;
			}
		}
	}
	ferry_buf_setlen(f, (size_t)(w - f->data));
	return 0;
}

static int parse_bool(const char *s)
{
	static const char *const yes[] = {"t", "true", "1", "y", "yes", "on"};
	static const char *const no[] = {"f", "false", "0", "n", "no", "off"};
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
		if (!strcasecmp(s, yes[i]))
			return 1;
		if (!strcasecmp(s, no[i]))
			return 0;
	}
	return -1;
}

static int bad_field(struct ferry_dest *d, const struct ferry_stream *s, int col, long long row,
                     const char *what, struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	const char *v = p->fields[col].data;

	return ferry_err_set(err, FERRY_EDEST,
	                     "value '%.40s%s' of column \"%s\" (row %lld of this batch) is not %s: "
	                     "cannot write it to table \"%s\" of destination \"%s\"",
	                     v, strlen(v) > 40 ? "..." : "", s->cols[col].name, row, what, p->table,
	                     d->name);
}

/* Binds field col (already decoded into p->fields[col]) as parameter col+1 of st. */
static int bind_field(struct ferry_dest *d, sqlite3_stmt *st, const struct ferry_stream *s, int col,
                      long long row, struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	struct ferry_buf *f = &p->fields[col];
	char *end;
	int b;

	if (p->nulls[col])
		return sqlite3_bind_null(st, col + 1) == SQLITE_OK
		           ? 0
		           : db_err(d, err, "binding", p->table);
	switch (p->bind[col]) {
	case BIND_TEXT:
	case BIND_JSON_TEXT:
		sqlite3_bind_text(st, col + 1, f->data, (int)f->len, SQLITE_STATIC);
		return 0;
	case BIND_BOOL_TEXT:
		if ((b = parse_bool(f->data)) < 0)
			return bad_field(d, s, col, row, "a boolean (t, true, 1, f, false, 0)",
			                 err);
		sqlite3_bind_text(st, col + 1, b ? "true" : "false", -1, SQLITE_STATIC);
		return 0;
	}
	switch (s->cols[col].kind) {
	case FERRY_K_INT: {
		long long v;
		errno = 0;
		v = strtoll(f->data, &end, 10);
		if (errno || end == f->data || *end || (size_t)(end - f->data) != f->len)
			return bad_field(d, s, col, row, "an integer", err);
		sqlite3_bind_int64(st, col + 1, v);
		return 0;
	}
	case FERRY_K_FLOAT: {
		double v = strtod(f->data, &end);
		if (end == f->data || *end || (size_t)(end - f->data) != f->len)
			return bad_field(d, s, col, row, "a number", err);
		if (isnan(v)) /* SQLite stores a NaN double as NULL: keep it as text */
			sqlite3_bind_text(st, col + 1, "NaN", 3, SQLITE_STATIC);
		else
			sqlite3_bind_double(st, col + 1, v);
		return 0;
	}
	case FERRY_K_BOOL:
		if ((b = parse_bool(f->data)) < 0)
			return bad_field(d, s, col, row, "a boolean (t, true, 1, f, false, 0)",
			                 err);
		sqlite3_bind_int(st, col + 1, b);
		return 0;
	case FERRY_K_BYTEA: /* decoded by decode_line */
		sqlite3_bind_blob(st, col + 1, f->data, (int)f->len, SQLITE_STATIC);
		return 0;
	default:
		sqlite3_bind_text(st, col + 1, f->data, (int)f->len, SQLITE_STATIC);
		return 0;
	}
}

/* Decodes one COPY line into p->fields / p->nulls. */
static int decode_line(struct ferry_dest *d, const struct ferry_stream *s, const char *line,
                       const char *end, long long row, struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	struct ferry_copy_fields it;
	int i = 0, rc;

	ferry_copy_fields_init(&it, line, end);
	for (;;) {
		struct ferry_buf extra = FERRY_BUF_INIT;
		bool isnull;
		if (i < s->ncols) {
			rc = ferry_copy_next(&it, &p->fields[i], &p->nulls[i]);
		} else {
			rc = ferry_copy_next(&it, &extra, &isnull);
			ferry_buf_release(&extra);
		}
		if (rc < 0)
			return ferry_err_set(
			    err, rc, "cannot decode row %lld of this batch for table \"%s\"", row,
			    p->table);
		if (rc == 0)
			break;
		i++;
	}
	if (i != s->ncols)
		return ferry_err_set(
		    err, FERRY_EINTERNAL,
		    "row %lld of this batch has %d fields but stream \"%s\" has %d columns: "
		    "cannot write it to table \"%s\" of destination \"%s\"",
		    row, i, s->name, s->ncols, p->table, d->name);
	/* in place, once per row: the INSERT and the UPDATE bind the same bytes */
	for (i = 0; i < s->ncols; i++)
		if (s->cols[i].kind == FERRY_K_BYTEA && !p->nulls[i] && decode_bytea(&p->fields[i]))
			return bad_field(d, s, i, row,
			                 "PostgreSQL bytea text (\\x followed by hex)", err);
	return 0;
}

static int bind_row(struct ferry_dest *d, sqlite3_stmt *st, const struct ferry_stream *s,
                    long long row, const char *now, struct ferry_err *err)
{
	int i, rc;

	sqlite3_reset(st);
	for (i = 0; i < s->ncols; i++)
		if ((rc = bind_field(d, st, s, i, row, err)))
			return rc;
	sqlite3_bind_text(st, s->ncols + 1, now, -1, SQLITE_STATIC);
	return 0;
}

static int step_row(struct ferry_dest *d, sqlite3_stmt *st, const struct ferry_stream *s,
                    long long row, struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		if (sqlite3_extended_errcode(p->db) == SQLITE_CONSTRAINT_PRIMARYKEY ||
		    sqlite3_extended_errcode(p->db) == SQLITE_CONSTRAINT_UNIQUE)
			return ferry_err_set(
			    err, FERRY_EDEST,
			    "row %lld of this batch repeats a primary key of stream \"%s\" "
			    "(%s) in table \"%s\" of destination \"%s\": the key is not "
			    "unique in the source (choose another with --set pk.%s=...)",
			    row, s->name, sqlite3_errmsg(p->db), p->table, d->name, s->name);
		rc = ferry_err_set(err, FERRY_EDEST,
		                   "row %lld of this batch was refused by table \"%s\" "
		                   "of destination \"%s\": %s",
		                   row, p->table, d->name, sqlite3_errmsg(p->db));
		err->retryable = false;
		return rc;
	}
	db_err(d, err, "writing a row", p->table);
	return ferry_err_prefix(err, "row %lld: ", row);
}

/* ---- write ------------------------------------------------------------ */

static int dest_write(struct ferry_dest *d, const struct ferry_write_opts *o,
                      const struct ferry_stream *s, const struct ferry_batch *b, const char *cursor,
                      struct ferry_counts *c, struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	const char *line = b->data.data, *end = b->data.data + b->data.len, *nl;
	long long row = 0, ins = 0, upd = 0, same = 0;
	char now[32];
	int rc = 0;

	if (!p->cur || strcmp(p->cur, s->name) || p->ncols != s->ncols)
		return ferry_err_set(err, FERRY_EINTERNAL,
		                     "write() of stream \"%s\" without stream_begin()", s->name);
	now_iso(now);
	/* one transaction per batch: staging is invisible anyway, and the file's write lock is
	 * not held across batches, so other writers of the file are not starved */
	if ((rc = exec_sql(d, "BEGIN IMMEDIATE", "starting a transaction", p->table, err)))
		return rc;
	for (; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		row++;
		if ((rc = decode_line(d, s, line, nl, row, err)) ||
		    (rc = bind_row(d, p->ins, s, row, now, err)) ||
		    (rc = step_row(d, p->ins, s, row, err)))
			goto fail;
		if (o->mode == FERRY_MODE_FULL || sqlite3_changes(p->db) == 1) {
			ins++;
			continue;
		}
		if (!p->upd) {
			same++;
			continue;
		}
		if ((rc = bind_row(d, p->upd, s, row, now, err)) ||
		    (rc = step_row(d, p->upd, s, row, err)))
			goto fail;
		if (sqlite3_changes(p->db) == 1)
			upd++;
		else
			same++;
	}
	if (o->mode == FERRY_MODE_INCREMENTAL && cursor && !o->keep_cursor &&
	    (rc = put_cursor(d, o, s->name, cursor, now, &p->state_put, err)))
		goto fail;
	if ((rc = exec_sql(d, "COMMIT", "committing the batch", p->table, err)))
		goto fail;
	c->inserted += ins;
	c->updated += upd;
	c->unchanged += same;
	return 0;
fail:
	rollback(p);
	return rc;
}

static int dest_stream_end(struct ferry_dest *d, const struct ferry_write_opts *o,
                           const struct ferry_stream *s, struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	char sfx[40], *live = NULL;
	int rc = 0;

	if (o->mode == FERRY_MODE_FULL && p->table) {
		/* indexes after the load: one build beats maintaining them row by row */
		snprintf(sfx, sizeof(sfx), "_%lld", o->run_unix);
		if (!(live = table_name(o, s, NULL)))
			rc = oom(err);
		else
			rc = create_indexes(d, p->table, live, s, sfx, false, err);
	}
	free(live);
	stream_clear(p);
	if (rc)
		rollback(p);
	return rc;
}

/*
 * The stream grew (want: s's columns, some wider, and new ones after them):
 * the table being written (staging or live) gets the new columns and wider
 * types, in one transaction between two batches, and the statements are
 * prepared again for want's columns.
 */
static int dest_evolve(struct ferry_dest *d, const struct ferry_write_opts *o,
                       const struct ferry_stream *s, const struct ferry_stream *shape,
                       struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	struct ferry_stream named = *shape; /* the source's shape, with the stream's name and key */
	const struct ferry_stream *want = &named;
	struct colset have = {0};
	int i, rc;

	named.name = s->name;
	named.dest_table = s->dest_table;
	named.pk = s->pk;
	named.npk = s->npk;

	if (!p->cur || strcmp(p->cur, s->name) || p->ncols != s->ncols)
		return ferry_err_set(err, FERRY_EINTERNAL,
		                     "evolve() of stream \"%s\" without stream_begin()", s->name);
	for (i = 0; i < s->ncols; i++)
		if (ferry_stream_column(want, s->cols[i].name) < 0)
			return ferry_err_set(err, FERRY_EINTERNAL,
			                     "stream \"%s\" lost column \"%s\" while it was read: "
			                     "cannot write it to destination \"%s\"",
			                     s->name, s->cols[i].name, d->name);
	columns_clear(p);
	if (alloc_fields(p, want->ncols))
		return oom(err);
	if ((rc = exec_sql(d, "BEGIN IMMEDIATE", "starting a transaction", p->table, err)))
		return rc;
	if (table_columns(p, p->table, &have)) {
		rc = db_err(d, err, "reading the columns", p->table);
		goto fail;
	}
	if ((rc = add_missing_columns(d, p->table, &have, want, false, err)) ||
	    (rc = fit_table(d, want, &have, err)) ||
	    (rc = exec_sql(d, "COMMIT", "adding columns", p->table, err)))
		goto fail;
	colset_release(&have);
	if (o->mode == FERRY_MODE_FULL)
		return prepare_insert(d, want, false, err);
	if ((rc = prepare_insert(d, want, true, err)) || (rc = prepare_update(d, want, err)))
		return rc;
	return 0;
fail:
	colset_release(&have);
	rollback(p);
	return rc;
}

/* ---- the swap --------------------------------------------------------- */

static int query_ll(struct ferry_dest *d, const char *sql, long long *out, const char *table,
                    struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	sqlite3_stmt *st = NULL;
	int rc = 0;

	if (sqlite3_prepare_v2(p->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(d, err, "counting rows", table);
	if (sqlite3_step(st) == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		rc = db_err(d, err, "counting rows", table);
	sqlite3_finalize(st);
	return rc;
}

/* Whether a view or another table's trigger mentions the table (then renaming it would orphan
 * them). */
static int has_dependents(struct ferry_dest *d, const char *live, bool *deps, struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	sqlite3_stmt *st = NULL;
	int rc;

	if (sqlite3_prepare_v2(p->db,
	                       "SELECT count(*) FROM sqlite_master WHERE sql IS NOT NULL AND "
	                       "(type = 'view' OR (type = 'trigger' AND tbl_name <> ?1)) "
	                       "AND instr(lower(sql), lower(?1)) > 0",
	                       -1, &st, NULL) != SQLITE_OK)
		return db_err(d, err, "looking for dependent views", live);
	sqlite3_bind_text(st, 1, live, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*deps = rc == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : db_err(d, err, "looking for dependent views", live);
}

/* "NOT EXISTS (SELECT 1 FROM staging s WHERE s.k = l.k AND ...)" */
static void add_absent(struct ferry_buf *q, const char *staging, const struct ferry_stream *s)
{
	int i;

	ferry_buf_adds(q, "NOT EXISTS (SELECT 1 FROM ");
	ferry_sql_ident(q, staging);
	ferry_buf_adds(q, " s WHERE ");
	for (i = 0; i < s->npk; i++) {
		const char *k = s->cols[s->pk[i]].name;
		if (i)
			ferry_buf_adds(q, " AND ");
		ferry_buf_adds(q, "s."), ferry_sql_ident(q, k), ferry_buf_adds(q, " = l."),
		    ferry_sql_ident(q, k);
	}
	ferry_buf_addc(q, ')');
}

static int swap_one(struct ferry_dest *d, const struct ferry_write_opts *o,
                    const struct ferry_stream *s, const char *now, struct ferry_counts *cnt,
                    struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	char *live = table_name(o, s, NULL), *staging = staging_name(o, s),
	     *backup = backup_name(o, s);
	struct colset lc = {0}, sc = {0};
	bool live_exists = false, staging_exists = false, deps = false, keys_ok;
	int i, rc = 0;

	if (!live || !staging || !backup) {
		rc = oom(err);
		goto out;
	}
	if (table_exists(p, staging, &staging_exists) || table_exists(p, live, &live_exists)) {
		rc = db_err(d, err, "looking up the tables", live);
		goto out;
	}
	if (!staging_exists) {
		rc = ferry_err_set(
		    err, FERRY_EINTERNAL,
		    "staging table \"%s\" of destination \"%s\" is missing at the swap "
		    "(was the stream loaded?)",
		    staging, d->name);
		goto out;
	}
	ferry_buf_reset(&p->sql);
	ferry_buf_adds(&p->sql, "SELECT count(*) FROM ");
	ferry_sql_ident(&p->sql, staging);
	if ((rc = query_ll(d, p->sql.data, &cnt->inserted, staging, err)))
		goto out;
	cnt->deleted = 0;

	if (live_exists) {
		bool live_del;
		if (table_columns(p, live, &lc) || table_columns(p, staging, &sc)) {
			rc = db_err(d, err, "reading the columns", live);
			goto out;
		}
		live_del = colset_find(&lc, DELETED_AT) >= 0;
		keys_ok = s->npk > 0;
		for (i = 0; i < s->npk; i++)
			keys_ok &= colset_find(&lc, s->cols[s->pk[i]].name) >= 0;

		if (keys_ok) {
			/* deleted = live rows (not already soft-deleted) whose key is not in
			 * staging */
			ferry_buf_reset(&p->sql);
			ferry_buf_adds(&p->sql, "SELECT count(*) FROM ");
			ferry_sql_ident(&p->sql, live);
			ferry_buf_adds(&p->sql, " l WHERE ");
			if (live_del)
				ferry_buf_adds(&p->sql, "l.\"" DELETED_AT "\" IS NULL AND ");
			add_absent(&p->sql, staging, s);
			if ((rc = query_ll(d, p->sql.data, &cnt->deleted, live, err)))
				goto out;
		}
		if (keys_ok && o->soft_deletes) {
			/* keep vanished rows, marked, with the columns both tables have */
			ferry_buf_reset(&p->sql);
			ferry_buf_adds(&p->sql, "INSERT INTO ");
			ferry_sql_ident(&p->sql, staging);
			ferry_buf_adds(&p->sql, " (");
			ferry_buf_reset(&p->tmp);
			for (i = 0; i < sc.n; i++) {
				if (!strcmp(sc.v[i], DELETED_AT) ||
				    (colset_find(&lc, sc.v[i]) < 0 && strcmp(sc.v[i], SYNCED_AT)))
					continue;
				ferry_sql_ident(&p->sql, sc.v[i]);
				ferry_buf_adds(&p->sql, ", ");
				if (!strcmp(sc.v[i], SYNCED_AT) &&
				    colset_find(&lc, SYNCED_AT) < 0) {
					ferry_buf_addf(&p->tmp, "'%s', ", now);
				} else {
					ferry_buf_adds(&p->tmp, "l.");
					ferry_sql_ident(&p->tmp, sc.v[i]);
					ferry_buf_adds(&p->tmp, ", ");
				}
			}
			ferry_buf_adds(&p->sql, "\"" DELETED_AT "\") SELECT ");
			ferry_buf_add(&p->sql, p->tmp.data, p->tmp.len);
			if (live_del)
				ferry_buf_addf(&p->sql, "coalesce(l.\"" DELETED_AT "\", '%s')",
				               now);
			else
				ferry_buf_addf(&p->sql, "'%s'", now);
			ferry_buf_adds(&p->sql, " FROM ");
			ferry_sql_ident(&p->sql, live);
			ferry_buf_adds(&p->sql, " l WHERE ");
			add_absent(&p->sql, staging, s);
			if ((rc = exec_sql(d, p->sql.data, "keeping deleted rows", live, err)))
				goto out;
		}
		if ((rc = has_dependents(d, live, &deps, err)))
			goto out;
	}

	if (live_exists && deps) {
		/* views stay attached to live: replace its rows instead of the table */
		if ((rc = add_missing_columns(d, live, &lc, s, o->soft_deletes, err)))
			goto out;
		ferry_buf_reset(&p->sql);
		ferry_buf_adds(&p->sql, "DELETE FROM ");
		ferry_sql_ident(&p->sql, live);
		if ((rc = exec_sql(d, p->sql.data, "emptying the table", live, err)))
			goto out;
		ferry_buf_reset(&p->sql);
		ferry_buf_reset(&p->tmp);
		for (i = 0; i < sc.n; i++) {
			if (i)
				ferry_buf_adds(&p->tmp, ", ");
			ferry_sql_ident(&p->tmp, sc.v[i]);
		}
		ferry_buf_adds(&p->sql, "INSERT INTO ");
		ferry_sql_ident(&p->sql, live);
		ferry_buf_addf(&p->sql, " (%s) SELECT %s FROM ", p->tmp.data, p->tmp.data);
		ferry_sql_ident(&p->sql, staging);
		if ((rc = exec_sql(d, p->sql.data, "filling the table", live, err)) ||
		    (rc = drop_table(d, staging, err)))
			goto out;
	} else {
		if (live_exists) {
			if ((rc = drop_table(d, backup, err)))
				goto out;
			ferry_buf_reset(&p->sql);
			ferry_buf_adds(&p->sql, "ALTER TABLE ");
			ferry_sql_ident(&p->sql, live);
			ferry_buf_adds(&p->sql, " RENAME TO ");
			ferry_sql_ident(&p->sql, backup);
			if ((rc =
			         exec_sql(d, p->sql.data, "moving the old table aside", live, err)))
				goto out;
		}
		ferry_buf_reset(&p->sql);
		ferry_buf_adds(&p->sql, "ALTER TABLE ");
		ferry_sql_ident(&p->sql, staging);
		ferry_buf_adds(&p->sql, " RENAME TO ");
		ferry_sql_ident(&p->sql, live);
		if ((rc = exec_sql(d, p->sql.data, "swapping in the new table", live, err)))
			goto out;
	}
out:
	colset_release(&lc);
	colset_release(&sc);
	free(live);
	free(staging);
	free(backup);
	return rc;
}

static int dest_commit_full(struct ferry_dest *d, const struct ferry_write_opts *o,
                            const struct ferry_stream *streams, int n, char *const *cursors,
                            struct ferry_counts *counts, struct ferry_err *err)
{
	struct sqlite_dest *p = d->priv;
	char now[32];
	int i, rc;

	stream_clear(p);
	rollback(p);
	now_iso(now);
	if ((rc = ensure_state_table(d, o, err)))
		return rc;
	if ((rc = exec_sql(d, "BEGIN IMMEDIATE", "starting the swap", NULL, err)))
		return rc;
	for (i = 0; i < n; i++) {
		if ((rc = swap_one(d, o, &streams[i], now, &counts[i], err)))
			goto fail;
		if (!o->keep_cursor &&
		    (rc = put_cursor(d, o, streams[i].name, cursors ? cursors[i] : NULL, now, NULL,
		                     err)))
			goto fail;
	}
	if ((rc = ferry_fault_hit(d->fault, "swap", err)))
		goto fail;
	if ((rc = exec_sql(d, "COMMIT", "committing the swap", NULL, err)))
		goto fail;

	if (o->backup_retention <= 0) {
		struct ferry_err ignored = {0};
		for (i = 0; i < n; i++) {
			char *backup = backup_name(o, &streams[i]);
			if (backup)
				drop_table(d, backup, &ignored);
			free(backup);
		}
	}
	return 0;
fail:
	rollback(p);
	return rc;
}

const struct ferry_dest_ops ferry_dest_sqlite = {
    .type = "sqlite",
    .scheme = "sqlite://",
    .open = dest_open,
    .prepare = dest_prepare,
    .get_cursor = dest_get_cursor,
    .table_exists = dest_table_exists,
    .stream_begin = dest_stream_begin,
    .write = dest_write,
    .evolve = dest_evolve,
    .stream_end = dest_stream_end,
    .commit_full = dest_commit_full,
    .abort = dest_abort,
    .reset = dest_reset,
    .close = dest_close,
};
