/*
 * crypto.c - sealing secrets with libsodium (see crypto.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "util/crypto.h"

#define PREFIX "fv1:"

int ferry_crypto_init(struct ferry_err *err)
{
	if (sodium_init() < 0)
		return ferry_err_set(err, FERRY_EINTERNAL, "libsodium failed to initialise");
	return 0;
}

int ferry_key_load(struct ferry_key *key, struct ferry_err *err)
{
	const char *hex = getenv(FERRY_KEY_ENV);
	unsigned char h[8];
	size_t len = 0;

	if (!hex || !*hex)
		return ferry_err_set(err, FERRY_EKEY,
				     FERRY_KEY_ENV " is not set: secrets cannot be stored or read "
				     "(create one with `ferry keygen` and export it)");
	if (strlen(hex) != 64 ||
	    sodium_hex2bin(key->k, sizeof(key->k), hex, 64, NULL, &len, NULL) != 0 || len != 32)
		return ferry_err_set(err, FERRY_EKEY,
				     FERRY_KEY_ENV " must be 64 hexadecimal characters (32 bytes); "
				     "create one with `ferry keygen`");
	crypto_generichash(h, sizeof(h), (const unsigned char *)"ferry-key-id", 12, key->k,
			   sizeof(key->k));
	sodium_bin2hex(key->id, sizeof(key->id), h, sizeof(h));
	return 0;
}

void ferry_key_generate(char hex[65])
{
	unsigned char k[32];

	randombytes_buf(k, sizeof(k));
	sodium_bin2hex(hex, 65, k, sizeof(k));
	sodium_memzero(k, sizeof(k));
}

bool ferry_secret_is_sealed(const char *s)
{
	return s && !strncmp(s, PREFIX, strlen(PREFIX));
}

int ferry_secret_seal(const struct ferry_key *key, const char *ctx, const char *plain, char **sealed,
		      struct ferry_err *err)
{
	size_t plen = strlen(plain);
	size_t rawlen = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + plen +
			crypto_aead_xchacha20poly1305_ietf_ABYTES;
	size_t b64len = sodium_base64_ENCODED_LEN(rawlen, sodium_base64_VARIANT_ORIGINAL);
	unsigned char *raw = malloc(rawlen);
	char *out = malloc(strlen(PREFIX) + 17 + 1 + b64len);
	unsigned long long clen;
	int n;

	if (!raw || !out) {
		free(raw);
		free(out);
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory sealing a secret");
	}
	randombytes_buf(raw, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		raw + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &clen,
		(const unsigned char *)plain, plen, (const unsigned char *)ctx, strlen(ctx), NULL, raw,
		key->k);
	n = sprintf(out, PREFIX "%s:", key->id);
	sodium_bin2base64(out + n, b64len, raw, rawlen, sodium_base64_VARIANT_ORIGINAL);
	free(raw);
	*sealed = out;
	return 0;
}

int ferry_secret_open(const struct ferry_key *key, const char *ctx, const char *sealed, char **plain,
		      struct ferry_err *err)
{
	const char *id, *b64;
	unsigned char *raw = NULL;
	char *out = NULL;
	size_t rawlen = 0, cap;
	unsigned long long mlen;
	int rc = 0;

	if (!ferry_secret_is_sealed(sealed))
		return ferry_err_set(err, FERRY_ESTORE, "a stored secret is not in ferry's sealed format");
	id = sealed + strlen(PREFIX);
	b64 = strchr(id, ':');
	if (!b64 || b64 - id != 16)
		return ferry_err_set(err, FERRY_ESTORE, "a stored secret is damaged (no key id)");
	if (strncmp(id, key->id, 16))
		return ferry_err_set(err, FERRY_EKEY,
				     "secrets in the state store were sealed with another key (key id "
				     "%.16s; " FERRY_KEY_ENV " has key id %s): set "
				     FERRY_KEY_ENV " to the key used when they were stored",
				     id, key->id);
	b64++;
	cap = strlen(b64);
	raw = malloc(cap + 1);
	if (!raw)
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory opening a secret");
	if (sodium_base642bin(raw, cap, b64, strlen(b64), NULL, &rawlen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    rawlen < crypto_aead_xchacha20poly1305_ietf_NPUBBYTES +
			     crypto_aead_xchacha20poly1305_ietf_ABYTES) {
		rc = ferry_err_set(err, FERRY_ESTORE, "a stored secret is damaged (bad encoding)");
		goto out;
	}
	out = malloc(rawlen + 1);
	if (!out) {
		rc = ferry_err_set(err, FERRY_ENOMEM, "out of memory opening a secret");
		goto out;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    (unsigned char *)out, &mlen, NULL, raw + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
		    rawlen - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, (const unsigned char *)ctx,
		    strlen(ctx), raw, key->k) != 0) {
		rc = ferry_err_set(err, FERRY_EKEY,
				   "a stored secret does not open with " FERRY_KEY_ENV
				   " (wrong key, or the store was tampered with)");
		free(out);
		out = NULL;
		goto out;
	}
	out[mlen] = '\0';
	*plain = out;
out:
	free(raw);
	return rc;
}

void ferry_random_id(const char *prefix, char *out, int outlen)
{
	unsigned char r[6];
	char hex[13];

	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
	snprintf(out, (size_t)outlen, "%s%s", prefix, hex);
}
