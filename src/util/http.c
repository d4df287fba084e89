/*
 * http.c - the HTTP client API sources talk through (see http.h).
 *
 * A thin layer over one libcurl easy handle per thread. The handle is reset
 * (curl_easy_reset keeps its connection and DNS caches) and configured afresh
 * for every try, so nothing from one request leaks into the next while
 * keep-alive connections are still reused.
 *
 * Redirects are followed by hand, only for GET and at most 5 hops, rather
 * than with CURLOPT_FOLLOWLOCATION: curl strips only Authorization and Cookie
 * when a redirect leaves the original host, and vendors put API keys in other
 * headers (X-Api-Key, ...). When a hop changes scheme, host or port we drop
 * basic auth and every header that carries a secret or has a credential-like
 * name, and we never follow https to http. A hop is part of its try: it does
 * not count as an attempt.
 *
 * Every try is retried on 429, 5xx and network trouble, POST included: the
 * sources only read (GraphQL queries are POSTs), so a repeat is harmless.
 * Messages go through one redactor that hides req->secrets and the values of
 * credential-like query parameters (api_key=..., token=...), so an API that
 * echoes the request URL in its error body cannot leak a key into a log.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <curl/curl.h>
#include <sodium.h>
#include "util/http.h"
#include "util/text.h"

#define SLEEP_SLICE_MS 50
#define MAX_REDIRECTS 5
#define MAX_HEADERS 256
#define SNIPPET_BYTES 200
#define MAX_NEEDLES 64
#define REDACTED "********"

/* ---- process-wide setup ------------------------------------------------ */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	/* Only for seeding the backoff jitter; on failure the seed mixes in the clock. */
	if (sodium_init() < 0)
		return;
}

void ferry_http_limits_default(struct ferry_http_limits *l)
{
	l->max_attempts = 5;
	l->backoff_ms = 500;
	l->max_backoff_ms = 30000;
	l->retry_after_cap_ms = 60000;
	l->timeout_ms = 60000;
	l->connect_timeout_ms = 10000;
	l->max_response_bytes = 64LL * 1024 * 1024;
}

/*
 * Out-of-range values fall back to the defaults. Zero is kept where it means
 * something (no backoff, ignore Retry-After) and replaced where curl would
 * read it as "forever" (timeouts) or it would make no sense (attempts, cap).
 */
static void limits_normalise(struct ferry_http_limits *l, const struct ferry_http_limits *in)
{
	struct ferry_http_limits d;

	ferry_http_limits_default(&d);
	*l = in ? *in : d;
	if (l->max_attempts < 1)
		l->max_attempts = d.max_attempts;
	if (l->backoff_ms < 0)
		l->backoff_ms = d.backoff_ms;
	if (l->max_backoff_ms < 0)
		l->max_backoff_ms = d.max_backoff_ms;
	if (l->retry_after_cap_ms < 0)
		l->retry_after_cap_ms = d.retry_after_cap_ms;
	if (l->timeout_ms <= 0)
		l->timeout_ms = d.timeout_ms;
	if (l->connect_timeout_ms <= 0)
		l->connect_timeout_ms = d.connect_timeout_ms;
	if (l->max_response_bytes <= 0)
		l->max_response_bytes = d.max_response_bytes;
}

/* ---- clocks, sleeping, jitter ------------------------------------------ */

static long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool cancelled(volatile sig_atomic_t *cancel)
{
	return cancel && *cancel;
}

/* Sleeps ns in small slices; false as soon as *cancel is set. */
static bool sleep_ns(long long ns, volatile sig_atomic_t *cancel)
{
	long long end = mono_ns() + ns;

	for (;;) {
		long long left = end - mono_ns();
		struct timespec ts;

		if (cancelled(cancel))
			return false;
		if (left <= 0)
			return true;
		if (left > SLEEP_SLICE_MS * 1000000LL)
			left = SLEEP_SLICE_MS * 1000000LL;
		ts.tv_sec = left / 1000000000LL;
		ts.tv_nsec = left % 1000000000LL;
		nanosleep(&ts, NULL);
	}
}

/* splitmix64: small, fast, good enough to spread retries apart. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ---- rate limiter ------------------------------------------------------- */

struct ferry_ratelimit {
	pthread_mutex_t mu;
	double rps;   /* <= 0: unlimited */
	double burst; /* most tokens saved */
	double tokens;
	long long last; /* mono_ns of the last refill */
};

struct ferry_ratelimit *ferry_ratelimit_new(double rps, int burst)
{
	struct ferry_ratelimit *rl = calloc(1, sizeof(*rl));

	if (!rl)
		return NULL;
	pthread_mutex_init(&rl->mu, NULL);
	rl->rps = rps;
	rl->burst = burst >= 1 ? burst : 1;
	rl->tokens = rl->burst;
	rl->last = mono_ns();
	return rl;
}

void ferry_ratelimit_free(struct ferry_ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->mu);
	free(rl);
}

void ferry_ratelimit_wait(struct ferry_ratelimit *rl, volatile sig_atomic_t *cancel)
{
	if (!rl || rl->rps <= 0)
		return;
	for (;;) {
		long long now, need;

		if (cancelled(cancel))
			return;
		pthread_mutex_lock(&rl->mu);
		now = mono_ns();
		rl->tokens += (double)(now - rl->last) * rl->rps / 1e9;
		if (rl->tokens > rl->burst)
			rl->tokens = rl->burst;
		rl->last = now;
		if (rl->tokens >= 1.0) {
			rl->tokens -= 1.0;
			pthread_mutex_unlock(&rl->mu);
			return;
		}
		need = (long long)((1.0 - rl->tokens) / rl->rps * 1e9) + 1;
		pthread_mutex_unlock(&rl->mu);
		/* Another thread may take the token first: then we wait again. */
		sleep_ns(need, cancel);
	}
}

/* ---- URLs ---------------------------------------------------------------- */

/* The authority of url (after "scheme://", before the path), userinfo removed. */
static void url_authority(const char *url, const char **start, size_t *len)
{
	const char *p = strstr(url, "://"), *end, *at = NULL;

	p = p ? p + 3 : url;
	end = p + strcspn(p, "/?#");
	for (const char *q = p; q < end; q++)
		if (*q == '@')
			at = q;
	if (at)
		p = at + 1;
	*start = p;
	*len = (size_t)(end - p);
}

void ferry_http_host(const char *url, char *out, size_t outlen)
{
	const char *p;
	size_t n;

	if (!outlen)
		return;
	url_authority(url ? url : "", &p, &n);
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* The path of url for messages: no query string, no fragment, "/" when empty. */
static void url_path(const char *url, struct ferry_buf *out)
{
	const char *p = strstr(url, "://"), *end;

	p = p ? p + 3 : url;
	p += strcspn(p, "/?#");
	end = p + strcspn(p, "?#");
	if (end == p)
		ferry_buf_addc(out, '/');
	else
		ferry_buf_add(out, p, (size_t)(end - p));
}

/* Whether a and b have the same scheme, host and port (case-insensitive). */
static bool same_origin(const char *a, const char *b)
{
	const char *sa = strstr(a, "://"), *sb = strstr(b, "://"), *ha, *hb;
	size_t la, lb;

	if (!sa || !sb || sa - a != sb - b || strncasecmp(a, b, (size_t)(sa - a)))
		return false;
	url_authority(a, &ha, &la);
	url_authority(b, &hb, &lb);
	return la == lb && !strncasecmp(ha, hb, la);
}

static bool is_https(const char *url)
{
	return !strncasecmp(url, "https://", 8);
}

int ferry_http_urlencode(struct ferry_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
		int rc;

		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~')
			rc = ferry_buf_addc(out, (char)*p);
		else
			rc = ferry_buf_add(out, enc, 3);
		if (rc)
			return rc;
	}
	return 0;
}

/* Percent-decodes s[0..n) ('+' is a space in query strings). Malloc'd. */
static char *urldecode(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && ferry_hexval(s[i + 1]) >= 0 && ferry_hexval(s[i + 2]) >= 0) {
			*o++ = (char)(ferry_hexval(s[i + 1]) * 16 + ferry_hexval(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i] == '+' ? ' ' : s[i];
		}
	}
	*o = '\0';
	return out;
}

/* Whether a parameter or header name looks like it carries a credential. */
static bool credential_name(const char *name, size_t n)
{
	static const char *const words[] = {"key", "token",   "secret",     "pass",  "auth",
	                                    "sig", "session", "credential", "cookie"};

	for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
		size_t wl = strlen(words[w]);
		for (size_t i = 0; i + wl <= n; i++)
			if (!strncasecmp(name + i, words[w], wl))
				return true;
	}
	return false;
}

/* ---- Link headers (RFC 8288) --------------------------------------------- */

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Whether a space-separated rel value names "next". */
static bool rel_has_next(const char *v, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j;

		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		j = i;
		while (j < n && v[j] != ' ' && v[j] != '\t')
			j++;
		if (j - i == 4 && !strncasecmp(v + i, "next", 4))
			return true;
		i = j;
	}
	return false;
}

/*
 * Parses the parameters after one "<url>", up to the ',' that ends the
 * link-value (or the end). Sets *next when the first rel names "next".
 */
static const char *link_params(const char *p, bool *next)
{
	bool seen_rel = false;
	char val[256];

	*next = false;
	for (;;) {
		const char *name;
		size_t nl, vl = 0;

		p = skip_ws(p);
		if (*p != ';')
			break;
		p = skip_ws(p + 1);
		name = p;
		while (*p && !strchr(";,= \t", *p))
			p++;
		nl = (size_t)(p - name);
		p = skip_ws(p);
		if (*p == '=') {
			p = skip_ws(p + 1);
			if (*p == '"') {
				for (p++; *p && *p != '"'; p++) {
					if (*p == '\\' && p[1])
						p++;
					if (vl < sizeof(val) - 1)
						val[vl++] = *p;
				}
				if (*p == '"')
					p++;
			} else {
				while (*p && !strchr(";, \t", *p)) {
					if (vl < sizeof(val) - 1)
						val[vl++] = *p;
					p++;
				}
			}
		}
		/* RFC 8288 3.3: only the first rel parameter counts. */
		if (nl == 3 && !strncasecmp(name, "rel", 3) && !seen_rel) {
			seen_rel = true;
			*next = rel_has_next(val, vl);
		}
	}
	/* Skip anything malformed up to the next link-value. */
	while (*p && *p != ',') {
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (!*p)
				break;
		}
		p++;
	}
	return p;
}

char *ferry_http_link_next(const char *link)
{
	const char *p = link;

	if (!p)
		return NULL;
	for (;;) {
		const char *url, *end;
		bool next;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			return NULL;
		if (*p != '<') {
			/* Not a link-value: skip to the next one. */
			p = link_params(p + strcspn(p, ";,"), &next);
			continue;
		}
		url = p + 1;
		end = strchr(url, '>');
		if (!end)
			return NULL;
		p = link_params(end + 1, &next);
		if (next) {
			while (url < end && (*url == ' ' || *url == '\t'))
				url++;
			while (end > url && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			return strndup(url, (size_t)(end - url));
		}
	}
}

/* ---- responses ------------------------------------------------------------ */

void ferry_http_resp_init(struct ferry_http_resp *r)
{
	memset(r, 0, sizeof(*r));
	ferry_buf_init(&r->body, 0);
}

static void resp_clear_headers(struct ferry_http_resp *r)
{
	for (int i = 0; i < r->nheaders; i++)
		free(r->headers[i]);
	r->nheaders = 0;
}

void ferry_http_resp_release(struct ferry_http_resp *r)
{
	resp_clear_headers(r);
	free(r->headers);
	r->headers = NULL;
	ferry_buf_release(&r->body);
}

/* The stored line for name (compared up to its ':'), or NULL. */
static char **header_line(const struct ferry_http_resp *r, const char *name, size_t nl)
{
	for (int i = 0; i < r->nheaders; i++)
		if (!strncasecmp(r->headers[i], name, nl) && r->headers[i][nl] == ':')
			return &r->headers[i];
	return NULL;
}

const char *ferry_http_header(const struct ferry_http_resp *r, const char *name)
{
	char **line = header_line(r, name, strlen(name));

	return line ? skip_ws(*line + strlen(name) + 1) : NULL;
}

/* Appends ", s" to a stored header line. */
static int header_append(char **line, const char *s, size_t n)
{
	size_t old = strlen(*line);
	char *p;

	/* Keep a hostile server from growing one line without bound. */
	if (old + n > 65536)
		return 0;
	p = realloc(*line, old + 2 + n + 1);
	if (!p)
		return FERRY_ENOMEM;
	memcpy(p + old, ", ", 2);
	memcpy(p + old + 2, s, n);
	p[old + 2 + n] = '\0';
	*line = p;
	return 0;
}

/*
 * Stores one header line ("Name: value", CRLF already cut). A repeated header
 * is folded into the first as "v1, v2" (RFC 9110 5.3), so Link headers sent
 * on several lines read as one list; Set-Cookie is the exception and is kept
 * apart. An obsolete continuation line (leading space) extends the last one.
 */
static int resp_add_header(struct ferry_http_resp *r, const char *s, size_t n)
{
	const char *colon, *v;
	size_t nl, vl;
	char **line, *p;

	if (n && (s[0] == ' ' || s[0] == '\t')) {
		while (n && (*s == ' ' || *s == '\t'))
			s++, n--;
		return r->nheaders ? header_append(&r->headers[r->nheaders - 1], s, n) : 0;
	}
	colon = memchr(s, ':', n);
	if (!colon || colon == s)
		return 0;
	nl = (size_t)(colon - s);
	v = colon + 1;
	vl = n - nl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	line = header_line(r, s, nl);
	if (line && !(nl == 10 && !strncasecmp(s, "set-cookie", 10)))
		return header_append(line, v, vl);
	if (r->nheaders >= MAX_HEADERS)
		return 0;
	if (!r->headers) {
		r->headers = calloc(MAX_HEADERS, sizeof(char *));
		if (!r->headers)
			return FERRY_ENOMEM;
	}
	p = malloc(nl + 2 + vl + 1);
	if (!p)
		return FERRY_ENOMEM;
	memcpy(p, s, nl);
	memcpy(p + nl, ": ", 2);
	memcpy(p + nl + 2, v, vl);
	p[nl + 2 + vl] = '\0';
	r->headers[r->nheaders++] = p;
	return 0;
}

/* ---- one exchange with curl ---------------------------------------------- */

struct ferry_http {
	CURL *curl;
	struct ferry_http_limits lim;
	struct ferry_ratelimit *rl;
	volatile sig_atomic_t *cancel;
	uint64_t rng;
	char errbuf[CURL_ERROR_SIZE];
};

/* What the callbacks saw during one exchange. */
struct xfer {
	struct ferry_http_resp *resp;
	long long cap;
	long status; /* from the latest status line */
	bool toobig, nomem;
	volatile sig_atomic_t *cancel;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	int rc;

	if ((long long)(x->resp->body.len + n) > x->cap) {
		x->toobig = true;
		return 0;
	}
	rc = ferry_buf_add(&x->resp->body, data, n);
	if (rc) {
		x->toobig = rc == FERRY_ETOOBIG;
		x->nomem = rc == FERRY_ENOMEM;
		return 0;
	}
	return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb, len = n;

	while (len && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' ' ||
	               data[len - 1] == '\t'))
		len--;
	if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
		/* A new answer (after a 1xx): only the last one's headers count. */
		const char *sp = memchr(data, ' ', len);
		resp_clear_headers(x->resp);
		x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		return n;
	}
	if (!len)
		return n;
	if (resp_add_header(x->resp, data, len)) {
		x->nomem = true;
		return 0;
	}
	/* Refuse an announced oversize body before reading any of it. */
	if (len > 15 && !strncasecmp(data, "content-length:", 15) &&
	    !(x->status >= 300 && x->status < 400)) {
		char *end;
		long long cl = strtoll(data + 15, &end, 10);

		if (cl > x->cap) {
			x->toobig = true;
			return 0;
		}
		if (cl > 0 && ferry_buf_grow(&x->resp->body, (size_t)cl) == FERRY_ENOMEM) {
			x->nomem = true;
			return 0;
		}
	}
	return n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	struct xfer *x = arg;

	return cancelled(x->cancel);
}

/* The caller's headers, minus those a foreign host must not see. */
static struct curl_slist *build_headers(const struct ferry_http_req *req, bool foreign, bool *nomem)
{
	struct curl_slist *list = NULL, *t;
	bool has_type = false;

	for (int i = 0; i < req->nheaders; i++) {
		const char *h = req->headers[i], *colon = strchr(h, ':');
		size_t nl = colon ? (size_t)(colon - h) : strlen(h);
		bool drop = false;

		if (nl == 12 && !strncasecmp(h, "content-type", 12))
			has_type = true;
		if (foreign) {
			drop = credential_name(h, nl);
			for (int s = 0; s < req->nsecrets && !drop; s++)
				if (req->secrets[s] && *req->secrets[s] &&
				    strstr(h, req->secrets[s]))
					drop = true;
		}
		if (drop)
			continue;
		t = curl_slist_append(list, h);
		if (!t)
			goto nomem;
		list = t;
	}
	/* No Expect: 100-continue round trip, no made-up form Content-Type. */
	if (!(t = curl_slist_append(list, "Expect:")))
		goto nomem;
	list = t;
	if (!has_type) {
		if (!(t = curl_slist_append(list, "Content-Type:")))
			goto nomem;
		list = t;
	}
	return list;
nomem:
	curl_slist_free_all(list);
	*nomem = true;
	return NULL;
}

/* Sets up the handle for one request to url. */
static void configure(struct ferry_http *h, const struct ferry_http_req *req, const char *method,
                      const char *url, bool foreign, struct curl_slist *headers, struct xfer *x)
{
	CURL *c = h->curl;

	curl_easy_reset(c);
	h->errbuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)h->lim.timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->lim.connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "ferry/" FERRY_VERSION);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 131072L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	if (h->cancel) {
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	if (req->user && !foreign) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, req->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, req->password ? req->password : "");
	}
	if (!strcmp(method, "GET")) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		return;
	}
	if (!strcmp(method, "POST"))
		curl_easy_setopt(c, CURLOPT_POST, 1L);
	else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (req->body || !strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
	}
}

/* ---- messages ------------------------------------------------------------- */

/* Strings no message may show: req->secrets and credential-like query values. */
struct redactor {
	const char *s[MAX_NEEDLES];
	size_t len[MAX_NEEDLES];
	char *own[MAX_NEEDLES];
	int n, nown;
	size_t maxlen;
};

static void redactor_add(struct redactor *rd, const char *s, size_t n, bool own)
{
	if (!n || rd->n >= MAX_NEEDLES) {
		if (own)
			free((char *)s);
		return;
	}
	if (own)
		rd->own[rd->nown++] = (char *)s;
	rd->s[rd->n] = s;
	rd->len[rd->n++] = n;
	if (n > rd->maxlen)
		rd->maxlen = n;
}

static void redactor_add_query(struct redactor *rd, const char *url)
{
	const char *q = strchr(url, '?');

	if (!q)
		return;
	for (q++; *q && *q != '#';) {
		size_t plen = strcspn(q, "&#"), nl = strcspn(q, "=&#");

		if (nl < plen && credential_name(q, nl)) {
			const char *v = q + nl + 1;
			size_t vl = plen - nl - 1;
			char *dec = urldecode(v, vl);

			redactor_add(rd, v, vl, false);
			if (dec)
				redactor_add(rd, dec, strlen(dec), true);
		}
		q += plen;
		if (*q == '&')
			q++;
	}
}

static void redactor_init(struct redactor *rd, const struct ferry_http_req *req, const char *url)
{
	memset(rd, 0, sizeof(*rd));
	for (int i = 0; i < req->nsecrets; i++)
		if (req->secrets[i])
			redactor_add(rd, req->secrets[i], strlen(req->secrets[i]), false);
	redactor_add_query(rd, req->url);
	if (url != req->url)
		redactor_add_query(rd, url);
}

static void redactor_release(struct redactor *rd)
{
	for (int i = 0; i < rd->nown; i++)
		free(rd->own[i]);
	rd->nown = 0;
}

/* Appends s[0..n) to out with every needle replaced (longest match first). */
static void redact_into(const struct redactor *rd, const char *s, size_t n, struct ferry_buf *out)
{
	for (size_t i = 0; i < n;) {
		size_t best = 0;

		for (int k = 0; k < rd->n; k++)
			if (rd->len[k] > best && rd->len[k] <= n - i &&
			    !memcmp(s + i, rd->s[k], rd->len[k]))
				best = rd->len[k];
		if (best) {
			ferry_buf_adds(out, REDACTED);
			i += best;
		} else {
			ferry_buf_addc(out, s[i++]);
		}
	}
}

/*
 * The start of a body on one line: control characters become spaces, runs
 * of spaces collapse, secrets are hidden, and it is cut at about 200 bytes
 * (on a UTF-8 boundary). Redaction runs on a window one secret longer than
 * the cut so a secret straddling it is still hidden.
 */
static void body_snippet(const struct redactor *rd, const struct ferry_buf *body,
                         struct ferry_buf *out)
{
	size_t win =
	    body->len < SNIPPET_BYTES + rd->maxlen ? body->len : SNIPPET_BYTES + rd->maxlen;
	struct ferry_buf flat = FERRY_BUF_INIT, red = FERRY_BUF_INIT;
	size_t cut;

	for (size_t i = 0; i < win; i++) {
		unsigned char c = (unsigned char)body->data[i];
		if (c < 0x20 || c == 0x7f) {
			if (flat.len && flat.data[flat.len - 1] != ' ')
				ferry_buf_addc(&flat, ' ');
		} else if (c != ' ' || (flat.len && flat.data[flat.len - 1] != ' ')) {
			ferry_buf_addc(&flat, (char)c);
		}
	}
	while (flat.len && flat.data[flat.len - 1] == ' ')
		ferry_buf_setlen(&flat, flat.len - 1);
	redact_into(rd, flat.data, flat.len, &red);
	cut = red.len;
	if (cut > SNIPPET_BYTES) {
		cut = SNIPPET_BYTES;
		while (cut && ((unsigned char)red.data[cut] & 0xc0) == 0x80)
			cut--;
	}
	ferry_buf_add(out, red.data, cut);
	if (cut < red.len || win < body->len)
		ferry_buf_adds(out, "...");
	ferry_buf_release(&flat);
	ferry_buf_release(&red);
}

/* Context for the messages of one ferry_http_do. */
struct msgctx {
	struct redactor rd;
	const char *method;
	char host[256];
	struct ferry_buf path;
};

static void msgctx_init(struct msgctx *m, const struct ferry_http_req *req, const char *method,
                        const char *url)
{
	redactor_init(&m->rd, req, url);
	m->method = method;
	ferry_http_host(url, m->host, sizeof(m->host));
	ferry_buf_init(&m->path, 0);
	url_path(url, &m->path);
}

static void msgctx_release(struct msgctx *m)
{
	redactor_release(&m->rd);
	ferry_buf_release(&m->path);
}

/* Formats a message, hides secrets in all of it, and sets err. */
static int fail(struct ferry_err *err, const struct msgctx *m, int code, bool retryable,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int fail(struct ferry_err *err, const struct msgctx *m, int code, bool retryable,
                const char *fmt, ...)
{
	struct ferry_buf raw = FERRY_BUF_INIT, red = FERRY_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	ferry_buf_vaddf(&raw, fmt, ap);
	va_end(ap);
	redact_into(&m->rd, raw.data, raw.len, &red);
	ferry_err_set(err, code, "%s", red.data);
	if (err)
		err->retryable = retryable;
	ferry_buf_release(&raw);
	ferry_buf_release(&red);
	return code;
}

/* "after 3 attempts" */
static const char *attempts_word(int n)
{
	return n == 1 ? "attempt" : "attempts";
}

/* "10 s" for whole seconds, "250 ms" otherwise. */
static void fmt_duration(long long ms, char *out, size_t outlen)
{
	if (ms % 1000 == 0)
		snprintf(out, outlen, "%lld s", ms / 1000);
	else
		snprintf(out, outlen, "%lld ms", ms);
}

/* ---- retries ---------------------------------------------------------------- */

static bool retryable_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_AGAIN:
		return true;
	default:
		return false;
	}
}

static bool retryable_status(long status)
{
	return status == 429 || (status >= 500 && status <= 599);
}

/* Retry-After in ms (delta seconds or an HTTP date), or -1 when absent or unreadable. */
static long long retry_after_ms(const char *v)
{
	char *end;
	double secs;
	time_t t;

	if (!v || !*v)
		return -1;
	if (*v >= '0' && *v <= '9') {
		secs = strtod(v, &end);
		if (*skip_ws(end) == '\0')
			return secs > 1e9 ? (long long)1e12 : (long long)(secs * 1000);
	}
	t = curl_getdate(v, NULL);
	if (t == -1)
		return -1;
	t -= time(NULL);
	return t > 0 ? (long long)t * 1000 : 0;
}

/* Full jitter: random in [0, min(max_backoff, backoff * 2^(attempt-1))]. */
static long long backoff_ms(struct ferry_http *h, int attempt)
{
	long long top = h->lim.backoff_ms;

	for (int i = 1; i < attempt && top < h->lim.max_backoff_ms; i++)
		top = top > h->lim.max_backoff_ms / 2 ? h->lim.max_backoff_ms : top * 2;
	if (top > h->lim.max_backoff_ms)
		top = h->lim.max_backoff_ms;
	if (top <= 0)
		return 0;
	return (long long)(rng_next(&h->rng) % ((uint64_t)top + 1));
}

/* ---- the client --------------------------------------------------------------- */

struct ferry_http *ferry_http_new(const struct ferry_http_limits *lim, struct ferry_ratelimit *rl,
                                  volatile sig_atomic_t *cancel)
{
	struct ferry_http *h;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->curl = curl_easy_init();
	if (!h->curl) {
		free(h);
		return NULL;
	}
	limits_normalise(&h->lim, lim);
	h->rl = rl;
	h->cancel = cancel;
	randombytes_buf(&h->rng, sizeof(h->rng));
	h->rng ^= (uint64_t)mono_ns() ^ (uint64_t)(uintptr_t)h;
	return h;
}

void ferry_http_free(struct ferry_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

/* How one try ended. */
enum outcome { DONE, FATAL, RETRY };

/* State of one ferry_http_do: the request and where the current hop goes. */
struct call {
	const struct ferry_http_req *req;
	const char *method;
	struct ferry_http_resp *resp;
	struct ferry_err *err;
	struct curl_slist *headers, *foreign_headers;
	char *url;           /* the current hop (malloc'd after a redirect) */
	bool foreign;        /* a redirect left the original origin */
	struct msgctx m;     /* for url */
	CURLcode curl_rc;    /* of the last try, for the final message */
	bool timed_out_sent; /* the last try timed out after sending the request */
	char net_text[CURL_ERROR_SIZE];
};

static void call_set_url(struct call *c, char *url)
{
	msgctx_release(&c->m);
	if (c->url != c->req->url)
		free(c->url);
	c->url = url ? url : (char *)c->req->url;
	c->foreign = url && !same_origin(c->req->url, url);
	msgctx_init(&c->m, c->req, c->method, c->url);
}

/* Reads the network error of a failed exchange into c for the final message. */
static void note_network_error(struct ferry_http *h, struct call *c, CURLcode rc)
{
	long os_errno = 0;
	curl_off_t sent = 0;

	c->curl_rc = rc;
	curl_easy_getinfo(h->curl, CURLINFO_OS_ERRNO, &os_errno);
	curl_easy_getinfo(h->curl, CURLINFO_REQUEST_SIZE, &sent);
	c->timed_out_sent = rc == CURLE_OPERATION_TIMEDOUT && sent > 0;
	if (rc == CURLE_COULDNT_CONNECT && os_errno) {
		snprintf(c->net_text, sizeof(c->net_text), "%s", strerror((int)os_errno));
		c->net_text[0] = (char)tolower((unsigned char)c->net_text[0]);
	} else {
		snprintf(c->net_text, sizeof(c->net_text), "%s",
		         h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
	}
}

/*
 * One try: the request, plus the redirect hops of a GET. Fills resp; on
 * RETRY sets *retry_after (-1 when the answer named none).
 */
static enum outcome try_once(struct ferry_http *h, struct call *c, long long *retry_after)
{
	struct ferry_http_resp *resp = c->resp;
	const char *method = c->method;
	int hops = 0;

	*retry_after = -1;
	call_set_url(c, NULL);
	for (;;) {
		struct xfer x = {resp, h->lim.max_response_bytes, 0, false, false, h->cancel};
		struct curl_slist *hl = c->foreign ? c->foreign_headers : c->headers;
		CURLcode rc;
		long status = 0;
		char *location = NULL;

		resp_clear_headers(resp);
		ferry_buf_reset(&resp->body);
		resp->status = 0;
		configure(h, c->req, method, c->url, c->foreign, hl, &x);
		rc = curl_easy_perform(h->curl);
		curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status);
		resp->status = status;

		if (cancelled(h->cancel) || rc == CURLE_ABORTED_BY_CALLBACK) {
			fail(c->err, &c->m, FERRY_ECANCEL, false, "request to %s cancelled",
			     c->m.host);
			return FATAL;
		}
		if (x.toobig) {
			fail(c->err, &c->m, FERRY_ETOOBIG, false,
			     "response from %s for %s %s is larger than the %lld-byte cap "
			     "(max_response_bytes): raise it with --set max_response_bytes=N "
			     "if this is expected",
			     c->m.host, method, c->m.path.data, h->lim.max_response_bytes);
			return FATAL;
		}
		if (x.nomem) {
			fail(c->err, &c->m, FERRY_ENOMEM, false,
			     "out of memory reading the response from %s", c->m.host);
			return FATAL;
		}
		if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) {
			fail(c->err, &c->m, FERRY_ECONFIG, false,
			     "cannot send %s %s to %s: %s (check the source's base URL)", method,
			     c->m.path.data, c->m.host,
			     h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
			return FATAL;
		}
		if (rc != CURLE_OK) {
			note_network_error(h, c, rc);
			if (retryable_curl(rc))
				return RETRY;
			fail(c->err, &c->m, FERRY_ECONNECT, false, "cannot reach %s: %s", c->m.host,
			     c->net_text);
			return FATAL;
		}
		if (status < 300 || status >= 400 || strcmp(method, "GET"))
			break;
		/* A redirect of a GET: follow it by hand (see the top of the file). */
		curl_easy_getinfo(h->curl, CURLINFO_REDIRECT_URL, &location);
		if (!location)
			break;
		if (hops++ == MAX_REDIRECTS) {
			fail(c->err, &c->m, FERRY_ESOURCE, false,
			     "%s redirected GET %s more than %d times: check the source's base URL",
			     c->m.host, c->m.path.data, MAX_REDIRECTS);
			return FATAL;
		}
		if (is_https(c->url) && !is_https(location)) {
			fail(c->err, &c->m, FERRY_ESOURCE, false,
			     "%s redirected GET %s from https to http: not followed, it would "
			     "expose credentials",
			     c->m.host, c->m.path.data);
			return FATAL;
		}
		location = strdup(location);
		if (!location) {
			fail(c->err, &c->m, FERRY_ENOMEM, false,
			     "out of memory following a redirect");
			return FATAL;
		}
		call_set_url(c, location);
		ferry_ratelimit_wait(h->rl, h->cancel);
	}

	if (resp->status >= 200 && resp->status < 300)
		return DONE;
	if (retryable_status(resp->status)) {
		*retry_after = retry_after_ms(ferry_http_header(resp, "Retry-After"));
		return RETRY;
	}

	struct ferry_buf snip = FERRY_BUF_INIT;
	body_snippet(&c->m.rd, &resp->body, &snip);
	if (resp->status == 401 || resp->status == 403)
		fail(c->err, &c->m, FERRY_EAUTH, false,
		     "API key rejected by %s (HTTP %ld): check the source's credentials%s%s%s",
		     c->m.host, resp->status, snip.len ? " (the API said: " : "", snip.data,
		     snip.len ? ")" : "");
	else if (resp->status >= 300 && resp->status < 400)
		fail(c->err, &c->m, FERRY_ESOURCE, false, "%s answered HTTP %ld for %s %s: %s",
		     c->m.host, resp->status, method, c->m.path.data,
		     strcmp(method, "GET") ? "redirects are only followed for GET"
		                           : "a redirect without a Location header");
	else
		fail(c->err, &c->m, FERRY_ESOURCE, false, "%s answered HTTP %ld for %s %s%s%s",
		     c->m.host, resp->status, method, c->m.path.data,
		     snip.len ? ": " : " (empty body)", snip.data);
	ferry_buf_release(&snip);
	return FATAL;
}

/* The message once every try failed with a retryable problem. */
static int fail_exhausted(struct ferry_http *h, struct call *c)
{
	struct ferry_http_resp *resp = c->resp;
	int n = h->lim.max_attempts;
	char dur[32];

	if (resp->status) {
		struct ferry_buf snip = FERRY_BUF_INIT;
		body_snippet(&c->m.rd, &resp->body, &snip);
		fail(c->err, &c->m, FERRY_ESOURCE, true,
		     "%s answered HTTP %ld for %s %s after %d %s%s%s%s", c->m.host, resp->status,
		     c->method, c->m.path.data, n, attempts_word(n),
		     snip.len ? ": " : " (empty body)", snip.data,
		     resp->status == 429 ? " (rate limited: lower the source's requests per second)"
		                         : "");
		ferry_buf_release(&snip);
		return FERRY_ESOURCE;
	}
	if (c->curl_rc == CURLE_OPERATION_TIMEDOUT && c->timed_out_sent) {
		fmt_duration(h->lim.timeout_ms, dur, sizeof(dur));
		return fail(c->err, &c->m, FERRY_ESOURCE, true,
		            "%s timed out after %s answering %s %s (after %d %s): raise timeout_ms "
		            "if the API is this slow",
		            c->m.host, dur, c->method, c->m.path.data, n, attempts_word(n));
	}
	if (c->curl_rc == CURLE_OPERATION_TIMEDOUT) {
		fmt_duration(h->lim.connect_timeout_ms < h->lim.timeout_ms
		                 ? h->lim.connect_timeout_ms
		                 : h->lim.timeout_ms,
		             dur, sizeof(dur));
		return fail(c->err, &c->m, FERRY_ECONNECT, true,
		            "cannot reach %s: connection timed out after %s (after %d %s)",
		            c->m.host, dur, n, attempts_word(n));
	}
	return fail(c->err, &c->m, FERRY_ECONNECT, true, "cannot reach %s: %s (after %d %s)",
	            c->m.host, c->net_text, n, attempts_word(n));
}

int ferry_http_do(struct ferry_http *h, const struct ferry_http_req *req,
                  struct ferry_http_resp *resp, struct ferry_err *err)
{
	struct call c = {0};
	struct ferry_err local;
	bool nomem = false;
	int rc = 0;

	if (!err)
		err = &local;
	if (!req->url || !*req->url)
		return ferry_err_set(err, FERRY_EINTERNAL, "HTTP request without a URL (a bug)");
	c.req = req;
	c.method = req->method ? req->method : "GET";
	c.resp = resp;
	c.err = err;
	c.url = (char *)req->url;
	msgctx_init(&c.m, req, c.method, req->url);
	c.headers = build_headers(req, false, &nomem);
	c.foreign_headers = build_headers(req, true, &nomem);
	if (nomem) {
		rc = fail(err, &c.m, FERRY_ENOMEM, false, "out of memory preparing a request to %s",
		          c.m.host);
		goto out;
	}

	for (int attempt = 1;; attempt++) {
		long long wait, t0;
		enum outcome o;

		ferry_ratelimit_wait(h->rl, h->cancel);
		if (cancelled(h->cancel)) {
			rc = fail(err, &c.m, FERRY_ECANCEL, false, "request to %s cancelled",
			          c.m.host);
			goto out;
		}
		resp->attempts++;
		o = try_once(h, &c, &wait);
		if (o == DONE)
			goto out;
		if (o == FATAL) {
			rc = err->code;
			goto out;
		}
		if (attempt >= h->lim.max_attempts) {
			rc = fail_exhausted(h, &c);
			goto out;
		}
		if (wait >= 0)
			wait = wait < h->lim.retry_after_cap_ms ? wait : h->lim.retry_after_cap_ms;
		else
			wait = backoff_ms(h, attempt);
		t0 = mono_ns();
		bool slept = sleep_ns(wait * 1000000LL, h->cancel);
		resp->wait_ms += (mono_ns() - t0) / 1000000;
		if (!slept) {
			rc = fail(err, &c.m, FERRY_ECANCEL, false, "request to %s cancelled",
			          c.m.host);
			goto out;
		}
	}
out:
	if (c.url != req->url)
		free(c.url);
	msgctx_release(&c.m);
	curl_slist_free_all(c.headers);
	curl_slist_free_all(c.foreign_headers);
	/* Drop curl's pointers into this call's header lists and the caller's strings. */
	curl_easy_reset(h->curl);
	return rc;
}
