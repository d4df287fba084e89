/*
 * crypto.h - secrets at rest: FERRY_ENCRYPTION_KEY and sealed values.
 *
 * A sealed value is "fv1:<key id>:<base64(nonce || XChaCha20-Poly1305 ciphertext)>",
 * with a context string ("source/src_ab12/url") as associated data so a sealed
 * value copied to another field does not open. The key id (16 hex of a keyed
 * hash of the key) is stored with each value so a later rotation can tell
 * which key sealed what, and so a wrong key is reported as such.
 */
#ifndef FERRY_CRYPTO_H
#define FERRY_CRYPTO_H

#include <stdbool.h>
#include "ferry/err.h"

#define FERRY_KEY_ENV "FERRY_ENCRYPTION_KEY"

struct ferry_key {
	unsigned char k[32];
	char id[17];
};

int ferry_crypto_init(struct ferry_err *err);
/* Reads FERRY_ENCRYPTION_KEY. FERRY_EKEY naming the variable when missing or malformed. */
int ferry_key_load(struct ferry_key *key, struct ferry_err *err);
/* Writes 64 hex characters and a NUL. */
void ferry_key_generate(char hex[65]);
/* Seals plain; *sealed is malloc'd (caller frees). */
int ferry_secret_seal(const struct ferry_key *key, const char *ctx, const char *plain, char **sealed,
		      struct ferry_err *err);
/* Opens a sealed value; *plain is malloc'd (caller frees, preferably after sodium_memzero). */
int ferry_secret_open(const struct ferry_key *key, const char *ctx, const char *sealed, char **plain,
		      struct ferry_err *err);
bool ferry_secret_is_sealed(const char *s);
/* Random lower-case hex id with a prefix: "src_" + 12 hex. out must hold prefix + 13. */
void ferry_random_id(const char *prefix, char *out, int outlen);

#endif
