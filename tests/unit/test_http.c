/*
 * test_http.c - the HTTP client against a scripted HTTP/1.1 server on loopback.
 *
 * Each test starts a tiny server thread on 127.0.0.1 (ephemeral port) that
 * answers each request with the next canned response of its script ("HANG":
 * read the request and never answer; "CLOSE": hang up without a word) and
 * records what it was sent. It serves one connection at a time and keeps it
 * open unless the answer says "Connection: close". Limits are shrunk so that every retry,
 * backoff and timeout case runs in a fraction of a second.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "util/http.h"

/* ---- the scripted server ------------------------------------------------ */

#define MAX_REQS 16

struct srv {
	int fd, port;
	pthread_t th;
	volatile int stop;
	const char *script[MAX_REQS];
	int nscript;
	pthread_mutex_t mu;
	char *reqs[MAX_REQS]; /* each request received: head and body */
	int nreqs;
	int nconns; /* connections accepted */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is readable or the server stops; false when stopping. */
static bool wait_readable(struct srv *s, int fd)
{
	struct pollfd p = {fd, POLLIN, 0};

	while (!s->stop)
		if (poll(&p, 1, 20) > 0)
			return true;
	return false;
}

/* Reads one request (head until CRLFCRLF, then Content-Length bytes of body). */
static char *read_request(struct srv *s, int fd)
{
	size_t cap = 65536, len = 0, want = 0;
	char *buf = malloc(cap + 1);

	for (;;) {
		char *end;
		ssize_t n;

		if (len == cap || !wait_readable(s, fd))
			break;
		n = recv(fd, buf + len, cap - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end && !want) {
			char *cl = strcasestr(buf, "\r\nContent-Length:");
			want = (size_t)(end + 4 - buf) +
			       (cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
		}
		if (want && len >= want)
			break;
	}
	buf[len] = '\0';
	return buf;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

/*
 * Serves one connection: requests are answered in script order; an answer
 * without "Connection: close" keeps the connection open for the next one.
 */
static void serve_conn(struct srv *s, int c, int *served)
{
	for (;;) {
		const char *answer;
		char *req = read_request(s, c);

		if (!*req) {
			free(req);
			return;
		}
		pthread_mutex_lock(&s->mu);
		if (s->nreqs < MAX_REQS)
			s->reqs[s->nreqs++] = req;
		else
			free(req);
		pthread_mutex_unlock(&s->mu);
		answer = *served < s->nscript ? s->script[*served]
		                              : "HTTP/1.1 599 Script Exhausted\r\n"
		                                "Content-Length: 0\r\nConnection: close\r\n\r\n";
		(*served)++;
		if (!strcmp(answer, "HANG")) {
			/* Hold the connection until the client gives up on it. */
			char b[256];
			while (wait_readable(s, c) && recv(c, b, sizeof(b), 0) > 0)
				;
			return;
		}
		if (!strcmp(answer, "CLOSE"))
			return;
		send_all(c, answer, strlen(answer));
		if (strstr(answer, "Connection: close"))
			return;
	}
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	int served = 0;

	while (!s->stop) {
		int c;

		if (!wait_readable(s, s->fd))
			break;
		c = accept(s->fd, NULL, NULL);
		if (c < 0)
			continue;
		s->nconns++;
		serve_conn(s, c, &served);
		close(c);
	}
	return NULL;
}

static void srv_start(struct srv *s, int n, ...)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	va_list ap;

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		s->script[i] = va_arg(ap, const char *);
	va_end(ap);
	s->nscript = n;
	s->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(s->fd >= 0);
	assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->fd, 16), 0);
	assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(struct srv *s)
{
	s->stop = 1;
	pthread_join(s->th, NULL);
	close(s->fd);
	for (int i = 0; i < s->nreqs; i++)
		free(s->reqs[i]);
	pthread_mutex_destroy(&s->mu);
}

/* A port nothing listens on: bound, then closed again. */
static int closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* ---- helpers ------------------------------------------------------------- */

static struct ferry_http_limits fast_limits(void)
{
	struct ferry_http_limits l;

	ferry_http_limits_default(&l);
	l.max_attempts = 3;
	l.backoff_ms = 10;
	l.max_backoff_ms = 40;
	l.retry_after_cap_ms = 300;
	l.timeout_ms = 2000;
	l.connect_timeout_ms = 1000;
	return l;
}

static char *url_of(const struct srv *s, const char *path)
{
	static char buf[4][512];
	static int k;
	char *u = buf[k++ % 4];

	snprintf(u, 512, "http://127.0.0.1:%d%s", s->port, path);
	return u;
}

static char *host_of(const struct srv *s)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "127.0.0.1:%d", s->port);
	return buf;
}

/* One request with limits l; returns the code, leaves resp and err filled. */
static int run(const struct ferry_http_limits *l, const struct ferry_http_req *req,
               struct ferry_http_resp *resp, struct ferry_err *err)
{
	struct ferry_http *h = ferry_http_new(l, NULL, NULL);
	int rc;

	assert_non_null(h);
	ferry_http_resp_init(resp);
	ferry_err_clear(err);
	rc = ferry_http_do(h, req, resp, err);
	ferry_http_free(h);
	return rc;
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static void assert_lacks(const char *hay, const char *needle)
{
	if (strstr(hay, needle))
		fail_msg("\"%s\" contains \"%s\"", hay, needle);
}

/* ---- answers and headers ------------------------------------------------- */

static void ok_with_body_and_headers(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	const char *hdrs[] = {"Accept: application/json", "X-Client: test"};
	struct ferry_http_req req = {.url = NULL, .headers = hdrs, .nheaders = 2};
	char *next;

	srv_start(&s, 1,
	          "HTTP/1.1 200 OK\r\n"
	          "Content-Type: application/json\r\n"
	          "X-Total-Count:   42  \r\n"
	          "Link: <http://127.0.0.1/v1/items?page=2>; rel=\"next\"\r\n"
	          "Link: <http://127.0.0.1/v1/items?page=9>; rel=\"last\"\r\n"
	          "Content-Length: 7\r\n"
	          "Connection: close\r\n\r\n"
	          "[1,2,3]");
	req.url = url_of(&s, "/v1/items?limit=2");
	assert_int_equal(run(&l, &req, &r, &e), 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(r.wait_ms, 0);
	assert_string_equal(r.body.data, "[1,2,3]");
	assert_int_equal(r.body.len, 7);
	assert_string_equal(ferry_http_header(&r, "x-total-count"), "42");
	assert_string_equal(ferry_http_header(&r, "CONTENT-TYPE"), "application/json");
	assert_null(ferry_http_header(&r, "X-Missing"));
	/* Two Link lines read as one list, as HTTP says they mean. */
	next = ferry_http_link_next(ferry_http_header(&r, "Link"));
	assert_string_equal(next, "http://127.0.0.1/v1/items?page=2");
	free(next);
	assert_contains(ferry_http_header(&r, "link"), "page=9");

	assert_int_equal(s.nreqs, 1);
	assert_true(!strncmp(s.reqs[0], "GET /v1/items?limit=2 HTTP/1.1\r\n", 32));
	assert_contains(s.reqs[0], "User-Agent: ferry/" FERRY_VERSION "\r\n");
	assert_contains(s.reqs[0], "X-Client: test\r\n");
	assert_lacks(s.reqs[0], "Authorization");
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

static void chunked_body_under_cap(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {0};

	srv_start(&s, 1,
	          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
	          "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
	req.url = url_of(&s, "/");
	assert_int_equal(run(&l, &req, &r, &e), 0);
	assert_string_equal(r.body.data, "hello world");
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

static void connection_is_reused(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http *h = ferry_http_new(&l, NULL, NULL);
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {0};

	srv_start(&s, 3, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na",
	          "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb",
	          "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nc");
	req.url = url_of(&s, "/");
	ferry_http_resp_init(&r);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ferry_http_do(h, &req, &r, &e), 0);
		assert_int_equal(r.body.data[0], 'a' + i);
		assert_int_equal(r.body.len, 1);
	}
	assert_int_equal(s.nreqs, 3);
	assert_int_equal(s.nconns, 1);
	ferry_http_resp_release(&r);
	ferry_http_free(h);
	srv_stop(&s);
}

/* ---- retries --------------------------------------------------------------- */

static void retry_after_seconds_is_capped(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {0};
	long long t0;

	l.backoff_ms = 0; /* so any wait seen comes from Retry-After */
	srv_start(&s, 2,
	          "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n"
	          "Connection: close\r\n\r\n",
	          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
	req.url = url_of(&s, "/v1/x");
	t0 = now_ms();
	assert_int_equal(run(&l, &req, &r, &e), 0);
	assert_int_equal(r.attempts, 2);
	/* Retry-After: 1 asked for 1 s; retry_after_cap_ms cut it to 300 ms. */
	assert_true(r.wait_ms >= 290 && r.wait_ms < 700);
	assert_true(now_ms() - t0 < 900);
	assert_string_equal(r.body.data, "ok");
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

static void retry_after_http_date(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {0};
	char first[256], date[64];
	time_t later = time(NULL) + 5;

	l.backoff_ms = 0;
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", gmtime(&later));
	snprintf(first, sizeof(first),
	         "HTTP/1.1 503 Service Unavailable\r\nRetry-After: %s\r\nContent-Length: 0\r\n"
	         "Connection: close\r\n\r\n",
	         date);
	srv_start(&s, 2, first,
	          "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	req.url = url_of(&s, "/");
	assert_int_equal(run(&l, &req, &r, &e), 0);
	assert_int_equal(r.attempts, 2);
	/* A date 5 s away, read as such (not ignored: backoff is 0), and capped. */
	assert_true(r.wait_ms >= 290 && r.wait_ms < 700);
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

static void server_errors_then_ok(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {0};

	srv_start(&s, 3,
	          "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: "
	          "close\r\n\r\noops",
	          "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
	          "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndone");
	req.url = url_of(&s, "/v1/x");
	assert_int_equal(run(&l, &req, &r, &e), 0);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.data, "done");
	/* Full jitter: at most 10 ms, then at most 20 ms (plus scheduling slack). */
	assert_true(r.wait_ms <= 30 + 150);
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

static void server_errors_exhausted(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {0};
	char want[512];

	srv_start(&s, 3,
	          "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 11\r\nConnection: "
	          "close\r\n\r\nmaintenance",
	          "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 11\r\nConnection: "
	          "close\r\n\r\nmaintenance",
	          "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 17\r\nConnection: "
	          "close\r\n\r\nstill\r\n\tdown\x01 !");
	req.url = url_of(&s, "/v1/x?page=3");
	assert_int_equal(run(&l, &req, &r, &e), FERRY_ESOURCE);
	assert_int_equal(r.attempts, 3);
	assert_int_equal(s.nreqs, 3);
	assert_true(e.retryable);
	snprintf(want, sizeof(want),
	         "%s answered HTTP 503 for GET /v1/x after 3 attempts: still down !", host_of(&s));
	assert_string_equal(e.msg, want);
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

static void too_many_requests_exhausted(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {0};

	l.max_attempts = 2;
	srv_start(&s, 2,
	          "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: "
	          "0\r\nConnection: close\r\n\r\n",
	          "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: "
	          "0\r\nConnection: close\r\n\r\n");
	req.url = url_of(&s, "/v1/x");
	assert_int_equal(run(&l, &req, &r, &e), FERRY_ESOURCE);
	assert_int_equal(r.attempts, 2);
	assert_contains(e.msg, "HTTP 429 for GET /v1/x after 2 attempts");
	assert_contains(e.msg, "rate limited");
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

/* ---- errors that are not retried ------------------------------------------------ */

static void unauthorized_is_not_retried(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {0};
	char want[512];

	srv_start(&s, 2,
	          "HTTP/1.1 401 Unauthorized\r\nContent-Length: 21\r\nConnection: close\r\n\r\n"
	          "{\"error\":\"bad key\"}\r\n",
	          "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	req.url = url_of(&s, "/v1/customers");
	assert_int_equal(run(&l, &req, &r, &e), FERRY_EAUTH);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(s.nreqs, 1);
	assert_int_equal(r.status, 401);
	assert_false(e.retryable);
	snprintf(want, sizeof(want),
	         "API key rejected by %s (HTTP 401): check the source's credentials", host_of(&s));
	assert_true(!strncmp(e.msg, want, strlen(want)));
	assert_contains(e.msg, "bad key");
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

static void forbidden_is_auth(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {0};

	srv_start(&s, 1,
	          "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	req.url = url_of(&s, "/");
	assert_int_equal(run(&l, &req, &r, &e), FERRY_EAUTH);
	assert_contains(e.msg, "(HTTP 403): check the source's credentials");
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

static void not_found_is_not_retried(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {0};
	char want[512];

	srv_start(&s, 2,
	          "HTTP/1.1 404 Not Found\r\nContent-Length: 30\r\nConnection: close\r\n\r\n"
	          "{\"error\":\"no such\nresource\"}\r\n",
	          "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	req.url = url_of(&s, "/v1/missing?limit=100");
	assert_int_equal(run(&l, &req, &r, &e), FERRY_ESOURCE);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(s.nreqs, 1);
	assert_false(e.retryable);
	snprintf(want, sizeof(want),
	         "%s answered HTTP 404 for GET /v1/missing: {\"error\":\"no such resource\"}",
	         host_of(&s));
	assert_string_equal(e.msg, want);
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

static void long_error_body_is_cut(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {0};
	char answer[2048];
	char body[1001];

	memset(body, 'x', 1000);
	body[1000] = '\0';
	snprintf(answer, sizeof(answer),
	         "HTTP/1.1 400 Bad Request\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n%s",
	         body);
	srv_start(&s, 1, answer);
	req.url = url_of(&s, "/");
	assert_int_equal(run(&l, &req, &r, &e), FERRY_ESOURCE);
	assert_true(strlen(e.msg) < 300);
	assert_contains(e.msg, "xxx...");
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

/* ---- the size cap -------------------------------------------------------------- */

static void too_big_with_content_length(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {0};
	char answer[6000];
	char want[512];

	l.max_response_bytes = 1000;
	snprintf(answer, sizeof(answer),
	         "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n%5000d", 7);
	srv_start(&s, 2, answer, answer);
	req.url = url_of(&s, "/v1/big?x=1");
	assert_int_equal(run(&l, &req, &r, &e), FERRY_ETOOBIG);
	assert_int_equal(r.attempts, 1);
	/* Refused from the header: not a byte of the body was kept. */
	assert_int_equal(r.body.len, 0);
	snprintf(
	    want, sizeof(want),
	    "response from %s for GET /v1/big is larger than the 1000-byte cap "
	    "(max_response_bytes): raise it with --set max_response_bytes=N if this is expected",
	    host_of(&s));
	assert_string_equal(e.msg, want);
	assert_false(e.retryable);
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

static void too_big_chunked(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {0};
	struct ferry_buf answer = FERRY_BUF_INIT;

	l.max_response_bytes = 1000;
	ferry_buf_adds(
	    &answer, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
	for (int i = 0; i < 10; i++)
		ferry_buf_addf(&answer, "1f4\r\n%500d\r\n", i);
	ferry_buf_adds(&answer, "0\r\n\r\n");
	srv_start(&s, 1, answer.data);
	req.url = url_of(&s, "/v1/big");
	assert_int_equal(run(&l, &req, &r, &e), FERRY_ETOOBIG);
	assert_int_equal(r.attempts, 1);
	assert_true(r.body.len <= 1000);
	assert_contains(e.msg, "larger than the 1000-byte cap (max_response_bytes)");
	ferry_http_resp_release(&r);
	srv_stop(&s);
	ferry_buf_release(&answer);
}

/* ---- network trouble ------------------------------------------------------------ */

static void silent_server_times_out(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {0};
	long long t0, took;

	l.max_attempts = 2;
	l.timeout_ms = 200;
	l.backoff_ms = 0;
	srv_start(&s, 2, "HANG", "HANG");
	req.url = url_of(&s, "/v1/slow?api_key=abcdef123");
	t0 = now_ms();
	assert_int_equal(run(&l, &req, &r, &e), FERRY_ESOURCE);
	took = now_ms() - t0;
	assert_int_equal(r.attempts, 2);
	assert_int_equal(r.status, 0);
	assert_true(e.retryable);
	assert_true(took >= 390 && took < 1500);
	assert_contains(e.msg, "timed out after 200 ms");
	assert_contains(e.msg, "GET /v1/slow (after 2 attempts)");
	assert_contains(e.msg, host_of(&s));
	assert_lacks(e.msg, "abcdef123");
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

static void hang_up_is_retried(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {0};

	srv_start(&s, 2, "CLOSE",
	          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
	req.url = url_of(&s, "/");
	assert_int_equal(run(&l, &req, &r, &e), 0);
	assert_int_equal(r.attempts, 2);
	assert_string_equal(r.body.data, "ok");
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

static void connection_refused(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct ferry_http_req req = {0};
	char url[128], want[128];
	int port = closed_port();

	snprintf(url, sizeof(url), "http://user:pw@127.0.0.1:%d/v1/x?api_key=SECRET123", port);
	req.url = url;
	assert_int_equal(run(&l, &req, &r, &e), FERRY_ECONNECT);
	assert_int_equal(r.attempts, 3);
	assert_true(e.retryable);
	snprintf(want, sizeof(want),
	         "cannot reach 127.0.0.1:%d: connection refused (after 3 attempts)", port);
	assert_string_equal(e.msg, want);
	ferry_http_resp_release(&r);
}

/* ---- secrets --------------------------------------------------------------------- */

static void secrets_never_in_messages(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	const char *hdrs[] = {"X-Token: HDRSECRET77"};
	const char *secrets[] = {"HDRSECRET77", ""};
	struct ferry_http_req req = {
	    .headers = hdrs, .nheaders = 1, .secrets = secrets, .nsecrets = 2};
	static const char echo[] = "{\"error\":\"bad request GET /v1/x?api_key=SECRET123&limit=5 "
	                           "with X-Token HDRSECRET77\"}";
	char a1[512], a2[512];

	snprintf(a1, sizeof(a1),
	         "HTTP/1.1 400 Bad Request\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
	         strlen(echo), echo);
	snprintf(a2, sizeof(a2),
	         "HTTP/1.1 401 Unauthorized\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
	         strlen(echo), echo);
	srv_start(&s, 2, a1, a2);
	/* api_key is not declared secret: its name alone keeps it out of messages. */
	req.url = url_of(&s, "/v1/x?api_key=SECRET123&limit=5");
	for (int i = 0; i < 2; i++) {
		int rc = run(&l, &req, &r, &e);

		assert_int_equal(rc, i ? FERRY_EAUTH : FERRY_ESOURCE);
		assert_lacks(e.msg, "SECRET123");
		assert_lacks(e.msg, "HDRSECRET77");
		/* The echoed URL keeps its shape, the key does not survive. */
		assert_contains(e.msg, "api_key=********&limit=5 with X-Token ********");
		if (!i)
			assert_contains(e.msg, "HTTP 400 for GET /v1/x: ");
		ferry_http_resp_release(&r);
	}
	assert_contains(s.reqs[0], "X-Token: HDRSECRET77\r\n");
	srv_stop(&s);
}

static void secret_in_path_is_hidden(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	const char *secrets[] = {"hook-SECRET-9"};
	struct ferry_http_req req = {.secrets = secrets, .nsecrets = 1};

	srv_start(&s, 1,
	          "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	req.url = url_of(&s, "/hooks/hook-SECRET-9/items");
	assert_int_equal(run(&l, &req, &r, &e), FERRY_ESOURCE);
	assert_lacks(e.msg, "SECRET");
	assert_contains(e.msg, "GET /hooks/********/items (empty body)");
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

/* ---- request shapes --------------------------------------------------------------- */

static void basic_auth_header(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {.user = "ann", .password = "pw"};

	srv_start(&s, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
	req.url = url_of(&s, "/v2/campaigns");
	assert_int_equal(run(&l, &req, &r, &e), 0);
	/* base64("ann:pw") */
	assert_contains(s.reqs[0], "Authorization: Basic YW5uOnB3\r\n");
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

static void post_with_body(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	const char *json[] = {"Content-Type: application/json"};
	const char body[] = "{\"query\":\"{ leads { id } }\"}";
	struct ferry_http_req req = {.method = "POST", .body = body, .body_len = sizeof(body) - 1};

	srv_start(&s, 2, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
	          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
	req.url = url_of(&s, "/graphql");
	assert_int_equal(run(&l, &req, &r, &e), 0);
	ferry_http_resp_release(&r);
	req.headers = json;
	req.nheaders = 1;
	assert_int_equal(run(&l, &req, &r, &e), 0);
	ferry_http_resp_release(&r);

	assert_true(!strncmp(s.reqs[0], "POST /graphql HTTP/1.1\r\n", 24));
	assert_contains(s.reqs[0], "\r\n\r\n{\"query\":\"{ leads { id } }\"}");
	/* No Content-Type unless the caller gives one, and no Expect round trip. */
	assert_lacks(s.reqs[0], "Content-Type");
	assert_lacks(s.reqs[0], "Expect");
	assert_contains(s.reqs[1], "Content-Type: application/json\r\n");
	srv_stop(&s);
}

static void get_follows_redirects(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {0};

	srv_start(
	    &s, 2,
	    "HTTP/1.1 302 Found\r\nLocation: /v2/items?p=1\r\nContent-Length: 0\r\nConnection: "
	    "close\r\n\r\n",
	    "HTTP/1.1 200 OK\r\nX-Page: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]");
	req.url = url_of(&s, "/v1/items");
	assert_int_equal(run(&l, &req, &r, &e), 0);
	assert_int_equal(r.attempts, 1);
	assert_string_equal(ferry_http_header(&r, "X-Page"), "1");
	assert_null(ferry_http_header(&r, "Location"));
	assert_true(!strncmp(s.reqs[1], "GET /v2/items?p=1 HTTP/1.1\r\n", 28));
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

static void post_does_not_follow_redirects(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {.method = "POST"};

	srv_start(&s, 1,
	          "HTTP/1.1 307 Temporary Redirect\r\nLocation: /b\r\nContent-Length: "
	          "0\r\nConnection: close\r\n\r\n");
	req.url = url_of(&s, "/a");
	assert_int_equal(run(&l, &req, &r, &e), FERRY_ESOURCE);
	assert_contains(e.msg,
	                "answered HTTP 307 for POST /a: redirects are only followed for GET");
	assert_int_equal(s.nreqs, 1);
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

static void foreign_redirect_drops_credentials(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv a, b;
	const char *hdrs[] = {"X-Api-Key: k-123456", "Accept: application/json",
	                      "X-Custom: SECRET-V"};
	const char *secrets[] = {"SECRET-V"};
	struct ferry_http_req req = {.headers = hdrs,
	                             .nheaders = 3,
	                             .secrets = secrets,
	                             .nsecrets = 1,
	                             .user = "ann",
	                             .password = "pw"};
	char first[256];

	srv_start(&b, 1, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nfrom");
	snprintf(first, sizeof(first),
	         "HTTP/1.1 301 Moved Permanently\r\nLocation: %s\r\nContent-Length: 0\r\n"
	         "Connection: close\r\n\r\n",
	         url_of(&b, "/elsewhere"));
	srv_start(&a, 1, first);
	req.url = url_of(&a, "/v1/x");
	assert_int_equal(run(&l, &req, &r, &e), 0);
	assert_string_equal(r.body.data, "from");
	assert_contains(a.reqs[0], "X-Api-Key: k-123456");
	assert_contains(a.reqs[0], "Authorization: Basic");
	assert_contains(b.reqs[0], "Accept: application/json");
	assert_lacks(b.reqs[0], "k-123456");
	assert_lacks(b.reqs[0], "SECRET-V");
	assert_lacks(b.reqs[0], "Authorization");
	ferry_http_resp_release(&r);
	srv_stop(&a);
	srv_stop(&b);
}

/* ---- cancelling -------------------------------------------------------------------- */

static volatile sig_atomic_t cancel_flag;

static void *cancel_soon(void *arg)
{
	usleep(150 * 1000);
	cancel_flag = 1;
	return NULL;
}

static void cancel_stops_a_long_wait(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	struct ferry_http_req req = {0};
	struct ferry_http *h;
	pthread_t th;
	long long t0;
	int rc;

	l.retry_after_cap_ms = 10000;
	srv_start(&s, 1,
	          "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 10\r\nContent-Length: 0\r\n"
	          "Connection: close\r\n\r\n");
	req.url = url_of(&s, "/");
	cancel_flag = 0;
	h = ferry_http_new(&l, NULL, &cancel_flag);
	ferry_http_resp_init(&r);
	pthread_create(&th, NULL, cancel_soon, NULL);
	t0 = now_ms();
	rc = ferry_http_do(h, &req, &r, &e);
	assert_int_equal(rc, FERRY_ECANCEL);
	assert_true(now_ms() - t0 < 1000);
	assert_int_equal(r.attempts, 1);
	pthread_join(th, NULL);
	/* Cancelled before it starts: nothing is sent. */
	assert_int_equal(ferry_http_do(h, &req, &r, &e), FERRY_ECANCEL);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(s.nreqs, 1);
	ferry_http_free(h);
	ferry_http_resp_release(&r);
	srv_stop(&s);
}

/* ---- rate limit ----------------------------------------------------------------------- */

static void rate_limit_spaces_requests(void **state)
{
	struct ferry_http_limits l = fast_limits();
	struct ferry_ratelimit *rl = ferry_ratelimit_new(20, 1);
	struct ferry_http *h = ferry_http_new(&l, rl, NULL);
	struct ferry_http_resp r;
	struct ferry_err e;
	struct srv s;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	struct ferry_http_req req = {0};
	long long t0;

	srv_start(&s, 5, ok, ok, ok, ok, ok);
	req.url = url_of(&s, "/");
	ferry_http_resp_init(&r);
	t0 = now_ms();
	for (int i = 0; i < 5; i++)
		assert_int_equal(ferry_http_do(h, &req, &r, &e), 0);
	/* One token at once, then one every 50 ms. */
	assert_true(now_ms() - t0 >= 195);
	assert_int_equal(r.attempts, 5);
	assert_int_equal(r.wait_ms, 0);
	ferry_http_resp_release(&r);
	ferry_http_free(h);
	ferry_ratelimit_free(rl);
	srv_stop(&s);
}

static void rate_limit_burst_and_unlimited(void **state)
{
	struct ferry_ratelimit *rl = ferry_ratelimit_new(10, 3);
	struct ferry_ratelimit *none = ferry_ratelimit_new(0, 0);
	long long t0 = now_ms();

	for (int i = 0; i < 3; i++)
		ferry_ratelimit_wait(rl, NULL);
	assert_true(now_ms() - t0 < 50);
	ferry_ratelimit_wait(rl, NULL);
	assert_true(now_ms() - t0 >= 95);
	t0 = now_ms();
	for (int i = 0; i < 1000; i++)
		ferry_ratelimit_wait(none, NULL);
	ferry_ratelimit_wait(NULL, NULL);
	assert_true(now_ms() - t0 < 50);
	ferry_ratelimit_free(rl);
	ferry_ratelimit_free(none);
}

/* ---- parsers ------------------------------------------------------------------------- */

static void link_next_cases(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"<https://a/b?page=2>; rel=\"next\", <https://a/b?page=9>; rel=\"last\"",
	     "https://a/b?page=2"},
	    {"<https://a/b?page=1>; rel=\"prev\", <https://a/b?page=3>; rel=\"next\"",
	     "https://a/b?page=3"},
	    {"<https://a/b?page=3>; rel=next", "https://a/b?page=3"},
	    {"<https://a/b?p=3>;rel=\"last next\"", "https://a/b?p=3"},
	    {"  < https://a/b?x=1,2 >  ;  title=\"a, b; c\" ; REL = \"Next\"  ",
	     "https://a/b?x=1,2"},
	    {"<https://a/?q=next>; rel=\"prev\"; title=\"next\"", NULL},
	    {"<https://a/1>; rel=\"nextpage\"", NULL},
	    {"<https://a/1>; rel=\"prev\"; rel=\"next\"", NULL},
	    {"<https://a/1>; anchor=\"#x\", <https://a/2>; rel=next", "https://a/2"},
	    {"garbage, <https://a/2>; rel=\"next\"", "https://a/2"},
	    {"</v1/items?cursor=abc>; rel=\"next\"", "/v1/items?cursor=abc"},
	    {"<https://a/unterminated; rel=\"next\"", NULL},
	    {"", NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = ferry_http_link_next(cases[i].in);
		if (cases[i].want)
			assert_string_equal(got, cases[i].want);
		else if (got)
			fail_msg("case %zu: expected no next link, got %s", i, got);
		free(got);
	}
	assert_null(ferry_http_link_next(NULL));
}

static void host_cases(void **state)
{
	char out[64], tiny[5];

	ferry_http_host("http://127.0.0.1:8080/v1/x?y", out, sizeof(out));
	assert_string_equal(out, "127.0.0.1:8080");
	ferry_http_host("https://api.stripe.com/v1", out, sizeof(out));
	assert_string_equal(out, "api.stripe.com");
	ferry_http_host("https://api.stripe.com", out, sizeof(out));
	assert_string_equal(out, "api.stripe.com");
	ferry_http_host("https://user:p%40ss@api.close.com/api/v1/?a=b@c", out, sizeof(out));
	assert_string_equal(out, "api.close.com");
	ferry_http_host("http://[::1]:9/x", out, sizeof(out));
	assert_string_equal(out, "[::1]:9");
	ferry_http_host("https://h.example?x=1", out, sizeof(out));
	assert_string_equal(out, "h.example");
	ferry_http_host("https://api.stripe.com/", tiny, sizeof(tiny));
	assert_string_equal(tiny, "api.");
}

static void urlencode_cases(void **state)
{
	struct ferry_buf b = FERRY_BUF_INIT;

	assert_int_equal(ferry_http_urlencode(&b, "AZaz09-._~"), 0);
	assert_string_equal(b.data, "AZaz09-._~");
	ferry_buf_reset(&b);
	assert_int_equal(ferry_http_urlencode(&b, "a b&c=d/e?f+g%h"), 0);
	assert_string_equal(b.data, "a%20b%26c%3Dd%2Fe%3Ff%2Bg%25h");
	ferry_buf_reset(&b);
	assert_int_equal(ferry_http_urlencode(&b, "created[gte]"), 0);
	assert_string_equal(b.data, "created%5Bgte%5D");
	ferry_buf_reset(&b);
	assert_int_equal(ferry_http_urlencode(&b, "é"), 0);
	assert_string_equal(b.data, "%C3%A9");
	ferry_buf_reset(&b);
	assert_int_equal(ferry_http_urlencode(&b, ""), 0);
	assert_string_equal(b.data, "");
	ferry_buf_release(&b);
}

static void limits_defaults(void **state)
{
	struct ferry_http_limits l;

	ferry_http_limits_default(&l);
	assert_int_equal(l.max_attempts, 5);
	assert_int_equal(l.backoff_ms, 500);
	assert_int_equal(l.max_backoff_ms, 30000);
	assert_int_equal(l.retry_after_cap_ms, 60000);
	assert_int_equal(l.timeout_ms, 60000);
	assert_int_equal(l.connect_timeout_ms, 10000);
	assert_int_equal(l.max_response_bytes, 64LL * 1024 * 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ok_with_body_and_headers),
	    cmocka_unit_test(chunked_body_under_cap),
	    cmocka_unit_test(connection_is_reused),
	    cmocka_unit_test(retry_after_seconds_is_capped),
	    cmocka_unit_test(retry_after_http_date),
	    cmocka_unit_test(server_errors_then_ok),
	    cmocka_unit_test(server_errors_exhausted),
	    cmocka_unit_test(too_many_requests_exhausted),
	    cmocka_unit_test(unauthorized_is_not_retried),
	    cmocka_unit_test(forbidden_is_auth),
	    cmocka_unit_test(not_found_is_not_retried),
	    cmocka_unit_test(long_error_body_is_cut),
	    cmocka_unit_test(too_big_with_content_length),
	    cmocka_unit_test(too_big_chunked),
	    cmocka_unit_test(silent_server_times_out),
	    cmocka_unit_test(hang_up_is_retried),
	    cmocka_unit_test(connection_refused),
	    cmocka_unit_test(secrets_never_in_messages),
	    cmocka_unit_test(secret_in_path_is_hidden),
	    cmocka_unit_test(basic_auth_header),
	    cmocka_unit_test(post_with_body),
	    cmocka_unit_test(get_follows_redirects),
	    cmocka_unit_test(post_does_not_follow_redirects),
	    cmocka_unit_test(foreign_redirect_drops_credentials),
	    cmocka_unit_test(cancel_stops_a_long_wait),
	    cmocka_unit_test(rate_limit_spaces_requests),
	    cmocka_unit_test(rate_limit_burst_and_unlimited),
	    cmocka_unit_test(link_next_cases),
	    cmocka_unit_test(host_cases),
	    cmocka_unit_test(urlencode_cases),
	    cmocka_unit_test(limits_defaults),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
