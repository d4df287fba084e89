/*
 * postgres.c - the PostgreSQL destination: COPY into staging or temp tables,
 * then an atomic swap (full) or an upsert (incremental).
 *
 * Full: each stream is loaded into <table>_staging_<run> by one COPY ... FROM
 * STDIN inside the transaction that created the table (so a crash mid-load
 * leaves nothing behind, and COPY FREEZE skips later hint-bit writes); the
 * primary key and indexes are built after the load. commit_full then swaps
 * every stream in ONE transaction: readers see all old tables or all new ones.
 * Incremental: each batch is COPYed into a session temp table and merged with
 * INSERT ... ON CONFLICT DO UPDATE ... WHERE the row differs, and the stream's
 * cursor is written to _ferry_state in the same transaction.
 *
 * Staging and backup tables carry a comment ("ferry:staging:<run>:<table>")
 * so they are found again even when their names had to be shortened.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libpq-fe.h>
#include "ferry/connector.h"
#include "util/names.h"
#include "util/pgconn.h"
#include "util/sqltext.h"

#define CHUNK (256 * 1024)   /* bytes per CopyData message */
#define TEMP "pg_temp.\"_ferry_upsert\""

struct staged {
	char name[64];    /* staging table */
	long long rows;   /* rows COPYed into it */
};

struct pgdst {
	PGconn *conn;
	struct ferry_pg_who who;
	bool copying;           /* a COPY FROM STDIN is open */
	char *stream;           /* the stream being written, for messages */
	char *up_copy;          /* incremental: "BEGIN; COPY temp FROM STDIN" */
	char *up_merge;         /* incremental: the upsert */
	char staging[64];       /* full: the staging table being loaded */
	long long loaded;       /* full: rows COPYed into it by COPYs already ended (evolve) */
	struct staged *staged;
	int nstaged;
};

static const char *schema_of(const struct ferry_write_opts *o)
{
	return o->namespace && *o->namespace ? o->namespace : "public";
}

static const char *dest_of(const struct ferry_stream *s)
{
	return s->dest_table && *s->dest_table ? s->dest_table : s->name;
}

static void live_name(const struct ferry_stream *s, char out[64])
{
	ferry_ident_fit(dest_of(s), out, 64);
}

static void run_name(const struct ferry_stream *s, const char *kind, long long run, char out[64])
{
	char full[600];

	snprintf(full, sizeof(full), "%s_%s_%lld", dest_of(s), kind, run);
	ferry_ident_fit(full, out, 64);
}

/* The table comment that marks a staging or backup table of a destination table. */
static void mark(struct ferry_buf *b, const char *kind, long long run, const struct ferry_stream *s)
{
	char text[600];

	snprintf(text, sizeof(text), "ferry:%s:%lld:%s", kind, run, dest_of(s));
	ferry_pg_literal(b, text);
}

/*
 * A column type from a stream is spliced into DDL, so it must look like a
 * type name and nothing more: "numeric(12,2)", "character varying(20)[]",
 * "\"char\"", "timestamp(3) with time zone".
 */
static bool safe_type(const char *t)
{
	int depth = 0, quotes = 0;

	if (!*t)
		return false;
	for (const char *p = t; *p; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')') {
			if (--depth < 0)
				return false;
		} else if (*p == '"')
			quotes++;
		else if (!isalnum((unsigned char)*p) && !strchr(" _,.[]", *p))
			return false;
	}
	return depth == 0 && quotes % 2 == 0;
}

static int check_types(struct pgdst *p, const struct ferry_stream *s, struct ferry_err *err)
{
	if (s->ncols == 0)
		return ferry_err_set(err, FERRY_ECONFIG, "stream \"%s\" has no columns to write to "
				     "destination \"%s\"", s->name, p->who.name);
	for (int i = 0; i < s->ncols; i++)
		if (!safe_type(s->cols[i].pg_type))
			return ferry_err_set(err, FERRY_ECONFIG,
					     "column \"%s\" of \"%s\" has type \"%s\", which is not a "
					     "PostgreSQL type name destination \"%s\" can create",
					     s->cols[i].name, s->name, s->cols[i].pg_type, p->who.name);
	return 0;
}

static int nomem(struct ferry_err *err)
{
	return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
}

/* Runs a statement with text parameters; TUPLES_OK/COMMAND_OK result to *res. */
static int qp(struct pgdst *p, const char *sql, int n, const char *const *params,
	      const char *doing, const char *what, PGresult **res, struct ferry_err *err)
{
	PGresult *r = PQexecParams(p->conn, sql, n, NULL, params, NULL, NULL, 0);
	int rc;

	if (ferry_pg_ok(r)) {
		if (res)
			*res = r;
		else
			PQclear(r);
		return 0;
	}
	if (res)
		*res = NULL;
	rc = ferry_pg_fail(p->conn, r, &p->who, doing, what, err);
	PQclear(r);
	return rc;
}

static int run(struct pgdst *p, const char *sql, const char *doing, const char *what,
	       struct ferry_err *err)
{
	if (!p->conn)
		return ferry_err_set(err, FERRY_EDEST, "destination \"%s\" is not connected",
				     p->who.name);
	return ferry_pg_exec(p->conn, &p->who, sql, doing, what, NULL, err);
}

/* Rolls back an open transaction (and ends a COPY); quiet, for error paths. */
static void rollback(struct pgdst *p)
{
	PGresult *r;

	if (!p->conn || PQstatus(p->conn) != CONNECTION_OK)
		return;
	if (p->copying) {
		PQputCopyEnd(p->conn, "ferry: aborted");
		p->copying = false;
	}
	while ((r = PQgetResult(p->conn)))
		PQclear(r);
	if (PQtransactionStatus(p->conn) != PQTRANS_IDLE)
		PQclear(PQexec(p->conn, "ROLLBACK"));
}

static int pg_open(struct ferry_dest *d, struct ferry_err *err)
{
	struct pgdst *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return nomem(err);
	p->who.role = "destination";
	p->who.name = d->name ? d->name : "?";
	p->who.fail_code = FERRY_EDEST;
	rc = ferry_pg_connect(d->url, &p->who, &p->conn, err);
	if (rc) {
		free(p);
		return rc;
	}
	d->priv = p;
	return 0;
}

/*
 * The columns of schema.table (empty when it does not exist) and, when types
 * is not NULL, their types as format_type() prints them, position for position.
 */
static int live_columns(struct pgdst *p, const char *schema, const char *table,
			struct ferry_names *out, struct ferry_names *types, struct ferry_err *err)
{
	const char *params[] = {schema, table};
	PGresult *r;
	int rc;

	*out = (struct ferry_names)FERRY_NAMES_INIT;
	if (types)
		*types = (struct ferry_names)FERRY_NAMES_INIT;
	rc = qp(p,
		"SELECT a.attname, format_type(a.atttypid, a.atttypmod)"
		" FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
		" JOIN pg_namespace n ON n.oid = c.relnamespace"
		" WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped"
		" ORDER BY a.attnum",
		2, params, "reading the columns of", table, &r, err);
	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(r) && !rc; i++) {
		const char *name = PQgetvalue(r, i, 0), *type = PQgetvalue(r, i, 1);
		if (ferry_names_push(out, name, strlen(name)) ||
		    (types && ferry_names_push(types, type, strlen(type))))
			rc = nomem(err);
	}
	PQclear(r);
	if (rc) {
		ferry_names_release(out);
		if (types)
			ferry_names_release(types);
	}
	return rc;
}

/* The type of column name in a live_columns() answer; NULL when the table lacks it. */
static const char *live_type(const struct ferry_names *names, const struct ferry_names *types,
			     const char *name)
{
	for (int i = 0; i < names->n && i < types->n; i++)
		if (!strcmp(names->v[i], name))
			return types->v[i];
	return NULL;
}

/*
 * expr (prefix + quoted name) converted to type `to` as a widening does it:
 * to_jsonb() for jsonb (text becomes a JSON string), casts for text and
 * double precision. Only API types get here (ferry_pg_type_widen).
 */
static void convert(struct ferry_buf *b, const char *prefix, const char *name, const char *to)
{
	bool json = to && !strcmp(to, "jsonb");

	ferry_buf_adds(b, json ? "to_jsonb(" : "");
	ferry_buf_adds(b, prefix);
	ferry_sql_ident(b, name);
	if (json)
		ferry_buf_adds(b, ")");
	else if (to)
		ferry_buf_addf(b, "::%s", to);
}

/* Whether schema.table exists (*oid_out non-zero) and whether views depend on it. */
static int live_info(struct pgdst *p, const char *schema, const char *table, bool *exists,
		     bool *has_views, struct ferry_err *err)
{
	const char *params[] = {schema, table};
	PGresult *r;
	int rc;

	rc = qp(p,
		"SELECT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_rewrite w ON w.oid = d.objid"
		"  WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass"
		"  AND d.refobjid = c.oid AND w.ev_class <> c.oid)"
		" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
		" WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
		2, params, "looking up", table, &r, err);
	if (rc)
		return rc;
	*exists = PQntuples(r) == 1;
	if (has_views)
		*has_views = *exists && PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	return 0;
}

/* "col" type [NOT NULL], ... plus the metadata columns. */
static void column_defs(struct ferry_buf *b, const struct ferry_stream *s, bool soft)
{
	for (int i = 0; i < s->ncols; i++) {
		ferry_sql_ident(b, s->cols[i].name);
		ferry_buf_addf(b, " %s%s, ", s->cols[i].pg_type, s->cols[i].not_null ? " NOT NULL" : "");
	}
	ferry_buf_adds(b, "\"_ferry_synced_at\" timestamptz NOT NULL DEFAULT now()");
	if (soft)
		ferry_buf_adds(b, ", \"_ferry_deleted_at\" timestamptz");
}

static void column_list(struct ferry_buf *b, const char *prefix, const struct ferry_stream *s)
{
	for (int i = 0; i < s->ncols; i++) {
		if (i)
			ferry_buf_adds(b, ", ");
		ferry_buf_adds(b, prefix);
		ferry_sql_ident(b, s->cols[i].name);
	}
}

static void pk_list(struct ferry_buf *b, const struct ferry_stream *s)
{
	for (int i = 0; i < s->npk; i++) {
		if (i)
			ferry_buf_adds(b, ", ");
		ferry_sql_ident(b, s->cols[s->pk[i]].name);
	}
}

/*
 * "a.k1 = b.k1 AND a.k2 = b.k2": rows of two relations with the same primary
 * key. conv_a, conv_b (NULL, or a type or NULL per stream column) convert a
 * side's key first, where the two relations type it differently.
 */
static void key_match(struct ferry_buf *b, const char *a, const char *bb, const struct ferry_stream *s,
		      const char *const *conv_a, const char *const *conv_b)
{
	char pa[32], pb[32];

	snprintf(pa, sizeof(pa), "%s.", a);
	snprintf(pb, sizeof(pb), "%s.", bb);
	for (int i = 0; i < s->npk; i++) {
		const char *name = s->cols[s->pk[i]].name;
		ferry_buf_adds(b, i ? " AND " : "");
		convert(b, pa, name, conv_a ? conv_a[s->pk[i]] : NULL);
		ferry_buf_adds(b, " = ");
		convert(b, pb, name, conv_b ? conv_b[s->pk[i]] : NULL);
	}
}

/*
 * "ALTER TABLE t ADD COLUMN ..." for each stream or metadata column that the
 * live table lacks (nullable: existing rows have no value). Empty when none.
 */
static void add_missing_columns(struct ferry_buf *b, const char *qtable,
				const struct ferry_names *have, const struct ferry_stream *s, bool soft)
{
	for (int i = 0; i < s->ncols; i++) {
		if (ferry_names_has(have, s->cols[i].name))
			continue;
		ferry_buf_addf(b, "ALTER TABLE %s ADD COLUMN ", qtable);
		ferry_sql_ident(b, s->cols[i].name);
		ferry_buf_addf(b, " %s; ", s->cols[i].pg_type);
	}
	if (!ferry_names_has(have, "_ferry_synced_at"))
		ferry_buf_addf(b, "ALTER TABLE %s ADD COLUMN \"_ferry_synced_at\" timestamptz "
			       "NOT NULL DEFAULT now(); ", qtable);
	if (soft && !ferry_names_has(have, "_ferry_deleted_at"))
		ferry_buf_addf(b, "ALTER TABLE %s ADD COLUMN \"_ferry_deleted_at\" timestamptz; ",
			       qtable);
}

/* ---- prepare, reset: finding ferry's own tables ---------------------------- */

enum kind { K_NONE, K_STAGING, K_BACKUP };

/* Whether relname (with comment) is a staging or backup table of stream s; *run gets its run. */
static enum kind classify(const char *relname, const char *comment, const struct ferry_stream *s,
			  long long *run)
{
	const char *dest = dest_of(s);
	size_t dl = strlen(dest);
	static const char *kinds[] = {"staging", "backup"};

	for (int k = 0; k < 2; k++) {
		char head[32];
		const char *p;
		char *end;
		size_t hl = (size_t)snprintf(head, sizeof(head), "ferry:%s:", kinds[k]);

		/* By comment: survives names shortened by ferry_ident_fit. */
		if (!strncmp(comment, head, hl)) {
			long long v = strtoll(comment + hl, &end, 10);
			if (end != comment + hl && *end == ':' && !strcmp(end + 1, dest)) {
				*run = v;
				return k ? K_BACKUP : K_STAGING;
			}
		}
		/* By name: <dest>_staging_<digits>. */
		if (!strncmp(relname, dest, dl) && relname[dl] == '_' &&
		    !strncmp(relname + dl + 1, kinds[k], strlen(kinds[k])) &&
		    relname[dl + 1 + strlen(kinds[k])] == '_') {
			p = relname + dl + 2 + strlen(kinds[k]);
			if (!isdigit((unsigned char)*p))
				continue;
			long long v = strtoll(p, &end, 10);
			if (*end)
				continue;
			*run = v;
			return k ? K_BACKUP : K_STAGING;
		}
	}
	return K_NONE;
}

/* The tables of a schema with their comments. */
static int schema_tables(struct pgdst *p, const char *schema, PGresult **r, struct ferry_err *err)
{
	const char *params[] = {schema};

	return qp(p,
		  "SELECT c.relname, coalesce(obj_description(c.oid, 'pg_class'), '')"
		  " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
		  " WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')",
		  1, params, "listing the tables of schema", schema, r, err);
}

static int pg_prepare(struct ferry_dest *d, const struct ferry_write_opts *o,
		      const struct ferry_stream *streams, int n, struct ferry_err *err)
{
	struct pgdst *p = d->priv;
	const char *schema = schema_of(o);
	struct ferry_buf sql = FERRY_BUF_INIT;
	long long now = (long long)time(NULL);
	PGresult *r = NULL;
	int rc;

	if (o->namespace && *o->namespace) {
		ferry_buf_adds(&sql, "CREATE SCHEMA IF NOT EXISTS ");
		ferry_sql_ident(&sql, schema);
		ferry_buf_adds(&sql, "; ");
	}
	ferry_buf_adds(&sql, "CREATE TABLE IF NOT EXISTS ");
	ferry_pg_qname(&sql, schema, "_ferry_state");
	ferry_buf_adds(&sql, " (state_key text, stream text, cursor text, updated_at timestamptz "
			     "NOT NULL DEFAULT now(), PRIMARY KEY (state_key, stream))");
	for (int attempt = 0; attempt < 2; attempt++) {
		r = PQexec(p->conn, sql.data);
		rc = ferry_pg_ok(r) ? 0 : ferry_pg_fail(p->conn, r, &p->who, "creating", schema, err);
		/* Two runs creating the schema at once: the loser sees a unique violation. */
		bool race = rc && !strcmp(ferry_pg_sqlstate(r), "23505");
		PQclear(r);
		r = NULL;
		if (!race)
			break;
	}
	if (rc)
		goto out;

	rc = schema_tables(p, schema, &r, err);
	if (rc)
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *rel = PQgetvalue(r, i, 0), *comment = PQgetvalue(r, i, 1);
		for (int j = 0; j < n; j++) {
			long long run_at = 0;
			enum kind k = classify(rel, comment, &streams[j], &run_at);
			if (k == K_NONE || (k == K_BACKUP && run_at + o->backup_retention > now))
				continue;
			ferry_buf_reset(&sql);
			ferry_buf_adds(&sql, "DROP TABLE IF EXISTS ");
			ferry_pg_qname(&sql, schema, rel);
			PGresult *dr = PQexec(p->conn, sql.data);
			if (!ferry_pg_ok(dr) && (k == K_STAGING || ferry_pg_gone(p->conn, dr))) {
				/* A backup someone hung a view on may stay; leftover staging may not. */
				rc = ferry_pg_fail(p->conn, dr, &p->who, "dropping leftover table",
						   rel, err);
				PQclear(dr);
				goto out;
			}
			PQclear(dr);
			break;
		}
	}
out:
	PQclear(r);
	ferry_buf_release(&sql);
	return rc;
}

static int pg_get_cursor(struct ferry_dest *d, const struct ferry_write_opts *o,
			 const struct ferry_stream *s, char **cursor, struct ferry_err *err)
{
	struct pgdst *p = d->priv;
	struct ferry_buf sql = FERRY_BUF_INIT;
	const char *params[] = {o->state_key ? o->state_key : "", s->name};
	PGresult *r;
	int rc;

	*cursor = NULL;
	ferry_buf_adds(&sql, "SELECT cursor FROM ");
	ferry_pg_qname(&sql, schema_of(o), "_ferry_state");
	ferry_buf_adds(&sql, " WHERE state_key = $1 AND stream = $2");
	rc = qp(p, sql.data, 2, params, "reading the cursor of", s->name, &r, err);
	ferry_buf_release(&sql);
	if (rc)
		return rc;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) && !(*cursor = strdup(PQgetvalue(r, 0, 0))))
		rc = nomem(err);
	PQclear(r);
	return rc;
}

static int pg_table_exists(struct ferry_dest *d, const struct ferry_write_opts *o,
			   const struct ferry_stream *s, bool *exists, struct ferry_err *err)
{
	char live[64];

	live_name(s, live);
	return live_info(d->priv, schema_of(o), live, exists, NULL, err);
}

/* ---- incremental ---------------------------------------------------------- */

/* Whether a live table has a unique index on exactly the stream's key columns. */
static int has_key(struct pgdst *p, const char *schema, const char *table,
		   const struct ferry_stream *s, bool *ok, struct ferry_err *err)
{
	const char *params[] = {schema, table};
	PGresult *r;
	int rc;

	*ok = false;
	rc = qp(p,
		"SELECT array_to_string(ARRAY(SELECT a.attname::text FROM unnest(i.indkey) k(n)"
		"   JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n"
		"   ORDER BY 1), E'\\x1f')"
		" FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
		" JOIN pg_namespace n ON n.oid = c.relnamespace"
		" WHERE n.nspname = $1 AND c.relname = $2 AND i.indisunique AND i.indisvalid"
		" AND i.indpred IS NULL AND i.indexprs IS NULL",
		2, params, "reading the keys of", table, &r, err);
	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(r) && !*ok; i++) {
		/* Same set of names: every key column is in the index, and as many. */
		const char *v = PQgetvalue(r, i, 0);
		int count = *v ? 1 : 0;
		bool all = true;
		for (const char *c = v; *c; c++)
			count += *c == '\x1f';
		for (int k = 0; k < s->npk && all; k++) {
			const char *name = s->cols[s->pk[k]].name, *at = v;
			size_t nl = strlen(name);
			bool found = false;
			while (at && *at && !found) {
				size_t len = strcspn(at, "\x1f");
				found = len == nl && !strncmp(at, name, nl);
				at = at[len] ? at + len + 1 : NULL;
			}
			all = found;
		}
		*ok = all && count == s->npk;
	}
	PQclear(r);
	return 0;
}

/* Types compared as text in the "did the row change" test: no usable "=" for them. */
static bool compare_as_text(const struct ferry_column *c)
{
	switch (c->kind) {
	case FERRY_K_INT:
	case FERRY_K_FLOAT:
	case FERRY_K_TEXT:
	case FERRY_K_BOOL:
	case FERRY_K_DATE:
	case FERRY_K_TIME:
	case FERRY_K_TIMESTAMP:
	case FERRY_K_TIMESTAMPTZ:
	case FERRY_K_UUID:
	case FERRY_K_BYTEA:
	case FERRY_K_JSONB:
		return false;
	case FERRY_K_NUMERIC:
		/* numeric = ignores scale (1.0 = 1.00); a mirror keeps the digits */
		return !strchr(c->pg_type, ',');
	default:
		return true; /* json, xml, geometric types, arrays of anything, ... */
	}
}

static bool is_key(const struct ferry_stream *s, int col)
{
	for (int i = 0; i < s->npk; i++)
		if (s->pk[i] == col)
			return true;
	return false;
}

/*
 * "the row changed": ROW(old.c, ...) IS DISTINCT FROM ROW(new.c, ...) over
 * the non-key columns, or the old row was soft-deleted. Empty when nothing
 * but keys could change. conv (NULL, or a type or NULL per column) converts
 * new's values to the live column's type first.
 */
static void changed(struct ferry_buf *b, const struct ferry_stream *s, const char *old,
		    const char *new, bool has_deleted, const char *const *conv)
{
	bool any = false;

	for (int side = 0; side < 2; side++) {
		bool first = true;
		for (int i = 0; i < s->ncols; i++) {
			char prefix[32];
			if (is_key(s, i))
				continue;
			ferry_buf_adds(b, first ? (side ? " IS DISTINCT FROM ROW(" : "ROW(") : ", ");
			first = false;
			any = true;
			snprintf(prefix, sizeof(prefix), "%s.", side ? new : old);
			/* converted, both sides have the live type: an API type, with "=" */
			convert(b, prefix, s->cols[i].name, side && conv ? conv[i] : NULL);
			if (compare_as_text(&s->cols[i]))
				ferry_buf_adds(b, "::text");
		}
		if (!first)
			ferry_buf_adds(b, ")");
	}
	if (has_deleted)
		ferry_buf_addf(b, "%s%s.\"_ferry_deleted_at\" IS NOT NULL", any ? " OR " : "", old);
}

/*
 * Builds the COPY and upsert statements of an incremental stream. Rows that
 * did not change are filtered out by a join before the INSERT: ON CONFLICT
 * DO UPDATE locks (and so writes) every conflicting row even when its WHERE
 * then skips it, which made a no-change run twice as slow. The planner is
 * held to index lookups: the temp table has no statistics, and a hash join
 * would scan the whole live table for every batch.
 */
static int build_upsert(struct pgdst *p, const char *qlive, const struct ferry_stream *s,
			bool has_deleted, const char *const *conv, struct ferry_err *err)
{
	struct ferry_buf b = FERRY_BUF_INIT;
	int nonkey = 0;

	for (int i = 0; i < s->ncols; i++)
		nonkey += !is_key(s, i);
	ferry_buf_adds(&b, "BEGIN; COPY " TEMP " (");
	column_list(&b, "", s);
	ferry_buf_adds(&b, ") FROM STDIN");
	free(p->up_copy);
	p->up_copy = ferry_buf_detach(&b, NULL);

	ferry_buf_addf(&b, "SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off; "
			   "WITH up AS (INSERT INTO %s AS l (", qlive);
	column_list(&b, "", s);
	ferry_buf_adds(&b, ") SELECT ");
	for (int i = 0; i < s->ncols; i++) {
		ferry_buf_adds(&b, i ? ", " : "");
		convert(&b, "t.", s->cols[i].name, conv ? conv[i] : NULL);
	}
	ferry_buf_addf(&b, " FROM " TEMP " t LEFT JOIN %s x ON ", qlive);
	key_match(&b, "x", "t", s, NULL, conv);
	ferry_buf_adds(&b, " WHERE x.");
	ferry_sql_ident(&b, s->cols[s->pk[0]].name);
	ferry_buf_adds(&b, " IS NULL");
	if (nonkey || has_deleted) {
		ferry_buf_adds(&b, " OR ");
		changed(&b, s, "x", "t", has_deleted, conv);
	}
	ferry_buf_adds(&b, " ON CONFLICT (");
	pk_list(&b, s);
	ferry_buf_adds(&b, ") DO ");
	if (!nonkey && !has_deleted) {
		ferry_buf_adds(&b, "NOTHING");
	} else {
		ferry_buf_adds(&b, "UPDATE SET ");
		for (int i = 0; i < s->ncols; i++) {
			if (is_key(s, i))
				continue;
			ferry_sql_ident(&b, s->cols[i].name);
			ferry_buf_adds(&b, " = EXCLUDED.");
			ferry_sql_ident(&b, s->cols[i].name);
			ferry_buf_adds(&b, ", ");
		}
		ferry_buf_adds(&b, "\"_ferry_synced_at\" = now()");
		if (has_deleted)
			ferry_buf_adds(&b, ", \"_ferry_deleted_at\" = NULL");
		ferry_buf_adds(&b, " WHERE ");
		changed(&b, s, "l", "EXCLUDED", has_deleted, NULL);
	}
	ferry_buf_adds(&b, " RETURNING (l.xmax = 0) AS ins)"
			   " SELECT count(*) FILTER (WHERE ins), count(*) FILTER (WHERE NOT ins) FROM up");
	free(p->up_merge);
	p->up_merge = ferry_buf_detach(&b, NULL);
	if (!p->up_copy || !p->up_merge)
		return nomem(err);
	return 0;
}

/*
 * Makes the existing live table take stream s: adds the columns it lacks,
 * widens narrower API-typed columns (one ALTER TABLE, so the table is
 * rewritten at most once), checks the key, and (re)builds the temp table and
 * the upsert for s's columns with the conversions the live types need. Used
 * by stream_begin and by evolve; outside any transaction.
 */
static int fit_live(struct pgdst *p, const struct ferry_write_opts *o, const struct ferry_stream *s,
		    struct ferry_err *err)
{
	const char *schema = schema_of(o);
	struct ferry_buf sql = FERRY_BUF_INIT, q = FERRY_BUF_INIT, alter = FERRY_BUF_INIT;
	struct ferry_names have = FERRY_NAMES_INIT, types = FERRY_NAMES_INIT;
	const char **conv = NULL;
	char live[64];
	bool keyed;
	int rc;

	live_name(s, live);
	ferry_pg_qname(&q, schema, live);
	if ((rc = live_columns(p, schema, live, &have, &types, err)))
		goto out;
	if (!(conv = calloc((size_t)s->ncols, sizeof(*conv)))) {
		rc = nomem(err);
		goto out;
	}
	for (int i = 0; i < s->ncols; i++) {
		const char *lt = live_type(&have, &types, s->cols[i].name), *to;
		if (!lt)
			continue;
		ferry_pg_type_fit(lt, s->cols[i].pg_type, &to, &conv[i]);
		if (!to)
			continue;
		ferry_buf_adds(&alter, alter.len ? ", ALTER COLUMN " : "ALTER COLUMN ");
		ferry_sql_ident(&alter, s->cols[i].name);
		ferry_buf_addf(&alter, " TYPE %s USING ", to);
		convert(&alter, "", s->cols[i].name, to);
	}
	add_missing_columns(&sql, q.data, &have, s, o->soft_deletes);
	if (alter.len)
		ferry_buf_addf(&sql, "ALTER TABLE %s %s", q.data, alter.data);
	/* one simple query: one transaction, all of it or nothing */
	if (sql.len && (rc = run(p, sql.data, alter.len ? "widening the columns of"
							: "adding new columns to", live, err)))
		goto out;
	if ((rc = has_key(p, schema, live, s, &keyed, err)))
		goto out;
	if (!keyed) {
		ferry_buf_reset(&sql);
		pk_list(&sql, s);
		rc = ferry_err_set(err, FERRY_ECONFIG,
				   "destination table %s has no primary key or unique index on (%s), "
				   "which incremental upserts need: run this stream once with --full "
				   "to rebuild it, or add the key", q.data, sql.data);
		goto out;
	}

	ferry_buf_reset(&sql);
	ferry_buf_adds(&sql, "DROP TABLE IF EXISTS " TEMP "; CREATE TEMP TABLE \"_ferry_upsert\" (");
	for (int i = 0; i < s->ncols; i++) {
		ferry_buf_adds(&sql, i ? ", " : "");
		ferry_sql_ident(&sql, s->cols[i].name);
		ferry_buf_addf(&sql, " %s", s->cols[i].pg_type);
	}
	ferry_buf_adds(&sql, ") ON COMMIT DELETE ROWS");
	if ((rc = run(p, sql.data, "creating the upsert table for", s->name, err)))
		goto out;
	rc = build_upsert(p, q.data, s,
			  o->soft_deletes || ferry_names_has(&have, "_ferry_deleted_at"), conv, err);
out:
	free(conv);
	ferry_names_release(&have);
	ferry_names_release(&types);
	ferry_buf_release(&sql);
	ferry_buf_release(&q);
	ferry_buf_release(&alter);
	return rc;
}

static int begin_incremental(struct pgdst *p, const struct ferry_write_opts *o,
			     const struct ferry_stream *s, struct ferry_err *err)
{
	const char *schema = schema_of(o);
	struct ferry_buf sql = FERRY_BUF_INIT, q = FERRY_BUF_INIT;
	char live[64];
	bool exists;
	int rc;

	if (s->npk == 0)
		return ferry_err_set(err, FERRY_ECONFIG,
				     "table \"%s\" has no primary key, so it cannot be synced "
				     "incrementally: name one on the source (--set pk.%s=col1,col2) "
				     "or sync it with --full", s->name, s->name);
	live_name(s, live);
	ferry_pg_qname(&q, schema, live);
	if ((rc = live_info(p, schema, live, &exists, NULL, err)))
		goto out;
	if (!exists) {
		ferry_buf_addf(&sql, "CREATE TABLE %s (", q.data);
		column_defs(&sql, s, o->soft_deletes);
		ferry_buf_adds(&sql, ", PRIMARY KEY (");
		pk_list(&sql, s);
		ferry_buf_adds(&sql, "))");
		if ((rc = run(p, sql.data, "creating table", live, err)))
			goto out;
	}
	rc = fit_live(p, o, s, err);
out:
	ferry_buf_release(&sql);
	ferry_buf_release(&q);
	return rc;
}

/* Streams the batch bytes into the open COPY. */
static int put_data(struct pgdst *p, const char *data, size_t len, const char *doing,
		    struct ferry_err *err)
{
	while (len) {
		int n = len > CHUNK ? CHUNK : (int)len;
		if (PQputCopyData(p->conn, data, n) != 1)
			return ferry_pg_fail(p->conn, NULL, &p->who, doing, p->stream, err);
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Ends the open COPY; *rows gets the count the server reports. */
static int end_copy(struct pgdst *p, const char *doing, long long *rows, struct ferry_err *err)
{
	PGresult *r;
	int rc = 0;

	p->copying = false;
	if (PQputCopyEnd(p->conn, NULL) != 1)
		return ferry_pg_fail(p->conn, NULL, &p->who, doing, p->stream, err);
	while ((r = PQgetResult(p->conn))) {
		if (!rc && PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = ferry_pg_fail(p->conn, r, &p->who, doing, p->stream, err);
		else if (!rc && rows)
			*rows = atoll(PQcmdTuples(r));
		PQclear(r);
	}
	return rc;
}

/* The message for a batch that names one key twice (the upsert cannot apply both). */
static int duplicate_key(struct pgdst *p, const struct ferry_stream *s, struct ferry_err *err)
{
	struct ferry_buf keys = FERRY_BUF_INIT;
	int rc;

	pk_list(&keys, s);
	rc = ferry_err_set(err, FERRY_ECONFIG,
			   "a batch of \"%s\" holds the same primary key (%s) twice, so the "
			   "source key is not unique: set a unique key with --set pk.%s=... on the "
			   "source, or sync with --full", s->name, keys.data, s->name);
	ferry_buf_release(&keys);
	return rc;
}

static int write_incremental(struct pgdst *p, const struct ferry_write_opts *o,
			     const struct ferry_stream *s, const struct ferry_batch *b,
			     const char *cursor, struct ferry_counts *c, struct ferry_err *err)
{
	struct ferry_buf sql = FERRY_BUF_INIT;
	PGresult *r = NULL;
	long long ins = 0, upd = 0;
	int rc = 0;

	if (!p->up_copy)
		return ferry_err_set(err, FERRY_EINTERNAL, "destination \"%s\": write before "
				     "stream_begin", p->who.name);
	if (b->data.len) {
		r = ferry_pg_run(p->conn, p->up_copy);
		if (PQresultStatus(r) != PGRES_COPY_IN) {
			rc = ferry_pg_fail(p->conn, r, &p->who, "writing", s->name, err);
			goto out;
		}
		PQclear(r);
		r = NULL;
		p->copying = true;
		if ((rc = put_data(p, b->data.data, b->data.len, "writing", err)) ||
		    (rc = end_copy(p, "writing", NULL, err)))
			goto out;
		ferry_buf_adds(&sql, p->up_merge);
	} else {
		ferry_buf_adds(&sql, "BEGIN");
	}
	if (cursor && !o->keep_cursor) {
		ferry_buf_adds(&sql, "; INSERT INTO ");
		ferry_pg_qname(&sql, schema_of(o), "_ferry_state");
		ferry_buf_adds(&sql, " AS st (state_key, stream, cursor, updated_at) VALUES (");
		ferry_pg_literal(&sql, o->state_key ? o->state_key : "");
		ferry_buf_adds(&sql, ", ");
		ferry_pg_literal(&sql, s->name);
		ferry_buf_adds(&sql, ", ");
		ferry_pg_literal(&sql, cursor);
		ferry_buf_adds(&sql, ", now()) ON CONFLICT (state_key, stream) DO UPDATE SET "
				     "cursor = EXCLUDED.cursor, updated_at = now()");
	}
	ferry_buf_adds(&sql, "; COMMIT");
	r = ferry_pg_run(p->conn, sql.data);
	if (!ferry_pg_ok(r)) {
		if (!strcmp(ferry_pg_sqlstate(r), "21000"))
			rc = duplicate_key(p, s, err);
		else
			rc = ferry_pg_fail(p->conn, r, &p->who, "writing", s->name, err);
		goto out;
	}
	if (b->data.len && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		ins = atoll(PQgetvalue(r, 0, 0));
		upd = atoll(PQgetvalue(r, 0, 1));
	}
	c->inserted += ins;
	c->updated += upd;
	c->unchanged += b->nrows - ins - upd;
out:
	if (rc)
		rollback(p);
	PQclear(r);
	ferry_buf_release(&sql);
	return rc;
}

/* ---- full ------------------------------------------------------------------ */

static int begin_full(struct pgdst *p, const struct ferry_write_opts *o,
		      const struct ferry_stream *s, struct ferry_err *err)
{
	struct ferry_buf sql = FERRY_BUF_INIT, q = FERRY_BUF_INIT;
	PGresult *r;
	int rc = 0;

	run_name(s, "staging", o->run_unix, p->staging);
	p->loaded = 0;
	ferry_pg_qname(&q, schema_of(o), p->staging);
	/*
	 * One transaction from CREATE to the index builds: a crash mid-load
	 * leaves no table behind, and COPY FREEZE may skip WAL-heavy hint bits.
	 */
	ferry_buf_addf(&sql, "BEGIN; CREATE TABLE %s (", q.data);
	column_defs(&sql, s, o->soft_deletes);
	ferry_buf_addf(&sql, "); COMMENT ON TABLE %s IS ", q.data);
	mark(&sql, "staging", o->run_unix, s);
	ferry_buf_addf(&sql, "; COPY %s (", q.data);
	column_list(&sql, "", s);
	ferry_buf_adds(&sql, ") FROM STDIN WITH (FREEZE)");
	r = ferry_pg_run(p->conn, sql.data);
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		rc = ferry_pg_fail(p->conn, r, &p->who, "creating the staging table for", s->name,
				   err);
		PQclear(r);
		rollback(p);
		goto out;
	}
	PQclear(r);
	p->copying = true;
out:
	ferry_buf_release(&sql);
	ferry_buf_release(&q);
	return rc;
}

static int end_full(struct pgdst *p, const struct ferry_write_opts *o,
		    const struct ferry_stream *s, struct ferry_err *err)
{
	struct ferry_buf sql = FERRY_BUF_INIT, q = FERRY_BUF_INIT;
	long long rows = 0;
	PGresult *r = NULL;
	int rc;

	if (!p->copying)
		return ferry_err_set(err, FERRY_EINTERNAL, "destination \"%s\": stream_end without "
				     "stream_begin for \"%s\"", p->who.name, s->name);
	if ((rc = end_copy(p, "loading", &rows, err)))
		goto out;
	rows += p->loaded;
	ferry_pg_qname(&q, schema_of(o), p->staging);
	if (s->npk) {
		ferry_buf_addf(&sql, "ALTER TABLE %s ADD PRIMARY KEY (", q.data);
		pk_list(&sql, s);
		ferry_buf_adds(&sql, "); ");
	}
	for (int i = 0; i < s->nindexes; i++) {
		const struct ferry_index *ix = &s->indexes[i];
		bool ok = ix->ncols > 0;
		for (int k = 0; k < ix->ncols; k++)
			ok = ok && ix->cols[k] >= 0 && ix->cols[k] < s->ncols;
		if (!ok)
			continue;
		ferry_buf_addf(&sql, "CREATE %sINDEX ON %s (", ix->unique ? "UNIQUE " : "", q.data);
		for (int k = 0; k < ix->ncols; k++) {
			ferry_buf_adds(&sql, k ? ", " : "");
			ferry_sql_ident(&sql, s->cols[ix->cols[k]].name);
		}
		ferry_buf_adds(&sql, "); ");
	}
	ferry_buf_adds(&sql, "COMMIT");
	r = ferry_pg_run(p->conn, sql.data);
	if (!ferry_pg_ok(r)) {
		if (!strcmp(ferry_pg_sqlstate(r), "23505")) {
			ferry_buf_reset(&sql);
			pk_list(&sql, s);
			rc = ferry_err_set(err, FERRY_ECONFIG,
					   "cannot build the keys of \"%s\" in destination \"%s\": the "
					   "source has duplicate values for a unique key (primary key "
					   "%s); fix the data or the pk.%s setting",
					   s->name, p->who.name, sql.data, s->name);
		} else {
			rc = ferry_pg_fail(p->conn, r, &p->who, "indexing the staging table of",
					   s->name, err);
		}
		goto out;
	}
	struct staged *v = realloc(p->staged, sizeof(*v) * (size_t)(p->nstaged + 1));
	if (!v) {
		rc = nomem(err);
		goto out;
	}
	p->staged = v;
	snprintf(v[p->nstaged].name, sizeof(v[0].name), "%s", p->staging);
	v[p->nstaged++].rows = rows;
out:
	if (rc)
		rollback(p);
	PQclear(r);
	ferry_buf_release(&sql);
	ferry_buf_release(&q);
	return rc;
}

/*
 * Full: the staging table grows mid-load. The open COPY is ended (its rows
 * stay, in the same transaction), the new columns added, widened ones
 * converted in place (USING: the loaded rows take the new type), and a COPY
 * for want's columns opened again. FREEZE still holds: the table was created
 * in this transaction, and ALTER ... TYPE gives it a new file in it too.
 */
static int evolve_full(struct pgdst *p, const struct ferry_write_opts *o,
		       const struct ferry_stream *s, const struct ferry_stream *want,
		       struct ferry_err *err)
{
	struct ferry_buf sql = FERRY_BUF_INIT, q = FERRY_BUF_INIT, alter = FERRY_BUF_INIT;
	long long rows = 0;
	PGresult *r = NULL;
	int rc;

	if (!p->copying)
		return ferry_err_set(err, FERRY_EINTERNAL, "destination \"%s\": evolve of \"%s\" "
				     "without stream_begin", p->who.name, s->name);
	ferry_pg_qname(&q, schema_of(o), p->staging);
	for (int i = 0; i < want->ncols; i++) {
		const struct ferry_column *c = &want->cols[i];
		int at = ferry_stream_column(s, c->name);
		const char *was = at >= 0 ? s->cols[at].pg_type : NULL;

		if (!was) {
			ferry_buf_adds(&alter, alter.len ? ", ADD COLUMN " : "ADD COLUMN ");
			ferry_sql_ident(&alter, c->name);
			ferry_buf_addf(&alter, " %s", c->pg_type);
		} else if (strcmp(was, c->pg_type)) {
			/* COPY cannot convert: the staging column must take want's values as they come */
			if (!ferry_pg_type_wider(c->pg_type, was)) {
				rc = ferry_err_set(err, FERRY_EINTERNAL,
						   "column \"%s\" of \"%s\" changed type from %s to %s "
						   "while it was read, which is not a widening destination "
						   "\"%s\" can apply", c->name, s->name, was, c->pg_type,
						   p->who.name);
				goto out;
			}
			ferry_buf_adds(&alter, alter.len ? ", ALTER COLUMN " : "ALTER COLUMN ");
			ferry_sql_ident(&alter, c->name);
			ferry_buf_addf(&alter, " TYPE %s USING ", c->pg_type);
			convert(&alter, "", c->name, c->pg_type);
		}
	}
	if ((rc = end_copy(p, "loading", &rows, err)))
		goto out;
	p->loaded += rows;
	if (alter.len)
		ferry_buf_addf(&sql, "ALTER TABLE %s %s; ", q.data, alter.data);
	ferry_buf_addf(&sql, "COPY %s (", q.data);
	column_list(&sql, "", want);
	ferry_buf_adds(&sql, ") FROM STDIN WITH (FREEZE)");
	r = ferry_pg_run(p->conn, sql.data);
	if (PQresultStatus(r) != PGRES_COPY_IN) {
		rc = ferry_pg_fail(p->conn, r, &p->who, "adding columns to the staging table of",
				   s->name, err);
		goto out;
	}
	p->copying = true;
out:
	if (rc)
		rollback(p);
	PQclear(r);
	ferry_buf_release(&sql);
	ferry_buf_release(&q);
	ferry_buf_release(&alter);
	return rc;
}

/* ---- per-stream entry points -------------------------------------------------- */

static int pg_stream_begin(struct ferry_dest *d, const struct ferry_write_opts *o,
			   const struct ferry_stream *s, struct ferry_err *err)
{
	struct pgdst *p = d->priv;
	int rc;

	if (!p->conn)
		return run(p, "", "", NULL, err);
	if ((rc = check_types(p, s, err)))
		return rc;
	free(p->stream);
	if (!(p->stream = strdup(s->name)))
		return nomem(err);
	return o->mode == FERRY_MODE_FULL ? begin_full(p, o, s, err)
					  : begin_incremental(p, o, s, err);
}

static int pg_write(struct ferry_dest *d, const struct ferry_write_opts *o,
		    const struct ferry_stream *s, const struct ferry_batch *b, const char *cursor,
		    struct ferry_counts *c, struct ferry_err *err)
{
	struct pgdst *p = d->priv;
	int rc;

	if (o->mode != FERRY_MODE_FULL)
		return write_incremental(p, o, s, b, cursor, c, err);
	if (!p->copying)
		return ferry_err_set(err, FERRY_EINTERNAL, "destination \"%s\": write to \"%s\" "
				     "without stream_begin", p->who.name, s->name);
	rc = put_data(p, b->data.data, b->data.len, "writing", err);
	if (rc)
		rollback(p);
	return rc;
}

/*
 * want's columns under s's names and key: the source's shape names no
 * destination table. A shallow copy, never released.
 */
static struct ferry_stream named_like(const struct ferry_stream *s, const struct ferry_stream *want)
{
	struct ferry_stream w = *want;

	w.name = s->name;
	w.source_table = s->source_table;
	w.dest_table = s->dest_table;
	w.pk = s->pk;
	w.npk = s->npk;
	return w;
}

static int pg_evolve(struct ferry_dest *d, const struct ferry_write_opts *o,
		     const struct ferry_stream *s, const struct ferry_stream *shape,
		     struct ferry_err *err)
{
	struct pgdst *p = d->priv;
	struct ferry_stream named = named_like(s, shape);
	const struct ferry_stream *want = &named;
	int rc;

	if (!p->conn)
		return run(p, "", "", NULL, err);
	for (int i = 0; i < s->ncols; i++)
		if (ferry_stream_column(want, s->cols[i].name) < 0)
			return ferry_err_set(err, FERRY_EINTERNAL,
					     "destination \"%s\": stream \"%s\" lost column \"%s\" "
					     "while it was read", p->who.name, s->name,
					     s->cols[i].name);
	if ((rc = check_types(p, want, err)))
		return rc;
	if (o->mode == FERRY_MODE_FULL)
		return evolve_full(p, o, s, want, err);
	if (!p->up_copy)
		return ferry_err_set(err, FERRY_EINTERNAL, "destination \"%s\": evolve of \"%s\" "
				     "without stream_begin", p->who.name, s->name);
	return fit_live(p, o, want, err);
}

static int pg_stream_end(struct ferry_dest *d, const struct ferry_write_opts *o,
			 const struct ferry_stream *s, struct ferry_err *err)
{
	struct pgdst *p = d->priv;

	if (o->mode == FERRY_MODE_FULL)
		return end_full(p, o, s, err);
	free(p->up_copy);
	free(p->up_merge);
	p->up_copy = p->up_merge = NULL;
	return run(p, "DROP TABLE IF EXISTS " TEMP, "finishing", s->name, err);
}

/* ---- the swap ----------------------------------------------------------------- */

static long long staged_rows(struct pgdst *p, const char *staging)
{
	for (int i = 0; i < p->nstaged; i++)
		if (!strcmp(p->staged[i].name, staging))
			return p->staged[i].rows;
	return -1;
}

/* The columns of a stream's live and staging tables, with their types (the swap). */
struct both {
	struct ferry_names live, live_types, staging, staging_types;
};

static void both_release(struct both *t)
{
	ferry_names_release(&t->live);
	ferry_names_release(&t->live_types);
	ferry_names_release(&t->staging);
	ferry_names_release(&t->staging_types);
}

/*
 * Staging column `name` takes the live table's values (soft deletes carry
 * vanished rows over): an API-typed staging column narrower than live's is
 * widened first, so an older run's jsonb or text values keep their content.
 * Appends the ALTER action to alter and updates t's staging type.
 */
static void staging_takes_live(struct both *t, const char *name, struct ferry_buf *alter)
{
	const char *lt = live_type(&t->live, &t->live_types, name), *to, *conv;

	for (int i = 0; lt && i < t->staging.n && i < t->staging_types.n; i++) {
		if (strcmp(t->staging.v[i], name))
			continue;
		ferry_pg_type_fit(t->staging_types.v[i], lt, &to, &conv);
		if (!to)
			return;
		ferry_buf_adds(alter, alter->len ? ", ALTER COLUMN " : "ALTER COLUMN ");
		ferry_sql_ident(alter, name);
		ferry_buf_addf(alter, " TYPE %s USING ", to);
		convert(alter, "", name, to);
		char *copy = strdup(to);
		if (copy) {
			free(t->staging_types.v[i]);
			t->staging_types.v[i] = copy;
		}
		return;
	}
}

/*
 * What column `name` of the live (or the staging) table converts to so the
 * two tables' values compare and copy: the type that holds both, NULL when
 * the types agree or lie outside the API set.
 */
static const char *common_type(const struct both *t, const char *name, bool live_side)
{
	const char *lt = live_type(&t->live, &t->live_types, name);
	const char *st = live_type(&t->staging, &t->staging_types, name);
	const char *w = lt && st ? ferry_pg_type_widen(lt, st) : NULL;
	const char *mine = live_side ? lt : st;

	return w && strcmp(w, mine) ? w : NULL;
}

/* An expression for live column c in a SELECT from live l, in staging's type: NULL when missing. */
static void live_expr(struct ferry_buf *b, const struct both *t, const struct ferry_column *c)
{
	if (ferry_names_has(&t->live, c->name))
		convert(b, "l.", c->name, common_type(t, c->name, true));
	else
		ferry_buf_addf(b, "NULL::%s", c->pg_type);
}

/* Counts (and with soft deletes, keeps) the live rows whose key is not in staging. */
static int carry_deleted(struct pgdst *p, const struct ferry_write_opts *o,
			 const struct ferry_stream *s, const char *qlive, const char *qstaging,
			 struct both *t, long long *deleted, struct ferry_err *err)
{
	struct ferry_buf sql = FERRY_BUF_INIT, absent = FERRY_BUF_INIT, alter = FERRY_BUF_INIT;
	const struct ferry_names *have = &t->live;
	const char **conv_s = NULL, **conv_l = NULL;
	bool had_deleted = ferry_names_has(have, "_ferry_deleted_at");
	PGresult *r = NULL;
	int rc;

	*deleted = 0;
	for (int i = 0; i < s->npk; i++)
		if (!ferry_names_has(have, s->cols[s->pk[i]].name))
			return 0; /* the old table has no such key: nothing comparable */
	if (o->soft_deletes) {
		for (int i = 0; i < s->ncols; i++)
			staging_takes_live(t, s->cols[i].name, &alter);
		if (alter.len) {
			ferry_buf_addf(&sql, "ALTER TABLE %s %s", qstaging, alter.data);
			rc = run(p, sql.data, "widening the columns of", s->name, err);
			ferry_buf_reset(&sql);
			if (rc)
				goto out;
		}
	}
	if (!(conv_s = calloc((size_t)s->ncols, sizeof(*conv_s))) ||
	    !(conv_l = calloc((size_t)s->ncols, sizeof(*conv_l)))) {
		rc = nomem(err);
		goto out;
	}
	for (int i = 0; i < s->ncols; i++) {
		conv_s[i] = common_type(t, s->cols[i].name, false);
		conv_l[i] = common_type(t, s->cols[i].name, true);
	}
	ferry_buf_addf(&absent, "NOT EXISTS (SELECT 1 FROM %s s WHERE ", qstaging);
	key_match(&absent, "s", "l", s, conv_s, conv_l);
	ferry_buf_adds(&absent, ")");

	if (o->soft_deletes) {
		ferry_buf_adds(&sql, "WITH gone AS (SELECT ");
		for (int i = 0; i < s->ncols; i++) {
			live_expr(&sql, t, &s->cols[i]);
			ferry_buf_addf(&sql, " AS c%d, ", i);
		}
		ferry_buf_adds(&sql, ferry_names_has(have, "_ferry_synced_at")
					     ? "l.\"_ferry_synced_at\""
					     : "now()");
		ferry_buf_adds(&sql, " AS synced, ");
		ferry_buf_adds(&sql, had_deleted ? "coalesce(l.\"_ferry_deleted_at\", now()) AS gone_at, "
						   "l.\"_ferry_deleted_at\" IS NULL AS fresh"
						 : "now() AS gone_at, true AS fresh");
		ferry_buf_addf(&sql, " FROM %s l WHERE %s), ins AS (INSERT INTO %s (", qlive,
			       absent.data, qstaging);
		column_list(&sql, "", s);
		ferry_buf_adds(&sql, ", \"_ferry_synced_at\", \"_ferry_deleted_at\") SELECT ");
		for (int i = 0; i < s->ncols; i++)
			ferry_buf_addf(&sql, "c%d, ", i);
		ferry_buf_adds(&sql, "synced, gone_at FROM gone)"
				     " SELECT count(*) FILTER (WHERE fresh) FROM gone");
	} else {
		ferry_buf_addf(&sql, "SELECT count(*) FROM %s l WHERE %s", qlive, absent.data);
		if (had_deleted)
			ferry_buf_adds(&sql, " AND l.\"_ferry_deleted_at\" IS NULL");
	}
	/*
	 * Both tables are indexed on the key (and all-visible after COPY FREEZE):
	 * a serial merge anti join over the two indexes beats a parallel hash
	 * join by about 2x, and leaves the CPUs to the rest of the sync.
	 */
	rc = run(p, "SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL enable_hashjoin = off",
		 "counting deleted rows of", s->name, err);
	if (!rc)
		rc = ferry_pg_exec(p->conn, &p->who, sql.data, "counting deleted rows of", s->name,
				   &r, err);
	if (!rc)
		rc = run(p, "SET LOCAL max_parallel_workers_per_gather TO DEFAULT;"
			    " SET LOCAL enable_hashjoin TO DEFAULT",
			 "counting deleted rows of", s->name, err);
	if (r) {
		*deleted = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
	}
out:
	free(conv_s);
	free(conv_l);
	ferry_buf_release(&sql);
	ferry_buf_release(&absent);
	ferry_buf_release(&alter);
	return rc;
}

/*
 * Renames the indexes of schema.table named "<from>_..." to "<to>_...", so a
 * swapped-in table has "users_pkey", not "users_staging_1700000000_pkey".
 * Cosmetic: each rename runs in a savepoint and a clash is simply skipped,
 * never failing the swap around it.
 */
static int rename_indexes(struct pgdst *p, const char *schema, const char *table,
			  const char *from, const char *to, struct ferry_err *err)
{
	const char *params[] = {schema, table};
	struct ferry_buf sql = FERRY_BUF_INIT;
	size_t fl = strlen(from);
	PGresult *r;
	int rc;

	rc = qp(p,
		"SELECT ci.relname FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid"
		" JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
		" WHERE n.nspname = $1 AND c.relname = $2",
		2, params, "renaming the indexes of", table, &r, err);
	if (rc)
		return rc;
	for (int i = 0; i < PQntuples(r) && !rc; i++) {
		const char *name = PQgetvalue(r, i, 0);
		char full[600], fit[64];
		PGresult *x;
		if (strncmp(name, from, fl) || name[fl] != '_')
			continue;
		snprintf(full, sizeof(full), "%s%s", to, name + fl);
		ferry_ident_fit(full, fit, sizeof(fit));
		ferry_buf_reset(&sql);
		ferry_buf_adds(&sql, "SAVEPOINT ferry_ix; ALTER INDEX ");
		ferry_pg_qname(&sql, schema, name);
		ferry_buf_adds(&sql, " RENAME TO ");
		ferry_sql_ident(&sql, fit);
		ferry_buf_adds(&sql, "; RELEASE SAVEPOINT ferry_ix");
		x = ferry_pg_run(p->conn, sql.data);
		if (!ferry_pg_ok(x)) {
			if (ferry_pg_gone(p->conn, x))
				rc = ferry_pg_fail(p->conn, x, &p->who, "swapping in", table, err);
			else
				rc = run(p, "ROLLBACK TO SAVEPOINT ferry_ix; RELEASE SAVEPOINT ferry_ix",
					 "swapping in", table, err);
		}
		PQclear(x);
	}
	PQclear(r);
	ferry_buf_release(&sql);
	return rc;
}

/* Swaps one stream's staging table in; inside commit_full's transaction. */
static int swap_one(struct pgdst *p, const struct ferry_write_opts *o,
		    const struct ferry_stream *s, struct ferry_counts *c, struct ferry_err *err)
{
	const char *schema = schema_of(o);
	struct ferry_buf sql = FERRY_BUF_INIT, ql = FERRY_BUF_INIT, qs = FERRY_BUF_INIT,
			 qb = FERRY_BUF_INIT;
	char live[64], staging[64], backup[64];
	struct both t = {FERRY_NAMES_INIT, FERRY_NAMES_INIT, FERRY_NAMES_INIT, FERRY_NAMES_INIT};
	const struct ferry_names *have = &t.live;
	bool exists, views;
	long long rows, deleted = 0;
	int rc;

	live_name(s, live);
	run_name(s, "staging", o->run_unix, staging);
	run_name(s, "backup", o->run_unix, backup);
	ferry_pg_qname(&ql, schema, live);
	ferry_pg_qname(&qs, schema, staging);
	ferry_pg_qname(&qb, schema, backup);

	rows = staged_rows(p, staging);
	if (rows < 0) {
		PGresult *r;
		ferry_buf_addf(&sql, "SELECT count(*) FROM %s", qs.data);
		if ((rc = ferry_pg_exec(p->conn, &p->who, sql.data, "counting the staged rows of",
					s->name, &r, err)))
			goto out;
		rows = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
		ferry_buf_reset(&sql);
	}
	if ((rc = live_info(p, schema, live, &exists, &views, err)))
		goto out;
	if (exists) {
		if ((rc = live_columns(p, schema, live, &t.live, &t.live_types, err)) ||
		    (rc = live_columns(p, schema, staging, &t.staging, &t.staging_types, err)))
			goto out;
		if (s->npk && (rc = carry_deleted(p, o, s, ql.data, qs.data, &t, &deleted, err)))
			goto out;
	}
	if (exists && views) {
		/* Views hold on to the table itself: refill it in place. */
		struct ferry_buf alter = FERRY_BUF_INIT;
		const char **conv = calloc((size_t)s->ncols + 1, sizeof(*conv));
		if (!conv) {
			rc = nomem(err);
			goto out;
		}
		/* a narrower live column widens (a view using it makes PostgreSQL refuse) */
		for (int i = 0; i < s->ncols; i++) {
			const char *lt = live_type(have, &t.live_types, s->cols[i].name), *to;
			const char *st = live_type(&t.staging, &t.staging_types, s->cols[i].name);
			if (!lt || !st)
				continue;
			ferry_pg_type_fit(lt, st, &to, &conv[i]);
			if (!to)
				continue;
			ferry_buf_adds(&alter, alter.len ? ", ALTER COLUMN " : "ALTER COLUMN ");
			ferry_sql_ident(&alter, s->cols[i].name);
			ferry_buf_addf(&alter, " TYPE %s USING ", to);
			convert(&alter, "", s->cols[i].name, to);
		}
		add_missing_columns(&sql, ql.data, have, s, o->soft_deletes);
		if (alter.len)
			ferry_buf_addf(&sql, "ALTER TABLE %s %s; ", ql.data, alter.data);
		ferry_buf_release(&alter);
		ferry_buf_addf(&sql, "TRUNCATE %s; INSERT INTO %s (", ql.data, ql.data);
		column_list(&sql, "", s);
		ferry_buf_adds(&sql, ", \"_ferry_synced_at\"");
		if (o->soft_deletes)
			ferry_buf_adds(&sql, ", \"_ferry_deleted_at\"");
		ferry_buf_adds(&sql, ") SELECT ");
		for (int i = 0; i < s->ncols; i++) {
			ferry_buf_adds(&sql, i ? ", " : "");
			convert(&sql, "", s->cols[i].name, conv[i]);
		}
		free(conv);
		ferry_buf_adds(&sql, ", \"_ferry_synced_at\"");
		if (o->soft_deletes)
			ferry_buf_adds(&sql, ", \"_ferry_deleted_at\"");
		ferry_buf_addf(&sql, " FROM %s; DROP TABLE %s", qs.data, qs.data);
	} else {
		if (exists) {
			/* A backup of the same second (a run just before this one) makes way. */
			ferry_buf_addf(&sql, "DROP TABLE IF EXISTS %s; ALTER TABLE %s RENAME TO ",
				       qb.data, ql.data);
			ferry_sql_ident(&sql, backup);
			ferry_buf_addf(&sql, "; COMMENT ON TABLE %s IS ", qb.data);
			mark(&sql, "backup", o->run_unix, s);
			ferry_buf_adds(&sql, "; ");
		}
		ferry_buf_addf(&sql, "ALTER TABLE %s RENAME TO ", qs.data);
		ferry_sql_ident(&sql, live);
		ferry_buf_addf(&sql, "; COMMENT ON TABLE %s IS NULL", ql.data);
	}
	if ((rc = run(p, sql.data, "swapping in", s->name, err))) {
		if (strstr(err->msg, "lock timeout"))
			ferry_err_set(err, FERRY_EDEST,
				      "destination \"%s\" could not swap in \"%s\": another query kept "
				      "the table locked for 30 s (the live tables are unchanged; retry "
				      "when it is done)", p->who.name, s->name);
		goto out;
	}
	if (!views) {
		if ((exists && (rc = rename_indexes(p, schema, backup, live, backup, err))) ||
		    (rc = rename_indexes(p, schema, live, staging, live, err)))
			goto out;
	}
	c->inserted = rows;
	c->deleted = deleted;
out:
	both_release(&t);
	ferry_buf_release(&sql);
	ferry_buf_release(&ql);
	ferry_buf_release(&qs);
	ferry_buf_release(&qb);
	return rc;
}

static void state_sql(struct ferry_buf *sql, const struct ferry_write_opts *o,
		      const struct ferry_stream *s, const char *cursor)
{
	const char *key = o->state_key ? o->state_key : "";

	if (cursor) {
		ferry_buf_adds(sql, "INSERT INTO ");
		ferry_pg_qname(sql, schema_of(o), "_ferry_state");
		ferry_buf_adds(sql, " (state_key, stream, cursor, updated_at) VALUES (");
		ferry_pg_literal(sql, key);
		ferry_buf_adds(sql, ", ");
		ferry_pg_literal(sql, s->name);
		ferry_buf_adds(sql, ", ");
		ferry_pg_literal(sql, cursor);
		ferry_buf_adds(sql, ", now()) ON CONFLICT (state_key, stream) DO UPDATE SET "
				    "cursor = EXCLUDED.cursor, updated_at = now()");
	} else {
		ferry_buf_adds(sql, "DELETE FROM ");
		ferry_pg_qname(sql, schema_of(o), "_ferry_state");
		ferry_buf_adds(sql, " WHERE state_key = ");
		ferry_pg_literal(sql, key);
		ferry_buf_adds(sql, " AND stream = ");
		ferry_pg_literal(sql, s->name);
	}
}

static int pg_commit_full(struct ferry_dest *d, const struct ferry_write_opts *o,
			  const struct ferry_stream *streams, int n, char *const *cursors,
			  struct ferry_counts *counts, struct ferry_err *err)
{
	struct pgdst *p = d->priv;
	struct ferry_buf sql = FERRY_BUF_INIT;
	int rc;

	/*
	 * The renames wait for readers of the live tables, and new readers queue
	 * behind them: a bounded wait fails the job (to be retried) instead of
	 * stalling every reader behind one long query.
	 */
	if ((rc = run(p, "BEGIN; SET LOCAL lock_timeout = '30s'", "starting the swap", NULL, err)))
		return rc;
	for (int i = 0; i < n; i++) {
		free(p->stream);
		p->stream = strdup(streams[i].name);
		if ((rc = swap_one(p, o, &streams[i], &counts[i], err)))
			goto out;
		if (o->keep_cursor)
			continue;
		ferry_buf_reset(&sql);
		state_sql(&sql, o, &streams[i], cursors ? cursors[i] : NULL);
		if ((rc = run(p, sql.data, "storing the cursor of", streams[i].name, err)))
			goto out;
	}
	if ((rc = ferry_fault_hit(d->fault, "swap", err)))
		goto out;
	rc = run(p, "COMMIT", "committing the swap of", n == 1 ? streams[0].name : "all streams",
		 err);
	if (rc)
		goto out;
	if (o->backup_retention <= 0) {
		for (int i = 0; i < n; i++) {
			char backup[64];
			run_name(&streams[i], "backup", o->run_unix, backup);
			ferry_buf_reset(&sql);
			ferry_buf_adds(&sql, "DROP TABLE IF EXISTS ");
			ferry_pg_qname(&sql, schema_of(o), backup);
			PQclear(PQexec(p->conn, sql.data)); /* best effort: prepare retries it */
		}
	}
out:
	if (rc)
		rollback(p);
	p->nstaged = 0;
	ferry_buf_release(&sql);
	return rc;
}

/* ---- abort, reset, close ----------------------------------------------------- */

static void pg_abort(struct ferry_dest *d, const struct ferry_write_opts *o,
		     const struct ferry_stream *streams, int n)
{
	struct pgdst *p = d ? d->priv : NULL;
	struct ferry_buf sql = FERRY_BUF_INIT;

	if (!p || !p->conn || PQstatus(p->conn) != CONNECTION_OK)
		return; /* the server rolls back what the dead session had open */
	rollback(p);
	if (o && o->mode == FERRY_MODE_FULL) {
		for (int i = 0; i < n; i++) {
			char staging[64];
			run_name(&streams[i], "staging", o->run_unix, staging);
			ferry_buf_adds(&sql, "DROP TABLE IF EXISTS ");
			ferry_pg_qname(&sql, schema_of(o), staging);
			ferry_buf_adds(&sql, "; ");
		}
	}
	ferry_buf_adds(&sql, "DROP TABLE IF EXISTS " TEMP);
	PQclear(PQexec(p->conn, sql.data));
	p->nstaged = 0;
	ferry_buf_release(&sql);
}

static int pg_reset(struct ferry_dest *d, const struct ferry_write_opts *o,
		    const struct ferry_stream *streams, int n, struct ferry_err *err)
{
	struct pgdst *p = d->priv;
	const char *schema = schema_of(o);
	const char *params[] = {schema};
	struct ferry_buf sql = FERRY_BUF_INIT;
	PGresult *r = NULL;
	bool state;
	int rc;

	rc = qp(p, "SELECT to_regclass(quote_ident($1) || '._ferry_state') IS NOT NULL"
		   " FROM pg_namespace WHERE nspname = $1",
		1, params, "resetting schema", schema, &r, err);
	if (rc)
		return rc;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 0; /* no schema: nothing of ours to drop */
	}
	state = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if ((rc = schema_tables(p, schema, &r, err)))
		return rc;

	ferry_buf_adds(&sql, "BEGIN; SET LOCAL lock_timeout = '30s'; ");
	for (int j = 0; j < n; j++) {
		char live[64];
		bool exists, views;
		for (int i = 0; i < PQntuples(r); i++) {
			long long run_at;
			if (classify(PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), &streams[j], &run_at)) {
				ferry_buf_adds(&sql, "DROP TABLE IF EXISTS ");
				ferry_pg_qname(&sql, schema, PQgetvalue(r, i, 0));
				ferry_buf_adds(&sql, "; ");
			}
		}
		live_name(&streams[j], live);
		if ((rc = live_info(p, schema, live, &exists, &views, err)))
			goto out;
		if (exists) {
			/* Views on the table survive a reset: empty it instead of dropping it. */
			ferry_buf_adds(&sql, views ? "TRUNCATE " : "DROP TABLE ");
			ferry_pg_qname(&sql, schema, live);
			ferry_buf_adds(&sql, "; ");
		}
		if (state) {
			state_sql(&sql, o, &streams[j], NULL);
			ferry_buf_adds(&sql, "; ");
		}
	}
	ferry_buf_adds(&sql, "COMMIT");
	if ((rc = run(p, sql.data, "resetting", n == 1 ? streams[0].name : "the streams", err)))
		rollback(p);
out:
	PQclear(r);
	ferry_buf_release(&sql);
	return rc;
}

static void pg_close(struct ferry_dest *d)
{
	struct pgdst *p = d->priv;

	if (!p)
		return;
	if (p->conn)
		PQfinish(p->conn); /* an open COPY or transaction dies with the session */
	free(p->stream);
	free(p->up_copy);
	free(p->up_merge);
	free(p->staged);
	free(p);
	d->priv = NULL;
}

const struct ferry_dest_ops ferry_dest_postgres = {
	.type = "postgres",
	.scheme = "postgres://",
	.open = pg_open,
	.prepare = pg_prepare,
	.get_cursor = pg_get_cursor,
	.table_exists = pg_table_exists,
	.stream_begin = pg_stream_begin,
	.write = pg_write,
	.evolve = pg_evolve,
	.stream_end = pg_stream_end,
	.commit_full = pg_commit_full,
	.abort = pg_abort,
	.reset = pg_reset,
	.close = pg_close,
};
