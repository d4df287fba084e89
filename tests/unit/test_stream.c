/*
 * test_stream.c - stream descriptions and the PostgreSQL <-> SQLite type map.
 *
 * The map is checked both ways and against a real SQLite: the declared type
 * ferry writes must make SQLite keep the value exactly (affinity), and must
 * read back as the PostgreSQL type it came from.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "ferry/stream.h"
#include "ferry/connector.h"
#include "ferry/err.h"

static void kinds_of_pg_types(void **state)
{
	static const struct {
		const char *t;
		enum ferry_kind k;
	} cases[] = {
	    {"smallint", FERRY_K_INT},
	    {"integer", FERRY_K_INT},
	    {"bigint", FERRY_K_INT},
	    {"real", FERRY_K_FLOAT},
	    {"double precision", FERRY_K_FLOAT},
	    {"numeric", FERRY_K_NUMERIC},
	    {"numeric(12,2)", FERRY_K_NUMERIC},
	    {"boolean", FERRY_K_BOOL},
	    {"date", FERRY_K_DATE},
	    {"timestamp without time zone", FERRY_K_TIMESTAMP},
	    {"timestamp(3) without time zone", FERRY_K_TIMESTAMP},
	    {"timestamp with time zone", FERRY_K_TIMESTAMPTZ},
	    {"time without time zone", FERRY_K_TIME},
	    {"time with time zone", FERRY_K_TIME},
	    {"json", FERRY_K_JSON},
	    {"jsonb", FERRY_K_JSONB},
	    {"uuid", FERRY_K_UUID},
	    {"bytea", FERRY_K_BYTEA},
	    {"text", FERRY_K_TEXT},
	    {"character varying(20)", FERRY_K_TEXT},
	    {"character(5)", FERRY_K_TEXT},
	    {"integer[]", FERRY_K_ARRAY},
	    {"text[]", FERRY_K_ARRAY},
	    {"interval", FERRY_K_OTHER},
	    {"inet", FERRY_K_OTHER},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		if (ferry_kind_of_pg_type(cases[i].t) != cases[i].k)
			fail_msg("kind of %s: got %d, want %d", cases[i].t,
			         ferry_kind_of_pg_type(cases[i].t), cases[i].k);
	}
}

static void sqlite_decls_read_back(void **state)
{
	static const struct {
		const char *decl, *pg;
	} cases[] = {
	    /* what SQLite users write */
	    {"INTEGER", "bigint"},
	    {"INT", "bigint"},
	    {"int(11)", "bigint"},
	    {"BIGINT", "bigint"},
	    {"TINYINT", "bigint"},
	    {"SMALLINT", "smallint"},
	    {"INT2", "smallint"},
	    {"REAL", "double precision"},
	    {"FLOAT", "double precision"},
	    {"DOUBLE", "double precision"},
	    {"DOUBLE PRECISION", "double precision"},
	    {"TEXT", "text"},
	    {"", "text"},
	    {"CLOB", "text"},
	    {"NCHAR(5)", "text"},
	    {"VARCHAR", "character varying"},
	    {"varchar(20)", "character varying(20)"},
	    {"BLOB", "bytea"},
	    {"NUMERIC", "numeric"},
	    {"DECIMAL(10,2)", "numeric(10,2)"},
	    {"NUMERIC TEXT", "numeric"},
	    {"BOOLEAN", "boolean"},
	    {"BOOL", "boolean"},
	    {"DATE", "date"},
	    {"DATETIME", "timestamp without time zone"},
	    {"TIMESTAMP", "timestamp without time zone"},
	    {"TIMESTAMPTZ", "timestamp with time zone"},
	    {"TIMESTAMP WITH TIME ZONE", "timestamp with time zone"},
	    {"TIME", "time without time zone"},
	    {"TIMETZ", "time with time zone"},
	    {"time with time zone", "time with time zone"},
	    {"JSON", "json"},
	    {"JSON TEXT", "json"},
	    {"JSONB TEXT", "jsonb"},
	    {"UUID", "uuid"},
	    {"integer[]", "integer[]"},
	    {"TEXT[]", "text[]"},
	    /* PostgreSQL names passed through: not bigint because they contain "INT" */
	    {"interval", "interval"},
	    {"point", "point"},
	    {"int4range", "int4range"},
	    {"inet", "inet"},
	    {"bit varying(8)", "bit varying(8)"},
	};
	char out[128];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		ferry_pg_type_of_sqlite_decl(cases[i].decl, out, sizeof(out));
		if (strcmp(out, cases[i].pg))
			fail_msg("\"%s\" read back as \"%s\", want \"%s\"", cases[i].decl, out,
			         cases[i].pg);
	}
}

/* PostgreSQL -> SQLite declared type -> PostgreSQL: the same type, or a documented widening. */
static void pg_types_survive_sqlite(void **state)
{
	static const struct {
		const char *pg, *back;
	} cases[] = {
	    {"smallint", "smallint"},
	    {"integer", "bigint"},
	    {"bigint", "bigint"},
	    {"real", "double precision"},
	    {"double precision", "double precision"},
	    {"numeric", "numeric"},
	    {"numeric(12,2)", "numeric"},
	    {"boolean", "boolean"},
	    {"date", "date"},
	    {"timestamp without time zone", "timestamp without time zone"},
	    {"timestamp with time zone", "timestamp with time zone"},
	    {"time without time zone", "time without time zone"},
	    {"time with time zone", "time with time zone"},
	    {"json", "json"},
	    {"jsonb", "jsonb"},
	    {"uuid", "uuid"},
	    {"bytea", "bytea"},
	    {"text", "text"},
	    {"character varying(20)", "character varying"},
	    {"integer[]", "integer[]"},
	    {"text[]", "text[]"},
	    {"interval", "interval"},
	    {"inet", "inet"},
	};
	struct ferry_stream s;
	char out[128];
	size_t i;

	memset(&s, 0, sizeof(s));
	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const char *decl;
		assert_int_equal(ferry_stream_add_column(&s, "c", cases[i].pg, false), 0);
		decl = ferry_sqlite_decl_of(&s.cols[s.ncols - 1]);
		ferry_pg_type_of_sqlite_decl(decl ? decl : cases[i].pg, out, sizeof(out));
		if (strcmp(out, cases[i].back))
			fail_msg("%s -> SQLite \"%s\" -> \"%s\", want \"%s\"", cases[i].pg,
			         decl ? decl : cases[i].pg, out, cases[i].back);
	}
	ferry_stream_release(&s);
}

/* The declared types make a real SQLite keep exact values: numeric digits, trailing zeros, JSON. */
static void sqlite_keeps_values_exactly(void **state)
{
	static const struct {
		const char *pg, *value, *type;
	} cases[] = {
	    {"numeric", "12345678901234567890.123456789", "text"},
	    {"numeric(12,2)", "1.50", "text"},
	    {"json", "{\"a\": 1.50}", "text"},
	    {"jsonb", "123", "text"},
	    {"bigint", "9223372036854775807", "integer"},
	    {"double precision", "0.1", "real"},
	    {"text", "00123", "text"},
	    {"character varying(20)", "00123", "text"},
	    {"date", "2024-01-31", "text"},
	    {"timestamp with time zone", "2024-01-31 10:00:00+00", "text"},
	    {"uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "text"},
	    {"integer[]", "{1,2,3}", "text"},
	};
	struct ferry_stream s;
	sqlite3 *db;
	size_t i;

	memset(&s, 0, sizeof(s));
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		sqlite3_stmt *st;
		char sql[256];
		const char *decl;

		assert_int_equal(ferry_stream_add_column(&s, "c", cases[i].pg, false), 0);
		decl = ferry_sqlite_decl_of(&s.cols[s.ncols - 1]);
		snprintf(sql, sizeof(sql), "CREATE TABLE t%zu (c \"%s\")", i,
		         decl ? decl : cases[i].pg);
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		snprintf(sql, sizeof(sql), "INSERT INTO t%zu VALUES (?1)", i);
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		sqlite3_bind_text(st, 1, cases[i].value, -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_finalize(st);
		snprintf(sql, sizeof(sql), "SELECT typeof(c), CAST(c AS TEXT) FROM t%zu", i);
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		if (strcmp((const char *)sqlite3_column_text(st, 0), cases[i].type) ||
		    strcmp((const char *)sqlite3_column_text(st, 1), cases[i].value))
			fail_msg("%s as \"%s\": stored %s '%s', want %s '%s'", cases[i].pg, decl,
			         sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
			         cases[i].type, cases[i].value);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	ferry_stream_release(&s);
}

static void stream_copy_and_lookup(void **state)
{
	struct ferry_stream_list l = {0};
	struct ferry_stream *s = ferry_stream_list_push(&l), c;

	assert_non_null(s);
	assert_int_equal(s->cursor, -1);
	assert_int_equal(s->estimate, -1);
	s->name = strdup("users");
	assert_int_equal(ferry_stream_add_column(s, "id", "bigint", true), 0);
	assert_int_equal(ferry_stream_add_column(s, "email", "text", false), 0);
	s->pk = malloc(sizeof(int));
	s->pk[0] = 0;
	s->npk = 1;
	s->cursor = 1;
	assert_int_equal(ferry_stream_column(s, "email"), 1);
	assert_int_equal(ferry_stream_column(s, "nope"), -1);
	assert_int_equal(ferry_stream_copy(&c, s), 0);
	assert_string_equal(c.name, "users");
	assert_int_equal(c.ncols, 2);
	assert_int_equal(c.cols[0].kind, FERRY_K_INT);
	assert_true(c.cols[0].not_null);
	assert_int_equal(c.npk, 1);
	assert_int_equal(c.cursor, 1);
	ferry_stream_release(&c);
	ferry_stream_list_release(&l);
	assert_int_equal(l.n, 0);
}

static void ident_fit_truncates_long_names(void **state)
{
	char out[64], out2[64];
	char long_name[100];

	ferry_ident_fit("users_staging_1700000000", out, sizeof(out));
	assert_string_equal(out, "users_staging_1700000000");
	memset(long_name, 'a', 80);
	strcpy(long_name + 80, "_staging_17");
	ferry_ident_fit(long_name, out, sizeof(out));
	assert_true(strlen(out) <= 63);
	long_name[81] = 'b'; /* a different long name must not collide */
	ferry_ident_fit(long_name, out2, sizeof(out2));
	assert_string_not_equal(out, out2);
}

/* API type widening (DESIGN.md §3): bigint -> double -> text; anything -> jsonb; others untouched. */
static void api_types_widen(void **state)
{
	static const struct {
		const char *a, *b, *want; /* want NULL: leave the column alone */
	} cases[] = {
	    {"bigint", "bigint", "bigint"},
	    {"bigint", "double precision", "double precision"},
	    {"double precision", "bigint", "double precision"},
	    {"bigint", "text", "text"},
	    {"double precision", "text", "text"},
	    {"boolean", "bigint", "text"},
	    {"timestamp with time zone", "text", "text"},
	    {"timestamp with time zone", "date", "text"},
	    {"timestamp with time zone", "bigint", "text"},
	    {"text", "jsonb", "jsonb"},
	    {"jsonb", "bigint", "jsonb"},
	    {"boolean", "jsonb", "jsonb"},
	    {"timestamptz", "timestamp with time zone", "timestamptz"},
	    {"integer", "bigint", NULL},
	    {"numeric(12,2)", "text", NULL},
	    {"text", "integer[]", NULL},
	    {"json", "jsonb", NULL},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const char *got = ferry_pg_type_widen(cases[i].a, cases[i].b);
		if (cases[i].want ? !got || strcmp(got, cases[i].want) : got != NULL)
			fail_msg("widen(%s, %s) = %s, want %s", cases[i].a, cases[i].b,
			         got ? got : "NULL", cases[i].want ? cases[i].want : "NULL");
	}
	assert_true(ferry_pg_type_wider("double precision", "bigint"));
	assert_true(ferry_pg_type_wider("jsonb", "text"));
	assert_true(ferry_pg_type_wider("text", "boolean"));
	assert_false(ferry_pg_type_wider("bigint", "double precision"));
	assert_false(ferry_pg_type_wider("text", "text"));
	assert_false(ferry_pg_type_wider("timestamptz", "timestamp with time zone"));
	assert_false(ferry_pg_type_wider("boolean", "bigint")); /* both become text */
	assert_false(ferry_pg_type_wider("text", "integer"));
}

/* A table column meets a stream's type: widen the column, convert the values, or both. */
static void api_types_fit(void **state)
{
	static const struct {
		const char *have, *incoming, *widen_to, *convert_to;
	} cases[] = {
	    {"bigint", "bigint", NULL, NULL},
	    {"bigint", "double precision", "double precision", NULL},
	    {"jsonb", "text", NULL, "jsonb"},          /* an earlier run's jsonb stays */
	    {"double precision", "bigint", NULL, "double precision"},
	    {"text", "jsonb", "jsonb", NULL},
	    {"boolean", "bigint", "text", "text"},
	    {"timestamp with time zone", "timestamptz", NULL, NULL},
	    {"integer", "bigint", NULL, NULL},         /* a database source's types: untouched */
	    {"numeric(12,2)", "text", NULL, NULL},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const char *to = "x", *conv = "x";
		ferry_pg_type_fit(cases[i].have, cases[i].incoming, &to, &conv);
		if ((cases[i].widen_to ? !to || strcmp(to, cases[i].widen_to) : to != NULL) ||
		    (cases[i].convert_to ? !conv || strcmp(conv, cases[i].convert_to) : conv != NULL))
			fail_msg("fit(%s, %s) = %s, %s", cases[i].have, cases[i].incoming,
			         to ? to : "NULL", conv ? conv : "NULL");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kinds_of_pg_types),
	    cmocka_unit_test(sqlite_decls_read_back),
	    cmocka_unit_test(pg_types_survive_sqlite),
	    cmocka_unit_test(sqlite_keeps_values_exactly),
	    cmocka_unit_test(stream_copy_and_lookup),
	    cmocka_unit_test(ident_fit_truncates_long_names),
	    cmocka_unit_test(api_types_widen),
	    cmocka_unit_test(api_types_fit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
