/*
 * webhook_sig.h - Standard Webhooks signatures: signing completion webhooks and
 * verifying signed triggers.
 *
 * ferry signs the webhooks it sends when a job ends, and accepts triggers from
 * external schedulers signed instead of bearer-authenticated, both per
 * https://www.standardwebhooks.com (symmetric scheme): the headers webhook-id,
 * webhook-timestamp (unix seconds) and webhook-signature, the latter a space
 * separated list of "v1,<base64 HMAC-SHA256>" over "{id}.{timestamp}.{body}".
 * The key is the base64 (original alphabet, padded) text after "whsec_" in the
 * secret, 24 to 64 bytes once decoded.
 *
 * Secrets are never copied into error messages, and neither is the signature
 * the verifier expected. Everything here works on caller-owned buffers; nothing
 * is allocated.
 */
#ifndef FERRY_WEBHOOK_SIG_H
#define FERRY_WEBHOOK_SIG_H

#include <stddef.h>
#include "ferry/err.h"

#define FERRY_WHSEC_PREFIX "whsec_"
/* Size of a buffer for a secret made by ferry_whsec_new: prefix, base64(24 bytes), NUL. */
#define FERRY_WHSEC_SIZE 39
/* Size of a buffer for one signature: "v1," + base64(32 bytes) + NUL. */
#define FERRY_WEBHOOK_SIG_SIZE 48
/* How far webhook-timestamp may be from the verifier's clock, either way. */
#define FERRY_WEBHOOK_TOLERANCE 300

/*
 * Writes a new secret, "whsec_" + base64 of 24 random bytes, into out (n bytes,
 * at least FERRY_WHSEC_SIZE). Returns 0, or FERRY_ETOOBIG when out is too small.
 */
int ferry_whsec_new(char *out, size_t n);

/*
 * Signs one message: writes "v1,<base64>" into sig_out (n bytes, at least
 * FERRY_WEBHOOK_SIG_SIZE). msg_id must be non-empty and hold no '.', ts must not
 * be negative; body is len bytes, not necessarily NUL-terminated.
 * Returns 0; FERRY_ECONFIG for a malformed secret; FERRY_EUSAGE for a bad id or
 * timestamp; FERRY_ETOOBIG when sig_out is too small.
 */
int ferry_webhook_sign(const char *secret, const char *msg_id, long long ts, const char *body,
		       size_t len, char *sig_out, size_t n, struct ferry_err *err);

/*
 * Verifies a received message against its three header values (NULL when the
 * header is absent) at time now (unix seconds). Returns 0 when webhook-timestamp
 * is within FERRY_WEBHOOK_TOLERANCE of now and one of the v1 signatures in
 * sig_header matches; signatures of other versions are ignored. Otherwise
 * FERRY_EAUTH, with a message saying which check failed (missing header, bad id,
 * non-numeric, old or future timestamp, no v1 signature, no match); or
 * FERRY_ECONFIG when the verifier's own secret is malformed, which is not the
 * sender's fault.
 */
int ferry_webhook_verify(const char *secret, const char *msg_id, const char *ts_header,
			 const char *sig_header, const char *body, size_t len, long long now,
			 struct ferry_err *err);

#endif
