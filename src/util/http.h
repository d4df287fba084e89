/*
 * http.h - the HTTP client API sources talk through (libcurl underneath).
 *
 * One struct ferry_http per thread (it owns a curl easy handle and reuses its
 * connections); one struct ferry_ratelimit per source, shared by the threads
 * reading its streams. ferry_http_do() sends one request and gives back one
 * answer, doing everything a polite API client must on the way:
 *
 *   - waits for a rate-limit token before every attempt;
 *   - retries 429, 5xx and network errors (refused, reset, timed out, cut
 *     short) with exponential backoff and full jitter, honouring Retry-After
 *     (seconds or an HTTP date) up to a cap, at most max_attempts times;
 *   - gives up at once on 401/403 (FERRY_EAUTH, "API key rejected by HOST")
 *     and on any other 4xx (FERRY_ESOURCE with the status and a short piece
 *     of the body);
 *   - refuses a body larger than max_response_bytes (FERRY_ETOOBIG) without
 *     reading the rest of it.
 *
 * Messages name the host and path but never a query string value or a header
 * value listed in req->secrets (API keys travel in URLs for some vendors).
 */
#ifndef FERRY_UTIL_HTTP_H
#define FERRY_UTIL_HTTP_H

#include <stddef.h>
#include <signal.h>
#include "ferry/buf.h"
#include "ferry/err.h"

struct ferry_http_limits {
	int max_attempts;             /* >= 1; default 5 */
	long long backoff_ms;         /* first retry waits up to this; default 500 */
	long long max_backoff_ms;     /* cap on one wait; default 30000 */
	long long retry_after_cap_ms; /* a longer Retry-After is cut to this; default 60000 */
	long long timeout_ms;         /* whole request; default 60000 */
	long long connect_timeout_ms; /* default 10000 */
	long long max_response_bytes; /* default 64 MiB */
};

/* Fills the defaults above. */
void ferry_http_limits_default(struct ferry_http_limits *l);

/* Token bucket: rps tokens per second, at most burst saved. rps <= 0: no limit. Thread-safe. */
struct ferry_ratelimit;
struct ferry_ratelimit *ferry_ratelimit_new(double rps, int burst);
void ferry_ratelimit_free(struct ferry_ratelimit *rl);
/* Blocks until a token is available (or *cancel becomes non-zero). */
void ferry_ratelimit_wait(struct ferry_ratelimit *rl, volatile sig_atomic_t *cancel);

struct ferry_http;
/* rl may be NULL (no rate limit); cancel may be NULL. NULL when out of memory. */
struct ferry_http *ferry_http_new(const struct ferry_http_limits *lim, struct ferry_ratelimit *rl,
				  volatile sig_atomic_t *cancel);
void ferry_http_free(struct ferry_http *h);

struct ferry_http_req {
	const char *method;              /* "GET" (default when NULL) or "POST" */
	const char *url;                 /* absolute, query string included */
	const char *const *headers;      /* "Name: value" lines */
	int nheaders;
	const char *body;                /* POST body, or NULL */
	size_t body_len;
	const char *const *secrets;      /* values never to appear in a message */
	int nsecrets;
	const char *user, *password;     /* HTTP basic auth when user is non-NULL */
};

struct ferry_http_resp {
	long status;                     /* final HTTP status */
	struct ferry_buf body;           /* the body of the final answer */
	char **headers;                  /* "name: value" lines of the final answer (private) */
	int nheaders;
	/* Added to by every ferry_http_do (ferry_http_resp_init zeroes them): */
	int attempts;                    /* tries sent, retries included (a redirect hop is part of its try) */
	long long wait_ms;               /* time spent in backoff and Retry-After waits */
};

void ferry_http_resp_init(struct ferry_http_resp *r);
void ferry_http_resp_release(struct ferry_http_resp *r);
/* The value of a response header (case-insensitive name, trimmed), or NULL. */
const char *ferry_http_header(const struct ferry_http_resp *r, const char *name);

/*
 * Sends req, retrying as described above. 0 with a 2xx answer in resp; else
 * FERRY_EAUTH, FERRY_ESOURCE (HTTP error, or retries exhausted), FERRY_ECONNECT
 * (could not connect after every attempt), FERRY_ETOOBIG, FERRY_ECANCEL.
 */
int ferry_http_do(struct ferry_http *h, const struct ferry_http_req *req,
		  struct ferry_http_resp *resp, struct ferry_err *err);

/*
 * The target of rel="next" in an RFC 8288 Link header value (several links,
 * quoted or unquoted rel, rel lists like rel="next last"). Malloc'd, or NULL.
 */
char *ferry_http_link_next(const char *link);

/* "host" or "host:port" of an absolute URL into out (for messages). */
void ferry_http_host(const char *url, char *out, size_t outlen);

/* Appends s percent-encoded for a query string (RFC 3986 unreserved kept). */
int ferry_http_urlencode(struct ferry_buf *out, const char *s);

#endif
