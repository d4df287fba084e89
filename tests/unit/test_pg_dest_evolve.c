/*
 * test_pg_dest_evolve.c - the PostgreSQL destination's schema evolution: the
 * columns of an API stream grow and widen while it is read (DESIGN.md §3).
 *
 * Needs a server: FERRY_TEST_PG_URL names a database ferry may write to
 * (tests/integration/t_evolve.sh runs this program against the ctest
 * cluster); without it every case is skipped.
 *
 * What a user would notice: a sync that failed when page 40 brought a new
 * field or a string where integers were, rows loaded before the change lost
 * or mangled, a later run that narrowed a column and broke the values an
 * earlier run stored, or unchanged rows counted as updated.
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

/* The first value of the first row ("" for NULL); static buffer. */
static const char *one(PGconn *c, const char *sql)
{
	static char out[1024];
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	snprintf(out, sizeof(out), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return out;
}

/*
 * A stream from "name:type,name:type"; the first column is the key. dest:
 * the destination table the engine picked, NULL for a source's shape (the
 * columns a batch carries, which evolve gets).
 */
static void api_stream(struct ferry_stream *s, const char *name, const char *dest, const char *cols)
{
	char buf[256], *save = NULL;

	memset(s, 0, sizeof(*s));
	s->cursor = -1;
	s->estimate = -1;
	s->name = strdup(name);
	s->dest_table = dest ? strdup(dest) : NULL;
	snprintf(buf, sizeof(buf), "%s", cols);
	for (char *c = strtok_r(buf, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(c, ':');
		*colon = '\0';
		assert_int_equal(ferry_stream_add_column(s, c, colon + 1, false), 0);
	}
	s->pk = malloc(sizeof(int));
	s->pk[0] = 0;
	s->npk = 1;
}

/* Writes COPY text rows (one per line) as one batch. */
static int put_rows(struct ferry_dest *d, const struct ferry_write_opts *o,
		    const struct ferry_stream *s, const char *rows, struct ferry_counts *c,
		    struct ferry_err *err)
{
	struct ferry_batch b;
	int rc;

	ferry_batch_init(&b, 1 << 20);
	ferry_buf_adds(&b.data, rows);
	for (const char *p = rows; *p; p++)
		b.nrows += *p == '\n';
	rc = d->ops->write(d, o, s, &b, NULL, c, err);
	ferry_batch_release(&b);
	return rc;
}

static void check(int rc, const struct ferry_err *err)
{
	if (rc)
		fail_msg("rc %d: %s", rc, err->msg);
}

/*
 * Full: mid-COPY a field turns from integers to text, another from integers to
 * objects, a boolean to text, and a new field appears. The rows loaded before
 * are converted, the rows after arrive as sent, and the swap brings it all live.
 */
static void full_mid_copy(void **state)
{
	struct ferry_dest d = {.ops = &ferry_dest_postgres, .name = "warehouse",
			       .url = getenv("FERRY_TEST_PG_URL")};
	struct ferry_write_opts o = {.mode = FERRY_MODE_FULL, .namespace = "ferry_ev",
				     .state_key = "k", .run_unix = 1000};
	struct ferry_stream s, shape, want;
	struct ferry_counts c = {0};
	struct ferry_err err = {0};
	PGconn *db;

	if (!d.url)
		skip();
	db = admin();
	exec(db, "DROP SCHEMA IF EXISTS ferry_ev CASCADE");
	api_stream(&s, "items", "shop_items",
		   "id:text,n:bigint,doc:bigint,b:boolean,at:timestamp with time zone");
	api_stream(&shape, "items", NULL,
		   "id:text,n:text,doc:jsonb,b:text,at:text,extra:double precision");
	api_stream(&want, "items", "shop_items",
		   "id:text,n:text,doc:jsonb,b:text,at:text,extra:double precision");
	check(d.ops->open(&d, &err), &err);
	check(d.ops->prepare(&d, &o, &s, 1, &err), &err);
	check(d.ops->stream_begin(&d, &o, &s, &err), &err);
	check(put_rows(&d, &o, &s, "a\t1\t10\tt\t2024-05-01T10:00:00Z\nb\t2\t\\N\tf\t\\N\n", &c,
		       &err), &err);
	check(d.ops->evolve(&d, &o, &s, &shape, &err), &err);
	check(put_rows(&d, &o, &want, "c\tx7\t{\"k\": [1]}\tmaybe\tsoon\t2.5\n", &c, &err), &err);
	check(d.ops->stream_end(&d, &o, &want, &err), &err);
	check(d.ops->commit_full(&d, &o, &want, 1, NULL, &c, &err), &err);
	d.ops->close(&d);
	assert_int_equal(c.inserted, 3);

	assert_string_equal(one(db, "SELECT string_agg(a.attname || ' ' || format_type(a.atttypid,"
				    " a.atttypmod), ', ' ORDER BY a.attnum) FROM pg_attribute a"
				    " WHERE a.attrelid = 'ferry_ev.shop_items'::regclass AND a.attnum > 0"
				    " AND NOT a.attisdropped"),
			    "id text, n text, doc jsonb, b text, at text, _ferry_synced_at "
			    "timestamp with time zone, extra double precision");
	assert_string_equal(one(db, "SELECT string_agg(concat_ws('|', id, n, doc, b, at, extra),"
				    " ' / ' ORDER BY id) FROM ferry_ev.shop_items"),
			    "a|1|10|true|2024-05-01 10:00:00+00 / b|2|false / "
			    "c|x7|{\"k\": [1]}|maybe|soon|2.5");
	assert_string_equal(one(db, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'ferry_ev'"
				    " AND tablename = 'shop_items' AND indexname = 'shop_items_pkey'"), "1");
	assert_string_equal(one(db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'ferry_ev'"
				    " AND tablename LIKE 'shop\\_items\\_%'"), "0");
	exec(db, "DROP SCHEMA ferry_ev CASCADE");
	PQfinish(db);
	ferry_stream_release(&s);
	ferry_stream_release(&shape);
	ferry_stream_release(&want);
}

/*
 * One incremental stream: begin, the batches, end. Before batch `at` the
 * batches' shape changes: evolve gets the source's shape, and the stream
 * goes on as `later` (shape's columns, the plan's names), as the engine does.
 */
static void incremental(struct ferry_dest *d, const struct ferry_write_opts *o,
			const struct ferry_stream *s, const struct ferry_stream *shape,
			const struct ferry_stream *later, int at, const char *const *batches,
			struct ferry_counts *c)
{
	const struct ferry_stream *cur = s;
	struct ferry_err err = {0};

	memset(c, 0, sizeof(*c));
	check(d->ops->open(d, &err), &err);
	check(d->ops->prepare(d, o, s, 1, &err), &err);
	check(d->ops->stream_begin(d, o, s, &err), &err);
	for (int i = 0; batches[i]; i++) {
		if (later && i == at) {
			check(d->ops->evolve(d, o, cur, shape, &err), &err);
			cur = later;
		}
		check(put_rows(d, o, cur, batches[i], c, &err), &err);
	}
	check(d->ops->stream_end(d, o, cur, &err), &err);
	d->ops->close(d);
}

/*
 * Incremental: the live table from an earlier run has jsonb where this run
 * sees text (kept: the text is stored as a JSON string), a bigint this run
 * widens to double precision mid-stream, and a new column. Unchanged rows stay
 * unchanged through the conversions; a run that is wider than the table widens it.
 */
static void incremental_live_types(void **state)
{
	struct ferry_dest d = {.ops = &ferry_dest_postgres, .name = "warehouse",
			       .url = getenv("FERRY_TEST_PG_URL")};
	struct ferry_write_opts o = {.mode = FERRY_MODE_INCREMENTAL, .namespace = "ferry_ev",
				     .state_key = "k", .run_unix = 2000};
	struct ferry_stream first, s, shape, want, third;
	struct ferry_counts c;
	PGconn *db;

	if (!d.url)
		skip();
	db = admin();
	exec(db, "DROP SCHEMA IF EXISTS ferry_ev CASCADE");
	api_stream(&first, "leads", "crm_leads", "id:bigint,tags:jsonb,score:bigint,mirror:integer");
	api_stream(&s, "leads", "crm_leads", "id:bigint,tags:text,score:bigint,mirror:bigint");
	api_stream(&shape, "leads", NULL, "id:bigint,tags:text,score:double precision,"
					  "mirror:bigint,city:text");
	api_stream(&want, "leads", "crm_leads", "id:bigint,tags:text,score:double precision,"
						"mirror:bigint,city:text");
	api_stream(&third, "leads", "crm_leads",
		   "id:bigint,tags:text,score:text,mirror:bigint,city:text");

	incremental(&d, &o, &first, NULL, NULL, 0,
		    (const char *const[]){"1\t[\"red\"]\t5\t1\n9\t{\"a\": 1}\t9\t9\n", NULL}, &c);
	assert_int_equal(c.inserted, 2);

	incremental(&d, &o, &s, &shape, &want, 1,
		    (const char *const[]){"1\tred\t5\t1\n",
					  "2\tblue\t2.5\t2\tParis\n1\tred\t5\t1\t\\N\n", NULL},
		    &c);
	assert_int_equal(c.inserted, 1);
	assert_int_equal(c.updated, 1);   /* 1: ["red"] -> "red" */
	assert_int_equal(c.unchanged, 1); /* 1 again, the same after conversion */
	assert_string_equal(one(db, "SELECT string_agg(a.attname || ' ' || format_type(a.atttypid,"
				    " a.atttypmod), ', ' ORDER BY a.attnum) FROM pg_attribute a"
				    " WHERE a.attrelid = 'ferry_ev.crm_leads'::regclass AND a.attnum > 0"
				    " AND NOT a.attisdropped"),
			    "id bigint, tags jsonb, score double precision, mirror integer, "
			    "_ferry_synced_at timestamp with time zone, city text");
	assert_string_equal(one(db, "SELECT string_agg(concat_ws('|', id, tags, score, city), ' / '"
				    " ORDER BY id) FROM ferry_ev.crm_leads"),
			    "1|\"red\"|5 / 2|\"blue\"|2.5|Paris / 9|{\"a\": 1}|9");
	assert_string_equal(one(db, "SELECT jsonb_typeof(tags) FROM ferry_ev.crm_leads WHERE id = 2"),
			    "string");

	/* the next run has text where the table has double precision: the table widens */
	incremental(&d, &o, &third, NULL, NULL, 0,
		    (const char *const[]){"3\tgreen\tn/a\t3\t\\N\n2\tblue\t2.5\t2\tParis\n", NULL},
		    &c);
	assert_int_equal(c.inserted, 1);
	assert_int_equal(c.unchanged, 1);
	assert_string_equal(one(db, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute"
				    " WHERE attrelid = 'ferry_ev.crm_leads'::regclass AND attname = 'score'"),
			    "text");
	assert_string_equal(one(db, "SELECT string_agg(score, ',' ORDER BY id) FROM ferry_ev.crm_leads"),
			    "5,2.5,n/a,9");
	exec(db, "DROP SCHEMA ferry_ev CASCADE");
	PQfinish(db);
	ferry_stream_release(&first);
	ferry_stream_release(&s);
	ferry_stream_release(&shape);
	ferry_stream_release(&want);
	ferry_stream_release(&third);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_mid_copy),
		cmocka_unit_test(incremental_live_types),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
