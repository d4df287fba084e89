/*
 * test_crypto.c - sealing secrets: round trip, wrong key, wrong place, bad keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "util/crypto.h"

#define KEY_A "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define KEY_B "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static void seal_and_open(void **state)
{
	struct ferry_key k;
	struct ferry_err e = {0};
	char *sealed = NULL, *plain = NULL;

	assert_int_equal(ferry_crypto_init(&e), 0);
	setenv(FERRY_KEY_ENV, KEY_A, 1);
	assert_int_equal(ferry_key_load(&k, &e), 0);
	assert_int_equal(ferry_secret_seal(&k, "source/shop/url", "postgres://u:hunter2@h/db", &sealed, &e), 0);
	assert_true(ferry_secret_is_sealed(sealed));
	assert_null(strstr(sealed, "hunter2"));
	assert_int_equal(ferry_secret_open(&k, "source/shop/url", sealed, &plain, &e), 0);
	assert_string_equal(plain, "postgres://u:hunter2@h/db");
	free(plain);
	/* The same secret sealed for another place does not open here. */
	assert_int_equal(ferry_secret_open(&k, "source/other/url", sealed, &plain, &e), FERRY_EKEY);
	free(sealed);
}

static void wrong_key_names_the_variable(void **state)
{
	struct ferry_key a, b;
	struct ferry_err e = {0};
	char *sealed = NULL, *plain = NULL;

	setenv(FERRY_KEY_ENV, KEY_A, 1);
	assert_int_equal(ferry_key_load(&a, &e), 0);
	setenv(FERRY_KEY_ENV, KEY_B, 1);
	assert_int_equal(ferry_key_load(&b, &e), 0);
	assert_string_not_equal(a.id, b.id);
	assert_int_equal(ferry_secret_seal(&a, "x", "secret", &sealed, &e), 0);
	assert_int_equal(ferry_secret_open(&b, "x", sealed, &plain, &e), FERRY_EKEY);
	assert_non_null(strstr(e.msg, "FERRY_ENCRYPTION_KEY"));
	free(sealed);
}

static void bad_keys(void **state)
{
	struct ferry_key k;
	struct ferry_err e = {0};

	unsetenv(FERRY_KEY_ENV);
	assert_int_equal(ferry_key_load(&k, &e), FERRY_EKEY);
	assert_non_null(strstr(e.msg, "FERRY_ENCRYPTION_KEY"));
	setenv(FERRY_KEY_ENV, "abc", 1);
	assert_int_equal(ferry_key_load(&k, &e), FERRY_EKEY);
	setenv(FERRY_KEY_ENV, "zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 1);
	assert_int_equal(ferry_key_load(&k, &e), FERRY_EKEY);
	assert_non_null(strstr(e.msg, "64 hexadecimal"));
}

static void keygen_is_hex(void **state)
{
	char a[65], b[65];
	int i;

	ferry_key_generate(a);
	ferry_key_generate(b);
	assert_int_equal(strlen(a), 64);
	for (i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
	assert_string_not_equal(a, b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seal_and_open),
		cmocka_unit_test(wrong_key_names_the_variable),
		cmocka_unit_test(bad_keys),
		cmocka_unit_test(keygen_is_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
