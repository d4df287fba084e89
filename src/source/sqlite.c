/*
 * sqlite.c - the SQLite source: tables of a SQLite file, read as COPY text.
 *
 * The file is opened read-only and one read transaction is held from open to
 * close, so every stream of a run sees the same snapshot (in WAL mode writers
 * carry on meanwhile). discover() describes tables from PRAGMA table_info,
 * mapping declared types to PostgreSQL names; read() steps a SELECT and
 * encodes each value as a PostgreSQL COPY text field.
 *
 * SQLite lets any column hold any value, PostgreSQL does not: a value the
 * destination would refuse (text 'abc' in an INTEGER column) is caught here,
 * with the table, column and rowid, rather than as an opaque COPY error later.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include "ferry/connector.h"
#include "ferry/buf.h"
#include "ferry/copytext.h"
#include "ferry/err.h"
#include "ferry/stream.h"
#include "util/names.h"
#include "util/sqltext.h"

#define DEFAULT_BATCH_ROWS 10000
#define BUSY_TIMEOUT_MS 5000

struct sqlite_src {
	sqlite3 *db;
	char *path;

	/* the stream being read, between begin() and end() */
	const struct ferry_stream *s;
	sqlite3_stmt *stmt;
	char **decls;   /* declared SQLite type per stream column */
	bool has_rowid; /* the last result column is the rowid */
	bool pending;   /* stmt holds a row not yet encoded (batch was full) */
	bool done;
	long long rowno; /* rows stepped so far, for messages without rowid */
	long long batch_rows;
	long long batch_bytes; /* 0: no limit */
	struct ferry_buf tmp;
};

static const struct ferry_setting_spec settings[] = {
    {"path", true, false, "the SQLite database file to read"},
    {"tables", false, false, "comma-separated tables to sync (default: every table)"},
    {"cursor.", false, false, "cursor.TABLE=column: the column incremental syncs read after"},
    {"pk.", false, false, "pk.TABLE=col1,col2: the primary key when the table declares none"},
    {NULL, false, false, NULL},
};

/* ---- small helpers ---------------------------------------------------- */

static int sql_err(struct ferry_source *src, struct ferry_err *err, const char *what)
{
	struct sqlite_src *p = src->priv;
	int code = p && p->db ? sqlite3_errcode(p->db) : SQLITE_ERROR;
	int rc = ferry_err_set(err, FERRY_ESOURCE, "%s failed in SQLite source \"%s\": %s", what,
	                       src->name, p && p->db ? sqlite3_errmsg(p->db) : "no database");

	err->retryable = code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_IOERR;
	return rc;
}

/* Shortest text that reads back as the same double; PostgreSQL's spellings of infinity. */
static void fmt_double(double v, char out[40])
{
	int prec;

	if (isinf(v)) {
		strcpy(out, v > 0 ? "Infinity" : "-Infinity");
		return;
	}
	if (isnan(v)) {
		strcpy(out, "NaN");
		return;
	}
	for (prec = 15; prec <= 17; prec++) {
		snprintf(out, 40, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/*
 * Whether s is a number PostgreSQL's numeric input accepts: optional
 * whitespace and sign, digits with an optional fraction, an optional
 * exponent; or NaN / Infinity. integer_only allows digits only.
 */
static bool looks_numeric(const char *s, size_t n, bool integer_only)
{
	const char *e = s + n;
	bool digits = false;

	while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		e--;
	if (s < e && (*s == '+' || *s == '-'))
		s++;
	if (!integer_only) {
		size_t r = (size_t)(e - s);
		if ((r == 3 && !strncasecmp(s, "nan", 3)) ||
		    (r == 3 && !strncasecmp(s, "inf", 3)) ||
		    (r == 8 && !strncasecmp(s, "infinity", 8)))
			return true;
	}
	while (s < e && *s >= '0' && *s <= '9')
		s++, digits = true;
	if (integer_only)
		return digits && s == e;
	if (s < e && *s == '.') {
		s++;
		while (s < e && *s >= '0' && *s <= '9')
			s++, digits = true;
	}
	if (!digits)
		return false;
	if (s < e && (*s == 'e' || *s == 'E')) {
		bool exp_digits = false;
		s++;
		if (s < e && (*s == '+' || *s == '-'))
			s++;
		while (s < e && *s >= '0' && *s <= '9')
			s++, exp_digits = true;
		if (!exp_digits)
			return false;
	}
	return s == e;
}

static int bool_text(const char *s, size_t n)
{
	static const char *const yes[] = {"t", "true", "y", "yes", "on", "1"};
	static const char *const no[] = {"f", "false", "n", "no", "off", "0"};
	size_t i;

	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	for (i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
		if (strlen(yes[i]) == n && !strncasecmp(s, yes[i], n))
			return 1;
		if (strlen(no[i]) == n && !strncasecmp(s, no[i], n))
			return 0;
	}
	return -1;
}

/* SQLite's column affinity for a declared type (sqlite.org/datatype3.html 3.1). */
enum affinity { AFF_INTEGER, AFF_TEXT, AFF_BLOB, AFF_REAL, AFF_NUMERIC };

static enum affinity affinity_of(const char *decl)
{
	char up[128];
	size_t i, n = strlen(decl);

	if (n >= sizeof(up))
		n = sizeof(up) - 1;
	for (i = 0; i < n; i++)
		up[i] = (char)((decl[i] >= 'a' && decl[i] <= 'z') ? decl[i] - 32 : decl[i]);
	up[n] = '\0';
	if (strstr(up, "INT"))
		return AFF_INTEGER;
	if (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT"))
		return AFF_TEXT;
	if (!n || strstr(up, "BLOB"))
		return AFF_BLOB;
	if (strstr(up, "REAL") || strstr(up, "FLOA") || strstr(up, "DOUB"))
		return AFF_REAL;
	return AFF_NUMERIC;
}

/* ---- open / close ----------------------------------------------------- */

static void src_close(struct ferry_source *src);

static int src_open(struct ferry_source *src, struct ferry_err *err)
{
	const char *path = ferry_config_get(src->config, "path");
	struct sqlite_src *p;
	struct stat st;
	int rc;

	if (!path || !*path)
		return ferry_err_set(
		    err, FERRY_EUSAGE,
		    "SQLite source \"%s\" has no path (set it with --set path=FILE)", src->name);
	if (stat(path, &st) != 0)
		return ferry_err_set(err, FERRY_ENOTFOUND,
		                     "SQLite file \"%s\" of source \"%s\" does not exist", path,
		                     src->name);
	if (S_ISDIR(st.st_mode))
		return ferry_err_set(
		    err, FERRY_EUSAGE,
		    "\"%s\" of source \"%s\" is a directory, not a SQLite database file", path,
		    src->name);
	p = calloc(1, sizeof(*p));
	if (!p || !(p->path = strdup(path))) {
		free(p);
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory opening source \"%s\"",
		                     src->name);
	}
	ferry_buf_init(&p->tmp, 0);
	src->priv = p;
	if (sqlite3_open_v2(path, &p->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = ferry_err_set(err, FERRY_ECONNECT,
		                   "cannot open SQLite file \"%s\" of source \"%s\": %s", path,
		                   src->name, p->db ? sqlite3_errmsg(p->db) : "out of memory");
		err->retryable = false;
		goto fail;
	}
	sqlite3_busy_timeout(p->db, BUSY_TIMEOUT_MS);
	/* BEGIN is deferred: the first read below takes the snapshot every stream shares. */
	rc = sqlite3_exec(p->db, "BEGIN; SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		int code = rc;
		if (rc == SQLITE_NOTADB) {
			rc = ferry_err_set(err, FERRY_EUSAGE,
			                   "file \"%s\" of source \"%s\" is not a SQLite database "
			                   "(check --set path=)",
			                   path, src->name);
		} else {
			rc = ferry_err_set(err, FERRY_ECONNECT,
			                   "cannot read SQLite file \"%s\" of source \"%s\": %s",
			                   path, src->name, sqlite3_errmsg(p->db));
			err->retryable = code == SQLITE_BUSY || code == SQLITE_LOCKED;
		}
		goto fail;
	}
	return 0;
fail:
	src_close(src);
	return err->code;
}

static void free_decls(struct sqlite_src *p)
{
	int i;

	if (p->decls && p->s)
		for (i = 0; i < p->s->ncols; i++)
			free(p->decls[i]);
	free(p->decls);
	p->decls = NULL;
}

static void end_stream(struct ferry_source *src)
{
	struct sqlite_src *p = src->priv;

	if (!p)
		return;
	sqlite3_finalize(p->stmt);
	p->stmt = NULL;
	free_decls(p);
	p->s = NULL;
	p->pending = p->done = false;
	p->rowno = 0;
}

static void src_close(struct ferry_source *src)
{
	struct sqlite_src *p = src->priv;

	if (!p)
		return;
	end_stream(src);
	if (p->db) {
		if (!sqlite3_get_autocommit(p->db))
			sqlite3_exec(p->db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close_v2(p->db);
	}
	ferry_buf_release(&p->tmp);
	free(p->path);
	free(p);
	src->priv = NULL;
}

/* ---- discover --------------------------------------------------------- */

static int list_tables(struct ferry_source *src, struct ferry_names *out, bool with_views,
                       struct ferry_err *err)
{
	struct sqlite_src *p = src->priv;
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(
	    p->db,
	    with_views ? "SELECT name FROM sqlite_master WHERE type IN ('table','view') "
	                 "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
	               : "SELECT name FROM sqlite_master WHERE type = 'table' "
	                 "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
	    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_err(src, err, "listing tables");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *n = (const char *)sqlite3_column_text(st, 0);
		if (ferry_names_push(out, n, strlen(n))) {
			sqlite3_finalize(st);
			return ferry_err_set(err, FERRY_ENOMEM, "out of memory listing tables");
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sql_err(src, err, "listing tables");
	return 0;
}

static int column_list_msg(const struct ferry_stream *s, struct ferry_buf *b)
{
	int i;

	ferry_buf_reset(b);
	for (i = 0; i < s->ncols; i++)
		ferry_buf_addf(b, "%s%s", i ? ", " : "", s->cols[i].name);
	return 0;
}

/* pk.TABLE: names -> positions. */
static int apply_pk_setting(struct ferry_source *src, struct ferry_stream *s, const char *val,
                            struct ferry_err *err)
{
	struct sqlite_src *p = src->priv;
	struct ferry_names cols = {0};
	int i, rc = 0;

	if (ferry_names_split(&cols, val, " \t"))
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	if (!cols.n) {
		rc = ferry_err_set(err, FERRY_EUSAGE, "setting pk.%s of source \"%s\" is empty",
		                   s->name, src->name);
		goto out;
	}
	free(s->pk);
	s->pk = calloc((size_t)cols.n, sizeof(int));
	s->npk = 0;
	if (!s->pk) {
		rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < cols.n; i++) {
		int c = ferry_stream_column(s, cols.v[i]);
		if (c < 0) {
			column_list_msg(s, &p->tmp);
			rc = ferry_err_set(
			    err, FERRY_EUSAGE,
			    "pk.%s of source \"%s\" names column \"%s\", which table \"%s\" "
			    "does not have (it has: %s)",
			    s->name, src->name, cols.v[i], s->name, p->tmp.data);
			goto out;
		}
		s->pk[s->npk++] = c;
	}
out:
	ferry_names_release(&cols);
	return rc;
}

static int discover_indexes(struct ferry_source *src, struct ferry_stream *s, struct ferry_err *err)
{
	struct sqlite_src *p = src->priv;
	sqlite3_stmt *il = NULL, *ii = NULL;
	int rc, ret = 0;

	if (sqlite3_prepare_v2(p->db,
	                       "SELECT name, \"unique\" FROM pragma_index_list(?1) "
	                       "WHERE origin = 'c' AND partial = 0 ORDER BY name",
	                       -1, &il, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(p->db, "SELECT cid, name FROM pragma_index_info(?1) ORDER BY seqno",
	                       -1, &ii, NULL) != SQLITE_OK) {
		ret = sql_err(src, err, "listing indexes");
		goto out;
	}
	sqlite3_bind_text(il, 1, s->name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(il)) == SQLITE_ROW) {
		const char *iname = (const char *)sqlite3_column_text(il, 0);
		struct ferry_index ix = {0}, *v;
		bool usable = true;

		ix.unique = sqlite3_column_int(il, 1) != 0;
		sqlite3_reset(ii);
		sqlite3_bind_text(ii, 1, iname, -1, SQLITE_TRANSIENT);
		while ((rc = sqlite3_step(ii)) == SQLITE_ROW) {
			const char *cname = (const char *)sqlite3_column_text(ii, 1);
			int pos = cname ? ferry_stream_column(s, cname) : -1;
			int *c;
			if (sqlite3_column_int(ii, 0) < 0 || pos < 0) {
				usable = false; /* expression or rowid index: not a simple column
				                   index */
				continue;
			}
			c = realloc(ix.cols, sizeof(int) * (size_t)(ix.ncols + 1));
			if (!c) {
				free(ix.cols);
				ret = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
				goto out;
			}
			ix.cols = c;
			ix.cols[ix.ncols++] = pos;
		}
		if (!usable || !ix.ncols || !(ix.name = strdup(iname))) {
			free(ix.cols);
			continue;
		}
		v = realloc(s->indexes, sizeof(*v) * (size_t)(s->nindexes + 1));
		if (!v) {
			free(ix.cols);
			free(ix.name);
			ret = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
			goto out;
		}
		s->indexes = v;
		v[s->nindexes++] = ix;
	}
	if (rc != SQLITE_DONE)
		ret = sql_err(src, err, "listing indexes");
out:
	sqlite3_finalize(il);
	sqlite3_finalize(ii);
	return ret;
}

static int describe_table(struct ferry_source *src, const char *table, struct ferry_stream *s,
                          struct ferry_err *err)
{
	struct sqlite_src *p = src->priv;
	sqlite3_stmt *st = NULL;
	int pkpos[64], npk = 0, maxpk = 0, rc, ret = 0, i;
	const char *v;
	char pg[128];

	if (!(s->name = strdup(table)))
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	ferry_buf_reset(&p->tmp);
	ferry_sql_ident(&p->tmp, table);
	if (!(s->source_table = strdup(p->tmp.data)))
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");

	if (sqlite3_prepare_v2(
	        p->db, "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1) ORDER BY cid",
	        -1, &st, NULL) != SQLITE_OK)
		return sql_err(src, err, "reading table columns");
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	memset(pkpos, -1, sizeof(pkpos));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *decl = (const char *)sqlite3_column_text(st, 1);
		int pkidx = sqlite3_column_int(st, 3);

		/* A ferry-made table read as a source: the destination stamps its own. */
		if (!strcmp(name, "_ferry_synced_at") || !strcmp(name, "_ferry_deleted_at"))
			continue;
		ferry_pg_type_of_sqlite_decl(decl ? decl : "", pg, sizeof(pg));
		if (ferry_stream_add_column(s, name, pg, sqlite3_column_int(st, 2) != 0)) {
			ret = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
			goto out;
		}
		if (pkidx > 0 && pkidx <= 64) {
			pkpos[pkidx - 1] = s->ncols - 1;
			if (pkidx > maxpk)
				maxpk = pkidx;
		}
	}
	if (rc != SQLITE_DONE) {
		ret = sql_err(src, err, "reading table columns");
		goto out;
	}
	if (s->ncols == 0) {
		ret =
		    ferry_err_set(err, FERRY_ESOURCE,
		                  "table \"%s\" of source \"%s\" has no columns", table, src->name);
		goto out;
	}
	for (i = 0; i < maxpk; i++)
		if (pkpos[i] >= 0)
			pkpos[npk++] = pkpos[i];
	if (npk) {
		s->pk = malloc(sizeof(int) * (size_t)npk);
		if (!s->pk) {
			ret = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
			goto out;
		}
		memcpy(s->pk, pkpos, sizeof(int) * (size_t)npk);
		s->npk = npk;
	}

	/* pk.TABLE and cursor.TABLE settings */
	ferry_buf_reset(&p->tmp);
	ferry_buf_addf(&p->tmp, "pk.%s", table);
	if ((v = ferry_config_get(src->config, p->tmp.data)) &&
	    (ret = apply_pk_setting(src, s, v, err)))
		goto out;
	ferry_buf_reset(&p->tmp);
	ferry_buf_addf(&p->tmp, "cursor.%s", table);
	if ((v = ferry_config_get(src->config, p->tmp.data))) {
		char *cname = strdup(v), *a = cname, *e;
		if (!cname) {
			ret = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
			goto out;
		}
		while (*a == ' ')
			a++;
		e = a + strlen(a);
		while (e > a && e[-1] == ' ')
			*--e = '\0';
		s->cursor = ferry_stream_column(s, a);
		if (s->cursor < 0) {
			column_list_msg(s, &p->tmp);
			ret = ferry_err_set(
			    err, FERRY_EUSAGE,
			    "cursor.%s of source \"%s\" names column \"%s\", which table \"%s\" "
			    "does not have (it has: %s)",
			    table, src->name, a, table, p->tmp.data);
			free(cname);
			goto out;
		}
		free(cname);
	}

	/* estimate: count(*) is fast enough on SQLite (it walks the smallest index) */
	sqlite3_finalize(st);
	st = NULL;
	ferry_buf_reset(&p->tmp);
	ferry_buf_adds(&p->tmp, "SELECT count(*) FROM ");
	ferry_sql_ident(&p->tmp, table);
	if (sqlite3_prepare_v2(p->db, p->tmp.data, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		s->estimate = sqlite3_column_int64(st, 0);
	ret = discover_indexes(src, s, err);
out:
	sqlite3_finalize(st);
	return ret;
}

/* cursor.X / pk.X naming a table the file does not have is a typo worth reporting. */
static int check_family_settings(struct ferry_source *src, const struct ferry_names *all,
                                 struct ferry_err *err)
{
	struct sqlite_src *p = src->priv;
	int i;

	for (i = 0; i < src->config->n; i++) {
		const char *k = src->config->v[i].key, *t = ferry_names_setting_table(k);
		if (t && !ferry_names_has(all, t)) {
			ferry_names_join(all, &p->tmp, "no tables");
			return ferry_err_set(
			    err, FERRY_EUSAGE,
			    "setting %s of source \"%s\" names table \"%s\", which does "
			    "not exist (it has: %s)",
			    k, src->name, t, p->tmp.data);
		}
	}
	return 0;
}

static int src_discover(struct ferry_source *src, struct ferry_stream_list *out,
                        struct ferry_err *err)
{
	struct sqlite_src *p = src->priv;
	struct ferry_names all = {0}, tables = {0}, wanted = {0};
	const char *setting = ferry_config_get(src->config, "tables");
	int i, rc;

	if ((rc = list_tables(src, &all, true, err)))
		goto out;
	if ((rc = check_family_settings(src, &all, err)))
		goto out;
	if (setting && *setting) {
		if (ferry_names_split(&wanted, setting, " \t")) {
			rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < wanted.n; i++) {
			if (!ferry_names_has(&all, wanted.v[i])) {
				struct ferry_names plain = {0};
				list_tables(src, &plain, false, err);
				ferry_names_join(&plain, &p->tmp, "no tables");
				ferry_names_release(&plain);
				rc = ferry_err_set(
				    err, FERRY_ENOTFOUND,
				    "table \"%s\" not found in source \"%s\" (it has: %s)",
				    wanted.v[i], src->name, p->tmp.data);
				goto out;
			}
			if (!ferry_names_has(&tables, wanted.v[i]) &&
			    ferry_names_push(&tables, wanted.v[i], strlen(wanted.v[i]))) {
				rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
				goto out;
			}
		}
	} else if ((rc = list_tables(src, &tables, false, err))) {
		goto out;
	}
	for (i = 0; i < tables.n; i++) {
		struct ferry_stream *s = ferry_stream_list_push(out);
		if (!s) {
			rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
			goto out;
		}
		if ((rc = describe_table(src, tables.v[i], s, err)))
			goto out;
	}
out:
	ferry_names_release(&all);
	ferry_names_release(&tables);
	ferry_names_release(&wanted);
	return rc;
}

/* ---- begin / read ----------------------------------------------------- */

static int load_decls(struct ferry_source *src, const struct ferry_stream *s, struct ferry_err *err)
{
	struct sqlite_src *p = src->priv;
	sqlite3_stmt *st = NULL;
	int i;

	p->decls = calloc((size_t)s->ncols, sizeof(char *));
	if (!p->decls)
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	if (sqlite3_prepare_v2(p->db, "SELECT type FROM pragma_table_info(?1) WHERE name = ?2", -1,
	                       &st, NULL) != SQLITE_OK)
		return sql_err(src, err, "reading table columns");
	for (i = 0; i < s->ncols; i++) {
		const char *t = NULL;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, s->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, s->cols[i].name, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			t = (const char *)sqlite3_column_text(st, 0);
		if (!(p->decls[i] = strdup(t ? t : ""))) {
			sqlite3_finalize(st);
			return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		}
	}
	sqlite3_finalize(st);
	return 0;
}

/*
 * Binds a cursor bound given as text. Typed columns apply their affinity to
 * a text operand, so text compares right against INTEGER or REAL columns;
 * an untyped column does not, so a numeric-looking bound is bound as a number.
 */
static void bind_bound(sqlite3_stmt *st, int idx, const char *v, const char *decl)
{
	size_t n = strlen(v);

	if (affinity_of(decl) == AFF_BLOB && looks_numeric(v, n, false)) {
		char *end;
		long long ll;
		errno = 0;
		ll = strtoll(v, &end, 10);
		if (!*end && !errno) {
			sqlite3_bind_int64(st, idx, ll);
			return;
		}
		sqlite3_bind_double(st, idx, strtod(v, NULL));
		return;
	}
	sqlite3_bind_text(st, idx, v, (int)n, SQLITE_TRANSIENT);
}

static int build_where(struct ferry_buf *q, const struct ferry_read_req *req, const char *cname,
                       bool with_hi)
{
	const char *sep = " WHERE ";

	if (req->cursor_from) {
		ferry_buf_adds(q, sep), ferry_sql_ident(q, cname), ferry_buf_adds(q, " >= ?");
		sep = " AND ";
	}
	if (req->since) {
		ferry_buf_adds(q, sep), ferry_sql_ident(q, cname), ferry_buf_adds(q, " >= ?");
		sep = " AND ";
	}
	if (req->until) {
		ferry_buf_adds(q, sep), ferry_sql_ident(q, cname), ferry_buf_adds(q, " < ?");
		sep = " AND ";
	}
	if (with_hi) {
		ferry_buf_adds(q, sep), ferry_sql_ident(q, cname), ferry_buf_adds(q, " <= ?");
	}
	return 0;
}

static int bind_bounds(sqlite3_stmt *st, const struct ferry_read_req *req, const char *decl)
{
	int i = 1;

	if (req->cursor_from)
		bind_bound(st, i++, req->cursor_from, decl);
	if (req->since)
		bind_bound(st, i++, req->since, decl);
	if (req->until)
		bind_bound(st, i++, req->until, decl);
	return i;
}

/* The highest cursor value of the rows in range, as text (NULL: no rows). hi_val keeps its exact
 * value. */
static int cursor_high(struct ferry_source *src, const struct ferry_read_req *req, char **cursor_hi,
                       sqlite3_value **hi_val, struct ferry_err *err)
{
	struct sqlite_src *p = src->priv;
	const struct ferry_stream *s = req->stream;
	const char *cname = s->cols[s->cursor].name;
	sqlite3_stmt *st = NULL;
	char num[40];
	const char *txt = NULL;
	int rc = 0;

	ferry_buf_reset(&p->tmp);
	ferry_buf_adds(&p->tmp, "SELECT max(");
	ferry_sql_ident(&p->tmp, cname);
	ferry_buf_adds(&p->tmp, ") FROM ");
	ferry_buf_adds(&p->tmp, s->source_table);
	build_where(&p->tmp, req, cname, false);
	if (sqlite3_prepare_v2(p->db, p->tmp.data, -1, &st, NULL) != SQLITE_OK)
		return sql_err(src, err, "finding the highest cursor value");
	bind_bounds(st, req, p->decls[s->cursor]);
	if (sqlite3_step(st) != SQLITE_ROW) {
		rc = sql_err(src, err, "finding the highest cursor value");
		goto out;
	}
	switch (sqlite3_column_type(st, 0)) {
	case SQLITE_NULL:
		goto out;
	case SQLITE_INTEGER:
		snprintf(num, sizeof(num), "%lld", (long long)sqlite3_column_int64(st, 0));
		txt = num;
		break;
	case SQLITE_FLOAT:
		fmt_double(sqlite3_column_double(st, 0), num);
		txt = num;
		break;
	default:
		txt = (const char *)sqlite3_column_text(st, 0);
	}
	*cursor_hi = strdup(txt ? txt : "");
	*hi_val = sqlite3_value_dup(sqlite3_column_value(st, 0));
	if (!*cursor_hi || !*hi_val)
		rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
out:
	sqlite3_finalize(st);
	return rc;
}

static int src_begin(struct ferry_source *src, const struct ferry_read_req *req, void **h,
		     char **cursor_hi, struct ferry_err *err)
{
	struct sqlite_src *p = src->priv;
	const struct ferry_stream *s = req->stream;
	const char *cname = s->cursor >= 0 ? s->cols[s->cursor].name : NULL;
	sqlite3_value *hi = NULL;
	sqlite3_stmt *probe = NULL;
	int i, rc = 0, bi;

	*cursor_hi = NULL;
	*h = p; /* one stream at a time: the handle is the source */
	end_stream(src);
	p->s = s;
	p->batch_rows = req->batch_rows > 0 ? req->batch_rows : DEFAULT_BATCH_ROWS;
	p->batch_bytes = req->batch_bytes > 0 ? req->batch_bytes : 0;
	if ((rc = load_decls(src, s, err)))
		goto fail;
	if (cname && (rc = cursor_high(src, req, cursor_hi, &hi, err)))
		goto fail;

	/* Rowid for messages about bad values; WITHOUT ROWID tables and views have none. */
	ferry_buf_reset(&p->tmp);
	ferry_buf_adds(&p->tmp, "SELECT _rowid_ FROM ");
	ferry_buf_adds(&p->tmp, s->source_table);
	p->has_rowid = ferry_stream_column(s, "_rowid_") < 0 &&
	               sqlite3_prepare_v2(p->db, p->tmp.data, -1, &probe, NULL) == SQLITE_OK;
	sqlite3_finalize(probe);

	ferry_buf_reset(&p->tmp);
	ferry_buf_adds(&p->tmp, "SELECT ");
	for (i = 0; i < s->ncols; i++) {
		if (i)
			ferry_buf_adds(&p->tmp, ", ");
		ferry_sql_ident(&p->tmp, s->cols[i].name);
	}
	if (p->has_rowid)
		ferry_buf_adds(&p->tmp, ", _rowid_");
	ferry_buf_adds(&p->tmp, " FROM ");
	ferry_buf_adds(&p->tmp, s->source_table);
	if (cname) {
		build_where(&p->tmp, req, cname, hi != NULL);
		if (req->order_by_cursor) {
			ferry_buf_adds(&p->tmp, " ORDER BY ");
			ferry_sql_ident(&p->tmp, cname);
		}
	}
	if (sqlite3_prepare_v2(p->db, p->tmp.data, -1, &p->stmt, NULL) != SQLITE_OK) {
		rc = sql_err(src, err, "preparing the read");
		ferry_err_prefix(err, "table \"%s\": ", s->name);
		goto fail;
	}
	if (cname) {
		bi = bind_bounds(p->stmt, req, p->decls[s->cursor]);
		if (hi)
			sqlite3_bind_value(p->stmt, bi, hi);
	}
	sqlite3_value_free(hi);
	return 0;
fail:
	sqlite3_value_free(hi);
	free(*cursor_hi);
	*cursor_hi = NULL;
	end_stream(src);
	return rc;
}

static const char *class_name(int t)
{
	switch (t) {
	case SQLITE_INTEGER:
		return "integer";
	case SQLITE_FLOAT:
		return "real";
	case SQLITE_TEXT:
		return "text";
	case SQLITE_BLOB:
		return "a blob";
	default:
		return "null";
	}
}

/* The error for a value the column's declared type cannot hold. */
static int bad_value(struct ferry_source *src, int col, int type, struct ferry_err *err)
{
	struct sqlite_src *p = src->priv;
	const struct ferry_stream *s = p->s;
	char shown[64], where[64];
	const char *decl = p->decls[col][0] ? p->decls[col] : "without a type";
	int i, j = 0;

	if (type == SQLITE_BLOB) {
		snprintf(shown, sizeof(shown), "of %d bytes", sqlite3_column_bytes(p->stmt, col));
	} else {
		const unsigned char *t = sqlite3_column_text(p->stmt, col);
		int n = sqlite3_column_bytes(p->stmt, col);
		bool quote = type == SQLITE_TEXT;
		if (quote)
			shown[j++] = '\'';
		for (i = 0; t && i < n && j < 44; i++)
			shown[j++] = t[i] < 0x20 ? '?' : (char)t[i];
		if (t && i < n)
			j += snprintf(shown + j, sizeof(shown) - (size_t)j, "...");
		if (quote)
			shown[j++] = '\'';
		shown[j] = '\0';
	}
	if (p->has_rowid && sqlite3_column_type(p->stmt, s->ncols) != SQLITE_NULL)
		snprintf(where, sizeof(where), "rowid %lld",
		         (long long)sqlite3_column_int64(p->stmt, s->ncols));
	else
		snprintf(where, sizeof(where), "row %lld", p->rowno);
	return ferry_err_set(err, FERRY_ESOURCE,
	                     "column \"%s\" of table \"%s\" holds %s %s (%s) but is declared %s: "
	                     "fix the row or declare the column TEXT",
	                     s->cols[col].name, s->name, class_name(type), shown, where, decl);
}

static int add_hex(struct ferry_buf *out, const unsigned char *v, int n)
{
	static const char hex[] = "0123456789abcdef";
	int rc, i;

	if ((rc = ferry_buf_grow(out, (size_t)n * 2 + 3)) || (rc = ferry_buf_add(out, "\\\\x", 3)))
		return rc;
	for (i = 0; i < n; i++) {
		out->data[out->len++] = hex[v[i] >> 4];
		out->data[out->len++] = hex[v[i] & 15];
	}
	out->data[out->len] = '\0';
	return 0;
}

static int add_uuid(struct ferry_buf *out, const unsigned char *v)
{
	char u[40];
	int i, j = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			u[j++] = '-';
		j += snprintf(u + j, sizeof(u) - (size_t)j, "%02x", v[i]);
	}
	return ferry_buf_add(out, u, (size_t)j);
}

/* Appends column col of the current row as one COPY text field. */
static int encode_value(struct ferry_source *src, int col, struct ferry_buf *out, long long *bytes,
                        struct ferry_err *err)
{
	struct sqlite_src *p = src->priv;
	const struct ferry_column *c = &p->s->cols[col];
	sqlite3_stmt *st = p->stmt;
	int type = sqlite3_column_type(st, col), n;
	char num[40];
	const char *t;

	switch (type) {
	case SQLITE_NULL:
		*bytes += 1;
		return ferry_copy_null(out);

	case SQLITE_INTEGER: {
		long long v = sqlite3_column_int64(st, col);
		*bytes += 8;
		if (c->kind == FERRY_K_BOOL && v != 0 && v != 1)
			return bad_value(src, col, type, err);
		if (c->kind == FERRY_K_INT && !strcmp(c->pg_type, "smallint") &&
		    (v < -32768 || v > 32767))
			return bad_value(src, col, type, err);
		switch (c->kind) {
		case FERRY_K_DATE:
		case FERRY_K_TIME:
		case FERRY_K_TIMESTAMP:
		case FERRY_K_TIMESTAMPTZ:
		case FERRY_K_UUID:
		case FERRY_K_BYTEA:
		case FERRY_K_ARRAY:
			return bad_value(src, col, type, err);
		default:
			break;
		}
		if (c->kind == FERRY_K_BOOL) /* as PostgreSQL prints it; it would accept 0/1 too */
			return ferry_buf_addc(out, v ? 't' : 'f');
		n = snprintf(num, sizeof(num), "%lld", v);
		return ferry_buf_add(out, num, (size_t)n);
	}

	case SQLITE_FLOAT:
		*bytes += 8;
		switch (c->kind) {
		case FERRY_K_TEXT:
		case FERRY_K_FLOAT:
		case FERRY_K_NUMERIC:
		case FERRY_K_JSON:
		case FERRY_K_JSONB:
		case FERRY_K_OTHER:
			break;
		default:
			return bad_value(src, col, type, err);
		}
		fmt_double(sqlite3_column_double(st, col), num);
		return ferry_buf_adds(out, num);

	case SQLITE_TEXT:
		t = (const char *)sqlite3_column_text(st, col);
		n = sqlite3_column_bytes(st, col);
		*bytes += n;
		switch (c->kind) {
		case FERRY_K_INT:
			if (!looks_numeric(t, (size_t)n, true))
				return bad_value(src, col, type, err);
			break;
		case FERRY_K_FLOAT:
		case FERRY_K_NUMERIC:
			if (!looks_numeric(t, (size_t)n, false))
				return bad_value(src, col, type, err);
			break;
		case FERRY_K_BOOL: {
			int b = bool_text(t, (size_t)n);
			if (b < 0)
				return bad_value(src, col, type, err);
			return ferry_buf_addc(out, b ? 't' : 'f');
		}
		case FERRY_K_BYTEA:
			/* text in a BLOB column: its bytes are the value */
			return add_hex(out, (const unsigned char *)t, n);
		default:
			break;
		}
		return ferry_copy_escape(out, t, (size_t)n);

	case SQLITE_BLOB:
		n = sqlite3_column_bytes(st, col);
		*bytes += n;
		if (c->kind == FERRY_K_UUID && n == 16)
			return add_uuid(out, sqlite3_column_blob(st, col));
		if (c->kind != FERRY_K_BYTEA && c->kind != FERRY_K_TEXT)
			return bad_value(src, col, type, err);
		return add_hex(out, sqlite3_column_blob(st, col), n);
	}
	return ferry_err_set(err, FERRY_EINTERNAL, "unknown SQLite storage class %d", type);
}

static int src_read(struct ferry_source *src, void *h, struct ferry_batch *out, struct ferry_err *err)
{
	struct sqlite_src *p = src->priv;
	const struct ferry_stream *s;
	long long added = 0;
	int rc, i;

	if (!p || !p->stmt)
		return ferry_err_set(err, FERRY_EINTERNAL,
		                     "read() called on source \"%s\" without begin()",
		                     src ? src->name : "?");
	s = p->s;
	while (!p->done) {
		size_t mark = out->data.len;
		long long bytes = 0;

		if (added >= p->batch_rows ||
		    (p->batch_bytes && out->data.len >= (size_t)p->batch_bytes))
			break;
		if (!p->pending) {
			rc = sqlite3_step(p->stmt);
			if (rc == SQLITE_DONE) {
				p->done = true;
				break;
			}
			if (rc != SQLITE_ROW) {
				sql_err(src, err, "reading");
				return ferry_err_prefix(err, "table \"%s\": ", s->name);
			}
			p->pending = true;
			p->rowno++;
		}
		for (i = 0, rc = 0; i < s->ncols && !rc; i++) {
			if (i)
				rc = ferry_buf_addc(&out->data, '\t');
			if (!rc)
				rc = encode_value(src, i, &out->data, &bytes, err);
		}
		if (!rc)
			rc = ferry_buf_addc(&out->data, '\n');
		if (rc == FERRY_ETOOBIG && added > 0) {
			ferry_buf_setlen(&out->data, mark); /* the row goes into the next batch */
			break;
		}
		if (rc) {
			ferry_buf_setlen(&out->data, mark);
			if (rc == FERRY_ETOOBIG || rc == FERRY_ENOMEM)
				return ferry_err_set(
				    err, rc,
				    "row %lld of table \"%s\" of source \"%s\" is larger than "
				    "a whole batch may be: check the row for an oversized value",
				    p->rowno, s->name, src->name);
			return rc;
		}
		p->pending = false;
		added++;
		out->nrows++;
		out->src_bytes += bytes + s->ncols;
	}
	return added == 0 && p->done ? FERRY_DONE : 0;
}

static void src_end(struct ferry_source *src, void *h)
{
	end_stream(src);
}

const struct ferry_source_ops ferry_source_sqlite = {
    .type = "sqlite",
    .summary = "tables of a SQLite database file",
    .settings = settings,
    .open = src_open,
    .discover = src_discover,
    .begin = src_begin,
    .read = src_read,
    .end = src_end,
    .close = src_close,
};
