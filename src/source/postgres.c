/*
 * postgres.c - the PostgreSQL source: tables read with COPY ... TO STDOUT.
 *
 * open() starts one REPEATABLE READ READ ONLY transaction, so discovery and
 * every stream read from the same snapshot: a full sync is a consistent copy
 * of the database at one instant, and the highest cursor value found by
 * begin() is exactly the last row read. Rows are never parsed: each COPY text
 * line the server sends is appended to the batch with one memcpy, which is
 * what lets PostgreSQL -> PostgreSQL run at the speed of a raw COPY pipe.
 *
 * Each stream's COPY runs inside a savepoint so an abandoned stream can be
 * cancelled and rolled back without losing the snapshot the others share.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include "ferry/connector.h"
#include "util/names.h"
#include "util/pgconn.h"
#include "util/sqltext.h"

/* Trimmed around the items of comma lists: isspace() in the C locale. */
#define SPACES " \t\n\v\f\r"

/* What discover() learnt about a relation that begin() needs. */
struct rel {
	char *stream;
	char relkind;
	bool plain_copy;   /* "COPY t (cols) TO STDOUT" works: ordinary table, no casts */
	bool *cast_text;   /* per column: select as col::text (types outside pg_catalog) */
	int ncols;
};

struct pgsrc {
	PGconn *conn;
	struct ferry_pg_who who;
	struct rel *rels;
	int nrels;

	/* the stream being read */
	char *stream;
	long long batch_rows;
	bool copying;        /* COPY OUT running */
	bool done;           /* COPY finished: next read returns FERRY_DONE */
	bool savepoint;      /* a ferry_c savepoint is open */
	char *pending;       /* a row that did not fit the last batch (libpq memory) */
	int pending_len;
};

static const struct ferry_setting_spec settings[] = {
	{"url", true, true, "postgres://user:password@host:port/dbname"},
	{"tables", false, false, "comma list: a,b,schema.c (default: every table of schema public)"},
	{"cursor.", false, false, "cursor.TABLE=column: incremental cursor of a table"},
	{"pk.", false, false, "pk.TABLE=col1,col2: primary key when the table has none"},
	{NULL, false, false, NULL},
};

static void rels_free(struct pgsrc *p)
{
	for (int i = 0; i < p->nrels; i++) {
		free(p->rels[i].stream);
		free(p->rels[i].cast_text);
	}
	free(p->rels);
	p->rels = NULL;
	p->nrels = 0;
}

static int pg_open(struct ferry_source *src, struct ferry_err *err)
{
	struct pgsrc *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	p->who.role = "source";
	p->who.name = src->name ? src->name : "?";
	p->who.fail_code = FERRY_ESOURCE;
	rc = ferry_pg_connect(ferry_config_get(src->config, "url"), &p->who, &p->conn, err);
	if (!rc)
		rc = ferry_pg_exec(p->conn, &p->who, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
				   "starting a snapshot", NULL, NULL, err);
	if (rc) {
		if (p->conn)
			PQfinish(p->conn);
		free(p);
		return rc;
	}
	src->priv = p;
	return 0;
}

/* ---- discover ---------------------------------------------------------- */

struct tabinfo {
	char *oid, *nsp, *rel;
	char relkind;
	bool partition;
	double reltuples;
	long long relpages, relsize;
};

static void stream_name(const struct tabinfo *t, struct ferry_buf *b)
{
	ferry_buf_reset(b);
	if (strcmp(t->nsp, "public"))
		ferry_buf_addf(b, "%s.", t->nsp);
	ferry_buf_adds(b, t->rel);
}

static int query1(struct pgsrc *p, const char *sql, const char *param, const char *doing,
		  const char *what, PGresult **res, struct ferry_err *err)
{
	PGresult *r = PQexecParams(p->conn, sql, param ? 1 : 0, NULL, &param, NULL, NULL, 0);
	int rc;

	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		*res = r;
		return 0;
	}
	*res = NULL;
	rc = ferry_pg_fail(p->conn, r, &p->who, doing, what, err);
	PQclear(r);
	return rc;
}

/* "a, b, c" (truncated) of the names of a stream's columns, for messages. */
static void list_columns(const struct ferry_stream *s, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; i < s->ncols && o + 8 < outlen; i++) {
		int n = snprintf(out + o, outlen - o, "%s%s", i ? ", " : "", s->cols[i].name);
		o += n > 0 ? (size_t)n : 0;
	}
	if (o >= outlen)
		snprintf(out + outlen - 5, 5, "...");
}

static const char *setting_for(const struct ferry_source *src, const char *family,
			       const struct ferry_stream *s, const struct tabinfo *t)
{
	char key[400];
	const char *v;

	snprintf(key, sizeof(key), "%s%s", family, s->name);
	v = ferry_config_get(src->config, key);
	if (!v) {
		snprintf(key, sizeof(key), "%s%s.%s", family, t->nsp, t->rel);
		v = ferry_config_get(src->config, key);
	}
	return v;
}

static int apply_settings(struct ferry_source *src, struct ferry_stream *s, const struct tabinfo *t,
			  struct ferry_err *err)
{
	const char *pk = setting_for(src, "pk.", s, t), *cur = setting_for(src, "cursor.", s, t);
	char cols[300];

	if (cur) {
		char name[256];
		snprintf(name, sizeof(name), "%s", cur);
		for (char *e = name + strlen(name); e > name && isspace((unsigned char)e[-1]);)
			*--e = '\0';
		const char *n = name + strspn(name, " ");
		s->cursor = ferry_stream_column(s, n);
		if (s->cursor < 0) {
			list_columns(s, cols, sizeof(cols));
			return ferry_err_set(err, FERRY_EUSAGE,
					     "cursor.%s names column \"%s\", which table \"%s\" of "
					     "source \"%s\" does not have (it has: %s)",
					     s->name, n, s->name, src->name, cols);
		}
	}
	if (pk) {
		struct ferry_names names = FERRY_NAMES_INIT;
		int *v = calloc((size_t)s->ncols + 1, sizeof(int)), n = 0;

		if (!v || ferry_names_split(&names, pk, SPACES)) {
			ferry_names_release(&names);
			free(v);
			return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		}
		for (int i = 0; i < names.n; i++) {
			int pos = ferry_stream_column(s, names.v[i]);
			if (pos < 0 || n >= s->ncols) {
				list_columns(s, cols, sizeof(cols));
				ferry_err_set(err, FERRY_EUSAGE,
					      "pk.%s names column \"%s\", which table \"%s\" of source "
					      "\"%s\" does not have (it has: %s)",
					      s->name, names.v[i], s->name, src->name, cols);
				ferry_names_release(&names);
				free(v);
				return FERRY_EUSAGE;
			}
			v[n++] = pos;
		}
		ferry_names_release(&names);
		if (!n) {
			free(v);
			return ferry_err_set(err, FERRY_EUSAGE, "pk.%s is empty: name one or more "
					     "columns (pk.%s=col1,col2)", s->name, s->name);
		}
		free(s->pk);
		s->pk = v;
		s->npk = n;
	}
	return 0;
}

/* Positions in s of the attnums in an int2vector's text ("1 3"), n of them. */
static int *map_attnums(const char *vec, int n, const int *attnums, int ncols)
{
	int *v = calloc((size_t)n + 1, sizeof(int));
	const char *p = vec;

	if (!v)
		return NULL;
	for (int i = 0; i < n; i++) {
		char *end;
		long a = strtol(p, &end, 10);
		int pos = -1;
		if (end == p)
			goto bad;
		for (int j = 0; j < ncols; j++)
			if (attnums[j] == a)
				pos = j;
		if (pos < 0)
			goto bad;
		v[i] = pos;
		p = end;
	}
	return v;
bad:
	free(v);
	return NULL;
}

static long long estimate(struct pgsrc *p, const struct tabinfo *t, const char *qname)
{
	if (t->relkind != 'r' && t->relkind != 'm')
		return -1;
	if (t->reltuples >= 0 && t->relpages > 0)
		return (long long)(t->reltuples / (double)t->relpages * (double)(t->relsize / 8192));
	if (t->relsize == 0)
		return 0;
	if (t->relsize <= 16LL << 20) {
		/* Never analysed and small: counting is cheaper than a blind progress bar. */
		char sql[600];
		long long n = -1;
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", qname);
		PGresult *r = PQexec(p->conn, sql);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
			n = atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
		return n;
	}
	return -1;
}

static int describe(struct ferry_source *src, struct pgsrc *p, const struct tabinfo *t,
		    struct ferry_stream_list *out, struct ferry_err *err)
{
	struct ferry_buf b = FERRY_BUF_INIT;
	struct ferry_stream *s;
	struct rel *rel;
	PGresult *r = NULL;
	int *attnums = NULL, rc = 0, nr;

	s = ferry_stream_list_push(out);
	rel = realloc(p->rels, sizeof(*rel) * (size_t)(p->nrels + 1));
	if (!s || !rel)
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	p->rels = rel;
	rel = &p->rels[p->nrels];
	memset(rel, 0, sizeof(*rel));
	stream_name(t, &b);
	s->name = strdup(b.data);
	rel->stream = strdup(b.data);
	p->nrels++;
	rel->relkind = t->relkind;
	rel->plain_copy = t->relkind == 'r';
	ferry_buf_reset(&b);
	ferry_pg_qname(&b, t->nsp, t->rel);
	s->source_table = strdup(b.data);
	if (!s->name || !s->source_table || !rel->stream) {
		rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		goto out;
	}

	rc = query1(p,
		    "SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
		    " t.typnamespace = 'pg_catalog'::regnamespace, a.attgenerated <> ''"
		    " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
		    " WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped"
		    " ORDER BY a.attnum",
		    t->oid, "reading the columns of", s->name, &r, err);
	if (rc)
		goto out;
	nr = PQntuples(r);
	attnums = calloc((size_t)nr + 1, sizeof(int));
	rel->cast_text = calloc((size_t)nr + 1, sizeof(bool));
	if (!attnums || !rel->cast_text) {
		rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0, k = 0; i < nr; i++) {
		bool builtin = PQgetvalue(r, i, 4)[0] == 't';
		/* A ferry-made table read as a source: the destination stamps its own. */
		if (!strcmp(PQgetvalue(r, i, 1), "_ferry_synced_at") ||
		    !strcmp(PQgetvalue(r, i, 1), "_ferry_deleted_at"))
			continue;
		attnums[k] = atoi(PQgetvalue(r, i, 0));
		rel->cast_text[k] = !builtin;
		rel->ncols = ++k;
		if (!builtin || PQgetvalue(r, i, 5)[0] == 't')
			rel->plain_copy = false; /* casts, or generated columns COPY refuses */
		if (ferry_stream_add_column(s, PQgetvalue(r, i, 1),
					    builtin ? PQgetvalue(r, i, 2) : "text",
					    PQgetvalue(r, i, 3)[0] == 't')) {
			rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
			goto out;
		}
	}
	PQclear(r);
	r = NULL;

	rc = query1(p,
		    "SELECT i.indkey::text, i.indisprimary, i.indisunique, c.relname, i.indnkeyatts"
		    " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
		    " JOIN pg_am am ON am.oid = c.relam"
		    " WHERE i.indrelid = $1::oid AND i.indisvalid AND (i.indisprimary OR"
		    " (i.indexprs IS NULL AND i.indpred IS NULL AND am.amname = 'btree'))"
		    " ORDER BY i.indisprimary DESC, c.relname",
		    t->oid, "reading the indexes of", s->name, &r, err);
	if (rc)
		goto out;
	for (int i = 0; i < PQntuples(r); i++) {
		int n = atoi(PQgetvalue(r, i, 4));
		int *cols = map_attnums(PQgetvalue(r, i, 0), n, attnums, rel->ncols);
		if (!cols || n <= 0) {
			free(cols);
			continue;
		}
		if (PQgetvalue(r, i, 1)[0] == 't') {
			free(s->pk);
			s->pk = cols;
			s->npk = n;
			continue;
		}
		struct ferry_index *ix = realloc(s->indexes, sizeof(*ix) * (size_t)(s->nindexes + 1));
		if (!ix) {
			free(cols);
			rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
			goto out;
		}
		s->indexes = ix;
		ix = &ix[s->nindexes++];
		ix->name = strdup(PQgetvalue(r, i, 3));
		ix->cols = cols;
		ix->ncols = n;
		ix->unique = PQgetvalue(r, i, 2)[0] == 't';
	}
	PQclear(r);
	r = NULL;

	rc = apply_settings(src, s, t, err);
	if (rc)
		goto out;
	s->estimate = estimate(p, t, s->source_table);
out:
	PQclear(r);
	free(attnums);
	ferry_buf_release(&b);
	return rc;
}

/* Settings "cursor.X"/"pk.X" must name a table being read: a typo is an error, not a no-op. */
static int check_setting_tables(struct ferry_source *src, const struct ferry_stream_list *out,
				struct ferry_err *err)
{
	const struct ferry_config *c = src->config;

	for (int i = 0; c && i < c->n; i++) {
		const char *k = c->v[i].key, *name = ferry_names_setting_table(k);
		bool found = false;
		if (!name)
			continue;
		for (int j = 0; j < out->n && !found; j++)
			found = !strcmp(out->v[j].name, name) ||
				(!strncmp(name, "public.", 7) && !strcmp(out->v[j].name, name + 7));
		if (!found) {
			char have[300] = "";
			size_t o = 0;
			for (int j = 0; j < out->n && o + 8 < sizeof(have); j++) {
				int n = snprintf(have + o, sizeof(have) - o, "%s%s", j ? ", " : "",
						 out->v[j].name);
				o += n > 0 ? (size_t)n : 0;
			}
			return ferry_err_set(err, FERRY_EUSAGE,
					     "setting \"%s\" names table \"%s\", which source \"%s\" "
					     "does not read (it reads: %s)",
					     k, name, src->name, out->n ? have : "no tables");
		}
	}
	return 0;
}

static int not_found(struct ferry_source *src, const char *want, struct tabinfo *t, int nt,
		     struct ferry_err *err)
{
	struct ferry_buf have = FERRY_BUF_INIT, name = FERRY_BUF_INIT;
	int shown = 0;

	for (int i = 0; i < nt; i++) {
		if (t[i].partition || (t[i].relkind != 'r' && t[i].relkind != 'p'))
			continue;
		if (have.len > 300) {
			ferry_buf_adds(&have, ", ...");
			break;
		}
		stream_name(&t[i], &name);
		ferry_buf_addf(&have, "%s%s", shown++ ? ", " : "", name.data);
	}
	ferry_err_set(err, FERRY_ENOTFOUND, "table \"%s\" not found in source \"%s\" (it has: %s)",
		      want, src->name, shown ? have.data : "no tables");
	ferry_buf_release(&have);
	ferry_buf_release(&name);
	return FERRY_ENOTFOUND;
}

static struct tabinfo *find_table(struct tabinfo *t, int nt, const char *want)
{
	const char *dot = strchr(want, '.');
	char nsp[256], rel[256];

	if (dot) {
		snprintf(nsp, sizeof(nsp), "%.*s", (int)(dot - want), want);
		snprintf(rel, sizeof(rel), "%s", dot + 1);
	} else {
		snprintf(nsp, sizeof(nsp), "public");
		snprintf(rel, sizeof(rel), "%s", want);
	}
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < nt; i++)
			if (!strcmp(t[i].nsp, nsp) && !strcmp(t[i].rel, rel))
				return &t[i];
		/* An unquoted name as PostgreSQL would fold it: Users -> users. */
		for (char *c = nsp; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		for (char *c = rel; *c; c++)
			*c = (char)tolower((unsigned char)*c);
	}
	return NULL;
}

static int pg_discover(struct ferry_source *src, struct ferry_stream_list *out,
		       struct ferry_err *err)
{
	struct pgsrc *p = src->priv;
	const char *tables = ferry_config_get(src->config, "tables");
	struct tabinfo *t = NULL;
	struct ferry_names wanted = FERRY_NAMES_INIT;
	bool *chosen = NULL;
	PGresult *r = NULL;
	int rc, nt = 0;

	rels_free(p);
	rc = query1(p,
		    "SELECT c.oid, n.nspname, c.relname, c.relkind, c.relispartition, c.reltuples,"
		    " c.relpages, pg_relation_size(c.oid)"
		    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
		    " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')"
		    " AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
		    " AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'"
		    " ORDER BY n.nspname <> 'public', n.nspname, c.relname",
		    NULL, "listing tables", NULL, &r, err);
	if (rc)
		return rc;
	nt = PQntuples(r);
	t = calloc((size_t)nt + 1, sizeof(*t));
	chosen = calloc((size_t)nt + 1, sizeof(bool));
	if (!t || !chosen) {
		rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < nt; i++) {
		t[i].oid = PQgetvalue(r, i, 0);
		t[i].nsp = PQgetvalue(r, i, 1);
		t[i].rel = PQgetvalue(r, i, 2);
		t[i].relkind = PQgetvalue(r, i, 3)[0];
		t[i].partition = PQgetvalue(r, i, 4)[0] == 't';
		t[i].reltuples = atof(PQgetvalue(r, i, 5));
		t[i].relpages = atoll(PQgetvalue(r, i, 6));
		t[i].relsize = atoll(PQgetvalue(r, i, 7));
	}

	if (tables && *tables) {
		if (ferry_names_split(&wanted, tables, SPACES)) {
			rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory");
			goto out;
		}
		for (int i = 0; i < wanted.n; i++) {
			struct tabinfo *hit = find_table(t, nt, wanted.v[i]);
			if (!hit) {
				rc = not_found(src, wanted.v[i], t, nt, err);
				goto out;
			}
			if (chosen[hit - t])
				continue;
			chosen[hit - t] = true;
			if ((rc = describe(src, p, hit, out, err)))
				goto out;
		}
	} else {
		for (int i = 0; i < nt; i++) {
			if (strcmp(t[i].nsp, "public") || t[i].partition ||
			    (t[i].relkind != 'r' && t[i].relkind != 'p'))
				continue;
			if ((rc = describe(src, p, &t[i], out, err)))
				goto out;
		}
	}
	rc = check_setting_tables(src, out, err);
out:
	ferry_names_release(&wanted);
	free(t);
	free(chosen);
	PQclear(r);
	return rc;
}

/* ---- reading ------------------------------------------------------------ */

static const struct rel *rel_of(const struct pgsrc *p, const char *stream)
{
	for (int i = 0; i < p->nrels; i++)
		if (!strcmp(p->rels[i].stream, stream))
			return &p->rels[i];
	return NULL;
}

/* A literal that PostgreSQL cannot compare with the column: class 22, or no such operator. */
static bool bad_literal(const PGresult *r)
{
	const char *st = ferry_pg_sqlstate(r);

	return !strncmp(st, "22", 2) || !strcmp(st, "42883") || !strcmp(st, "42804");
}

/* Appends " AND col OP 'lit'" for each bound, first joined by WHERE. */
static void add_bound(struct ferry_buf *b, bool *first, const char *col, const char *op,
		      const char *lit)
{
	ferry_buf_adds(b, *first ? " WHERE " : " AND ");
	*first = false;
	ferry_buf_adds(b, col);
	ferry_buf_addf(b, " %s ", op);
	ferry_pg_literal(b, lit);
}

/* After a comparison failed: finds which bound PostgreSQL refused and says so. */
static int blame_bound(struct pgsrc *p, const struct ferry_read_req *req, const char *table,
		       const char *col, struct ferry_err *err)
{
	const struct ferry_stream *s = req->stream;
	const struct ferry_column *c = &s->cols[s->cursor];
	struct {
		const char *what, *val, *op;
	} b[3] = {{"--since", req->since, ">="},
		  {"--until", req->until, "<"},
		  {"the stored cursor", req->cursor_from, ">="}};
	struct ferry_buf sql = FERRY_BUF_INIT;
	int rc = 0;

	for (int i = 0; i < 3 && !rc; i++) {
		bool first = true;
		PGresult *r;
		char reason[200];
		if (!b[i].val)
			continue;
		ferry_buf_reset(&sql);
		ferry_buf_addf(&sql, "SAVEPOINT ferry_b; SELECT 1 FROM %s", table);
		add_bound(&sql, &first, col, b[i].op, b[i].val);
		ferry_buf_adds(&sql, " LIMIT 0; RELEASE SAVEPOINT ferry_b");
		r = ferry_pg_run(p->conn, sql.data);
		if (!ferry_pg_ok(r) && bad_literal(r)) {
			ferry_pg_reason(p->conn, r, reason, sizeof(reason));
			if (i < 2)
				rc = ferry_err_set(err, FERRY_EUSAGE,
						   "%s \"%s\" cannot be compared with cursor column "
						   "\"%s\" (%s) of \"%s\" in source \"%s\": %s",
						   b[i].what, b[i].val, c->name, c->pg_type, s->name,
						   p->who.name, reason);
			else
				rc = ferry_err_set(err, FERRY_ECONFIG,
						   "the stored cursor \"%s\" of \"%s\" no longer fits "
						   "cursor column \"%s\" (%s): %s (run with --full to "
						   "start over)",
						   b[i].val, s->name, c->name, c->pg_type, reason);
			PQclear(r);
			r = PQexec(p->conn, "ROLLBACK TO SAVEPOINT ferry_b; RELEASE SAVEPOINT ferry_b");
		}
		PQclear(r);
	}
	ferry_buf_release(&sql);
	return rc;
}

static void end_stream(struct pgsrc *p);

static int pg_begin(struct ferry_source *src, const struct ferry_read_req *req, void **h,
		    char **cursor_hi, struct ferry_err *err)
{
	struct pgsrc *p = src->priv;
	const struct ferry_stream *s = req->stream;
	const struct rel *rel = rel_of(p, s->name);
	struct ferry_buf sql = FERRY_BUF_INIT, where = FERRY_BUF_INIT, col = FERRY_BUF_INIT;
	bool first = true, bounded;
	PGresult *r = NULL;
	int rc = 0;

	*cursor_hi = NULL;
	*h = p; /* one stream at a time: the handle is the source */
	end_stream(p);
	if (!p->conn)
		return ferry_err_set(err, FERRY_ESOURCE, "source \"%s\" lost its connection before "
				     "reading \"%s\"", p->who.name, s->name);
	free(p->stream);
	p->stream = strdup(s->name);
	p->batch_rows = req->batch_rows > 0 ? req->batch_rows : 10000;
	p->done = false;
	bounded = req->cursor_from || req->since || req->until;
	if (bounded && s->cursor < 0)
		return ferry_err_set(err, FERRY_EUSAGE,
				     "table \"%s\" of source \"%s\" has no cursor column, so it "
				     "cannot be read by range (set cursor.%s=COLUMN on the source)",
				     s->name, p->who.name, s->name);

	if (s->cursor >= 0) {
		ferry_sql_ident(&col, s->cols[s->cursor].name);
		if (req->cursor_from)
			add_bound(&where, &first, col.data, ">=", req->cursor_from);
		if (req->since)
			add_bound(&where, &first, col.data, ">=", req->since);
		if (req->until)
			add_bound(&where, &first, col.data, "<", req->until);
		ferry_buf_addf(&sql, "SAVEPOINT ferry_b; SELECT max(%s)::text FROM %s%s;"
			       " RELEASE SAVEPOINT ferry_b", col.data, s->source_table, where.data);
		r = ferry_pg_run(p->conn, sql.data);
		if (!ferry_pg_ok(r)) {
			if (bad_literal(r) && !ferry_pg_gone(p->conn, r)) {
				PQclear(PQexec(p->conn, "ROLLBACK TO SAVEPOINT ferry_b;"
						        " RELEASE SAVEPOINT ferry_b"));
				rc = blame_bound(p, req, s->source_table, col.data, err);
				if (rc)
					goto out;
			}
			rc = ferry_pg_fail(p->conn, r, &p->who, "reading", s->name, err);
			goto out;
		}
		if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
			*cursor_hi = strdup(PQgetvalue(r, 0, 0));
			/*
			 * The snapshot already hides newer rows; the bound documents
			 * what this read covers and is free with an index.
			 */
			if (bounded)
				add_bound(&where, &first, col.data, "<=", *cursor_hi);
		}
		PQclear(r);
		r = NULL;
	}

	ferry_buf_reset(&sql);
	if (p->savepoint)
		ferry_buf_adds(&sql, "RELEASE SAVEPOINT ferry_c; ");
	ferry_buf_adds(&sql, "SAVEPOINT ferry_c; COPY ");
	if (rel && rel->plain_copy && !where.len && !req->order_by_cursor) {
		ferry_buf_addf(&sql, "%s (", s->source_table);
		for (int i = 0; i < s->ncols; i++) {
			if (i)
				ferry_buf_adds(&sql, ", ");
			ferry_sql_ident(&sql, s->cols[i].name);
		}
		ferry_buf_adds(&sql, ")");
	} else {
		ferry_buf_adds(&sql, "(SELECT ");
		for (int i = 0; i < s->ncols; i++) {
			if (i)
				ferry_buf_adds(&sql, ", ");
			ferry_sql_ident(&sql, s->cols[i].name);
			if (rel && i < rel->ncols && rel->cast_text[i])
				ferry_buf_adds(&sql, "::text");
		}
		ferry_buf_addf(&sql, " FROM %s%s", s->source_table, where.data);
		if (req->order_by_cursor && s->cursor >= 0)
			ferry_buf_addf(&sql, " ORDER BY %s", col.data);
		ferry_buf_adds(&sql, ")");
	}
	ferry_buf_adds(&sql, " TO STDOUT");
	r = PQexec(p->conn, sql.data);
	if (PQresultStatus(r) != PGRES_COPY_OUT) {
		rc = ferry_pg_fail(p->conn, r, &p->who, "reading", s->name, err);
		goto out;
	}
	p->savepoint = true;
	p->copying = true;
out:
	if (rc) {
		free(*cursor_hi);
		*cursor_hi = NULL;
	}
	PQclear(r);
	ferry_buf_release(&sql);
	ferry_buf_release(&where);
	ferry_buf_release(&col);
	return rc;
}

/* The COPY ended: collect its final status. */
static int finish_copy(struct pgsrc *p, struct ferry_err *err)
{
	PGresult *r;
	int rc = 0;

	p->copying = false;
	p->done = true;
	while ((r = PQgetResult(p->conn))) {
		if (!rc && PQresultStatus(r) != PGRES_COMMAND_OK)
			rc = ferry_pg_fail(p->conn, r, &p->who, "reading", p->stream, err);
		PQclear(r);
	}
	return rc;
}

static int pg_read(struct ferry_source *src, void *h, struct ferry_batch *out, struct ferry_err *err)
{
	struct pgsrc *p = src->priv;
	long long n = 0;

	if (p->done && !p->pending)
		return FERRY_DONE;
	if (!p->copying && !p->pending)
		return ferry_err_set(err, FERRY_EINTERNAL, "source \"%s\": read without begin",
				     p->who.name);
	while (n < p->batch_rows) {
		char *row;
		int len, rc;

		if (p->pending) {
			row = p->pending;
			len = p->pending_len;
			p->pending = NULL;
		} else {
			if (!p->copying)
				break;
			len = PQgetCopyData(p->conn, &row, 0);
			if (len == -1) {
				if ((rc = finish_copy(p, err)))
					return rc;
				break;
			}
			if (len < 0) {
				p->copying = false;
				return ferry_pg_fail(p->conn, NULL, &p->who, "reading", p->stream,
						     err);
			}
		}
		rc = ferry_buf_add(&out->data, row, (size_t)len);
		if (rc) {
			if (rc == FERRY_ETOOBIG && out->nrows > 0) {
				/* Batch full: this row opens the next one. */
				p->pending = row;
				p->pending_len = len;
				return 0;
			}
			PQfreemem(row);
			if (rc == FERRY_ETOOBIG)
				return ferry_err_set(err, FERRY_ETOOBIG,
						     "a row of %d bytes in \"%s\" of source \"%s\" is "
						     "larger than a whole batch (lower --batch-size "
						     "does not help: the row itself is too big)",
						     len, p->stream, p->who.name);
			return ferry_err_set(err, rc, "out of memory reading \"%s\"", p->stream);
		}
		PQfreemem(row);
		out->nrows++;
		out->src_bytes += len;
		n++;
	}
	return n ? 0 : FERRY_DONE;
}

/* Abandons a running COPY: cancel, drain, roll back to the stream's savepoint. */
static void end_stream(struct pgsrc *p)
{
	if (p->pending) {
		PQfreemem(p->pending);
		p->pending = NULL;
	}
	if (p->conn && p->copying) {
		char errbuf[256];
		char *row;
		PGresult *r;
		PGcancel *c = PQgetCancel(p->conn);
		int len;

		if (c) {
			PQcancel(c, errbuf, sizeof(errbuf));
			PQfreeCancel(c);
		}
		while ((len = PQgetCopyData(p->conn, &row, 0)) >= 0)
			PQfreemem(row);
		while ((r = PQgetResult(p->conn)))
			PQclear(r);
		r = PQexec(p->conn, "ROLLBACK TO SAVEPOINT ferry_c");
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			/* The snapshot is lost; later reads report the closed connection. */
			PQfinish(p->conn);
			p->conn = NULL;
		}
		PQclear(r);
	}
	p->copying = false;
	p->done = false;
}

static void pg_end(struct ferry_source *src, void *h)
{
	struct pgsrc *p = src->priv;

	if (p)
		end_stream(p);
}

static void pg_close(struct ferry_source *src)
{
	struct pgsrc *p = src->priv;

	if (!p)
		return;
	if (p->copying && p->conn) {
		/* Closing the connection ends the COPY; no need to drain it. */
		p->copying = false;
	}
	end_stream(p);
	if (p->conn)
		PQfinish(p->conn);
	rels_free(p);
	free(p->stream);
	free(p);
	src->priv = NULL;
}

const struct ferry_source_ops ferry_source_postgres = {
	.type = "postgres",
	.summary = "PostgreSQL tables, read with COPY from one consistent snapshot",
	.settings = settings,
	.open = pg_open,
	.discover = pg_discover,
	.begin = pg_begin,
	.read = pg_read,
	.end = pg_end,
	.close = pg_close,
};
