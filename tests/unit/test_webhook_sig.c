/*
 * test_webhook_sig.c - Standard Webhooks signing and verification: the spec's
 * published vector, vectors computed with another HMAC implementation (Python's
 * hmac module), and every way the verifier refuses a request.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>
#include "server/webhook_sig.h"

/* The vector published with the Standard Webhooks libraries. */
#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SECRET_B64 "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define MSG_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define TS 1614265330LL
#define TS_S "1614265330"
#define BODY "{\"test\": 2432232314}"
#define SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
#define SIG_B64 "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
/* The vector's signature with its first character changed. */
#define BAD_SIG "v1,h0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static int verify(const char *secret, const char *id, const char *ts, const char *sig,
		  const char *body, long long now, struct ferry_err *e)
{
	return ferry_webhook_verify(secret, id, ts, sig, body, body ? strlen(body) : 0, now, e);
}

/* A message must never give away the secret or the signature the verifier expected. */
static void assert_no_secret(const struct ferry_err *e)
{
	assert_null(strstr(e->msg, SECRET_B64));
	assert_null(strstr(e->msg, SIG_B64));
	assert_null(strstr(e->msg, "g0hM9SsE"));
}

static void sign_spec_vector(void **state)
{
	char sig[FERRY_WEBHOOK_SIG_SIZE];
	struct ferry_err e = {0};

	(void)state;
	assert_int_equal(ferry_webhook_sign(SECRET, MSG_ID, TS, BODY, strlen(BODY), sig, sizeof(sig),
					    &e), 0);
	assert_string_equal(sig, SIG);
}

static void sign_other_vectors(void **state)
{
	/* A 64-byte key (the spec's maximum), an empty body. */
	const char *k64 = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy"
			  "MzQ1Njc4OTo7PD0+Pw==";
	/* UTF-8 and a NUL byte inside the body: the length counts, not strlen. */
	const char body[] = "{\"a\":\"\xc3\xa9\"}\0tail";
	char sig[FERRY_WEBHOOK_SIG_SIZE];
	struct ferry_err e = {0};

	(void)state;
	assert_int_equal(ferry_webhook_sign(k64, "msg_1", 1700000000, NULL, 0, sig, sizeof(sig), &e), 0);
	assert_string_equal(sig, "v1,BWkxbM3LYytg96qlUhITZDXqX4KEiRQYa62SWkzC28w=");
	assert_int_equal(ferry_webhook_verify(k64, "msg_1", "1700000000", sig, "", 0, 1700000000, &e), 0);
	assert_int_equal(ferry_webhook_sign(SECRET, "job_42", 1700000000, body, sizeof(body) - 1, sig,
					    sizeof(sig), &e), 0);
	assert_string_equal(sig, "v1,2KHRHLgKnCKKMJ5B2DN++8CRBObwIbTYR08swrh0suQ=");
	assert_int_equal(ferry_webhook_verify(SECRET, "job_42", "1700000000", sig, body,
					      sizeof(body) - 1, 1700000000, &e), 0);
	/* The same bytes cut at the NUL are another body. */
	assert_int_equal(ferry_webhook_verify(SECRET, "job_42", "1700000000", sig, body, strlen(body),
					      1700000000, &e), FERRY_EAUTH);
}

static void sign_refuses_bad_input(void **state)
{
	char sig[FERRY_WEBHOOK_SIG_SIZE];
	struct ferry_err e = {0};

	(void)state;
	assert_int_equal(ferry_webhook_sign(SECRET, MSG_ID, TS, BODY, strlen(BODY), sig,
					    FERRY_WEBHOOK_SIG_SIZE - 1, &e), FERRY_ETOOBIG);
	assert_int_equal(ferry_webhook_sign(SECRET, "msg.1", TS, BODY, strlen(BODY), sig, sizeof(sig),
					    &e), FERRY_EUSAGE);
	assert_non_null(strstr(e.msg, "'.'"));
	assert_int_equal(ferry_webhook_sign(SECRET, "", TS, BODY, strlen(BODY), sig, sizeof(sig), &e),
			 FERRY_EUSAGE);
	assert_int_equal(ferry_webhook_sign(SECRET, MSG_ID, -5, BODY, strlen(BODY), sig, sizeof(sig),
					    &e), FERRY_EUSAGE);
	assert_int_equal(ferry_webhook_sign(SECRET_B64, MSG_ID, TS, BODY, strlen(BODY), sig,
					    sizeof(sig), &e), FERRY_ECONFIG);
	assert_non_null(strstr(e.msg, "whsec_"));
	assert_no_secret(&e);
}

static void verify_accepts_vector(void **state)
{
	struct ferry_err e = {0};

	(void)state;
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, SIG, BODY, TS, &e), 0);
	/* Exactly at the 5-minute edges, either way. */
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, SIG, BODY, TS + 300, &e), 0);
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, SIG, BODY, TS - 300, &e), 0);
}

static void verify_rejects_forgeries(void **state)
{
	struct ferry_err e = {0};

	(void)state;
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, BAD_SIG, BODY, TS, &e), FERRY_EAUTH);
	assert_non_null(strstr(e.msg, "does not match"));
	assert_no_secret(&e);
	/* A tampered body, id or timestamp under the genuine signature. */
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, SIG, "{\"test\": 2432232315}", TS, &e),
			 FERRY_EAUTH);
	assert_non_null(strstr(e.msg, "does not match"));
	assert_no_secret(&e);
	assert_int_equal(verify(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJel", TS_S, SIG, BODY, TS, &e),
			 FERRY_EAUTH);
	assert_int_equal(verify(SECRET, MSG_ID, "1614265331", SIG, BODY, TS, &e), FERRY_EAUTH);
	/* Another secret. */
	assert_int_equal(verify("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", MSG_ID, TS_S, SIG, BODY, TS,
				&e), FERRY_EAUTH);
	assert_no_secret(&e);
	/* Signatures that do not even decode to 32 bytes. */
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, "v1,!!!", BODY, TS, &e), FERRY_EAUTH);
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, "v1,", BODY, TS, &e), FERRY_EAUTH);
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, "v1,AAAA", BODY, TS, &e), FERRY_EAUTH);
	/* The right signature without its version, or with trailing junk. */
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, SIG_B64, BODY, TS, &e), FERRY_EAUTH);
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, SIG "x", BODY, TS, &e), FERRY_EAUTH);
	/* An id with a '.' could shift the split of "{id}.{ts}.{body}". */
	assert_int_equal(verify(SECRET, "msg.1", TS_S, SIG, BODY, TS, &e), FERRY_EAUTH);
	assert_non_null(strstr(e.msg, "'.'"));
}

static void verify_rejects_stale_and_future(void **state)
{
	struct ferry_err e = {0};

	(void)state;
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, SIG, BODY, TS + 301, &e), FERRY_EAUTH);
	assert_non_null(strstr(e.msg, "301 s in the past"));
	assert_no_secret(&e);
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, SIG, BODY, TS + 86400, &e), FERRY_EAUTH);
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, SIG, BODY, TS - 301, &e), FERRY_EAUTH);
	assert_non_null(strstr(e.msg, "301 s in the future"));
	assert_no_secret(&e);
}

static void verify_rejects_bad_timestamps(void **state)
{
	static const char *const bad[] = {
		"abc", "1614265330a", "-1614265330", "+1614265330", " 1614265330", "1614265330 ",
		"1614265330.5", "0x60378bf2", "1234567890123456789012345",
	};
	struct ferry_err e = {0};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(verify(SECRET, MSG_ID, bad[i], SIG, BODY, TS, &e), FERRY_EAUTH);
		assert_non_null(strstr(e.msg, "not a unix time"));
	}
	/* A long header is cut short in the message. */
	assert_true(strlen(e.msg) < 120);
}

static void verify_rejects_missing_headers(void **state)
{
	struct ferry_err e = {0};

	(void)state;
	assert_int_equal(verify(SECRET, NULL, TS_S, SIG, BODY, TS, &e), FERRY_EAUTH);
	assert_non_null(strstr(e.msg, "webhook-id header is missing"));
	assert_int_equal(verify(SECRET, "", TS_S, SIG, BODY, TS, &e), FERRY_EAUTH);
	assert_non_null(strstr(e.msg, "webhook-id header is missing"));
	assert_int_equal(verify(SECRET, MSG_ID, NULL, SIG, BODY, TS, &e), FERRY_EAUTH);
	assert_non_null(strstr(e.msg, "webhook-timestamp header is missing"));
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, NULL, BODY, TS, &e), FERRY_EAUTH);
	assert_non_null(strstr(e.msg, "webhook-signature header is missing"));
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, "", BODY, TS, &e), FERRY_EAUTH);
	assert_non_null(strstr(e.msg, "webhook-signature header is missing"));
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, "   ", BODY, TS, &e), FERRY_EAUTH);
	assert_non_null(strstr(e.msg, "no v1 signature"));
}

static void verify_rejects_bad_secrets(void **state)
{
	struct ferry_err e = {0};

	(void)state;
	/* The right key without its prefix. */
	assert_int_equal(verify(SECRET_B64, MSG_ID, TS_S, SIG, BODY, TS, &e), FERRY_ECONFIG);
	assert_non_null(strstr(e.msg, "does not start with \"whsec_\""));
	assert_no_secret(&e);
	assert_int_equal(verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2La!aSw", MSG_ID, TS_S, SIG, BODY, TS,
				&e), FERRY_ECONFIG);
	assert_non_null(strstr(e.msg, "not valid base64"));
	assert_null(strstr(e.msg, "MfKQ9r8G"));
	/* Truncated: the padding is wrong. */
	assert_int_equal(verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", MSG_ID, TS_S, SIG, BODY, TS,
				&e), FERRY_ECONFIG);
	assert_non_null(strstr(e.msg, "not valid base64"));
	assert_int_equal(verify("whsec_", MSG_ID, TS_S, SIG, BODY, TS, &e), FERRY_ECONFIG);
	assert_int_equal(verify(NULL, MSG_ID, TS_S, SIG, BODY, TS, &e), FERRY_ECONFIG);
	assert_int_equal(verify("", MSG_ID, TS_S, SIG, BODY, TS, &e), FERRY_ECONFIG);
	/* 12 bytes: under the spec's 24. */
	assert_int_equal(verify("whsec_AAECAwQFBgcICQoL", MSG_ID, TS_S, SIG, BODY, TS, &e),
			 FERRY_ECONFIG);
	assert_non_null(strstr(e.msg, "12 bytes"));
	/* 66 bytes: over the spec's 64. */
	assert_int_equal(verify("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEy"
				"MzQ1Njc4OTo7PD0+P0BB", MSG_ID, TS_S, SIG, BODY, TS, &e), FERRY_ECONFIG);
	assert_non_null(strstr(e.msg, "66 bytes"));
}

static void verify_several_signatures(void **state)
{
	struct ferry_err e = {0};

	(void)state;
	/* Rotation: an old key's signature first, then the current one. */
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, BAD_SIG " " SIG, BODY, TS, &e), 0);
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, SIG " " BAD_SIG, BODY, TS, &e), 0);
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, "v1,bad  " SIG "  ", BODY, TS, &e), 0);
	/* Other versions (v1a is the asymmetric scheme) are skipped, not errors. */
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPC== "
				"v2," SIG_B64 " " SIG, BODY, TS, &e), 0);
	/* The right bytes under another version do not count. */
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, "v2," SIG_B64, BODY, TS, &e), FERRY_EAUTH);
	assert_non_null(strstr(e.msg, "no v1 signature"));
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, "v1," SIG_B64 "," SIG_B64, BODY, TS, &e),
			 FERRY_EAUTH);
	assert_int_equal(verify(SECRET, MSG_ID, TS_S, BAD_SIG " v1,also-bad", BODY, TS, &e),
			 FERRY_EAUTH);
	assert_non_null(strstr(e.msg, "2 v1 signatures checked"));
	assert_no_secret(&e);
}

static void new_secret_round_trip(void **state)
{
	char a[FERRY_WHSEC_SIZE], b[FERRY_WHSEC_SIZE], sig[FERRY_WEBHOOK_SIG_SIZE];
	unsigned char key[64];
	size_t klen = 0;
	struct ferry_err e = {0};

	(void)state;
	assert_int_equal(ferry_whsec_new(a, FERRY_WHSEC_SIZE - 1), FERRY_ETOOBIG);
	assert_int_equal(ferry_whsec_new(a, sizeof(a)), 0);
	assert_int_equal(ferry_whsec_new(b, sizeof(b)), 0);
	assert_int_equal(strlen(a), FERRY_WHSEC_SIZE - 1);
	assert_memory_equal(a, "whsec_", 6);
	assert_string_not_equal(a, b);
	assert_int_equal(sodium_base642bin(key, sizeof(key), a + 6, strlen(a + 6), NULL, &klen, NULL,
					   sodium_base64_VARIANT_ORIGINAL), 0);
	assert_int_equal(klen, 24);
	assert_int_equal(ferry_webhook_sign(a, "msg_x", 1700000000, BODY, strlen(BODY), sig,
					    sizeof(sig), &e), 0);
	assert_int_equal(strlen(sig), FERRY_WEBHOOK_SIG_SIZE - 1);
	assert_int_equal(verify(a, "msg_x", "1700000000", sig, BODY, 1700000100, &e), 0);
	assert_int_equal(verify(b, "msg_x", "1700000000", sig, BODY, 1700000100, &e), FERRY_EAUTH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sign_spec_vector),
		cmocka_unit_test(sign_other_vectors),
		cmocka_unit_test(sign_refuses_bad_input),
		cmocka_unit_test(verify_accepts_vector),
		cmocka_unit_test(verify_rejects_forgeries),
		cmocka_unit_test(verify_rejects_stale_and_future),
		cmocka_unit_test(verify_rejects_bad_timestamps),
		cmocka_unit_test(verify_rejects_missing_headers),
		cmocka_unit_test(verify_rejects_bad_secrets),
		cmocka_unit_test(verify_several_signatures),
		cmocka_unit_test(new_secret_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
