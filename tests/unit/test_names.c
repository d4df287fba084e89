/*
 * test_names.c - name lists: push, lookup, comma lists as users write them,
 * joined lists in messages, and the table of a cursor./pk. setting.
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
#include "util/names.h"

static void push_copies_and_has_matches_exactly(void **state)
{
	struct ferry_names l = FERRY_NAMES_INIT;
	char name[] = "users_extra";

	assert_false(ferry_names_has(&l, "users"));
	/* Only the first n bytes are kept, and they are a copy. */
	assert_int_equal(ferry_names_push(&l, name, 5), 0);
	name[0] = 'X';
	assert_int_equal(ferry_names_push(&l, "Orders", 6), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0], "users");
	assert_true(ferry_names_has(&l, "users"));
	assert_true(ferry_names_has(&l, "Orders"));
	assert_false(ferry_names_has(&l, "orders")); /* case-sensitive, as SQLite names are */
	assert_false(ferry_names_has(&l, "users_extra"));
	ferry_names_release(&l);
	assert_null(l.v);
	assert_int_equal(l.n, 0);
	ferry_names_release(&l); /* twice is harmless */
}

/* Cases as data: list, blanks, then the items expected joined by '|'. */
static const struct {
	const char *in, *blanks, *want;
} split_cases[] = {
	{"a,b,c", " \t", "a|b|c"},
	{" a , b\t,\tc ", " \t", "a|b|c"},
	{"a,,b, ,\t,", " \t", "a|b"},           /* empty items are skipped */
	{"", " \t", ""},
	{" , ", " \t", ""},
	{"first name, last name", " \t", "first name|last name"}, /* inner blanks kept */
	{"public.users, sales.Orders", " \t", "public.users|sales.Orders"},
	{"a\n,b\r", " \t", "a\n|b\r"},          /* only the blanks asked for are trimmed */
	{"a\n,\vb\r\n", " \t\n\v\f\r", "a|b"},
	{"a,a", " \t", "a|a"},                  /* duplicates are the caller's business */
};

static void split_trims_and_skips_empty_items(void **state)
{
	for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
		struct ferry_names l = FERRY_NAMES_INIT;
		char got[200] = "";
		size_t o = 0;

		assert_int_equal(ferry_names_split(&l, split_cases[i].in, split_cases[i].blanks), 0);
		for (int j = 0; j < l.n; j++)
			o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s", j ? "|" : "", l.v[j]);
		if (strcmp(got, split_cases[i].want))
			fail_msg("split(\"%s\") gave \"%s\", want \"%s\"", split_cases[i].in, got,
				 split_cases[i].want);
		ferry_names_release(&l);
	}
}

static void split_appends_to_what_is_there(void **state)
{
	struct ferry_names l = FERRY_NAMES_INIT;

	assert_int_equal(ferry_names_push(&l, "x", 1), 0);
	assert_int_equal(ferry_names_split(&l, "y, z", " "), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0], "x");
	assert_string_equal(l.v[2], "z");
	ferry_names_release(&l);
}

static void join_for_messages(void **state)
{
	struct ferry_names l = FERRY_NAMES_INIT;
	struct ferry_buf b = FERRY_BUF_INIT;
	char name[16];

	ferry_buf_adds(&b, "stale");
	ferry_names_join(&l, &b, "no tables");
	assert_string_equal(b.data, "no tables");

	ferry_names_split(&l, "users, orders", " ");
	ferry_names_join(&l, &b, "no tables");
	assert_string_equal(b.data, "users, orders");

	/* A long list is cut after 300 bytes and says how many it left out. */
	ferry_names_release(&l);
	for (int i = 0; i < 100; i++) {
		int n = snprintf(name, sizeof(name), "table_%02d", i);
		assert_int_equal(ferry_names_push(&l, name, (size_t)n), 0);
	}
	ferry_names_join(&l, &b, "no tables");
	assert_true(b.len < 340);
	assert_true(!strncmp(b.data, "table_00, table_01, ", 20));
	assert_non_null(strstr(b.data, ", ... ("));
	assert_string_equal(strstr(b.data, " more)"), " more)");
	assert_non_null(strstr(b.data, "table_30, ... (69 more)"));
	ferry_names_release(&l);
	ferry_buf_release(&b);
}

static void setting_table_of_per_table_keys(void **state)
{
	assert_string_equal(ferry_names_setting_table("cursor.users"), "users");
	assert_string_equal(ferry_names_setting_table("pk.sales.orders"), "sales.orders");
	assert_string_equal(ferry_names_setting_table("pk."), "");
	assert_null(ferry_names_setting_table("tables"));
	assert_null(ferry_names_setting_table("url"));
	assert_null(ferry_names_setting_table("cursor"));
	assert_null(ferry_names_setting_table("pkx.users"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(push_copies_and_has_matches_exactly),
		cmocka_unit_test(split_trims_and_skips_empty_items),
		cmocka_unit_test(split_appends_to_what_is_there),
		cmocka_unit_test(join_for_messages),
		cmocka_unit_test(setting_table_of_per_table_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
