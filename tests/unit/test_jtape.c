/*
 * test_jtape.c - the JSON tape API pages are parsed into (src/util/jtape.c).
 *
 * Every record an API source writes goes through the tape: a node of the
 * wrong type turns a column into the wrong type, a wrong subtree end skips
 * or repeats records, a wrong raw slice writes broken JSON into a jsonb
 * column. The tests parse documents whose every node is known and walk them
 * with the accessors the connectors use.
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
#include "util/jtape.h"


static char msg[256];

/* Parses s into t and fails the test when it does not parse. */
static void parse_ok(struct jtape *t, const char *s)
{
	msg[0] = '\0';
	if (jt_parse(t, s, strlen(s), msg, sizeof(msg)))
		fail_msg("parse of %s failed: %s", s, msg);
}

/* Parses s, expecting failure; returns the message. */
static const char *parse_fails(struct jtape *t, const char *s, size_t len)
{
	msg[0] = '\0';
	assert_int_equal(jt_parse(t, s, len, msg, sizeof(msg)), -1);
	assert_true(msg[0] != '\0');
	assert_int_equal(t->n, 0);
	return msg;
}

static void assert_text(const struct jtape *t, int i, const char *want, size_t wantlen)
{
	size_t len = 99;
	const char *s = jt_text(t, i, &len);

	assert_non_null(s);
	assert_int_equal(len, wantlen);
	assert_memory_equal(s, want, wantlen);
	assert_int_equal(s[len], '\0');
}

static void assert_raw(const struct jtape *t, int i, const char *want)
{
	size_t len = 0;
	const char *s = jt_raw(t, i, &len);

	assert_non_null(s);
	if (len != strlen(want) || memcmp(s, want, len))
		fail_msg("raw of node %d is \"%.*s\", want \"%s\"", i, (int)len, s, want);
}

/* ---- structure ----------------------------------------------------------- */

static void object_array_nesting(void **state)
{
	struct jtape t = {0};
	const char *doc = "{\"a\": [1, {\"b\": null}, [], true], \"c\": {\"d\": false}, \"e\": \"x\"}";
	int a, b, c;

	parse_ok(&t, doc);
	/*
	 * 0 {  1 "a"  2 [  3 1  4 {  5 "b"  6 null  7 []  8 true
	 * 9 "c"  10 {  11 "d"  12 false  13 "e"  14 "x"
	 */
	assert_int_equal(t.n, 15);
	assert_int_equal(jt_type(&t, 0), JT_OBJECT);
	assert_int_equal(t.v[0].next, 15);
	assert_int_equal(jt_type(&t, 1), JT_KEY);
	assert_int_equal(jt_type(&t, 2), JT_ARRAY);
	assert_int_equal(t.v[2].next, 9);
	assert_int_equal(jt_type(&t, 3), JT_INT);
	assert_int_equal(jt_type(&t, 4), JT_OBJECT);
	assert_int_equal(t.v[4].next, 7);
	assert_int_equal(jt_type(&t, 6), JT_NULL);
	assert_int_equal(jt_type(&t, 7), JT_ARRAY);
	assert_int_equal(t.v[7].next, 8);
	assert_int_equal(jt_type(&t, 8), JT_TRUE);
	assert_int_equal(jt_type(&t, 10), JT_OBJECT);
	assert_int_equal(jt_type(&t, 12), JT_FALSE);
	assert_int_equal(jt_type(&t, 14), JT_STRING);
	/* every node's subtree ends inside its parent's */
	for (uint32_t i = 0; i < t.n; i++) {
		assert_true(t.v[i].next > i);
		assert_true(t.v[i].next <= t.n);
	}

	a = jt_get(&t, 0, "a");
	b = jt_path(&t, 0, "a.1.b");
	c = jt_get(&t, 0, "c");
	assert_int_equal(a, 2);
	assert_int_equal(b, 6);
	assert_int_equal(c, 10);
	assert_int_equal(jt_count(&t, 0), 3);
	assert_int_equal(jt_count(&t, a), 4);
	assert_int_equal(jt_count(&t, 7), 0);
	assert_int_equal(jt_count(&t, c), 1);
	assert_text(&t, 14, "x", 1);
	jt_release(&t);
}

static void scalar_roots(void **state)
{
	struct jtape t = {0};

	parse_ok(&t, "42");
	assert_int_equal(t.n, 1);
	assert_int_equal(jt_type(&t, 0), JT_INT);
	assert_text(&t, 0, "42", 2);
	parse_ok(&t, "  \"hi\"\n");
	assert_int_equal(jt_type(&t, 0), JT_STRING);
	assert_text(&t, 0, "hi", 2);
	parse_ok(&t, "null");
	assert_int_equal(jt_type(&t, 0), JT_NULL);
	assert_null(jt_text(&t, 0, NULL));
	assert_int_equal(jt_first(&t, 0), -1);
	assert_int_equal(jt_count(&t, 0), 0);
	assert_int_equal(jt_get(&t, 0, "x"), -1);
	parse_ok(&t, "true");
	assert_int_equal(jt_type(&t, 0), JT_TRUE);
	parse_ok(&t, "false");
	assert_int_equal(jt_type(&t, 0), JT_FALSE);
	jt_release(&t);
}

/* Numbers: int when neither fraction nor exponent, and their text kept exactly. */
static void number_types(void **state)
{
	static const struct {
		const char *json;
		enum jt_type type;
	} cases[] = {
		{"1", JT_INT},
		{"0", JT_INT},
		{"-0", JT_INT},
		{"-12", JT_INT},
		{"12345678901234567890123", JT_INT}, /* beyond int64: text kept, still an integer */
		{"1.5", JT_REAL},
		{"-0.0", JT_REAL},
		{"1e3", JT_REAL},
		{"1E3", JT_REAL},
		{"1e-7", JT_REAL},
		{"-2.5E+10", JT_REAL},
	};
	struct jtape t = {0};
	char doc[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const char *s = cases[i].json;
		snprintf(doc, sizeof(doc), "[%s, {\"n\": %s}]", s, s);
		parse_ok(&t, doc);
		assert_int_equal(t.n, 5);
		if (jt_type(&t, 1) != cases[i].type)
			fail_msg("%s: type %d, want %d", s, jt_type(&t, 1), cases[i].type);
		assert_int_equal(jt_type(&t, 4), cases[i].type);
		assert_text(&t, 1, s, strlen(s));
		assert_text(&t, 4, s, strlen(s));
		assert_raw(&t, 1, s);
	}
	jt_release(&t);
}

/* Strings and keys are unescaped into the arena, NUL-terminated, with their length. */
static void string_unescaping(void **state)
{
	struct jtape t = {0};
	const char *doc = "[\"a\\nb\", \"caf\\u00e9\", \"\\ud83d\\ude00\", \"q\\\"b\\\\s\\/t\\tr\\r\","
			  " \"nul\\u0000x\", \"\", \"Zo\xc3\xab\"]";

	parse_ok(&t, doc);
	assert_int_equal(t.n, 8);
	assert_text(&t, 1, "a\nb", 3);
	assert_text(&t, 2, "caf\xc3\xa9", 5);
	assert_text(&t, 3, "\xf0\x9f\x98\x80", 4); /* U+1F600 from a surrogate pair */
	assert_text(&t, 4, "q\"b\\s/t\tr\r", 10);
	assert_text(&t, 5, "nul\0x", 5); /* an escaped NUL stays inside the length */
	assert_text(&t, 6, "", 0);
	assert_text(&t, 7, "Zo\xc3\xab", 4);
	for (int i = 1; i < 8; i++)
		assert_int_equal(jt_type(&t, i), JT_STRING);

	/* keys: unescaped too, and found by their unescaped name */
	parse_ok(&t, "{\"k\\u00e9y\": 1, \"tab\\there\": 2, \"\": 3}");
	assert_int_equal(jt_type(&t, 1), JT_KEY);
	assert_text(&t, 1, "k\xc3\xa9y", 4);
	assert_int_equal(jt_get(&t, 0, "k\xc3\xa9y"), 2);
	assert_int_equal(jt_get(&t, 0, "tab\there"), 4);
	assert_int_equal(jt_get(&t, 0, ""), 6);
	assert_int_equal(jt_get(&t, 0, "k"), -1);
	assert_int_equal(jt_get(&t, 0, "k\xc3\xa9y2"), -1);
	jt_release(&t);
}

/* ---- lookups ------------------------------------------------------------- */

static void get_and_path(void **state)
{
	struct jtape t = {0};
	const char *doc = "{\"data\": {\"items\": [{\"id\": \"a\"}, {\"id\": \"b\", \"n\": 2}]},"
			  " \"pageInfo\": {\"hasNextPage\": true, \"endCursor\": \"c9\"},"
			  " \"total\": 2, \"items\": \"not these\"}";
	int items, v;

	parse_ok(&t, doc);
	items = jt_path(&t, 0, "data.items");
	assert_true(items > 0);
	assert_int_equal(jt_type(&t, items), JT_ARRAY);
	/* a key of the same name elsewhere does not match */
	assert_int_equal(jt_type(&t, jt_get(&t, 0, "items")), JT_STRING);

	assert_text(&t, jt_path(&t, 0, "data.items.0.id"), "a", 1);
	assert_text(&t, jt_path(&t, 0, "data.items.1.id"), "b", 1);
	assert_text(&t, jt_path(&t, items, "1.n"), "2", 1);
	assert_text(&t, jt_path(&t, 0, "pageInfo.endCursor"), "c9", 2);
	assert_int_equal(jt_type(&t, jt_path(&t, 0, "pageInfo.hasNextPage")), JT_TRUE);
	assert_int_equal(jt_type(&t, jt_path(&t, 0, "total")), JT_INT);

	/* "", "." and NULL: the node itself */
	assert_int_equal(jt_path(&t, 0, ""), 0);
	assert_int_equal(jt_path(&t, 0, "."), 0);
	assert_int_equal(jt_path(&t, items, NULL), items);

	/* absent: -1, never a neighbour */
	assert_int_equal(jt_path(&t, 0, "data.missing"), -1);
	assert_int_equal(jt_path(&t, 0, "missing.items"), -1);
	assert_int_equal(jt_path(&t, 0, "data.items.2.id"), -1);
	assert_int_equal(jt_path(&t, 0, "data.items.0.nope"), -1);
	assert_int_equal(jt_path(&t, 0, "data.items.x"), -1);
	assert_int_equal(jt_path(&t, 0, "data.items.1x"), -1);
	assert_int_equal(jt_path(&t, 0, "total.x"), -1);       /* into a scalar */
	assert_int_equal(jt_path(&t, 0, "pageInfo.hasNextPage.y"), -1);
	assert_int_equal(jt_path(&t, -1, "a"), -1);
	assert_int_equal(jt_get(&t, -1, "a"), -1);
	assert_int_equal(jt_get(&t, items, "0"), -1);          /* jt_get is for objects */

	/* a segment longer than any key is absent, not a crash */
	{
		char longpath[600];
		memset(longpath, 'k', sizeof(longpath) - 1);
		longpath[sizeof(longpath) - 1] = '\0';
		assert_int_equal(jt_path(&t, 0, longpath), -1);
	}

	/* a root array: "0.id" */
	parse_ok(&t, "[{\"id\": 7}, {\"id\": 8}]");
	v = jt_path(&t, 0, "0.id");
	assert_text(&t, v, "7", 1);
	assert_text(&t, jt_path(&t, 0, "1.id"), "8", 1);
	assert_int_equal(jt_path(&t, 0, "2.id"), -1);
	assert_int_equal(jt_path(&t, 0, "id"), -1);
	jt_release(&t);
}

/* Was a bug: jt_path with a negative array index returns the first element. */
static void path_negative_index(void **state)
{
	struct jtape t = {0};

	parse_ok(&t, "[{\"id\": 7}, {\"id\": 8}]");
	/* strtol gives -1, the "want > 0" loop never runs, and element 0 comes back */
	assert_int_equal(jt_path(&t, 0, "-1.id"), -1);
	assert_int_equal(jt_path(&t, 0, "-1"), -1);
	jt_release(&t);
}

/* Iteration skips whole subtrees: a nested record is one sibling. */
static void iterate_arrays_and_members(void **state)
{
	struct jtape t = {0};
	const char *doc = "[{\"id\": 1, \"tags\": [\"a\", \"b\"], \"o\": {\"x\": {\"y\": []}}},"
			  " 2, [], [[3]], {}, \"s\", null]";
	static const enum jt_type want[] = {JT_OBJECT, JT_INT, JT_ARRAY, JT_ARRAY,
					    JT_OBJECT, JT_STRING, JT_NULL};
	static const char *const keys[] = {"id", "tags", "o"};
	static const enum jt_type vals[] = {JT_INT, JT_ARRAY, JT_OBJECT};
	int n = 0, k, rec, m = 0;

	parse_ok(&t, doc);
	for (int e = jt_first(&t, 0); e >= 0; e = jt_sibling(&t, 0, e)) {
		assert_true(n < 7);
		assert_int_equal(jt_type(&t, e), want[n]);
		n++;
	}
	assert_int_equal(n, 7);
	assert_int_equal(jt_count(&t, 0), 7);

	/* an object's members: key at k, value at k + 1, next key after the value's subtree */
	rec = jt_first(&t, 0);
	for (k = jt_first(&t, rec); k >= 0; k = jt_sibling(&t, rec, k + 1)) {
		assert_true(m < 3);
		assert_int_equal(jt_type(&t, k), JT_KEY);
		assert_text(&t, k, keys[m], strlen(keys[m]));
		assert_int_equal(jt_type(&t, k + 1), vals[m]);
		m++;
	}
	assert_int_equal(m, 3);
	assert_int_equal(jt_count(&t, rec), 3);

	/* empty containers and scalars have no children */
	assert_int_equal(jt_first(&t, jt_path(&t, 0, "2")), -1);
	assert_int_equal(jt_first(&t, jt_path(&t, 0, "4")), -1);
	assert_int_equal(jt_first(&t, jt_path(&t, 0, "1")), -1);
	assert_int_equal(jt_first(&t, -1), -1);
	assert_int_equal(jt_count(&t, jt_path(&t, 0, "4")), 0);
	assert_int_equal(jt_count(&t, jt_path(&t, 0, "3")), 1);
	assert_int_equal(jt_count(&t, jt_path(&t, 0, "0.tags")), 2);
	jt_release(&t);
}

/* ---- raw text ------------------------------------------------------------ */

/* Containers give back the very bytes they came as: whitespace, escapes, order. */
static void raw_is_the_original_text(void **state)
{
	struct jtape t = {0};
	const char *doc = " \n{ \"id\" : 1,\n  \"meta\" : {\"b\":2, \"a\" : [ 1 , 2.50 ,\"x\\ny\" ] },\n"
			  "  \"list\":[{ }, [ ] ,{\"k\":\"caf\\u00e9\"}],\"n\": -0.0e0 } \t\n";
	int meta, list;

	parse_ok(&t, doc);
	/* the root: from '{' to '}', without the whitespace around it */
	{
		size_t len;
		const char *s = jt_raw(&t, 0, &len);
		assert_ptr_equal(s, strchr(doc, '{'));
		assert_int_equal(s[len - 1], '}');
		assert_int_equal(len, strrchr(doc, '}') - strchr(doc, '{') + 1);
	}
	meta = jt_get(&t, 0, "meta");
	assert_raw(&t, meta, "{\"b\":2, \"a\" : [ 1 , 2.50 ,\"x\\ny\" ] }");
	assert_raw(&t, jt_get(&t, meta, "a"), "[ 1 , 2.50 ,\"x\\ny\" ]");
	list = jt_get(&t, 0, "list");
	assert_raw(&t, list, "[{ }, [ ] ,{\"k\":\"caf\\u00e9\"}]");
	assert_raw(&t, jt_path(&t, list, "0"), "{ }");
	assert_raw(&t, jt_path(&t, list, "1"), "[ ]");
	assert_raw(&t, jt_path(&t, list, "2"), "{\"k\":\"caf\\u00e9\"}");
	/* numbers: their own text; strings: the unescaped text (jt_raw documents this) */
	assert_raw(&t, jt_path(&t, meta, "a.1"), "2.50");
	assert_raw(&t, jt_get(&t, 0, "n"), "-0.0e0");
	assert_raw(&t, jt_path(&t, list, "2.k"), "caf\xc3\xa9");
	/* raw slices lie in the body */
	for (uint32_t i = 0; i < t.n; i++) {
		if (jt_type(&t, i) == JT_OBJECT || jt_type(&t, i) == JT_ARRAY) {
			size_t len;
			const char *s = jt_raw(&t, i, &len);
			assert_true(s >= doc && s + len <= doc + strlen(doc));
			assert_true(*s == '{' || *s == '[');
		}
	}
	jt_release(&t);
}

/* ---- reuse --------------------------------------------------------------- */

/* One tape for many pages: no growth for a smaller page, nothing left over from the last. */
static void reuse_across_parses(void **state)
{
	struct jtape t = {0};
	struct {
		char *s;
		size_t len;
	} big;
	struct jt_node *v;
	char *arena;
	uint32_t cap;
	size_t acap;

	/* a page with 3000 records grows the tape */
	big.s = malloc(3000 * 40 + 16);
	assert_non_null(big.s);
	big.len = 0;
	big.s[big.len++] = '[';
	for (int i = 0; i < 3000; i++)
		big.len += (size_t)sprintf(big.s + big.len, "%s{\"id\":%d,\"name\":\"n%d\"}", i ? "," : "",
					   i, i);
	big.s[big.len++] = ']';
	big.s[big.len] = '\0';
	parse_ok(&t, big.s);
	assert_int_equal(jt_count(&t, 0), 3000);
	assert_text(&t, jt_path(&t, 0, "2999.name"), "n2999", 5);
	v = t.v;
	arena = t.arena;
	cap = t.cap;
	acap = t.acap;

	/* a smaller page after it: same memory, only the new page's nodes */
	parse_ok(&t, "{\"data\": [{\"id\": \"x\"}], \"has_more\": false}");
	assert_ptr_equal(t.v, v);
	assert_ptr_equal(t.arena, arena);
	assert_int_equal(t.cap, cap);
	assert_int_equal(t.acap, acap);
	assert_int_equal(t.n, 8);
	assert_int_equal(t.v[0].next, 8);
	assert_int_equal(jt_count(&t, jt_get(&t, 0, "data")), 1);
	assert_text(&t, jt_path(&t, 0, "data.0.id"), "x", 1);
	assert_int_equal(jt_type(&t, jt_get(&t, 0, "has_more")), JT_FALSE);
	assert_int_equal(jt_get(&t, 0, "name"), -1);

	/* a failed parse in between leaves nothing behind, and the next one works */
	parse_fails(&t, "{\"data\": [1, 2", 14);
	parse_ok(&t, "[true]");
	assert_int_equal(t.n, 2);
	assert_int_equal(jt_type(&t, 1), JT_TRUE);
	assert_int_equal(t.depth, 0);

	/* the big page again parses the same as the first time, still in the same memory */
	parse_ok(&t, big.s);
	assert_ptr_equal(t.v, v);
	assert_int_equal(jt_count(&t, 0), 3000);
	assert_text(&t, jt_path(&t, 0, "1234.name"), "n1234", 5);
	free(big.s);
	jt_release(&t);
	assert_null(t.v);
	assert_int_equal(t.n, 0);
}

/* ---- errors -------------------------------------------------------------- */

static void errors(void **state)
{
	struct jtape t = {0};
	static const char *const bad[] = {
		"{\"a\": 1",            /* truncated */
		"[1, 2",
		"{\"a\": \"unterminated",
		"{\"a\" tru}",           /* invalid token */
		"[1, 2,]",
		"{'a': 1}",
		"[01]",
		"[1] [2]",               /* trailing garbage */
		"{\"a\": 1}}",
		"[\"\xff\"]",            /* not UTF-8 */
		"[NaN]",
		"\xef\xbb\xbf[]",        /* a byte order mark */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		const char *m = parse_fails(&t, bad[i], strlen(bad[i]));
		/* one line, no yajl newline */
		assert_null(strchr(m, '\n'));
	}
	assert_non_null(strstr(parse_fails(&t, "{\"a\": 1", 7), "premature EOF"));
	assert_non_null(strstr(parse_fails(&t, "{\"a\" tru}", 9), "invalid"));
	assert_non_null(strstr(parse_fails(&t, "[1] x", 5), "trailing garbage"));

	/* empty and blank bodies fail (no node 0 to read) */
	parse_fails(&t, "", 0);
	parse_fails(&t, "   \n", 4);
	parse_fails(&t, NULL, 0);

	/* a body cut inside a string or number fails, not reads past len */
	{
		const char *s = "[1, 23456]";
		parse_fails(&t, s, 6);
		parse_fails(&t, "\"abc\"", 3);
	}
	/* still usable */
	parse_ok(&t, "{}");
	assert_int_equal(t.n, 1);
	jt_release(&t);
}

/* Was a bug: the messages lose the byte offset jtape.h promises. */
static void error_messages_say_where(void **state)
{
	struct jtape t = {0};

	/*
	 * yajl_get_error() ends its text in "\n"; jt_parse appends " at byte N"
	 * after it and then cuts the message at the first '\n', so the offset
	 * never survives ("lexical error: invalid string in json text.").
	 */
	assert_non_null(strstr(parse_fails(&t, "{\"a\": 1, \"b\" tru}", 17), "at byte"));
	/* and a truncated body is "the JSON ends too early at byte N" per jtape.h */
	assert_non_null(strstr(parse_fails(&t, "{\"a\": [1, 2", 11), "at byte"));
	/* the "the body is empty" branch is unreachable: yajl reports premature EOF */
	assert_non_null(strstr(parse_fails(&t, "", 0), "empty"));
	jt_release(&t);
}

static char *nested(int depth, const char *open, const char *inner, const char *close)
{
	size_t lo = strlen(open), lc = strlen(close), li = strlen(inner);
	char *s = malloc((size_t)depth * (lo + lc) + li + 1), *p = s;

	assert_non_null(s);
	for (int i = 0; i < depth; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, inner, li);
	p += li;
	for (int i = 0; i < depth; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

/* 512 levels parse; one more is an error with a message, and 100000 is not a crash. */
static void nesting_limit(void **state)
{
	struct jtape t = {0};
	char *s;

	s = nested(512, "[", "1", "]");
	parse_ok(&t, s);
	assert_int_equal(t.n, 513);
	assert_int_equal(jt_type(&t, 511), JT_ARRAY);
	assert_int_equal(jt_type(&t, 512), JT_INT);
	free(s);

	s = nested(513, "[", "1", "]");
	assert_non_null(strstr(parse_fails(&t, s, strlen(s)), "nested deeper than 512"));
	free(s);

	s = nested(600, "{\"a\":", "1", "}");
	assert_non_null(strstr(parse_fails(&t, s, strlen(s)), "nested deeper than 512"));
	free(s);

	s = nested(100000, "[", "", "]");
	assert_non_null(strstr(parse_fails(&t, s, strlen(s)), "nested deeper than 512"));
	free(s);

	/* only opening brackets: no closer ever comes */
	s = nested(100000, "[", "", "");
	parse_fails(&t, s, strlen(s));
	free(s);

	parse_ok(&t, "[[1]]");
	assert_int_equal(t.n, 3);
	jt_release(&t);
}

/* A 10 MB page: every record found, the last one intact. */
static void ten_megabytes(void **state)
{
	struct jtape t = {0};
	size_t cap = 10u << 20, len = 0;
	char *s = malloc(cap + 256);
	int n = 0, last, count = 0;
	size_t rl;

	assert_non_null(s);
	s[len++] = '[';
	while (len < cap) {
		len += (size_t)sprintf(s + len, "%s{\"id\":%d,\"amount\":%d.25,\"ok\":true,"
				       "\"desc\":\"record \\\"%d\\\"\",\"tags\":[\"a\",\"b\"]}",
				       n ? "," : "", n, n, n);
		n++;
	}
	s[len++] = ']';
	s[len] = '\0';
	assert_true(len > (10u << 20));

	assert_int_equal(jt_parse(&t, s, len, msg, sizeof(msg)), 0);
	assert_int_equal(jt_count(&t, 0), n);
	for (int e = jt_first(&t, 0); e >= 0; e = jt_sibling(&t, 0, e))
		count++;
	assert_int_equal(count, n);
	assert_int_equal(t.v[0].next, t.n);
	assert_int_equal(t.n, 1 + (uint32_t)n * 13); /* {, 5 keys, 5 values, "a", "b" */
	{
		char path[32], want[64];
		snprintf(path, sizeof(path), "%d", n - 1);
		last = jt_path(&t, 0, path);
		assert_int_equal(jt_type(&t, last), JT_OBJECT);
		snprintf(want, sizeof(want), "%d", n - 1);
		assert_text(&t, jt_get(&t, last, "id"), want, strlen(want));
		snprintf(want, sizeof(want), "record \"%d\"", n - 1);
		assert_text(&t, jt_get(&t, last, "desc"), want, strlen(want));
		assert_int_equal(jt_type(&t, jt_get(&t, last, "amount")), JT_REAL);
	}
	jt_raw(&t, last, &rl);
	assert_ptr_equal(jt_raw(&t, last, &rl) + rl, s + len - 1);
	free(s);
	jt_release(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(object_array_nesting),
		cmocka_unit_test(scalar_roots),
		cmocka_unit_test(number_types),
		cmocka_unit_test(string_unescaping),
		cmocka_unit_test(get_and_path),
		cmocka_unit_test(path_negative_index),
		cmocka_unit_test(iterate_arrays_and_members),
		cmocka_unit_test(raw_is_the_original_text),
		cmocka_unit_test(reuse_across_parses),
		cmocka_unit_test(errors),
		cmocka_unit_test(error_messages_say_where),
		cmocka_unit_test(nesting_limit),
		cmocka_unit_test(ten_megabytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
