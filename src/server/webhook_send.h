/*
 * webhook_send.h - sends completion webhooks: the deliveries the state store
 * queued when jobs ended (store/deliveries.h), signed per Standard Webhooks
 * (server/webhook_sig.h) and POSTed with libcurl.
 *
 * One attempt per claimed delivery: a 2xx answer delivers it; any other
 * status, a network error or a timeout (10 s) is a failed attempt that the
 * store schedules again with backoff. Redirects are not followed (a 3xx is a
 * failure). The signing secret is the connection's own signing_secret; a job
 * without a connection, or a connection without a secret, is signed with the
 * store-wide secret (`ferry webhook-secret`), made on first need. Log lines
 * and stored errors name the URL without its userinfo and query.
 */
#ifndef FERRY_SERVER_WEBHOOK_SEND_H
#define FERRY_SERVER_WEBHOOK_SEND_H

#include <stdio.h>
#include "ferry/err.h"
#include "store/store.h"
#include "util/crypto.h"

/* How long one attempt may take, connection included. */
#define FERRY_WEBHOOK_TIMEOUT_MS 10000

/*
 * Claims and sends the deliveries due now - of job_id only when it is > 0 -
 * at most limit (<= 0: 20), one attempt each, and records each outcome. key
 * opens the signing secrets (NULL: every attempt fails FERRY_EKEY and is
 * retried later). log (may be NULL) gets one line per attempt. *attempted
 * (may be NULL) gets how many were tried. Returns 0 unless the store failed;
 * a receiver's failure is recorded, not returned.
 */
int ferry_webhooks_send_due(struct ferry_store *s, const struct ferry_key *key, long long job_id,
			    int limit, FILE *log, int *attempted, struct ferry_err *err);

#endif
