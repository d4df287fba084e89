/*
 * test_util.c - buffers, errors, text helpers and fault rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "ferry/buf.h"
#include "ferry/err.h"
#include "ferry/fault.h"
#include "util/text.h"

static void buf_grows_and_caps(void **state)
{
	struct ferry_buf b;
	int i;

	ferry_buf_init(&b, 100);
	assert_string_equal(b.data, "");
	for (i = 0; i < 10; i++)
		assert_int_equal(ferry_buf_adds(&b, "0123456789"), 0);
	assert_int_equal(b.len, 100);
	/* One more byte passes the cap: refused, contents intact. */
	assert_int_equal(ferry_buf_addc(&b, 'x'), FERRY_ETOOBIG);
	assert_int_equal(b.len, 100);
	assert_int_equal(b.data[100], '\0');
	ferry_buf_reset(&b);
	assert_int_equal(ferry_buf_addf(&b, "%d-%s", 42, "x"), 0);
	assert_string_equal(b.data, "42-x");
	ferry_buf_release(&b);
	assert_string_equal(b.data, "");
}

static void err_prefix_keeps_message(void **state)
{
	struct ferry_err e = {0};

	assert_int_equal(ferry_err_set(&e, FERRY_ECONNECT, "refused at %s", "127.0.0.1:1"), FERRY_ECONNECT);
	assert_true(e.retryable);
	ferry_err_prefix(&e, "destination \"%s\": ", "w");
	assert_string_equal(e.msg, "destination \"w\": refused at 127.0.0.1:1");
	assert_int_equal(ferry_exit_status(FERRY_EUSAGE), 2);
	assert_int_equal(ferry_exit_status(FERRY_ENOTFOUND), 1);
	assert_int_equal(ferry_exit_status(0), 0);
}

static void closest_names(void **state)
{
	const char *names[] = {"warehouse", "shop", "analytics"};

	assert_string_equal(ferry_closest("warehous", names, 3), "warehouse");
	assert_string_equal(ferry_closest("Shop", names, 3), "shop");
	assert_null(ferry_closest("zzzzzzzzzzzzzz", names, 3));
}

static void slugs(void **state)
{
	char out[64];

	ferry_slug("Italy Stripe Payments", out, sizeof(out));
	assert_string_equal(out, "italy_stripe_payments");
	ferry_slug("CH-Stripe-2024", out, sizeof(out));
	assert_string_equal(out, "ch_stripe_2024");
	ferry_slug("  --Weird__Name!! ", out, sizeof(out));
	assert_string_equal(out, "weird_name");
}

static void timestamps(void **state)
{
	const char *good[] = {"2024-01-31", "2024-01-31T10:00", "2024-01-31 10:00:00",
			      "2024-01-31T10:00:00.123Z", "2024-01-31T10:00:00+02:00", NULL};
	const char *bad[] = {"notadate", "2024-13-01", "2024-01-32", "2024-01-31X", "1700000000",
			     "2024-01-31T25:00", "", NULL};
	int i;

	for (i = 0; good[i]; i++)
		assert_true(ferry_is_timestamp(good[i]));
	for (i = 0; bad[i]; i++)
		assert_false(ferry_is_timestamp(bad[i]));
}

static void integers(void **state)
{
	long long v;

	assert_true(ferry_parse_ll("42", 1, 100, &v));
	assert_int_equal(v, 42);
	assert_false(ferry_parse_ll("0", 1, 100, &v));
	assert_false(ferry_parse_ll("12x", 1, 100, &v));
	assert_false(ferry_parse_ll("", 1, 100, &v));
	assert_false(ferry_parse_ll("99999999999999999999999", 1, 100, &v));
}

static void fault_rules(void **state)
{
	struct ferry_err e = {0};
	struct ferry_fault *f;

	setenv("FERRY_FAULT", "fail@write#2,sleep@read:1", 1);
	f = ferry_fault_from_env(&e);
	assert_non_null(f);
	assert_int_equal(ferry_fault_hit(f, "write", &e), 0);
	assert_int_equal(ferry_fault_hit(f, "write", &e), FERRY_EINTERNAL);
	assert_non_null(strstr(e.msg, "write"));
	assert_int_equal(ferry_fault_hit(f, "write", &e), 0);
	assert_int_equal(ferry_fault_hit(f, "read", &e), 0);
	ferry_fault_free(f);

	setenv("FERRY_FAULT", "explode@write", 1);
	assert_null(ferry_fault_from_env(&e));
	assert_int_equal(e.code, FERRY_EUSAGE);
	unsetenv("FERRY_FAULT");
	assert_null(ferry_fault_from_env(&e));
	assert_int_equal(ferry_fault_hit(NULL, "write", &e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(buf_grows_and_caps), cmocka_unit_test(err_prefix_keeps_message),
		cmocka_unit_test(closest_names),      cmocka_unit_test(slugs),
		cmocka_unit_test(timestamps),         cmocka_unit_test(integers),
		cmocka_unit_test(fault_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
