/*
 * test_pg_conn.c - the PostgreSQL connectors: URL checks and connection
 * errors (no server needed), quoting, and - when FERRY_TEST_PG_URL names a
 * database ferry may write to - a full and an incremental sync through the
 * ops tables, in the order the engine calls them.
 *
 * What a user would notice: a typo in a URL said "cannot connect" instead of
 * "malformed", a password printed in an error, a refused port not named, a
 * failed swap that changed the live table, or wrong inserted/updated/deleted
 * counts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include "ferry/connector.h"
#include "util/sqltext.h"
#include "util/pgconn.h"

static const struct ferry_pg_who dest_who = {"destination", "warehouse", FERRY_EDEST};

static void quoting(void **state)
{
	struct ferry_buf b = FERRY_BUF_INIT;

	assert_int_equal(ferry_sql_ident(&b, "we\"ird name"), 0);
	assert_string_equal(b.data, "\"we\"\"ird name\"");
	ferry_buf_reset(&b);
	assert_int_equal(ferry_pg_qname(&b, "sales", "Orders"), 0);
	assert_string_equal(b.data, "\"sales\".\"Orders\"");
	ferry_buf_reset(&b);
	assert_int_equal(ferry_pg_literal(&b, "it's a \\ path"), 0);
	assert_string_equal(b.data, "E'it''s a \\\\ path'");
	ferry_buf_release(&b);
}

static void connect_err(const char *url, int code, struct ferry_err *err)
{
	PGconn *c = (PGconn *)1;

	ferry_err_clear(err);
	assert_int_equal(ferry_pg_connect(url, &dest_who, &c, err), code);
	assert_null(c);
	assert_int_equal(err->code, code);
	assert_null(strstr(err->msg, "s3cret"));
}

static void malformed_urls_are_usage_errors(void **state)
{
	struct ferry_err err;

	connect_err("postgres://bob:s3cret@[::1/db", FERRY_EUSAGE, &err);
	assert_non_null(strstr(err.msg, "destination \"warehouse\": malformed URL: "));
	assert_non_null(strstr(err.msg, "expected postgres://user:password@host:port/dbname"));
	connect_err("postgres://bob:s3cret%ZZ@localhost/db", FERRY_EUSAGE, &err);
	connect_err("postgres://bob:s3cret@localhost/db?nosuchoption=1", FERRY_EUSAGE, &err);
	connect_err("postgres://bob:s3cret@localhost:notaport/db", FERRY_EUSAGE, &err);
	connect_err("mysql://bob:s3cret@localhost/db", FERRY_EUSAGE, &err);
	connect_err("", FERRY_EUSAGE, &err);
}

static void refused_port_is_named_and_retryable(void **state)
{
	struct ferry_err err;

	connect_err("postgres://bob:s3cret@127.0.0.1:1/db", FERRY_ECONNECT, &err);
	assert_true(err.retryable);
	assert_string_equal(err.msg, "cannot connect to destination \"warehouse\" at 127.0.0.1:1: "
				     "connection refused (is PostgreSQL running there?)");
}

static void ops_report_through_err(void **state)
{
	struct ferry_config cfg = {0};
	struct ferry_source src = {.ops = &ferry_source_postgres, .name = "prod", .config = &cfg};
	struct ferry_dest dst = {.ops = &ferry_dest_postgres, .name = "warehouse",
				 .url = "postgresql://x:s3cret@127.0.0.1:1/db"};
	struct ferry_err err = {0};

	assert_int_equal(ferry_config_set(&cfg, "url", "postgres://x:s3cret@127.0.0.1:1/db"), 0);
	assert_int_equal(src.ops->open(&src, &err), FERRY_ECONNECT);
	assert_non_null(strstr(err.msg, "source \"prod\" at 127.0.0.1:1"));
	assert_null(src.priv);
	assert_int_equal(dst.ops->open(&dst, &err), FERRY_ECONNECT);
	assert_null(dst.priv);
	ferry_config_release(&cfg);
}

/* ---- against a real server (FERRY_TEST_PG_URL) ------------------------------ */

static PGconn *admin(void)
{
	PGconn *c = PQconnectdb(getenv("FERRY_TEST_PG_URL"));

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	return c;
}

static void exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

static long long count(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	long long n;

	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	n = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return n;
}

/* One run: discover ferry_t_src.items, write it to schema ferry_t_dst. */
static int sync_items(enum ferry_mode mode, long long run_unix, struct ferry_counts *c,
		      struct ferry_err *err)
{
	const char *url = getenv("FERRY_TEST_PG_URL");
	struct ferry_config cfg = {0};
	struct ferry_source src = {.ops = &ferry_source_postgres, .name = "prod", .config = &cfg};
	struct ferry_dest dst = {.ops = &ferry_dest_postgres, .name = "warehouse", .url = url};
	struct ferry_write_opts o = {.mode = mode, .namespace = "ferry_t_dst", .state_key = "src_t",
				     .run_unix = run_unix, .backup_retention = 0};
	struct ferry_stream_list l = {0};
	struct ferry_batch b;
	char *cursor = NULL, *hi = NULL;
	int rc;

	memset(c, 0, sizeof(*c));
	ferry_batch_init(&b, 1 << 20);
	ferry_config_set(&cfg, "url", url);
	ferry_config_set(&cfg, "tables", "ferry_t_src.items");
	ferry_config_set(&cfg, "cursor.ferry_t_src.items", "updated_at");
	dst.fault = ferry_fault_from_env(err);
	if ((rc = src.ops->open(&src, err)) || (rc = src.ops->discover(&src, &l, err)))
		goto out;
	assert_int_equal(l.n, 1);
	l.v[0].dest_table = strdup("items");
	if ((rc = dst.ops->open(&dst, err)) || (rc = dst.ops->prepare(&dst, &o, l.v, 1, err)))
		goto out;
	if (mode == FERRY_MODE_INCREMENTAL && (rc = dst.ops->get_cursor(&dst, &o, &l.v[0], &cursor, err)))
		goto out;
	struct ferry_read_req req = {.stream = &l.v[0], .cursor_from = cursor,
				     .order_by_cursor = mode == FERRY_MODE_INCREMENTAL,
				     .batch_rows = 7};
	void *h = NULL;
	if ((rc = src.ops->begin(&src, &req, &h, &hi, err)) ||
	    (rc = dst.ops->stream_begin(&dst, &o, &l.v[0], err)))
		goto out;
	for (;;) {
		ferry_batch_reset(&b);
		rc = src.ops->read(&src, h, &b, err);
		if (rc == FERRY_DONE)
			break;
		if (rc)
			goto out;
		assert_true(b.nrows <= 7);
		c->read += b.nrows;
		if ((rc = dst.ops->write(&dst, &o, &l.v[0], &b, hi, c, err)))
			goto out;
	}
	src.ops->end(&src, h);
	if ((rc = dst.ops->stream_end(&dst, &o, &l.v[0], err)))
		goto out;
	if (mode == FERRY_MODE_FULL)
		rc = dst.ops->commit_full(&dst, &o, l.v, 1, &hi, c, err);
out:
	if (rc && dst.priv)
		dst.ops->abort(&dst, &o, l.v, l.n);
	if (dst.priv)
		dst.ops->close(&dst);
	if (src.priv)
		src.ops->close(&src);
	ferry_fault_free(dst.fault);
	free(cursor);
	free(hi);
	ferry_batch_release(&b);
	ferry_stream_list_release(&l);
	ferry_config_release(&cfg);
	return rc;
}

static void full_then_incremental(void **state)
{
	struct ferry_counts c;
	struct ferry_err err = {0};
	PGconn *db;

	if (!getenv("FERRY_TEST_PG_URL"))
		skip();
	db = admin();
	exec(db, "DROP SCHEMA IF EXISTS ferry_t_src CASCADE; DROP SCHEMA IF EXISTS ferry_t_dst CASCADE;"
		 "CREATE SCHEMA ferry_t_src; CREATE TABLE ferry_t_src.items (id int PRIMARY KEY,"
		 " name text, tags text[], doc json, updated_at timestamptz NOT NULL);"
		 "INSERT INTO ferry_t_src.items SELECT g, 'n' || g || E'\\t\\\\', '{a,b}', '{\"k\": 1}',"
		 " '2024-01-01'::timestamptz + g * interval '1 hour' FROM generate_series(1, 50) g");

	assert_int_equal(sync_items(FERRY_MODE_FULL, 1000, &c, &err), 0);
	assert_int_equal(c.read, 50);
	assert_int_equal(c.inserted, 50);
	assert_int_equal(c.deleted, 0);

	/* A failure at the swap leaves the live table exactly as it was. */
	exec(db, "DELETE FROM ferry_t_src.items WHERE id <= 5");
	setenv("FERRY_FAULT", "fail@swap", 1);
	assert_int_equal(sync_items(FERRY_MODE_FULL, 2000, &c, &err), FERRY_EINTERNAL);
	unsetenv("FERRY_FAULT");
	assert_int_equal(count(db, "SELECT count(*) FROM ferry_t_dst.items"), 50);
	assert_int_equal(count(db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'ferry_t_dst'"
				   " AND tablename LIKE 'items\\_%'"), 0);

	assert_int_equal(sync_items(FERRY_MODE_FULL, 3000, &c, &err), 0);
	assert_int_equal(c.inserted, 45);
	assert_int_equal(c.deleted, 5);
	assert_int_equal(count(db, "SELECT count(*) FROM ferry_t_dst.items"), 45);

	/* Incremental: from the stored cursor (inclusive), only changes are written. */
	exec(db, "UPDATE ferry_t_src.items SET name = 'changed', updated_at = '2025-01-01' WHERE id = 10;"
		 "INSERT INTO ferry_t_src.items VALUES (100, 'new', NULL, NULL, '2025-01-02')");
	assert_int_equal(sync_items(FERRY_MODE_INCREMENTAL, 4000, &c, &err), 0);
	assert_int_equal(c.read, 3); /* the row at the old cursor, and the two changes */
	assert_int_equal(c.inserted, 1);
	assert_int_equal(c.updated, 1);
	assert_int_equal(c.unchanged, 1);
	assert_int_equal(count(db, "SELECT count(*) FROM ferry_t_dst.items WHERE name = 'changed'"), 1);
	assert_int_equal(count(db, "SELECT count(*) FROM ferry_t_dst._ferry_state"
				   " WHERE cursor::timestamptz = '2025-01-02'"), 1);
	assert_int_equal(count(db, "SELECT count(*) FROM (SELECT id, name, tags, doc::text, updated_at"
				   " FROM ferry_t_src.items EXCEPT SELECT id, name, tags, doc::text,"
				   " updated_at FROM ferry_t_dst.items) d"), 0);
	exec(db, "DROP SCHEMA ferry_t_src CASCADE; DROP SCHEMA ferry_t_dst CASCADE");
	PQfinish(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(quoting),
		cmocka_unit_test(malformed_urls_are_usage_errors),
		cmocka_unit_test(refused_port_is_named_and_retryable),
		cmocka_unit_test(ops_report_through_err),
		cmocka_unit_test(full_then_incremental),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
