/*
 * token.c - API tokens: generation, hashing, constant-time check (see token.h).
 */
#include <string.h>
#include <sodium.h>
#include "server/token.h"

#define RANDOM_BYTES 32

void ferry_token_new(char out[FERRY_TOKEN_LEN + 1])
{
	unsigned char r[RANDOM_BYTES];
	size_t plen = strlen(FERRY_TOKEN_PREFIX);

	randombytes_buf(r, sizeof(r));
	memcpy(out, FERRY_TOKEN_PREFIX, plen);
	sodium_bin2base64(out + plen, FERRY_TOKEN_LEN + 1 - plen, r, sizeof(r),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(r, sizeof(r));
}

void ferry_token_hash(const char *token, char out[FERRY_TOKEN_HASH_LEN + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
	sodium_bin2hex(out, FERRY_TOKEN_HASH_LEN + 1, h, sizeof(h));
}

bool ferry_token_well_formed(const char *token)
{
	size_t plen = strlen(FERRY_TOKEN_PREFIX), i;

	if (!token || strlen(token) != FERRY_TOKEN_LEN || strncmp(token, FERRY_TOKEN_PREFIX, plen))
		return false;
	for (i = plen; i < FERRY_TOKEN_LEN; i++) {
		char c = token[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

bool ferry_token_check(const char *token, const char *stored_hash)
{
	char h[FERRY_TOKEN_HASH_LEN + 1];

	if (!token || !stored_hash || strlen(stored_hash) != FERRY_TOKEN_HASH_LEN)
		return false;
	ferry_token_hash(token, h);
	return sodium_memcmp(h, stored_hash, FERRY_TOKEN_HASH_LEN) == 0;
}
