/*
 * webhook_send.c - one attempt at each due completion webhook (see
 * webhook_send.h).
 *
 * The payload was fixed when the job ended; here it only gets its signature
 * (a fresh webhook-timestamp per attempt, as Standard Webhooks asks, so a
 * receiver's replay window holds for retries too) and is sent. The secret is
 * looked up per delivery and wiped after use.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <sodium.h>
#include "core/entity_spec.h"
#include "server/webhook_send.h"
#include "server/webhook_sig.h"
#include "store/deliveries.h"

#define SECRET_MAX 128
/* Seconds a claimed delivery stays hidden from other senders while this one tries. */
#define CLAIM_LEASE_S 60

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int secret_for(struct ferry_store *s, const struct ferry_delivery *d,
		      const struct ferry_key *key, char *out, size_t n, struct ferry_err *err)
{
	char fresh[FERRY_WHSEC_SIZE];
	int rc;

	if (d->connection_id[0]) {
		rc = ferry_connection_signing_secret(s, d->connection_id, key, out, n, err);
		if (rc != FERRY_ENOTFOUND)
			return rc;
		ferry_err_clear(err);
	}
	ferry_whsec_new(fresh, sizeof(fresh));
	rc = ferry_store_webhook_secret(s, key, fresh, false, out, n, NULL, err);
	sodium_memzero(fresh, sizeof(fresh));
	return rc;
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	return size * n;
}

/*
 * POSTs the delivery once. 0 for a 2xx; else an error message in err (the
 * URL as shown only) and *status the answer's status (0 when none came).
 */
static int post(const struct ferry_delivery *d, const char *sig, long long ts, long *status,
		struct ferry_err *err)
{
	struct curl_slist *h = NULL, *t;
	char line[160], shown[512];
	CURLcode cc;
	CURL *c;
	int rc = 0;

	*status = 0;
	pthread_once(&curl_once, curl_init);
	ferry_delivery_url_shown(d->url, shown, sizeof(shown));
	if (!(c = curl_easy_init()))
		return ferry_err_set(err, FERRY_ENOMEM, "cannot start an HTTP request (out of memory)");
	snprintf(line, sizeof(line), "webhook-id: %s", d->msg_id);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "webhook-timestamp: %lld", ts);
	if (h && (t = curl_slist_append(h, line)))
		h = t;
	snprintf(line, sizeof(line), "webhook-signature: %s", sig);
	if (h && (t = curl_slist_append(h, line)))
		h = t;
	if (h && (t = curl_slist_append(h, "Content-Type: application/json")))
		h = t;
	if (h && (t = curl_slist_append(h, "Expect:")))
		h = t;
	curl_easy_setopt(c, CURLOPT_URL, d->url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, d->payload);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(d->payload));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)FERRY_WEBHOOK_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)FERRY_WEBHOOK_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "ferry/" FERRY_VERSION);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	cc = curl_easy_perform(c);
	if (cc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (cc == CURLE_OPERATION_TIMEDOUT)
		rc = ferry_err_set(err, FERRY_ECONNECT, "%s did not answer within %ds", shown,
				   FERRY_WEBHOOK_TIMEOUT_MS / 1000);
	else if (cc != CURLE_OK)
		rc = ferry_err_set(err, FERRY_ECONNECT, "cannot reach %s: %s", shown,
				   curl_easy_strerror(cc));
	else if (*status < 200 || *status > 299)
		rc = ferry_err_set(err, FERRY_ECONNECT, "%s answered HTTP %ld%s", shown, *status,
				   *status >= 300 && *status < 400 ? " (redirects are not followed)"
								    : "");
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

/* One attempt at d, recorded in the store. Returns the store's error only. */
static int attempt(struct ferry_store *s, const struct ferry_key *key,
		   const struct ferry_delivery *d, FILE *log, struct ferry_err *err)
{
	struct ferry_err why = {0};
	char secret[SECRET_MAX], sig[FERRY_WEBHOOK_SIG_SIZE], status_out[16], shown[512];
	long long ts = (long long)time(NULL), base = ferry_delivery_retry_base();
	long http_status = 0;
	int rc;

	ferry_delivery_url_shown(d->url, shown, sizeof(shown));
	rc = secret_for(s, d, key, secret, sizeof(secret), &why);
	if (!rc)
		rc = ferry_webhook_sign(secret, d->msg_id, ts, d->payload, strlen(d->payload), sig,
					sizeof(sig), &why);
	sodium_memzero(secret, sizeof(secret));
	if (!rc)
		post(d, sig, ts, &http_status, &why);
	if ((rc = ferry_store_delivery_result(s, d->id, http_status, why.code ? why.msg : NULL,
					      (long long)time(NULL), base, status_out, err)))
		return rc;
	if (!log)
		return 0;
	if (!why.code)
		fprintf(log, "ferry: webhook %s of job %lld to %s: delivered (HTTP %ld)\n", d->event,
			d->job_id, shown, http_status);
	else if (!strcmp(status_out, "pending"))
		fprintf(log, "ferry: webhook %s of job %lld to %s: attempt %d of %d failed, retry in "
			"%llds: %s\n", d->event, d->job_id, shown, d->attempt + 1,
			FERRY_DELIVERY_MAX_ATTEMPTS, ferry_delivery_backoff(d->attempt + 1, base),
			why.msg);
	else
		fprintf(log, "ferry: webhook %s of job %lld to %s: failed after %d attempts: %s\n",
			d->event, d->job_id, shown, d->attempt + 1, why.msg);
	fflush(log);
	return 0;
}

int ferry_webhooks_send_due(struct ferry_store *s, const struct ferry_key *key, long long job_id,
			    int limit, FILE *log, int *attempted, struct ferry_err *err)
{
	struct ferry_delivery *v = NULL;
	int rc, n = 0, i;

	if (attempted)
		*attempted = 0;
	if ((rc = ferry_store_deliveries_claim(s, job_id, (long long)time(NULL), CLAIM_LEASE_S, limit,
					       &v, &n, err)))
		return rc;
	for (i = 0; i < n && !rc; i++) {
		rc = attempt(s, key, &v[i], log, err);
		if (!rc && attempted)
			(*attempted)++;
	}
	ferry_deliveries_free(v, n);
	return rc;
}
