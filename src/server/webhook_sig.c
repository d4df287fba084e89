/*
 * webhook_sig.c - Standard Webhooks HMAC-SHA256 signatures with libsodium (see
 * webhook_sig.h).
 *
 * The signed content "{id}.{timestamp}.{body}" is fed to the HMAC in pieces so a
 * large body is never copied. The verifier decodes each offered v1 signature and
 * compares it with sodium_memcmp, in constant time, so a caller cannot learn the
 * expected signature byte by byte from response times. Ids with a '.' are
 * refused on both sides: with them, "{id}.{ts}.{body}" could be split another
 * way and a signature reused under a different timestamp.
 */
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include "server/webhook_sig.h"

#define KEY_MIN 24       /* bytes: the spec's minimum for a symmetric secret */
#define KEY_MAX 64       /* bytes: the spec's maximum (512 bits) */
/* Room for anything the longest accepted base64 text decodes to, so "too long" is told apart. */
#define KEY_BUF (sodium_base64_ENCODED_LEN(KEY_MAX, sodium_base64_VARIANT_ORIGINAL) / 4 * 3)
#define TS_DIGITS_MAX 18 /* keeps the timestamp and |now - ts| inside a long long */

/* Decodes the key of a "whsec_" secret into key (KEY_BUF bytes); *klen is its length. */
static int whsec_key(const char *secret, unsigned char *key, size_t *klen, struct ferry_err *err)
{
	size_t plen = strlen(FERRY_WHSEC_PREFIX);
	const char *b64;
	size_t b64len;

	if (!secret || !*secret)
		return ferry_err_set(err, FERRY_ECONFIG,
				     "webhook secret is empty: set a \"whsec_...\" secret on the connection");
	if (strncmp(secret, FERRY_WHSEC_PREFIX, plen))
		return ferry_err_set(err, FERRY_ECONFIG,
				     "webhook secret does not start with \"whsec_\": a Standard Webhooks "
				     "secret is \"whsec_\" followed by a base64 key");
	b64 = secret + plen;
	b64len = strlen(b64);
	if (b64len > sodium_base64_ENCODED_LEN(KEY_MAX, sodium_base64_VARIANT_ORIGINAL) - 1)
		return ferry_err_set(err, FERRY_ECONFIG,
				     "webhook secret is too long: its key must be %d to %d bytes "
				     "(generate a new secret)", KEY_MIN, KEY_MAX);
	if (sodium_base642bin(key, KEY_BUF, b64, b64len, NULL, klen, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0) {
		sodium_memzero(key, KEY_BUF);
		return ferry_err_set(err, FERRY_ECONFIG,
				     "webhook secret is not valid base64 after \"whsec_\" (standard "
				     "alphabet with '=' padding); copy the whole secret again");
	}
	if (*klen < KEY_MIN || *klen > KEY_MAX) {
		sodium_memzero(key, KEY_BUF);
		return ferry_err_set(err, FERRY_ECONFIG,
				     "webhook secret's key is %zu bytes; Standard Webhooks needs %d to %d "
				     "(generate a new secret)", *klen, KEY_MIN, KEY_MAX);
	}
	return 0;
}

/* HMAC-SHA256 of "{id}.{ts}.{body}" under key. */
static void sign_content(const unsigned char *key, size_t klen, const char *msg_id, const char *ts,
			 const char *body, size_t len, unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg_id, strlen(msg_id));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, strlen(ts));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	if (len)
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

int ferry_whsec_new(char *out, size_t n)
{
	unsigned char key[KEY_MIN];
	size_t plen = strlen(FERRY_WHSEC_PREFIX);

	if (n < FERRY_WHSEC_SIZE)
		return FERRY_ETOOBIG;
	if (sodium_init() < 0)
		return FERRY_EINTERNAL;
	randombytes_buf(key, sizeof(key));
	memcpy(out, FERRY_WHSEC_PREFIX, plen);
	sodium_bin2base64(out + plen, n - plen, key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(key, sizeof(key));
	return 0;
}

int ferry_webhook_sign(const char *secret, const char *msg_id, long long ts, const char *body,
		       size_t len, char *sig_out, size_t n, struct ferry_err *err)
{
	unsigned char key[KEY_BUF], mac[crypto_auth_hmacsha256_BYTES];
	char tsbuf[24];
	size_t klen = 0;
	int rc;

	if (n < FERRY_WEBHOOK_SIG_SIZE)
		return ferry_err_set(err, FERRY_ETOOBIG,
				     "webhook signature buffer holds %zu bytes; it needs %d", n,
				     FERRY_WEBHOOK_SIG_SIZE);
	if (!msg_id || !*msg_id || strchr(msg_id, '.'))
		return ferry_err_set(err, FERRY_EUSAGE,
				     "webhook id must be non-empty and hold no '.' (it is part of the "
				     "signed content \"{id}.{timestamp}.{body}\")");
	if (ts < 0)
		return ferry_err_set(err, FERRY_EUSAGE,
				     "webhook timestamp %lld is negative: it must be unix seconds", ts);
	if (len && !body)
		return ferry_err_set(err, FERRY_EUSAGE, "webhook body is NULL with length %zu", len);
	if (sodium_init() < 0)
		return ferry_err_set(err, FERRY_EINTERNAL, "libsodium failed to initialise");
	rc = whsec_key(secret, key, &klen, err);
	if (rc)
		return rc;
	snprintf(tsbuf, sizeof(tsbuf), "%lld", ts);
	sign_content(key, klen, msg_id, tsbuf, body, len, mac);
	memcpy(sig_out, "v1,", 3);
	sodium_bin2base64(sig_out + 3, n - 3, mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(mac, sizeof(mac));
	return 0;
}

/* Parses a webhook-timestamp value: 1 to TS_DIGITS_MAX digits, nothing else. */
static int parse_ts(const char *s, long long *ts)
{
	long long v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= TS_DIGITS_MAX)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (i == 0)
		return -1;
	*ts = v;
	return 0;
}

/*
 * Walks the space-separated "version,signature" list; counts v1 entries in *nv1
 * and returns 1 when one of them decodes to mac. Every v1 entry is checked, so
 * the time taken depends on the header, not on where a match is.
 */
static int match_any(const char *hdr, const unsigned char mac[crypto_auth_hmacsha256_BYTES],
		     int *nv1)
{
	unsigned char sig[crypto_auth_hmacsha256_BYTES];
	const char *p = hdr, *end, *comma;
	size_t siglen;
	int found = 0;

	*nv1 = 0;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		end = strchr(p, ' ');
		if (!end)
			end = p + strlen(p);
		comma = memchr(p, ',', (size_t)(end - p));
		if (comma && comma - p == 2 && !memcmp(p, "v1", 2)) {
			(*nv1)++;
			if (sodium_base642bin(sig, sizeof(sig), comma + 1, (size_t)(end - comma - 1),
					      NULL, &siglen, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
			    siglen == sizeof(sig) && sodium_memcmp(sig, mac, sizeof(sig)) == 0)
				found = 1;
		}
		p = end;
	}
	sodium_memzero(sig, sizeof(sig));
	return found;
}

int ferry_webhook_verify(const char *secret, const char *msg_id, const char *ts_header,
			 const char *sig_header, const char *body, size_t len, long long now,
			 struct ferry_err *err)
{
	unsigned char key[KEY_BUF], mac[crypto_auth_hmacsha256_BYTES];
	size_t klen = 0;
	long long ts;
	int rc, nv1 = 0;

	if (!msg_id || !*msg_id)
		return ferry_err_set(err, FERRY_EAUTH, "webhook-id header is missing");
	if (!ts_header || !*ts_header)
		return ferry_err_set(err, FERRY_EAUTH, "webhook-timestamp header is missing");
	if (!sig_header || !*sig_header)
		return ferry_err_set(err, FERRY_EAUTH, "webhook-signature header is missing");
	if (strchr(msg_id, '.'))
		return ferry_err_set(err, FERRY_EAUTH,
				     "webhook-id holds a '.', which Standard Webhooks ids must not");
	if (parse_ts(ts_header, &ts))
		return ferry_err_set(err, FERRY_EAUTH,
				     "webhook-timestamp \"%.24s%s\" is not a unix time in whole seconds",
				     ts_header, strlen(ts_header) > 24 ? "..." : "");
	if (ts < now - FERRY_WEBHOOK_TOLERANCE)
		return ferry_err_set(err, FERRY_EAUTH,
				     "webhook-timestamp %lld is %lld s in the past (more than %d s): a "
				     "replayed request, or the sender's clock is wrong",
				     ts, now - ts, FERRY_WEBHOOK_TOLERANCE);
	if (ts > now + FERRY_WEBHOOK_TOLERANCE)
		return ferry_err_set(err, FERRY_EAUTH,
				     "webhook-timestamp %lld is %lld s in the future (more than %d s): "
				     "the sender's clock or this server's is wrong",
				     ts, ts - now, FERRY_WEBHOOK_TOLERANCE);
	if (len && !body)
		return ferry_err_set(err, FERRY_EUSAGE, "webhook body is NULL with length %zu", len);
	if (sodium_init() < 0)
		return ferry_err_set(err, FERRY_EINTERNAL, "libsodium failed to initialise");
	rc = whsec_key(secret, key, &klen, err);
	if (rc)
		return rc;
	sign_content(key, klen, msg_id, ts_header, body, len, mac);
	sodium_memzero(key, sizeof(key));
	rc = match_any(sig_header, mac, &nv1);
	sodium_memzero(mac, sizeof(mac));
	if (rc)
		return 0;
	if (!nv1)
		return ferry_err_set(err, FERRY_EAUTH,
				     "webhook-signature holds no v1 signature (expected \"v1,<base64>\", "
				     "space-separated)");
	return ferry_err_set(err, FERRY_EAUTH,
			     "webhook-signature does not match (%d v1 signature%s checked): the body, "
			     "id or timestamp changed in transit, or the sender signs with another secret",
			     nv1, nv1 == 1 ? "" : "s");
}
