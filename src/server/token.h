/*
 * token.h - API tokens for the HTTP server (`ferry token create`, Bearer auth).
 *
 * A token is "fy_" followed by 32 random bytes in unpadded base64url (46
 * characters). It is shown to the user once; the state store keeps only the
 * hex SHA-256 of it, so a leaked store does not leak working tokens. 32 random
 * bytes are far beyond guessing, which is why a fast unsalted hash is enough
 * (a slow password hash would only slow every request down).
 */
#ifndef FERRY_SERVER_TOKEN_H
#define FERRY_SERVER_TOKEN_H

#include <stdbool.h>

#define FERRY_TOKEN_PREFIX "fy_"
#define FERRY_TOKEN_LEN 46          /* strlen of a token */
#define FERRY_TOKEN_HASH_LEN 64     /* strlen of its hex SHA-256 */

/* Writes a new random token and a NUL into out. sodium_init must have run. */
void ferry_token_new(char out[FERRY_TOKEN_LEN + 1]);
/* Writes the hex SHA-256 of token and a NUL into out. */
void ferry_token_hash(const char *token, char out[FERRY_TOKEN_HASH_LEN + 1]);
/* Whether token has a token's shape: the prefix, then 43 base64url characters. */
bool ferry_token_well_formed(const char *token);
/*
 * Whether token hashes to stored_hash. The comparison takes the same time
 * wherever the hashes differ, so timing does not tell how close a guess was.
 */
bool ferry_token_check(const char *token, const char *stored_hash);

#endif
