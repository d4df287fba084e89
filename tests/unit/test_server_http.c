/*
 * test_server_http.c - the HTTP server's pure parts: --listen parsing and
 * route patterns with {id} segments.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "server/http.h"

static void listen_parse(void **state)
{
	static const char *const bad[] = {"", "8080", "127.0.0.1", ":8080", "127.0.0.1:",
					  "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:80x",
					  "127.0.0.1: 80", "999.0.0.1:80", "example.com:80",
					  "::1:8080", "[::1]8080", "[::1:8080", "[]:80", NULL};
	struct ferry_listen_addr a;
	struct ferry_err e = {0};
	int i;

	assert_int_equal(ferry_listen_parse("127.0.0.1:8080", &a, &e), 0);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 8080);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(ferry_listen_parse("localhost:0", &a, &e), 0);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 0);
	assert_int_equal(ferry_listen_parse("[::1]:65535", &a, &e), 0);
	assert_string_equal(a.host, "::1");
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.port, 65535);
	for (i = 0; bad[i]; i++) {
		assert_int_equal(ferry_listen_parse(bad[i], &a, &e), FERRY_EUSAGE);
		assert_non_null(strstr(e.msg, "HOST:PORT"));
	}
}

static void match(void **state)
{
	char p[4][128];
	char long_seg[300];

	assert_int_equal(ferry_http_match("/health", "/health", p, 4), 0);
	assert_int_equal(ferry_http_match("/health", "/healthz", p, 4), -1);
	assert_int_equal(ferry_http_match("/health", "/health/", p, 4), -1);
	assert_int_equal(ferry_http_match("/api/v1/jobs", "/api/v1/jobs", p, 4), 0);
	assert_int_equal(ferry_http_match("/api/v1/jobs", "/api/v1/job", p, 4), -1);
	assert_int_equal(ferry_http_match("/api/v1/jobs/{id}", "/api/v1/jobs/42", p, 4), 1);
	assert_string_equal(p[0], "42");
	assert_int_equal(ferry_http_match("/api/v1/jobs/{id}", "/api/v1/jobs", p, 4), -1);
	assert_int_equal(ferry_http_match("/api/v1/jobs/{id}", "/api/v1/jobs/", p, 4), -1);
	assert_int_equal(ferry_http_match("/api/v1/jobs/{id}", "/api/v1/jobs/42/cancel", p, 4), -1);
	assert_int_equal(ferry_http_match("/api/v1/jobs/{id}/cancel", "/api/v1/jobs/7/cancel", p, 4), 1);
	assert_string_equal(p[0], "7");
	assert_int_equal(ferry_http_match("/a/{x}/b/{y}", "/a/1/b/two", p, 4), 2);
	assert_string_equal(p[0], "1");
	assert_string_equal(p[1], "two");
	/* More captures than room, and a segment too long to keep: no match. */
	assert_int_equal(ferry_http_match("/a/{x}/b/{y}", "/a/1/b/two", p, 1), -1);
	memset(long_seg, 'x', sizeof(long_seg));
	memcpy(long_seg, "/api/v1/jobs/", 13);
	long_seg[sizeof(long_seg) - 1] = '\0';
	assert_int_equal(ferry_http_match("/api/v1/jobs/{id}", long_seg, p, 4), -1);
	assert_int_equal(ferry_http_match("/api/v1/jobs", "", p, 4), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(listen_parse),
		cmocka_unit_test(match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
