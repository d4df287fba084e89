/*
 * test_token.c - API tokens: shape, randomness, the stored hash, the check.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>
#include "server/token.h"

static int setup(void **state)
{
	return sodium_init() < 0;
}

static void shape_and_randomness(void **state)
{
	char a[FERRY_TOKEN_LEN + 1], b[FERRY_TOKEN_LEN + 1];
	size_t i;

	ferry_token_new(a);
	ferry_token_new(b);
	assert_int_equal(strlen(a), FERRY_TOKEN_LEN);
	assert_memory_equal(a, "fy_", 3);
	/* base64url without padding: no '+', '/' or '='. */
	for (i = 3; i < FERRY_TOKEN_LEN; i++)
		assert_null(strchr("+/=", a[i]));
	assert_true(ferry_token_well_formed(a));
	assert_string_not_equal(a, b);

	assert_false(ferry_token_well_formed(NULL));
	assert_false(ferry_token_well_formed(""));
	assert_false(ferry_token_well_formed("fy_short"));
	a[10] = '+';
	assert_false(ferry_token_well_formed(a));
	b[0] = 'x';
	assert_false(ferry_token_well_formed(b));
}

static void hash_is_hex_sha256(void **state)
{
	char h[FERRY_TOKEN_HASH_LEN + 1];

	/* FIPS 180-2's "abc" vector. */
	ferry_token_hash("abc", h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ferry_token_hash("", h);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void check(void **state)
{
	char t[FERRY_TOKEN_LEN + 1], other[FERRY_TOKEN_LEN + 1], h[FERRY_TOKEN_HASH_LEN + 1];

	ferry_token_new(t);
	ferry_token_new(other);
	ferry_token_hash(t, h);
	/* The hash is not the token, and does not contain it. */
	assert_null(strstr(h, t + 3));
	assert_true(ferry_token_check(t, h));
	assert_false(ferry_token_check(other, h));
	/* One character off at the end. */
	t[FERRY_TOKEN_LEN - 1] = t[FERRY_TOKEN_LEN - 1] == 'A' ? 'B' : 'A';
	assert_false(ferry_token_check(t, h));
	/* A stored hash of the wrong length or missing never matches. */
	assert_false(ferry_token_check(t, "abc"));
	assert_false(ferry_token_check(t, ""));
	assert_false(ferry_token_check(t, NULL));
	assert_false(ferry_token_check(NULL, h));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shape_and_randomness),
		cmocka_unit_test(hash_is_hex_sha256),
		cmocka_unit_test(check),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
