/*
 * test_sqlite_dest.c - the SQLite source and destination, end to end on real
 * SQLite files: values survive a round trip exactly, incremental runs count
 * inserted / updated / unchanged rows and keep the cursor with them, full
 * runs swap atomically, count deletions, keep views attached, and a failure
 * at the swap leaves the live table as it was.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "ferry/connector.h"

struct fixture {
	char dir[64];
	char src[128];
	char dst[128];
	char url[160];
};

struct run {
	enum ferry_mode mode;
	const char *namespace;
	const char *tables;
	const char *cursor_setting; /* "cursor.people=updated_at" */
	const char *since, *until;
	bool soft_deletes;
	long long retention;
	long long run_unix;
	const char *fault; /* FERRY_FAULT for the destination */
	struct ferry_counts counts[4];
	struct ferry_err err;
	int nstreams;
};

static void sql(const char *path, const char *q)
{
	sqlite3 *db;
	char *msg = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, q, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", q, msg);
	sqlite3_close(db);
}

/* The first column of the first row as text ("" for none or NULL); static buffer. */
static const char *sql1(const char *path, const char *q)
{
	static char out[4096];
	sqlite3 *db;
	sqlite3_stmt *st;

	out[0] = '\0';
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", q, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(out, sizeof(out), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return out;
}

/* One sync run through the ops tables, in the order the engine calls them. */
static int sync_run(const char *src_path, const char *url, struct run *r, char *dump,
                    size_t dumplen)
{
	struct ferry_config cfg = {0};
	struct ferry_source src = {.ops = &ferry_source_sqlite, .name = "src", .config = &cfg};
	struct ferry_dest dst = {.ops = &ferry_dest_sqlite, .name = "dst", .url = url};
	struct ferry_write_opts o = {
	    .mode = r->mode,
	    .namespace = r->namespace,
	    .state_key = "s1",
	    .soft_deletes = r->soft_deletes,
	    .keep_cursor = r->since || r->until,
	    .run_unix = r->run_unix ? r->run_unix : 1000,
	    .backup_retention = r->retention,
	};
	struct ferry_stream_list l = {0};
	char *cursors[4] = {0};
	size_t used = 0;
	int i, rc;

	memset(r->counts, 0, sizeof(r->counts));
	ferry_err_clear(&r->err);
	ferry_config_set(&cfg, "path", src_path);
	if (r->tables)
		ferry_config_set(&cfg, "tables", r->tables);
	if (r->cursor_setting) {
		char k[64];
		const char *eq = strchr(r->cursor_setting, '=');
		snprintf(k, sizeof(k), "%.*s", (int)(eq - r->cursor_setting), r->cursor_setting);
		ferry_config_set(&cfg, k, eq + 1);
	}
	if (r->fault) {
		setenv("FERRY_FAULT", r->fault, 1);
		dst.fault = ferry_fault_from_env(&r->err);
		unsetenv("FERRY_FAULT");
	}
	if (dump)
		dump[0] = '\0';
	if ((rc = src.ops->open(&src, &r->err)))
		goto out_cfg;
	if ((rc = src.ops->discover(&src, &l, &r->err)) || (rc = dst.ops->open(&dst, &r->err)))
		goto out_src;
	r->nstreams = l.n;
	assert_true(l.n <= 4);
	if ((rc = dst.ops->prepare(&dst, &o, l.v, l.n, &r->err)))
		goto fail;
	for (i = 0; i < l.n; i++) {
		struct ferry_stream *s = &l.v[i];
		struct ferry_batch b;
		char *from = NULL, *hi = NULL;
		struct ferry_read_req req = {
		    .stream = s, .since = r->since, .until = r->until, .batch_rows = 2};

		s->dest_table = strdup(s->name);
		if (o.mode == FERRY_MODE_INCREMENTAL && s->cursor >= 0 && !o.keep_cursor &&
		    (rc = dst.ops->get_cursor(&dst, &o, s, &from, &r->err)))
			goto fail;
		void *h = NULL;
		req.cursor_from = from;
		req.order_by_cursor = o.mode == FERRY_MODE_INCREMENTAL && s->cursor >= 0;
		if ((rc = dst.ops->stream_begin(&dst, &o, s, &r->err)) ||
		    (rc = src.ops->begin(&src, &req, &h, &hi, &r->err))) {
			free(from);
			goto fail;
		}
		free(from);
		cursors[i] = hi;
		ferry_batch_init(&b, 1 << 20);
		while ((rc = src.ops->read(&src, h, &b, &r->err)) == 0) {
			if (dump && used + b.data.len < dumplen) {
				memcpy(dump + used, b.data.data, b.data.len + 1);
				used += b.data.len;
			}
			r->counts[i].read += b.nrows;
			/* the cursor travels with the last batch of the stream, as the engine sends
			 * it */
			if ((rc = dst.ops->write(&dst, &o, s, &b, NULL, &r->counts[i], &r->err)))
				break;
			ferry_batch_reset(&b);
		}
		if (rc == FERRY_DONE && o.mode == FERRY_MODE_INCREMENTAL && hi) {
			ferry_batch_reset(&b);
			rc = dst.ops->write(&dst, &o, s, &b, hi, &r->counts[i], &r->err);
		}
		ferry_batch_release(&b);
		src.ops->end(&src, h);
		if (rc < 0 || (rc = dst.ops->stream_end(&dst, &o, s, &r->err)))
			goto fail;
	}
	if (o.mode == FERRY_MODE_FULL &&
	    (rc = dst.ops->commit_full(&dst, &o, l.v, l.n, cursors, r->counts, &r->err)))
		goto fail;
	goto out;
fail:
	dst.ops->abort(&dst, &o, l.v, l.n);
out:
	dst.ops->close(&dst);
out_src:
	src.ops->close(&src);
	for (i = 0; i < 4; i++)
		free(cursors[i]);
	ferry_stream_list_release(&l);
out_cfg:
	ferry_config_release(&cfg);
	ferry_fault_free(dst.fault);
	return rc;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/ferry_test_sqlite_XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->src, sizeof(f->src), "%s/src.db", f->dir);
	snprintf(f->dst, sizeof(f->dst), "%s/dst.db", f->dir);
	snprintf(f->url, sizeof(f->url), "sqlite://%s", f->dst);
	sql(f->src,
	    "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, score REAL, photo "
	    "BLOB,"
	    " amount \"NUMERIC TEXT\", active BOOLEAN, born DATE, seen DATETIME, note VARCHAR(20),"
	    " updated_at INTEGER);"
	    "CREATE INDEX people_name ON people(name);"
	    "INSERT INTO people VALUES"
	    " (1, 'Zoë 日本 😀', 0.1, x'00ff10', '12345678901234567890.123456789', 1, '2024-01-31',"
	    "  '2024-01-31 10:00:00.5', 'a', 100),"
	    " (2, 'tab\there' || char(10) || 'newline\\back\\\\double \\N', 1e300, x'', '0.10', 0,"
	    "  NULL, NULL, '', 200),"
	    " (3, '', -2.5, NULL, NULL, NULL, NULL, NULL, NULL, 300),"
	    " (4, '\\N', 3.141592653589793, x'5c78', '-1e5', 'true', '2000-02-29',"
	    "  '2000-02-29T23:59:59Z', 'x', 400);");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(f);
	return 0;
}

/* Every value comes back as it went in: SQLite -> SQLite -> read again as a source. */
static void values_round_trip(void **state)
{
	struct fixture *f = *state;
	struct run r = {.mode = FERRY_MODE_FULL, .tables = "people"};
	char first[4096], second[4096], url2[200];

	assert_int_equal(sync_run(f->src, f->url, &r, first, sizeof(first)), 0);
	assert_int_equal(r.counts[0].inserted, 4);
	assert_string_equal(
	    sql1(f->dst, "SELECT typeof(amount) || ':' || amount FROM people WHERE id = 1"),
	    "text:12345678901234567890.123456789");
	assert_string_equal(sql1(f->dst, "SELECT amount FROM people WHERE id = 2"), "0.10");
	assert_string_equal(sql1(f->dst, "SELECT hex(photo) FROM people WHERE id = 1"), "00FF10");
	assert_string_equal(sql1(f->dst, "SELECT typeof(photo) FROM people WHERE id = 2"), "blob");
	assert_string_equal(sql1(f->dst, "SELECT name FROM people WHERE id = 4"), "\\N");
	assert_string_equal(sql1(f->dst, "SELECT quote(note) FROM people WHERE id = 2"), "''");
	assert_string_equal(sql1(f->dst, "SELECT quote(note) FROM people WHERE id = 3"), "NULL");
	assert_string_equal(
	    sql1(f->dst, "SELECT typeof(active) || group_concat(active) FROM people"),
	    "integer1,0,1");
	assert_string_equal(sql1(f->dst, "SELECT score FROM people WHERE id = 4"),
	                    "3.14159265358979");
	assert_string_equal(
	    sql1(f->dst, "SELECT score = 3.141592653589793 FROM people WHERE id = 4"), "1");
	assert_string_equal(sql1(f->dst, "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
	                                 "AND tbl_name = 'people' AND sql LIKE '%(\"name\")'"),
	                    "1");

	/* read the destination as a source: the same COPY text (ferry's own columns are skipped) */
	snprintf(url2, sizeof(url2), "sqlite://%s/again.db", f->dir);
	r = (struct run){.mode = FERRY_MODE_FULL, .tables = "people"};
	assert_int_equal(sync_run(f->dst, url2, &r, second, sizeof(second)), 0);
	assert_non_null(
	    strstr(first, "\tZoë 日本 😀\t0.1\t\\\\x00ff10\t12345678901234567890.123456789\tt\t"));
	assert_non_null(
	    strstr(first, "\ttab\\there\\nnewline\\\\back\\\\\\\\double \\\\N\t1e+300\t"));
	assert_string_equal(first, second);
}

static void incremental_counts_and_cursor(void **state)
{
	struct fixture *f = *state;
	struct run r = {.mode = FERRY_MODE_INCREMENTAL,
	                .namespace = "prod",
	                .tables = "people",
	                .cursor_setting = "cursor.people=updated_at"};

	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), 0);
	assert_int_equal(r.counts[0].inserted, 4);
	assert_string_equal(
	    sql1(f->dst, "SELECT cursor FROM prod___ferry_state WHERE stream = 'people'"), "400");
	assert_string_equal(sql1(f->dst, "SELECT count(*) FROM prod__people"), "4");

	/* nothing changed: the row at the cursor is read again and left alone */
	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), 0);
	assert_int_equal(r.counts[0].read, 1);
	assert_int_equal(r.counts[0].unchanged, 1);
	assert_int_equal(r.counts[0].updated + r.counts[0].inserted, 0);

	sql(f->src, "UPDATE people SET score = 9, updated_at = 500 WHERE id = 3;"
	            "INSERT INTO people (id, name, updated_at) VALUES (5, 'new', 600)");
	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), 0);
	assert_int_equal(r.counts[0].read, 3);
	assert_int_equal(r.counts[0].inserted, 1);
	assert_int_equal(r.counts[0].updated, 1);
	assert_int_equal(r.counts[0].unchanged, 1);
	assert_string_equal(sql1(f->dst, "SELECT score FROM prod__people WHERE id = 3"), "9.0");
	assert_string_equal(sql1(f->dst, "SELECT cursor FROM prod___ferry_state"), "600");

	/* a backfill reads its range and leaves the cursor where it was */
	r.since = "100";
	r.until = "300";
	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), 0);
	assert_int_equal(r.counts[0].read, 2);
	assert_int_equal(r.counts[0].unchanged, 2);
	assert_string_equal(sql1(f->dst, "SELECT cursor FROM prod___ferry_state"), "600");
}

static void incremental_refuses_table_without_key(void **state)
{
	struct fixture *f = *state;
	struct run r = {.mode = FERRY_MODE_INCREMENTAL, .tables = "logs"};

	sql(f->src, "CREATE TABLE logs (at TEXT, msg TEXT)");
	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), FERRY_ECONFIG);
	assert_non_null(strstr(r.err.msg, "pk.logs="));
	/* with a key named, it works */
	r.cursor_setting = "pk.logs=at";
	sql(f->src, "INSERT INTO logs VALUES ('t1', 'hello')");
	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), 0);
	assert_int_equal(r.counts[0].inserted, 1);
}

static void full_counts_deletes_and_drops_backups(void **state)
{
	struct fixture *f = *state;
	struct run r = {.mode = FERRY_MODE_FULL, .tables = "people", .run_unix = 1000};

	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), 0);
	sql(f->src, "DELETE FROM people WHERE id IN (2, 3)");
	r.run_unix = 1001;
	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), 0);
	assert_int_equal(r.counts[0].inserted, 2);
	assert_int_equal(r.counts[0].deleted, 2);
	assert_string_equal(sql1(f->dst, "SELECT group_concat(id) FROM people"), "1,4");
	/* retention 0: this run's backup is gone; no staging is left */
	assert_string_equal(sql1(f->dst,
	                         "SELECT count(*) FROM sqlite_master WHERE name LIKE 'people\\_%' "
	                         "ESCAPE '\\' AND type = 'table'"),
	                    "0");

	/* kept for a while with retention: the old rows stay readable in the backup */
	sql(f->src, "DELETE FROM people WHERE id = 4");
	r.run_unix = 1002;
	r.retention = 1 << 30;
	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), 0);
	assert_int_equal(r.counts[0].deleted, 1);
	assert_string_equal(sql1(f->dst, "SELECT count(*) FROM people_backup_1002"), "2");
}

static void full_soft_deletes_keep_rows(void **state)
{
	struct fixture *f = *state;
	struct run r = {
	    .mode = FERRY_MODE_FULL, .tables = "people", .soft_deletes = true, .run_unix = 1000};

	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), 0);
	sql(f->src, "DELETE FROM people WHERE id = 2");
	r.run_unix = 1001;
	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), 0);
	assert_int_equal(r.counts[0].deleted, 1);
	assert_string_equal(sql1(f->dst, "SELECT count(*) FROM people"), "4");
	assert_string_equal(sql1(f->dst, "SELECT group_concat(id) FROM people "
	                                 "WHERE _ferry_deleted_at IS NOT NULL"),
	                    "2");
	/* still gone next time: counted once, the deletion time is kept */
	const char *at = sql1(f->dst, "SELECT _ferry_deleted_at FROM people WHERE id = 2");
	char first_at[64];
	snprintf(first_at, sizeof(first_at), "%s", at);
	r.run_unix = 1002;
	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), 0);
	assert_int_equal(r.counts[0].deleted, 0);
	assert_string_equal(sql1(f->dst, "SELECT _ferry_deleted_at FROM people WHERE id = 2"),
	                    first_at);
}

static void full_swap_keeps_views_attached(void **state)
{
	struct fixture *f = *state;
	struct run r = {.mode = FERRY_MODE_FULL, .tables = "people", .run_unix = 1000};

	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), 0);
	sql(f->dst, "CREATE VIEW named AS SELECT id, name FROM people WHERE name <> ''");
	sql(f->src, "DELETE FROM people WHERE id = 1; ALTER TABLE people ADD COLUMN extra TEXT;"
	            "UPDATE people SET extra = 'e'");
	r.run_unix = 1001;
	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), 0);
	assert_int_equal(r.counts[0].deleted, 1);
	assert_string_equal(sql1(f->dst, "SELECT group_concat(id) FROM named"), "2,4");
	assert_string_equal(sql1(f->dst, "SELECT group_concat(extra) FROM people"), "e,e,e");
}

static void failure_at_swap_leaves_live_table(void **state)
{
	struct fixture *f = *state;
	struct run r = {.mode = FERRY_MODE_FULL, .tables = "people", .run_unix = 1000};

	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), 0);
	sql(f->src, "DELETE FROM people; INSERT INTO people (id, name) VALUES (9, 'only')");
	r.run_unix = 1001;
	r.fault = "fail@swap";
	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), FERRY_EINTERNAL);
	assert_string_equal(sql1(f->dst, "SELECT group_concat(id) FROM people"), "1,2,3,4");
	assert_string_equal(sql1(f->dst,
	                         "SELECT count(*) FROM sqlite_master WHERE name LIKE 'people\\_%' "
	                         "ESCAPE '\\' AND type = 'table'"),
	                    "0");
	r.fault = NULL;
	r.run_unix = 1002;
	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), 0);
	assert_string_equal(sql1(f->dst, "SELECT group_concat(id) FROM people"), "9");
}

static void source_refuses_values_postgres_would_reject(void **state)
{
	struct fixture *f = *state;
	struct run r = {.mode = FERRY_MODE_FULL, .tables = "ages"};

	sql(f->src, "CREATE TABLE ages (id INTEGER PRIMARY KEY, age INTEGER);"
	            "INSERT INTO ages VALUES (16, 30), (17, 'abc')");
	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), FERRY_ESOURCE);
	assert_string_equal(r.err.msg,
	                    "column \"age\" of table \"ages\" holds text 'abc' (rowid 17) but "
	                    "is declared INTEGER: fix the row or declare the column TEXT");
	assert_string_equal(
	    sql1(f->dst, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'ages%'"), "0");
}

static void clear_errors(void **state)
{
	struct fixture *f = *state;
	struct run r = {.mode = FERRY_MODE_FULL, .tables = "people, nope"};
	char path[200], url[220];

	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), FERRY_ENOTFOUND);
	assert_string_equal(r.err.msg,
	                    "table \"nope\" not found in source \"src\" (it has: people)");

	r.tables = NULL;
	snprintf(path, sizeof(path), "%s/missing.db", f->dir);
	assert_int_equal(sync_run(path, f->url, &r, NULL, 0), FERRY_ENOTFOUND);
	assert_non_null(strstr(r.err.msg, "missing.db\" of source \"src\" does not exist"));

	r.cursor_setting = "cursor.people=nocol";
	assert_int_equal(sync_run(f->src, f->url, &r, NULL, 0), FERRY_EUSAGE);
	assert_non_null(strstr(r.err.msg, "it has: id, name, score"));

	r.cursor_setting = NULL;
	snprintf(url, sizeof(url), "sqlite://%s/no/such/dir/x.db", f->dir);
	assert_int_equal(sync_run(f->src, url, &r, NULL, 0), FERRY_ENOTFOUND);
	assert_non_null(strstr(r.err.msg, "/no/such/dir\""));
	assert_int_equal(sync_run(f->src, "sqlite://", &r, NULL, 0), FERRY_EUSAGE);
	assert_non_null(strstr(r.err.msg, "expected sqlite:///path/to/file.db"));
}

/* ---- schema evolution: the destination driven directly, as an API source's rows arrive ---- */

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

/* The declared type of a column, "" when missing. */
static const char *decl(const char *path, const char *table, const char *col)
{
	char q[256];

	snprintf(q, sizeof(q), "SELECT type FROM pragma_table_info('%s') WHERE name = '%s'", table,
	         col);
	return sql1(path, q);
}

/*
 * Full: a new field on a later page adds a column, a field that held integers
 * and now holds text becomes text, booleans become jsonb: the rows loaded before
 * keep their values (converted), the rows after arrive exactly.
 */
static void evolve_full_mid_stream(void **state)
{
	struct fixture *f = *state;
	struct ferry_dest d = {.ops = &ferry_dest_sqlite, .name = "dst", .url = f->url};
	struct ferry_write_opts o = {.mode = FERRY_MODE_FULL, .state_key = "s1", .run_unix = 1000};
	struct ferry_stream s, shape, want;
	struct ferry_counts c = {0};
	struct ferry_err err = {0};

	api_stream(&s, "events", "events", "id:text,n:bigint,flag:boolean,score:bigint");
	api_stream(&shape, "events", NULL,
	           "id:text,n:text,flag:jsonb,score:double precision,meta:jsonb,city:text");
	api_stream(&want, "events", "events",
	           "id:text,n:text,flag:jsonb,score:double precision,meta:jsonb,city:text");
	assert_int_equal(d.ops->open(&d, &err), 0);
	assert_int_equal(d.ops->prepare(&d, &o, &s, 1, &err), 0);
	assert_int_equal(d.ops->stream_begin(&d, &o, &s, &err), 0);
	assert_int_equal(put_rows(&d, &o, &s, "e1\t5\tt\t3\ne2\t\\N\tf\t4\n", &c, &err), 0);
	assert_int_equal(d.ops->evolve(&d, &o, &s, &shape, &err), 0);
	assert_int_equal(put_rows(&d, &o, &want,
	                          "e3\t007\t{\"x\": [1]}\t2.5\t{\"a\": 1}\tParis\n"
	                          "e4\t12345678901234567890\ttrue\t1.50\t\\N\t\\N\n",
	                          &c, &err),
	                 0);
	assert_int_equal(d.ops->stream_end(&d, &o, &want, &err), 0);
	assert_int_equal(d.ops->commit_full(&d, &o, &want, 1, NULL, &c, &err), 0);
	d.ops->close(&d);
	assert_int_equal(c.inserted, 4);

	assert_string_equal(decl(f->dst, "events", "n"), "TEXT");
	assert_string_equal(decl(f->dst, "events", "flag"), "JSONB TEXT");
	assert_string_equal(decl(f->dst, "events", "score"), "DOUBLE PRECISION");
	assert_string_equal(decl(f->dst, "events", "city"), "TEXT");
	/* text stays text: no affinity turning '007' into 7 */
	assert_string_equal(sql1(f->dst, "SELECT group_concat(typeof(n) || ':' || quote(n), ' ') "
	                                 "FROM (SELECT n FROM events ORDER BY id)"),
	                    "text:'5' null:NULL text:'007' text:'12345678901234567890'");
	assert_string_equal(sql1(f->dst, "SELECT group_concat(flag, ' ') FROM "
	                                 "(SELECT flag FROM events ORDER BY id)"),
	                    "true false {\"x\": [1]} true");
	assert_string_equal(sql1(f->dst, "SELECT group_concat(typeof(score) || ':' || score, ' ') "
	                                 "FROM (SELECT score FROM events ORDER BY id)"),
	                    "real:3.0 real:4.0 real:2.5 real:1.5");
	assert_string_equal(sql1(f->dst, "SELECT group_concat(id || '=' || quote(meta) || '/' || "
	                                 "quote(city), ' ') FROM (SELECT * FROM events ORDER BY id)"),
	                    "e1=NULL/NULL e2=NULL/NULL e3='{\"a\": 1}'/'Paris' e4=NULL/NULL");
	/* the key survived the rebuild */
	assert_string_equal(sql1(f->dst, "SELECT pk FROM pragma_table_info('events') "
	                                 "WHERE name = 'id'"),
	                    "1");
	ferry_stream_release(&s);
	ferry_stream_release(&shape);
	ferry_stream_release(&want);
}

/*
 * Incremental: columns added and widened on the live table mid-stream; a
 * later run that infers narrower types than the table has keeps the table's
 * (jsonb stays jsonb, the text arrives as a JSON string) and widens where
 * this run is wider.
 */
static void evolve_incremental_and_next_run(void **state)
{
	struct fixture *f = *state;
	struct ferry_dest d = {.ops = &ferry_dest_sqlite, .name = "dst", .url = f->url};
	struct ferry_write_opts o = {.mode = FERRY_MODE_INCREMENTAL, .state_key = "s1",
	                             .run_unix = 1000};
	struct ferry_stream s, shape, want, next;
	struct ferry_counts c = {0};
	struct ferry_err err = {0};

	sql(f->dst, "CREATE TABLE audit (at TEXT)");
	api_stream(&s, "leads", "leads", "id:bigint,score:bigint,tags:jsonb,active:boolean");
	api_stream(&shape, "leads", NULL,
	           "id:bigint,score:double precision,tags:jsonb,active:boolean,city:text");
	api_stream(&want, "leads", "leads",
	           "id:bigint,score:double precision,tags:jsonb,active:boolean,city:text");
	assert_int_equal(d.ops->open(&d, &err), 0);
	assert_int_equal(d.ops->prepare(&d, &o, &s, 1, &err), 0);
	assert_int_equal(d.ops->stream_begin(&d, &o, &s, &err), 0);
	/* a trigger of the user's on the live table survives the rebuild */
	sql(f->dst, "CREATE TRIGGER leads_audit AFTER INSERT ON leads BEGIN "
	            "INSERT INTO audit VALUES (new.id); END");
	assert_int_equal(put_rows(&d, &o, &s, "1\t5\t[\"red\"]\tt\n2\t6\t\\N\tf\n", &c, &err), 0);
	assert_int_equal(d.ops->evolve(&d, &o, &s, &shape, &err), 0);
	assert_int_equal(put_rows(&d, &o, &want, "1\t5\t[\"red\"]\tt\t\\N\n3\t2.5\t{}\tf\tParis\n",
	                          &c, &err),
	                 0);
	assert_int_equal(d.ops->stream_end(&d, &o, &want, &err), 0);
	d.ops->close(&d);
	assert_int_equal(c.inserted, 3);
	assert_int_equal(c.unchanged, 1);
	assert_string_equal(decl(f->dst, "leads", "score"), "DOUBLE PRECISION");
	assert_string_equal(sql1(f->dst, "SELECT group_concat(typeof(score) || ':' || score || '/' "
	                                 "|| quote(city), ' ') FROM (SELECT * FROM leads ORDER BY id)"),
	                    "real:5.0/NULL real:6.0/NULL real:2.5/'Paris'");
	assert_string_equal(sql1(f->dst, "SELECT count(*) FROM audit"), "3");

	/* the next run infers text for tags and bigint for active: tags stays jsonb, active
	 * (boolean and bigint) becomes text */
	api_stream(&next, "leads", "leads", "id:bigint,score:bigint,tags:text,active:bigint,city:text");
	memset(&c, 0, sizeof(c));
	assert_int_equal(d.ops->open(&d, &err), 0);
	assert_int_equal(d.ops->stream_begin(&d, &o, &next, &err), 0);
	assert_int_equal(put_rows(&d, &o, &next, "1\t5\tred\t7\t\\N\n2\t6\t\\N\t\\N\t\\N\n4\t8\tsay \"hi\"\t1\tRome\n",
	                          &c, &err),
	                 0);
	assert_int_equal(d.ops->stream_end(&d, &o, &next, &err), 0);
	d.ops->close(&d);
	assert_int_equal(c.inserted, 1);
	assert_int_equal(c.updated, 2);
	assert_string_equal(decl(f->dst, "leads", "tags"), "JSONB TEXT");
	assert_string_equal(decl(f->dst, "leads", "active"), "TEXT");
	assert_string_equal(decl(f->dst, "leads", "score"), "DOUBLE PRECISION");
	assert_string_equal(sql1(f->dst, "SELECT group_concat(id || ':' || quote(tags) || ':' || "
	                                 "quote(active), ' ') FROM (SELECT * FROM leads ORDER BY id)"),
	                    "1:'\"red\"':'7' 2:NULL:NULL 3:'{}':'false' 4:'\"say \\\"hi\\\"\"':'1'");
	assert_string_equal(sql1(f->dst, "SELECT group_concat(typeof(score), ' ') FROM leads"),
	                    "real real real real");
	ferry_stream_release(&s);
	ferry_stream_release(&shape);
	ferry_stream_release(&want);
	ferry_stream_release(&next);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(values_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(incremental_counts_and_cursor, setup, teardown),
	    cmocka_unit_test_setup_teardown(incremental_refuses_table_without_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(full_counts_deletes_and_drops_backups, setup, teardown),
	    cmocka_unit_test_setup_teardown(full_soft_deletes_keep_rows, setup, teardown),
	    cmocka_unit_test_setup_teardown(full_swap_keeps_views_attached, setup, teardown),
	    cmocka_unit_test_setup_teardown(failure_at_swap_leaves_live_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(source_refuses_values_postgres_would_reject, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(clear_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(evolve_full_mid_stream, setup, teardown),
	    cmocka_unit_test_setup_teardown(evolve_incremental_and_next_run, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
