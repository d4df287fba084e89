/*
 * test_copytext.c - the COPY text row encoding: what the SQLite connectors
 * write must read back byte for byte, and what PostgreSQL writes must decode
 * the way PostgreSQL itself decodes it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "ferry/copytext.h"
#include "ferry/err.h"

/* Decodes every field of line into out[] (is_null[]), returns the field count. */
static int decode_all(const char *line, size_t len, char out[][64], size_t outlen[], bool is_null[],
                      int max)
{
	struct ferry_copy_fields it;
	struct ferry_buf f = FERRY_BUF_INIT;
	int n = 0, rc;

	ferry_copy_fields_init(&it, line, line + len);
	while ((rc = ferry_copy_next(&it, &f, &is_null[n])) == 1) {
		assert_true(n < max);
		assert_true(f.len < 64);
		memcpy(out[n], f.data, f.len);
		out[n][f.len] = '\0';
		outlen[n] = f.len;
		n++;
	}
	assert_int_equal(rc, 0);
	ferry_buf_release(&f);
	return n;
}

static void escape_specials(void **state)
{
	struct ferry_buf b = FERRY_BUF_INIT;
	const char in[] = "a\tb\nc\\d\re";

	assert_int_equal(ferry_copy_escape(&b, in, sizeof(in) - 1), 0);
	assert_string_equal(b.data, "a\\tb\\nc\\\\d\\re");
	ferry_buf_reset(&b);
	/* the text "\N" is not NULL: its backslash is escaped */
	assert_int_equal(ferry_copy_escape(&b, "\\N", 2), 0);
	assert_string_equal(b.data, "\\\\N");
	ferry_buf_reset(&b);
	assert_int_equal(ferry_copy_null(&b), 0);
	assert_string_equal(b.data, "\\N");
	ferry_buf_reset(&b);
	assert_int_equal(ferry_copy_escape(&b, "", 0), 0);
	assert_int_equal(b.len, 0);
	ferry_buf_release(&b);
}

/* Values a user would notice losing: tabs, newlines, backslashes, \N as text, empty, unicode. */
static const char *const values[] = {
    "plain", "",   "tab\there",  "line\nbreak", "cr\r\n", "back\\slash", "\\N",
    "\\\\N", "\\", "trailing\\", "Zoë 日本 😀",  "\t\t",   "\\x41",       "\\101",
};

static void round_trip(void **state)
{
	struct ferry_buf line = FERRY_BUF_INIT;
	char out[32][64];
	size_t outlen[32];
	bool nulls[32];
	size_t nv = sizeof(values) / sizeof(*values), i;
	int n;

	/* one row: every value, then a NULL, then every value again */
	for (i = 0; i < nv; i++) {
		ferry_copy_escape(&line, values[i], strlen(values[i]));
		ferry_buf_addc(&line, '\t');
	}
	ferry_copy_null(&line);
	for (i = 0; i < nv; i++) {
		ferry_buf_addc(&line, '\t');
		ferry_copy_escape(&line, values[i], strlen(values[i]));
	}
	assert_null(memchr(line.data, '\n', line.len)); /* one line, whatever the values */

	n = decode_all(line.data, line.len, out, outlen, nulls, 32);
	assert_int_equal(n, 2 * (int)nv + 1);
	for (i = 0; i < nv; i++) {
		assert_false(nulls[i]);
		assert_int_equal(outlen[i], strlen(values[i]));
		assert_memory_equal(out[i], values[i], outlen[i]);
		assert_false(nulls[nv + 1 + i]);
		assert_string_equal(out[nv + 1 + i], values[i]);
	}
	assert_true(nulls[nv]);
	ferry_buf_release(&line);
}

static void every_byte_round_trips(void **state)
{
	struct ferry_buf line = FERRY_BUF_INIT, f = FERRY_BUF_INIT;
	struct ferry_copy_fields it;
	char all[255];
	bool is_null;
	int i;

	for (i = 0; i < 255; i++)
		all[i] = (char)(i + 1);
	ferry_copy_escape(&line, all, sizeof(all));
	ferry_copy_fields_init(&it, line.data, line.data + line.len);
	assert_int_equal(ferry_copy_next(&it, &f, &is_null), 1);
	assert_false(is_null);
	assert_int_equal(f.len, sizeof(all));
	assert_memory_equal(f.data, all, sizeof(all));
	assert_int_equal(ferry_copy_next(&it, &f, &is_null), 0);
	ferry_buf_release(&line);
	ferry_buf_release(&f);
}

static void empty_fields_and_nulls(void **state)
{
	char out[8][64];
	size_t outlen[8];
	bool nulls[8];
	int n;

	/* an empty line is one empty field, not NULL */
	n = decode_all("", 0, out, outlen, nulls, 8);
	assert_int_equal(n, 1);
	assert_false(nulls[0]);
	assert_string_equal(out[0], "");

	n = decode_all("\t\t", 2, out, outlen, nulls, 8);
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++) {
		assert_false(nulls[i]);
		assert_int_equal(outlen[i], 0);
	}

	/* \N only alone is NULL; \Nx and a\N are text */
	n = decode_all("\\N\t\\Nx\ta\\N\t\\N", 13, out, outlen, nulls, 8);
	assert_int_equal(n, 4);
	assert_true(nulls[0]);
	assert_false(nulls[1]);
	assert_string_equal(out[1], "Nx");
	assert_false(nulls[2]);
	assert_string_equal(out[2], "aN");
	assert_true(nulls[3]);
}

/* What PostgreSQL may send: octal and hex escapes, \b \f \v, and escaped ordinary bytes. */
static void escapes_from_postgres(void **state)
{
	char out[8][64];
	size_t outlen[8];
	bool nulls[8];
	const char *l = "\\101\\x42\\x4a\\7\t\\b\\f\\v\t\\q\\.\t\\xzz\t\\0";
	int n;

	n = decode_all(l, strlen(l), out, outlen, nulls, 8);
	assert_int_equal(n, 5);
	assert_string_equal(out[0], "ABJ\a");
	assert_string_equal(out[1], "\b\f\v");
	assert_string_equal(out[2], "q.");
	assert_string_equal(out[3],
	                    "xzz"); /* \x without hex digits is a plain x, as in PostgreSQL */
	assert_int_equal(outlen[4], 1);
	assert_int_equal(out[4][0], '\0');
}

static void last_line_and_field_at(void **state)
{
	struct ferry_buf b = FERRY_BUF_INIT, f = FERRY_BUF_INIT;
	const char *line, *end;
	bool is_null;

	assert_null(ferry_copy_last_line(&b, &end));
	ferry_buf_adds(&b, "1\tfirst\n2\tsecond\\tpart\t\\N\n");
	line = ferry_copy_last_line(&b, &end);
	assert_non_null(line);
	assert_int_equal(end - line, strlen("2\tsecond\\tpart\t\\N"));
	assert_memory_equal(line, "2\t", 2);

	assert_int_equal(ferry_copy_field_at(line, end, 1, &f, &is_null), 0);
	assert_string_equal(f.data, "second\tpart");
	assert_false(is_null);
	assert_int_equal(ferry_copy_field_at(line, end, 2, &f, &is_null), 0);
	assert_true(is_null);
	assert_int_equal(ferry_copy_field_at(line, end, 3, &f, &is_null), FERRY_DONE);

	/* a single line */
	ferry_buf_reset(&b);
	ferry_buf_adds(&b, "only\n");
	line = ferry_copy_last_line(&b, &end);
	assert_ptr_equal(line, b.data);
	assert_int_equal(end - line, 4);
	ferry_buf_release(&b);
	ferry_buf_release(&f);
}

static void batch_reset_keeps_nothing(void **state)
{
	struct ferry_batch b;

	ferry_batch_init(&b, 16);
	assert_int_equal(ferry_buf_adds(&b.data, "1\t2\n"), 0);
	b.nrows = 1;
	b.src_bytes = 4;
	/* the cap holds */
	assert_int_equal(ferry_copy_escape(&b.data, "0123456789abcdef", 16), FERRY_ETOOBIG);
	ferry_batch_reset(&b);
	assert_int_equal(b.data.len, 0);
	assert_int_equal(b.nrows, 0);
	assert_int_equal(b.src_bytes, 0);
	ferry_batch_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(escape_specials),           cmocka_unit_test(round_trip),
	    cmocka_unit_test(every_byte_round_trips),    cmocka_unit_test(empty_fields_and_nulls),
	    cmocka_unit_test(escapes_from_postgres),     cmocka_unit_test(last_line_and_field_at),
	    cmocka_unit_test(batch_reset_keeps_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
