/*
 * deliveries.h - completion webhooks in the state store: the messages to send
 * when a job ends, the attempts made to send them, and the store's own
 * webhook signing secret.
 *
 * When a job ends for good (succeeded, failed after its last attempt, or
 * cancelled; never when it is queued again for a retry), one delivery is
 * queued per webhook URL it has: the connection's settings.webhook_url and
 * the job request's webhook_url (POST /api/v1/syncs). This happens in the
 * transaction that ends the job (queue.c), so a job never ends without its
 * webhook queued, whichever process or path ended it. The payload is fixed
 * then - {"type": "sync.succeeded" | "sync.failed" | "sync.cancelled",
 * "timestamp", "job": <the job as GET /api/v1/jobs/{id} shows it>} - so every
 * attempt sends the same bytes under the same message id ("msg_…").
 *
 * A sender (server/webhook_send.h) claims due deliveries, which hides them
 * from other senders for a lease, sends each once and records the outcome: a
 * 2xx delivers it; anything else is retried after ferry_delivery_backoff,
 * and after FERRY_DELIVERY_MAX_ATTEMPTS attempts the delivery has failed.
 * Every attempt is kept (time, HTTP status, error) for `ferry job show`.
 *
 * Ownership: claimed deliveries are the caller's (ferry_deliveries_free);
 * JSON out-parameters are new references.
 */
#ifndef FERRY_STORE_DELIVERIES_H
#define FERRY_STORE_DELIVERIES_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "ferry/err.h"
#include "store/store.h"
#include "util/crypto.h"

#define FERRY_DELIVERY_MAX_ATTEMPTS 5
/* The backoff base when FERRY_WEBHOOK_RETRY_BASE_S is unset: 45 s, 3 min, 12 min, 48 min. */
#define FERRY_DELIVERY_RETRY_BASE_S 45

struct ferry_delivery {
	long long id;
	long long job_id;
	int attempt;                  /* attempts made before this one */
	char connection_id[32];       /* "" for an ad-hoc job */
	char msg_id[40];              /* "msg_…" */
	char event[32];               /* "sync.succeeded", ... */
	char *url;
	char *payload;                /* the exact body to send */
};

/*
 * Seconds to wait after failed attempt n (1 for the first): base * 4^(n-1),
 * at most a day. No jitter: one receiver's deliveries are few.
 */
long long ferry_delivery_backoff(int attempt, long long base_s);
/* FERRY_WEBHOOK_RETRY_BASE_S (1-3600) or FERRY_DELIVERY_RETRY_BASE_S. */
long long ferry_delivery_retry_base(void);

/*
 * The URL as it may be shown or logged: scheme, host, port and path; the
 * userinfo, query and fragment left out. Always NUL-terminates out.
 */
void ferry_delivery_url_shown(const char *url, char *out, size_t n);

/*
 * Claims up to limit (<= 0: 20) pending deliveries due at now, of job_id when
 * it is > 0, oldest first: their next attempt moves to now + lease_s, so no
 * other sender takes them while this one tries. *out (caller frees with
 * ferry_deliveries_free) gets *n of them.
 */
int ferry_store_deliveries_claim(struct ferry_store *s, long long job_id, long long now,
				 long long lease_s, int limit, struct ferry_delivery **out, int *n,
				 struct ferry_err *err);
void ferry_deliveries_free(struct ferry_delivery *v, int n);

/*
 * Records one attempt of delivery id at now: error NULL means delivered (a
 * 2xx), else the attempt failed (http_status the answer's status, 0 when none
 * came) and the delivery waits ferry_delivery_backoff(attempt, base_s), or has
 * failed for good after FERRY_DELIVERY_MAX_ATTEMPTS. *status_out (may be NULL,
 * 16 bytes) gets "delivered", "pending" or "failed".
 */
int ferry_store_delivery_result(struct ferry_store *s, long long id, long http_status,
				const char *error, long long now, long long base_s,
				char *status_out, struct ferry_err *err);

/*
 * The deliveries of a job, oldest first, as a JSON array of {id, url (as
 * shown), type, message_id, status, attempt, max_attempts, last_http_status,
 * last_error, next_attempt_at, created_at, delivered_at, attempts: [{at,
 * http_status, error}]}. An empty array when it has none (or is unknown).
 */
int ferry_store_job_deliveries(struct ferry_store *s, long long job_id, json_t **out,
			       struct ferry_err *err);

/*
 * The store-wide webhook signing secret, opened with key, into out (n bytes).
 * When there is none yet, or rotate is true, fresh (a new "whsec_…" secret
 * the caller made) is sealed and kept instead, and *created (may be NULL) is
 * set. FERRY_EKEY when key is NULL or not the key the secret was sealed with.
 */
int ferry_store_webhook_secret(struct ferry_store *s, const struct ferry_key *key,
			       const char *fresh, bool rotate, char *out, size_t n, bool *created,
			       struct ferry_err *err);

/*
 * For queue.c, inside the transaction that ends job_id with status: queues
 * its deliveries (none when it has no webhook URL).
 */
int ferry__deliveries_job_ended(struct ferry_store *s, long long job_id, const char *status,
				long long now, struct ferry_err *err);

#endif
