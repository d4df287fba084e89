/*
 * stream.c - stream descriptions, and the type map between PostgreSQL and SQLite.
 *
 * Types travel as PostgreSQL names. SQLite has five storage classes and picks
 * a column's "affinity" from its declared type by substring rules, so the
 * declared type we write is chosen twice over: for the affinity to keep the
 * value exactly (numeric and json get a TEXT-affinity name, or SQLite would
 * turn 1.50 into 1.5), and for ferry_pg_type_of_sqlite_decl to read it back.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "ferry/stream.h"
#include "ferry/connector.h"
#include "ferry/err.h"

void ferry_stream_release(struct ferry_stream *s)
{
	int i;

	free(s->name);
	free(s->source_table);
	free(s->dest_table);
	for (i = 0; i < s->ncols; i++) {
		free(s->cols[i].name);
		free(s->cols[i].pg_type);
	}
	free(s->cols);
	free(s->pk);
	for (i = 0; i < s->nindexes; i++) {
		free(s->indexes[i].name);
		free(s->indexes[i].cols);
	}
	free(s->indexes);
	memset(s, 0, sizeof(*s));
	s->cursor = -1;
}

void ferry_stream_list_release(struct ferry_stream_list *l)
{
	int i;

	for (i = 0; i < l->n; i++)
		ferry_stream_release(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

struct ferry_stream *ferry_stream_list_push(struct ferry_stream_list *l)
{
	struct ferry_stream *v = realloc(l->v, sizeof(*v) * (size_t)(l->n + 1)), *s;

	if (!v)
		return NULL;
	l->v = v;
	s = &v[l->n++];
	memset(s, 0, sizeof(*s));
	s->cursor = -1;
	s->estimate = -1;
	return s;
}

int ferry_stream_add_column(struct ferry_stream *s, const char *name, const char *pg_type,
			    bool not_null)
{
	struct ferry_column *v = realloc(s->cols, sizeof(*v) * (size_t)(s->ncols + 1));

	if (!v)
		return FERRY_ENOMEM;
	s->cols = v;
	v[s->ncols].name = strdup(name);
	v[s->ncols].pg_type = strdup(pg_type);
	if (!v[s->ncols].name || !v[s->ncols].pg_type) {
		free(v[s->ncols].name);
		free(v[s->ncols].pg_type);
		return FERRY_ENOMEM;
	}
	v[s->ncols].kind = ferry_kind_of_pg_type(pg_type);
	v[s->ncols].not_null = not_null;
	s->ncols++;
	return 0;
}

int ferry_stream_column(const struct ferry_stream *s, const char *name)
{
	int i;

	for (i = 0; i < s->ncols; i++)
		if (!strcmp(s->cols[i].name, name))
			return i;
	return -1;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int *dup_ints(const int *v, int n)
{
	int *p;

	if (!n)
		return NULL;
	p = malloc(sizeof(int) * (size_t)n);
	if (p)
		memcpy(p, v, sizeof(int) * (size_t)n);
	return p;
}

int ferry_stream_copy(struct ferry_stream *dst, const struct ferry_stream *src)
{
	int i;

	memset(dst, 0, sizeof(*dst));
	dst->name = dup_or_null(src->name);
	dst->source_table = dup_or_null(src->source_table);
	dst->dest_table = dup_or_null(src->dest_table);
	dst->cursor = src->cursor;
	dst->cursor_unordered = src->cursor_unordered;
	dst->estimate = src->estimate;
	for (i = 0; i < src->ncols; i++)
		if (ferry_stream_add_column(dst, src->cols[i].name, src->cols[i].pg_type,
					    src->cols[i].not_null))
			goto fail;
	dst->pk = dup_ints(src->pk, src->npk);
	dst->npk = src->npk;
	if (src->nindexes) {
		dst->indexes = calloc((size_t)src->nindexes, sizeof(*dst->indexes));
		if (!dst->indexes)
			goto fail;
		dst->nindexes = src->nindexes;
		for (i = 0; i < src->nindexes; i++) {
			dst->indexes[i].name = dup_or_null(src->indexes[i].name);
			dst->indexes[i].cols = dup_ints(src->indexes[i].cols, src->indexes[i].ncols);
			dst->indexes[i].ncols = src->indexes[i].ncols;
			dst->indexes[i].unique = src->indexes[i].unique;
		}
	}
	return 0;
fail:
	ferry_stream_release(dst);
	return FERRY_ENOMEM;
}

static bool starts(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

enum ferry_kind ferry_kind_of_pg_type(const char *t)
{
	size_t n = strlen(t);

	if (n > 2 && !strcmp(t + n - 2, "[]"))
		return FERRY_K_ARRAY;
	if (!strcmp(t, "smallint") || !strcmp(t, "integer") || !strcmp(t, "bigint"))
		return FERRY_K_INT;
	if (!strcmp(t, "real") || !strcmp(t, "double precision"))
		return FERRY_K_FLOAT;
	if (starts(t, "numeric"))
		return FERRY_K_NUMERIC;
	if (!strcmp(t, "boolean"))
		return FERRY_K_BOOL;
	if (!strcmp(t, "date"))
		return FERRY_K_DATE;
	if (starts(t, "timestamp"))
		return strstr(t, "with time zone") && !strstr(t, "without") ? FERRY_K_TIMESTAMPTZ
									  : FERRY_K_TIMESTAMP;
	if (starts(t, "time"))
		return FERRY_K_TIME;
	if (!strcmp(t, "json"))
		return FERRY_K_JSON;
	if (!strcmp(t, "jsonb"))
		return FERRY_K_JSONB;
	if (!strcmp(t, "uuid"))
		return FERRY_K_UUID;
	if (!strcmp(t, "bytea"))
		return FERRY_K_BYTEA;
	if (!strcmp(t, "text") || starts(t, "character") || !strcmp(t, "\"char\"") ||
	    !strcmp(t, "name") || !strcmp(t, "citext"))
		return FERRY_K_TEXT;
	return FERRY_K_OTHER;
}

const char *ferry_sqlite_decl_of(const struct ferry_column *c)
{
	const char *t = c->pg_type;

	switch (c->kind) {
	case FERRY_K_INT:
		return !strcmp(t, "smallint") ? "SMALLINT" : !strcmp(t, "bigint") ? "BIGINT" : "INTEGER";
	case FERRY_K_FLOAT:
		return !strcmp(t, "real") ? "REAL" : "DOUBLE PRECISION";
	case FERRY_K_NUMERIC:
		return "NUMERIC TEXT";
	case FERRY_K_BOOL:
		return "BOOLEAN";
	case FERRY_K_DATE:
		return "DATE";
	case FERRY_K_TIME:
		return strstr(t, "with time zone") && !strstr(t, "without") ? "TIMETZ" : "TIME";
	case FERRY_K_TIMESTAMP:
		return "TIMESTAMP";
	case FERRY_K_TIMESTAMPTZ:
		return "TIMESTAMPTZ";
	case FERRY_K_JSON:
		return "JSON TEXT";
	case FERRY_K_JSONB:
		return "JSONB TEXT";
	case FERRY_K_UUID:
		return "UUID";
	case FERRY_K_BYTEA:
		return "BLOB";
	case FERRY_K_TEXT:
		if (starts(t, "character varying"))
			return "VARCHAR";
		return "TEXT";
	case FERRY_K_ARRAY:
	case FERRY_K_OTHER:
		break;
	}
	return NULL; /* caller uses the PostgreSQL name itself */
}

/*
 * PostgreSQL types ferry_sqlite_decl_of passes through by name (kind OTHER):
 * read back as themselves, not by SQLite's substring rules, which would turn
 * "interval" and "point" (they contain INT) into bigint.
 */
static bool pg_passthrough(const char *up)
{
	static const char *const names[] = {
		"INTERVAL", "POINT", "LINE", "LSEG", "BOX", "PATH", "POLYGON", "CIRCLE", "INET",
		"CIDR", "MACADDR", "MACADDR8", "MONEY", "BIT", "BIT VARYING", "VARBIT", "TSVECTOR",
		"TSQUERY", "XML", "INT4RANGE", "INT8RANGE", "NUMRANGE", "TSRANGE", "TSTZRANGE",
		"DATERANGE", "INT4MULTIRANGE", "INT8MULTIRANGE", "NUMMULTIRANGE", "TSMULTIRANGE",
		"TSTZMULTIRANGE", "DATEMULTIRANGE", "OID", "PG_LSN", "TXID_SNAPSHOT", "PG_SNAPSHOT",
	};
	size_t i, n;

	for (i = 0; i < sizeof(names) / sizeof(*names); i++) {
		n = strlen(names[i]);
		/* the name alone, or followed by a modifier: "bit(8)", "interval day to second" */
		if (!strncmp(up, names[i], n) && (!up[n] || up[n] == '(' || up[n] == ' '))
			return true;
	}
	return false;
}

void ferry_pg_type_of_sqlite_decl(const char *decl, char *out, int outlen)
{
	char up[128];
	const char *r = "text";
	size_t i, n = strlen(decl);

	if (n >= sizeof(up))
		n = sizeof(up) - 1;
	for (i = 0; i < n; i++)
		up[i] = (char)toupper((unsigned char)decl[i]);
	up[n] = '\0';

	if ((n > 2 && !strcmp(up + n - 2, "[]")) || pg_passthrough(up)) {
		for (i = 0; i < n; i++)
			up[i] = (char)tolower((unsigned char)up[i]);
		snprintf(out, (size_t)outlen, "%s", up);
		return;
	}
	if (starts(up, "NUMERIC") || starts(up, "DECIMAL")) {
		const char *paren = strchr(decl, '(');
		if (paren && strchr(paren, ')')) {
			snprintf(out, (size_t)outlen, "numeric%.*s",
				 (int)(strchr(paren, ')') - paren + 1), paren);
			return;
		}
		r = "numeric";
	} else if (starts(up, "JSONB"))
		r = "jsonb";
	else if (starts(up, "JSON"))
		r = "json";
	else if (starts(up, "TIMESTAMPTZ") || (starts(up, "TIMESTAMP") && strstr(up, "WITH TIME ZONE") &&
					      !strstr(up, "WITHOUT")))
		r = "timestamp with time zone";
	else if (starts(up, "TIMESTAMP") || starts(up, "DATETIME"))
		r = "timestamp without time zone";
	else if (!strcmp(up, "DATE"))
		r = "date";
	else if (starts(up, "TIMETZ") || (starts(up, "TIME") && strstr(up, "WITH TIME ZONE") &&
					  !strstr(up, "WITHOUT")))
		r = "time with time zone";
	else if (starts(up, "TIME"))
		r = "time without time zone";
	else if (starts(up, "BOOL"))
		r = "boolean";
	else if (!strcmp(up, "UUID"))
		r = "uuid";
	else if (!strcmp(up, "SMALLINT") || !strcmp(up, "INT2"))
		r = "smallint";
	else if (strstr(up, "INT"))
		r = "bigint"; /* SQLite integers are 64-bit */
	else if (starts(up, "VARCHAR") || starts(up, "CHARACTER VARYING")) {
		const char *paren = strchr(decl, '(');
		if (paren && strchr(paren, ')')) {
			snprintf(out, (size_t)outlen, "character varying%.*s",
				 (int)(strchr(paren, ')') - paren + 1), paren);
			return;
		}
		r = "character varying";
	} else if (strstr(up, "CHAR") || strstr(up, "CLOB") || strstr(up, "TEXT"))
		r = "text";
	else if (strstr(up, "BLOB") || !strcmp(up, "BYTEA"))
		r = "bytea";
	else if (!strcmp(up, "REAL") || strstr(up, "FLOA") || strstr(up, "DOUB"))
		r = "double precision";
	snprintf(out, (size_t)outlen, "%s", r);
}

void ferry_ident_fit(const char *name, char *out, int outlen)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	size_t n = strlen(name);

	if (n <= 63 && (int)n < outlen) {
		memcpy(out, name, n + 1);
		return;
	}
	crypto_hash_sha256(h, (const unsigned char *)name, n);
	snprintf(out, (size_t)outlen, "%.54s_%02x%02x%02x%02x", name, h[0], h[1], h[2], h[3]);
}

/*
 * The types API sources write (DESIGN.md §3), by their format_type() names,
 * and the short names a manifest may use for them. Widening stays inside this
 * set: a database source's types are the source's own and never change.
 */
static const char *api_type(const char *t)
{
	static const char *const names[][2] = {
		{"bigint", "bigint"},
		{"int8", "bigint"},
		{"double precision", "double precision"},
		{"float8", "double precision"},
		{"boolean", "boolean"},
		{"bool", "boolean"},
		{"text", "text"},
		{"jsonb", "jsonb"},
		{"timestamp with time zone", "timestamp with time zone"},
		{"timestamptz", "timestamp with time zone"},
		{"date", "date"},
	};

	for (size_t i = 0; t && i < sizeof(names) / sizeof(*names); i++)
		if (!strcmp(t, names[i][0]))
			return names[i][1];
	return NULL;
}

const char *ferry_pg_type_widen(const char *a, const char *b)
{
	const char *ca = api_type(a), *cb = api_type(b);

	if (!ca || !cb)
		return NULL;
	if (ca == cb)
		return a;
	/* an object or array next to anything: the JSON value holds both */
	if (!strcmp(ca, "jsonb") || !strcmp(cb, "jsonb"))
		return "jsonb";
	/* 3 and 2.5: the number type holds both (bigint -> double -> text) */
	if (!strcmp(ca, "bigint") && !strcmp(cb, "double precision"))
		return "double precision";
	if (!strcmp(ca, "double precision") && !strcmp(cb, "bigint"))
		return "double precision";
	return "text";
}

bool ferry_pg_type_wider(const char *a, const char *b)
{
	const char *w = ferry_pg_type_widen(a, b);

	return w && api_type(w) == api_type(a) && api_type(a) != api_type(b);
}

void ferry_pg_type_fit(const char *have, const char *incoming, const char **widen_to,
		       const char **convert_to)
{
	const char *w = ferry_pg_type_widen(have, incoming);

	*widen_to = *convert_to = NULL;
	if (!w || !strcmp(have, incoming))
		return;
	if (ferry_pg_type_wider(have, incoming)) {
		*convert_to = have;
	} else if (ferry_pg_type_wider(incoming, have)) {
		*widen_to = incoming;
	} else if (ferry_pg_type_wider(w, have) && ferry_pg_type_wider(w, incoming)) {
		*widen_to = w;
		*convert_to = w;
	}
}
