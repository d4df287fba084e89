/*
 * test_apirow.c - API records to COPY text rows with learned columns
 * (src/source/apirow.c).
 *
 * What a user sees of an API source is its tables: which columns appear,
 * with which PostgreSQL types, and what lands in each cell. Records are
 * given as JSON (parsed with the tape and turned into fields exactly as
 * rest.c does) or as hand-made fields, and the tests check the published
 * shapes and the encoded lines byte for byte.
 *
 * Tests whose comment starts "Was a bug" caught one; they stay as regression tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "ferry/buf.h"
#include "ferry/copytext.h"
#include "ferry/err.h"
#include "ferry/stream.h"
#include "source/apirow.h"
#include "source/manifest.h"
#include "util/jtape.h"


#define MAXF 64

/* One stream being read: its learned columns, the record in hand, the output. */
struct fx {
	struct ferry_stream s;     /* what discover() gave */
	struct mf_stream ms;       /* the manifest's declared fields */
	struct mf_field decl[8];
	struct apirow a;
	struct jtape t;
	struct ar_field f[MAXF];
	int nf;
	struct ferry_buf out;
	struct ferry_err err;
};

/* The PostgreSQL type rest.c's declare() gives a declared field before any value. */
static const char *decl_pg_type(enum mf_type t)
{
	switch (t) {
	case MF_T_TEXT: return "text";
	case MF_T_BIGINT: return "bigint";
	case MF_T_DOUBLE: return "double precision";
	case MF_T_BOOLEAN: return "boolean";
	case MF_T_JSON: return "jsonb";
	case MF_T_UNIX_SECONDS:
	case MF_T_UNIX_MS:
	case MF_T_RFC3339: return "timestamp with time zone";
	case MF_T_DATE: return "date";
	case MF_T_AUTO: break;
	}
	return "text";
}

/*
 * A stream called name; decls is "field:type" pairs ending in NULL (types
 * as enum mf_type), every declared field a column as discover() makes it.
 */
static struct fx *fx_new(const char *name, const char *pk, ...)
{
	struct fx *x = calloc(1, sizeof(*x));
	va_list ap;
	const char *field;

	assert_non_null(x);
	x->s.name = strdup(name);
	x->s.cursor = -1;
	x->s.estimate = -1;
	x->ms.name = x->s.name;
	x->ms.fields = x->decl;
	if (pk) {
		assert_int_equal(ferry_stream_add_column(&x->s, pk, "text", false), 0);
		x->s.pk = malloc(sizeof(int));
		x->s.pk[0] = 0;
		x->s.npk = 1;
	}
	va_start(ap, pk);
	while ((field = va_arg(ap, const char *))) {
		enum mf_type t = (enum mf_type)va_arg(ap, int);
		assert_true(x->ms.nfields < 8);
		x->decl[x->ms.nfields++] = (struct mf_field){(char *)field, t};
		if (ferry_stream_column(&x->s, field) < 0)
			assert_int_equal(ferry_stream_add_column(&x->s, field, decl_pg_type(t), false), 0);
	}
	va_end(ap);
	ferry_buf_init(&x->out, 0);
	assert_int_equal(apirow_init(&x->a, &x->s, &x->ms, &x->err), 0);
	return x;
}

static void fx_free(struct fx *x)
{
	apirow_release(&x->a);
	jt_release(&x->t);
	ferry_buf_release(&x->out);
	ferry_stream_release(&x->s);
	free(x);
}

/* The record's fields as rest.c's prepare() makes them from the tape. */
static void fields_of(struct fx *x, const char *json)
{
	char msg[256];

	if (jt_parse(&x->t, json, strlen(json), msg, sizeof(msg)))
		fail_msg("test record %s: %s", json, msg);
	assert_int_equal(jt_type(&x->t, 0), JT_OBJECT);
	x->nf = 0;
	for (int k = jt_first(&x->t, 0); k >= 0; k = jt_sibling(&x->t, 0, k + 1)) {
		size_t len = 0;
		const char *name = jt_text(&x->t, k, NULL), *text = jt_raw(&x->t, k + 1, &len);
		assert_true(x->nf < MAXF);
		x->f[x->nf++] = (struct ar_field){name, strlen(name),
						  {jt_type(&x->t, k + 1), text ? text : "", text ? len : 0}};
	}
}

/* Scans a record; returns must_publish. */
static bool scan(struct fx *x, const char *json)
{
	bool publish = false;

	fields_of(x, json);
	assert_int_equal(apirow_scan(&x->a, x->f, x->nf, &publish, &x->err), 0);
	return publish;
}

static const struct ferry_stream *publish(struct fx *x)
{
	const struct ferry_stream *shape = NULL;

	assert_int_equal(apirow_publish(&x->a, &shape, &x->err), 0);
	assert_non_null(shape);
	assert_ptr_equal(apirow_shape(&x->a), shape);
	return shape;
}

/* The COPY line of the record last scanned. */
static const char *encode(struct fx *x)
{
	ferry_buf_reset(&x->out);
	assert_int_equal(apirow_encode(&x->a, &x->out, &x->err), 0);
	return x->out.data;
}

/* Scans, publishes when asked to, encodes: the line. */
static const char *row(struct fx *x, const char *json)
{
	if (scan(x, json))
		publish(x);
	return encode(x);
}

/* The shape's columns as "name type, name type". */
static const char *cols_of(const struct ferry_stream *s)
{
	static char buf[1024];
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < s->ncols; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s %s", i ? ", " : "", s->cols[i].name,
				      s->cols[i].pg_type);
	return buf;
}

/* ---- shapes -------------------------------------------------------------- */

static void first_record_publishes_its_shape(void **state)
{
	struct fx *x = fx_new("charges", NULL, NULL);
	const struct ferry_stream *s;

	assert_null(apirow_shape(&x->a));
	assert_true(scan(x, "{\"id\": 42, \"amount\": 1.5, \"paid\": true, \"refunded\": false,"
			    " \"desc\": \"x\", \"meta\": {\"a\": 1}, \"tags\": [\"a\"], \"gone\": null}"));
	s = publish(x);
	assert_string_equal(cols_of(s), "id bigint, amount double precision, paid boolean, "
					"refunded boolean, desc text, meta jsonb, tags jsonb");
	assert_string_equal(s->name, "charges");
	assert_int_equal(s->cols[0].kind, FERRY_K_INT);
	assert_int_equal(s->cols[1].kind, FERRY_K_FLOAT);
	assert_int_equal(s->cols[2].kind, FERRY_K_BOOL);
	assert_int_equal(s->cols[4].kind, FERRY_K_TEXT);
	assert_int_equal(s->cols[5].kind, FERRY_K_JSONB);
	assert_int_equal(s->cursor, -1);
	assert_int_equal(s->npk, 0);
	assert_string_equal(encode(x), "42\t1.5\ttrue\tfalse\tx\t{\"a\": 1}\t[\"a\"]\n");

	/* the same kind of record again: nothing to publish */
	assert_false(scan(x, "{\"id\": 43, \"amount\": 2, \"paid\": false}"));
	assert_ptr_equal(apirow_shape(&x->a), s);
	assert_string_equal(encode(x), "43\t2\tfalse\t\\N\t\\N\t\\N\t\\N\n");
	fx_free(x);
}

/* Declared fields: key and cursor columns first, times as timestamptz, the key kept. */
static void declared_fields(void **state)
{
	struct fx *x = fx_new("events", "id", "created", MF_T_UNIX_SECONDS, "seen_ms", MF_T_UNIX_MS,
			      "updated", MF_T_RFC3339, "day", MF_T_DATE, "note", MF_T_TEXT,
			      "score", MF_T_DOUBLE, "raw", MF_T_JSON, NULL);
	const struct ferry_stream *s;

	x->s.cursor = 3;
	apirow_release(&x->a);
	assert_int_equal(apirow_init(&x->a, &x->s, &x->ms, &x->err), 0);
	assert_true(scan(x, "{\"id\": \"evt_1\", \"created\": 1700000000, \"seen_ms\": 1700000000123,"
			    " \"updated\": \"2024-05-01T10:00:00+02:00\", \"day\": \"2024-05-01\","
			    " \"note\": 17, \"score\": 3, \"raw\": \"s\", \"extra\": 1}"));
	s = publish(x);
	assert_string_equal(cols_of(s), "id text, created timestamp with time zone, "
					"seen_ms timestamp with time zone, updated timestamp with time zone, "
					"day date, note text, score double precision, raw jsonb, extra bigint");
	assert_int_equal(s->cols[1].kind, FERRY_K_TIMESTAMPTZ);
	assert_int_equal(s->cols[4].kind, FERRY_K_DATE);
	assert_int_equal(s->npk, 1);
	assert_int_equal(s->pk[0], 0);
	assert_int_equal(s->cursor, 3);
	assert_string_equal(encode(x), "evt_1\t2023-11-14T22:13:20Z\t2023-11-14T22:13:20.123000Z\t"
				       "2024-05-01T10:00:00+02:00\t2024-05-01\t17\t3\t\"s\"\t1\n");
	fx_free(x);
}

/* A declared key without a type takes its values' type; "_ferry_key" is always text. */
static void key_columns(void **state)
{
	struct fx *x = fx_new("leads", "id", NULL);
	const struct ferry_stream *s;

	assert_true(scan(x, "{\"id\": 7, \"name\": \"a\"}"));
	s = publish(x);
	assert_string_equal(cols_of(s), "id bigint, name text");
	assert_int_equal(s->npk, 1);
	assert_int_equal(s->pk[0], 0);
	assert_string_equal(encode(x), "7\ta\n");
	fx_free(x);

	x = fx_new("leads", "_ferry_key", NULL);
	fields_of(x, "{\"email\": \"a@b\"}");
	x->f[x->nf++] = (struct ar_field){"_ferry_key", 10, {JT_STRING, "00ff", 4}};
	{
		bool pub;
		assert_int_equal(apirow_scan(&x->a, x->f, x->nf, &pub, &x->err), 0);
		assert_true(pub);
	}
	s = publish(x);
	assert_string_equal(cols_of(s), "_ferry_key text, email text");
	assert_string_equal(encode(x), "00ff\ta@b\n");
	fx_free(x);
}

/* ---- cells --------------------------------------------------------------- */

static void encoding_is_exact(void **state)
{
	struct fx *x = fx_new("notes", NULL, NULL);
	const struct ferry_stream *s;

	/* COPY escapes in text; "\N" as text is not NULL; empty is not NULL */
	assert_string_equal(row(x, "{\"t\": \"a\\tb\\nc\\\\d\\re\", \"n\": \"\\\\N\", \"e\": \"\","
				   " \"z\": null, \"u\": \"caf\\u00e9 \\ud83d\\ude00\"}"),
			    "a\\tb\\nc\\\\d\\re\t\\\\N\t\tcaf\xc3\xa9 \xf0\x9f\x98\x80\n");
	s = apirow_shape(&x->a);
	assert_string_equal(cols_of(s), "t text, n text, e text, u text");

	/* a missing field and a null are \N */
	assert_false(scan(x, "{\"u\": null, \"e\": \"x\"}"));
	assert_string_equal(encode(x), "\\N\t\\N\tx\t\\N\n");
	fx_free(x);

	/* nested objects and arrays: their own JSON text, COPY-escaped (its "\n" stays two characters) */
	x = fx_new("cards", NULL, NULL);
	assert_string_equal(row(x, "{\"o\": { \"s\" : \"x\\ny\\t\\\\\", \"a\": [1, 2.50, null] },"
				   " \"a\": [ {}, [] ], \"e\": {}}"),
			    "{ \"s\" : \"x\\\\ny\\\\t\\\\\\\\\", \"a\": [1, 2.50, null] }\t[ {}, [] ]\t{}\n");
	assert_string_equal(cols_of(apirow_shape(&x->a)), "o jsonb, a jsonb, e jsonb");
	/* scalars in a jsonb column: JSON text; a string is a quoted, escaped JSON string */
	assert_false(scan(x, "{\"o\": \"he said \\\"hi\\\"\\n\\\\ \\u0001\", \"a\": 12.5, \"e\": true}"));
	assert_string_equal(encode(x), "\"he said \\\\\"hi\\\\\"\\\\u000a\\\\\\\\ \\\\u0001\"\t12.5\ttrue\n");
	assert_false(scan(x, "{\"o\": false, \"a\": -3, \"e\": \"caf\\u00e9\"}"));
	assert_string_equal(encode(x), "false\t-3\t\"caf\xc3\xa9\"\n");
	fx_free(x);
}

/* The same line from hand-made fields: apirow does not need a tape. */
static void hand_made_fields(void **state)
{
	struct fx *x = fx_new("t", NULL, NULL);
	const struct ar_field f[] = {
		{"id", 2, {JT_INT, "9", 1}},
		{"ok", 2, {JT_TRUE, "", 0}},
		{"obj", 3, {JT_OBJECT, "{\"k\":[1]}", 9}},
		{"nothing", 7, {JT_NULL, "", 0}},
		{"s", 1, {JT_STRING, "tab\there", 8}},
	};
	bool pub;

	assert_int_equal(apirow_scan(&x->a, f, 5, &pub, &x->err), 0);
	assert_true(pub);
	assert_string_equal(cols_of(publish(x)), "id bigint, ok boolean, obj jsonb, s text");
	assert_string_equal(encode(x), "9\ttrue\t{\"k\":[1]}\ttab\\there\n");
	assert_ptr_equal(apirow_value(&x->a, 0), &f[0].v);
	assert_ptr_equal(apirow_value(&x->a, 3), &f[4].v);
	assert_null(apirow_value(&x->a, 4));
	assert_null(apirow_value(&x->a, -1));
	fx_free(x);
}

/* ---- learning ------------------------------------------------------------ */

static void new_field_appends_a_column(void **state)
{
	struct fx *x = fx_new("users", NULL, NULL);
	const struct ferry_stream *s1, *s2;

	assert_true(scan(x, "{\"id\": 1}"));
	s1 = publish(x);
	assert_string_equal(encode(x), "1\n");
	assert_true(scan(x, "{\"id\": 2, \"name\": \"x\"}"));
	s2 = publish(x);
	assert_true(s2 != s1);
	assert_string_equal(cols_of(s1), "id bigint");
	assert_string_equal(cols_of(s2), "id bigint, name text");
	assert_string_equal(encode(x), "2\tx\n");
	/* older records fit the new shape: missing is \N */
	assert_false(scan(x, "{\"id\": 3}"));
	assert_string_equal(encode(x), "3\t\\N\n");
	/* fields in another order land in their columns */
	assert_false(scan(x, "{\"name\": \"y\", \"id\": 4}"));
	assert_string_equal(encode(x), "4\ty\n");
	/* two new fields at once, after the existing ones, in record order */
	assert_true(scan(x, "{\"b\": true, \"id\": 5, \"a\": 0.5}"));
	assert_string_equal(cols_of(publish(x)), "id bigint, name text, b boolean, a double precision");
	assert_string_equal(encode(x), "5\t\\N\ttrue\t0.5\n");
	fx_free(x);
}

/* A null never makes a column; the first non-null value decides its type. */
static void nulls_make_no_column(void **state)
{
	struct fx *x = fx_new("users", NULL, NULL);

	assert_true(scan(x, "{\"id\": 1, \"x\": null}"));
	assert_string_equal(cols_of(publish(x)), "id bigint");
	assert_string_equal(encode(x), "1\n");
	assert_false(scan(x, "{\"id\": null, \"x\": null}"));
	assert_string_equal(encode(x), "\\N\n");
	assert_true(scan(x, "{\"id\": 3, \"x\": 5}"));
	assert_string_equal(cols_of(publish(x)), "id bigint, x bigint");
	/* a null in a typed column changes nothing */
	assert_false(scan(x, "{\"id\": 4, \"x\": null}"));
	assert_string_equal(encode(x), "4\t\\N\n");
	fx_free(x);
}

/* Widening (DESIGN.md §3): bigint -> double precision -> text; anything -> jsonb. */
static void widening(void **state)
{
	static const struct {
		const char *first, *then;
		const char *type;      /* after both */
		const char *line;      /* the second value's cell */
	} cases[] = {
		{"1", "1.5", "double precision", "1.5"},
		{"1.5", "2", "double precision", "2"},
		{"1", "\"a\"", "text", "a"},
		{"1.5", "\"a\"", "text", "a"},
		{"true", "1", "text", "1"},
		{"1", "false", "text", "false"},
		{"\"a\"", "2.5", "text", "2.5"},
		{"\"a\"", "true", "text", "true"},
		{"1", "{\"k\": 1}", "jsonb", "{\"k\": 1}"},
		{"\"a\"", "[1]", "jsonb", "[1]"},
		{"true", "{}", "jsonb", "{}"},
		{"1.5", "[]", "jsonb", "[]"},
		{"{}", "1", "jsonb", "1"},
		{"[]", "\"s\"", "jsonb", "\"s\""},
		{"{}", "true", "jsonb", "true"},
		{"9223372036854775807", "9223372036854775808", "text", "9223372036854775808"},
	};
	char json[128], json2[128], line[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct fx *x = fx_new("w", NULL, NULL);
		const struct ferry_stream *s1, *s2;
		bool same = false;
		snprintf(json, sizeof(json), "{\"v\": %s}", cases[i].first);
		assert_true(scan(x, json));
		s1 = publish(x);
		/* the record's fields point into its JSON text: keep it while encoding */
		snprintf(json2, sizeof(json2), "{\"v\": %s}", cases[i].then);
		same = !scan(x, json2);
		s2 = same ? s1 : publish(x);
		if (strcmp(s2->cols[0].pg_type, cases[i].type) || same != !strcmp(s1->cols[0].pg_type, cases[i].type))
			fail_msg("%s then %s: %s (published again: %d), want %s", cases[i].first, cases[i].then,
				 s2->cols[0].pg_type, !same, cases[i].type);
		snprintf(line, sizeof(line), "%s\n", cases[i].line);
		assert_string_equal(encode(x), line);
		/* and the column never narrows back */
		snprintf(json, sizeof(json), "{\"v\": %s}", cases[i].first);
		assert_false(scan(x, json));
		assert_string_equal(apirow_shape(&x->a)->cols[0].pg_type, cases[i].type);
		fx_free(x);
	}
}

/* Integers beyond int64 are text; those at its edges are bigint. */
static void integers_beyond_int64(void **state)
{
	static const struct {
		const char *v, *type;
	} cases[] = {
		{"9223372036854775807", "bigint"},
		{"-9223372036854775808", "bigint"},
		{"123456789012345678", "bigint"},
		{"9223372036854775808", "text"},
		{"-9223372036854775809", "text"},
		{"99999999999999999999999", "text"},
	};
	char json[128], line[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct fx *x = fx_new("n", NULL, NULL);
		snprintf(json, sizeof(json), "{\"v\": %s}", cases[i].v);
		snprintf(line, sizeof(line), "%s\n", cases[i].v);
		assert_string_equal(row(x, json), line);
		if (strcmp(apirow_shape(&x->a)->cols[0].pg_type, cases[i].type))
			fail_msg("%s: %s, want %s", cases[i].v, apirow_shape(&x->a)->cols[0].pg_type,
				 cases[i].type);
		fx_free(x);
	}
}

/* ---- declared times ------------------------------------------------------ */

static void unix_times(void **state)
{
	static const struct {
		enum mf_type decl;
		const char *v, *cell;
	} cases[] = {
		{MF_T_UNIX_SECONDS, "1700000000", "2023-11-14T22:13:20Z"},
		{MF_T_UNIX_SECONDS, "\"1700000000\"", "2023-11-14T22:13:20Z"}, /* a numeric string */
		{MF_T_UNIX_SECONDS, "1700000000.5", "2023-11-14T22:13:20.500000Z"},
		{MF_T_UNIX_SECONDS, "1700000000.123456", "2023-11-14T22:13:20.123456Z"},
		{MF_T_UNIX_SECONDS, "0", "1970-01-01T00:00:00Z"},
		{MF_T_UNIX_SECONDS, "-1", "1969-12-31T23:59:59Z"},
		{MF_T_UNIX_SECONDS, "-1.5", "1969-12-31T23:59:58.500000Z"},
		{MF_T_UNIX_SECONDS, "1.7e9", "2023-11-14T22:13:20Z"},
		{MF_T_UNIX_MS, "1700000000123", "2023-11-14T22:13:20.123000Z"},
		{MF_T_UNIX_MS, "1700000000123.5", "2023-11-14T22:13:20.123500Z"},
		{MF_T_UNIX_MS, "1700000000000", "2023-11-14T22:13:20Z"},
		{MF_T_UNIX_MS, "-1", "1969-12-31T23:59:59.999000Z"},
	};
	char json[128], line[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct fx *x = fx_new("e", NULL, "at", cases[i].decl, NULL);
		snprintf(json, sizeof(json), "{\"at\": %s}", cases[i].v);
		snprintf(line, sizeof(line), "%s\n", cases[i].cell);
		assert_string_equal(row(x, json), line);
		assert_string_equal(apirow_shape(&x->a)->cols[0].pg_type, "timestamp with time zone");
		fx_free(x);
	}
}

/* rfc3339 passes through as the API wrote it; what is not a time widens the column to text. */
static void rfc3339_and_dates(void **state)
{
	struct fx *x = fx_new("e", NULL, "at", MF_T_RFC3339, "day", MF_T_DATE, NULL);
	const struct ferry_stream *s1, *s2;

	assert_true(scan(x, "{\"at\": \"2024-05-01T10:00:00.123+02:00\", \"day\": \"2024-05-01\"}"));
	s1 = publish(x);
	assert_string_equal(cols_of(s1), "at timestamp with time zone, day date");
	assert_string_equal(encode(x), "2024-05-01T10:00:00.123+02:00\t2024-05-01\n");
	assert_false(scan(x, "{\"at\": \"2024-05-01 10:00:00Z\", \"day\": null}"));
	assert_string_equal(encode(x), "2024-05-01 10:00:00Z\t\\N\n");

	/* an invalid date: the column becomes text and keeps the value */
	assert_true(scan(x, "{\"at\": \"2024-13-01T00:00:00Z\"}"));
	s2 = publish(x);
	assert_string_equal(cols_of(s2), "at text, day date");
	assert_string_equal(encode(x), "2024-13-01T00:00:00Z\t\\N\n");
	/* valid times after that are text as they came */
	assert_false(scan(x, "{\"at\": \"2024-05-01T10:00:00Z\"}"));
	assert_string_equal(encode(x), "2024-05-01T10:00:00Z\t\\N\n");
	/* the earlier shape is untouched */
	assert_string_equal(cols_of(s1), "at timestamp with time zone, day date");

	/* a date field given a timestamp, or a number: text */
	assert_true(scan(x, "{\"day\": \"2024-05-01T00:00:00Z\"}"));
	assert_string_equal(cols_of(publish(x)), "at text, day text");
	assert_string_equal(encode(x), "\\N\t2024-05-01T00:00:00Z\n");
	fx_free(x);

	x = fx_new("e", NULL, "at", MF_T_RFC3339, NULL);
	assert_true(scan(x, "{\"at\": 1700000000}"));
	assert_string_equal(cols_of(publish(x)), "at text");
	assert_string_equal(encode(x), "1700000000\n");
	fx_free(x);

	/* unix_seconds given something that is no number */
	x = fx_new("e", NULL, "at", MF_T_UNIX_SECONDS, NULL);
	assert_true(scan(x, "{\"at\": \"soon\"}"));
	assert_string_equal(cols_of(publish(x)), "at text");
	assert_string_equal(encode(x), "soon\n");
	fx_free(x);
}

/*
 * Was a bug: dates that do not exist pass ar_parse_time (it checks day <= 31
 * only), so a declared rfc3339/date column stays a time and PostgreSQL
 * rejects the batch instead of the column widening to text.
 */
static void impossible_dates_widen(void **state)
{
	struct fx *x;
	long long us;

	/* day <= 31 is all that is checked: these become March 1/2 and May 1 */
	assert_false(ar_parse_time("2024-02-30T10:00:00Z", &us));
	assert_false(ar_parse_time("2023-02-29", &us));
	assert_false(ar_parse_time("2024-04-31", &us));
	x = fx_new("e", NULL, "at", MF_T_RFC3339, NULL);
	assert_true(scan(x, "{\"at\": \"2024-02-30T10:00:00Z\"}"));
	/* PostgreSQL: date/time field value out of range: "2024-02-30T10:00:00Z" */
	assert_string_equal(cols_of(publish(x)), "at text");
	fx_free(x);
}

/*
 * Was a bug: unix_seconds/unix_ms values past what microseconds in a long long
 * hold (about 9.2e12 s, the year 294247) pass the 1e14 bound in apirow_cell:
 * llround() overflows, and ar_format_time(LLONG_MIN) negates LLONG_MIN (UB,
 * an abort under -fsanitize=undefined). 5e13 is written as
 * "294247-01-10T04:00:53.1775808Z"; past 1e14 the cell is \N while
 * type_of() still says timestamptz, so the value is lost without a word.
 * Expected: such values widen the column to text and keep the number.
 */
static void unix_times_out_of_range(void **state)
{
	static const char *const values[] = {"5e13", "1e15", "-5e13", "1e300"};
	char json[64], line[64];

	for (size_t i = 0; i < sizeof(values) / sizeof(*values); i++) {
		struct fx *x = fx_new("e", NULL, "at", MF_T_UNIX_SECONDS, NULL);
		snprintf(json, sizeof(json), "{\"at\": %s}", values[i]);
		snprintf(line, sizeof(line), "%s\n", values[i]);
		assert_string_equal(row(x, json), line);
		assert_string_equal(cols_of(apirow_shape(&x->a)), "at text");
		fx_free(x);
	}
}

/* ---- time helpers -------------------------------------------------------- */

static void parse_time(void **state)
{
	static const struct {
		const char *s;
		long long us;
	} good[] = {
		{"1970-01-01", 0},
		{"1970-01-01T00:00:00Z", 0},
		{"2023-11-14T22:13:20Z", 1700000000000000LL},
		{"2023-11-14t22:13:20z", 1700000000000000LL},
		{"2023-11-14 22:13:20Z", 1700000000000000LL},
		{"2023-11-15T00:13:20+02:00", 1700000000000000LL},
		{"2023-11-14T17:13:20-0500", 1700000000000000LL},
		{"2023-11-15T00:13:20+02", 1700000000000000LL},
		{"2023-11-14T22:13:20", 1700000000000000LL},  /* no zone: UTC */
		{"2023-11-14T22:13Z", 1699999980000000LL},    /* no seconds */
		{"2023-11-14T22:13:20.5Z", 1700000000500000LL},
		{"2023-11-14T22:13:20,25Z", 1700000000250000LL},
		{"2023-11-14T22:13:20.123456Z", 1700000000123456LL},
		{"2023-11-14T22:13:20.1234569Z", 1700000000123456LL}, /* past microseconds: cut */
		{"2024-05-01 10:00:00.123+02:00", 1714550400123000LL},
		{"1969-12-31T23:59:59.5Z", -500000LL},
		{"1969-12-31T23:59:59Z", -1000000LL},
		{"1900-01-01T00:00:00Z", -2208988800000000LL},
		{"2000-02-29", 951782400000000LL},
		{"9999-12-31T23:59:59Z", 253402300799000000LL},
	};
	static const char *const bad[] = {
		"", "2024", "2024-05", "2024-5-01", "24-05-01", "2024-13-01", "2024-00-10",
		"2024-05-32", "2024-05-00", "2024/05/01", "2024-05-01x", "2024-05-01T",
		"2024-05-01T10", "2024-05-01T24:00:00Z", "2024-05-01T10:60:00Z",
		"2024-05-01T10:00:61Z", "2024-05-01T10:00:00.Z", "2024-05-01T10:00:00Zjunk",
		"2024-05-01T10:00:00+2", "2024-05-01T10:00:00+02:0", " 2024-05-01", "abcd-ef-gh",
		"1700000000",
	};
	long long us;

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		us = 42;
		if (!ar_parse_time(good[i].s, &us) || us != good[i].us)
			fail_msg("ar_parse_time(\"%s\"): %lld, want %lld", good[i].s, us, good[i].us);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		if (ar_parse_time(bad[i], &us))
			fail_msg("ar_parse_time(\"%s\") accepted it: %lld", bad[i], us);
}

static void format_time_round_trips(void **state)
{
	static const struct {
		long long us;
		const char *s;
	} cases[] = {
		{0, "1970-01-01T00:00:00Z"},
		{1700000000000000LL, "2023-11-14T22:13:20Z"},
		{1700000000123456LL, "2023-11-14T22:13:20.123456Z"},
		{1700000000000001LL, "2023-11-14T22:13:20.000001Z"},
		{-1, "1969-12-31T23:59:59.999999Z"},
		{-999999, "1969-12-31T23:59:59.000001Z"},
		{-1000000, "1969-12-31T23:59:59Z"},
		{-1000001, "1969-12-31T23:59:58.999999Z"},
		{-1500000, "1969-12-31T23:59:58.500000Z"},
		{-2208988800000000LL, "1900-01-01T00:00:00Z"},
		{-2208988799999999LL, "1900-01-01T00:00:00.000001Z"},
		{951782400000000LL, "2000-02-29T00:00:00Z"},
		{253402300799999999LL, "9999-12-31T23:59:59.999999Z"},
	};
	char out[40];
	long long us;

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		memset(out, 'x', sizeof(out));
		ar_format_time(cases[i].us, out);
		if (strcmp(out, cases[i].s))
			fail_msg("ar_format_time(%lld): %s, want %s", cases[i].us, out, cases[i].s);
		assert_true(ar_parse_time(out, &us));
		assert_int_equal(us, cases[i].us);
	}
	/* every microsecond around the epoch and a leap day */
	for (long long base = -86400000000LL; base <= 951782400000000LL; base += 951868800000000LL)
		for (long long d = -2000; d <= 2000; d += 7) {
			ar_format_time(base + d, out);
			assert_true(ar_parse_time(out, &us));
			assert_int_equal(us, base + d);
		}
}

/*
 * Was a bug: years before 1000 come out unpadded ("1-01-01T00:00:00Z": glibc's
 * %Y), which ar_parse_time (and the date bound rest.c's param_of cuts at 10
 * characters) cannot read back.
 */
static void format_time_pads_years(void **state)
{
	char out[40];
	long long us;

	ar_format_time(-62135596800000000LL, out);
	assert_string_equal(out, "0001-01-01T00:00:00Z");
	assert_true(ar_parse_time(out, &us));
	assert_int_equal(us, -62135596800000000LL);
}

static void pg_types(void **state)
{
	assert_string_equal(ar_pg_type(AR_UNKNOWN), "text");
	assert_string_equal(ar_pg_type(AR_BIGINT), "bigint");
	assert_string_equal(ar_pg_type(AR_DOUBLE), "double precision");
	assert_string_equal(ar_pg_type(AR_BOOL), "boolean");
	assert_string_equal(ar_pg_type(AR_TEXT), "text");
	assert_string_equal(ar_pg_type(AR_JSONB), "jsonb");
	assert_string_equal(ar_pg_type(AR_TSTZ), "timestamp with time zone");
	assert_string_equal(ar_pg_type(AR_DATE), "date");
}

/* ---- shapes over time ---------------------------------------------------- */

/* Every published shape stays valid and unchanged while later ones are published. */
static void shapes_stay_valid(void **state)
{
	struct fx *x = fx_new("grow", "id", NULL);
	const struct ferry_stream *first, *shapes[40];
	char json[2048];
	size_t n;

	assert_true(scan(x, "{\"id\": 1, \"v\": 1}"));
	first = publish(x);
	for (int i = 0; i < 40; i++) {
		/* a new column each time (past the 16 the column array starts with); v widens at 20 and 30 */
		n = (size_t)snprintf(json, sizeof(json), "{\"id\": %d, \"v\": %s", i + 2,
				     i < 20 ? "1" : i < 30 ? "1.5" : "\"s\"");
		for (int c = 0; c <= i; c++)
			n += (size_t)snprintf(json + n, sizeof(json) - n, ", \"c%d\": %d", c, c);
		snprintf(json + n, sizeof(json) - n, "}");
		assert_true(scan(x, json));
		shapes[i] = publish(x);
		encode(x);
	}
	assert_int_equal(x->a.nshapes, 41);
	/* the first shape as it was published */
	assert_string_equal(cols_of(first), "id bigint, v bigint");
	assert_int_equal(first->npk, 1);
	assert_int_equal(first->pk[0], 0);
	/* each later one with its own columns */
	for (int i = 0; i < 40; i++) {
		int want = 2 + i + 1;
		const char *vt = i < 20 ? "bigint" : i < 30 ? "double precision" : "text";
		assert_int_equal(shapes[i]->ncols, want);
		assert_string_equal(shapes[i]->cols[1].pg_type, vt);
		assert_string_equal(shapes[i]->cols[want - 1].pg_type, "bigint");
		assert_string_equal(shapes[i]->name, "grow");
	}
	assert_ptr_equal(apirow_shape(&x->a), shapes[39]);
	fx_free(x);
}

/*
 * Was a bug: a batch has a size cap, and a row that does not fit must be an
 * error (FERRY_ETOOBIG), never a row missing a cell. apirow_cell ignores
 * ferry_buf_add's result, so a cell past the cap is dropped and the tab,
 * \N and newline after it still fit: apirow_encode returns 0 with the line
 * "1\t\n" or "\t2\n", an empty string where 300 characters were.
 */
static void encode_respects_the_cap(void **state)
{
	static const char *const records[] = {
		"{\"id\": 1, \"s\": \"%0300d\"}", /* the big cell last */
		"{\"s\": \"%0300d\", \"id\": 2}", /* the big cell first */
	};
	char json[512];

	for (int i = 0; i < 2; i++) {
		struct fx *x = fx_new("big", NULL, NULL);
		int rc;
		snprintf(json, sizeof(json), records[i], 0);
		assert_true(scan(x, json));
		publish(x);
		ferry_buf_release(&x->out);
		ferry_buf_init(&x->out, 100);
		rc = apirow_encode(&x->a, &x->out, &x->err);
		if (rc != FERRY_ETOOBIG)
			fail_msg("rc %d, line \"%s\"", rc, x->out.data);
		assert_non_null(strstr(x->err.msg, "big"));
		fx_free(x);
	}
}

/*
 * Was a bug: a JSON "\u0000" reaches the COPY text as a raw NUL byte, which
 * PostgreSQL rejects (invalid byte sequence for encoding "UTF8": 0x00).
 */
static void nul_in_strings(void **state)
{
	struct fx *x;
	const char *line;

	x = fx_new("n", NULL, NULL);
	line = row(x, "{\"s\": \"a\\u0000b\", \"id\": 1}");
	assert_int_equal(strlen(line), x->out.len);
	assert_int_equal(line[x->out.len - 1], '\n');
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_record_publishes_its_shape),
		cmocka_unit_test(declared_fields),
		cmocka_unit_test(key_columns),
		cmocka_unit_test(encoding_is_exact),
		cmocka_unit_test(hand_made_fields),
		cmocka_unit_test(new_field_appends_a_column),
		cmocka_unit_test(nulls_make_no_column),
		cmocka_unit_test(widening),
		cmocka_unit_test(integers_beyond_int64),
		cmocka_unit_test(unix_times),
		cmocka_unit_test(rfc3339_and_dates),
		cmocka_unit_test(impossible_dates_widen),
		cmocka_unit_test(unix_times_out_of_range),
		cmocka_unit_test(parse_time),
		cmocka_unit_test(format_time_round_trips),
		cmocka_unit_test(format_time_pads_years),
		cmocka_unit_test(pg_types),
		cmocka_unit_test(shapes_stay_valid),
		cmocka_unit_test(encode_respects_the_cap),
		cmocka_unit_test(nul_in_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
