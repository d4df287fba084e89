/*
 * http.h - the HTTP API server of `ferry serve` (libmicrohttpd).
 *
 * A route table maps a method and a path pattern ("/api/v1/jobs/{id}") to a
 * handler that answers JSON. Every /api/v1 path needs "Authorization: Bearer
 * <token>" (server/token.h), checked against the state store's tokens table
 * by hash before anything else, so an unauthenticated caller learns nothing,
 * not even which routes exist. Errors are {"error": {"code", "message"}}.
 * Request bodies are capped at FERRY_HTTP_MAX_BODY: a larger Content-Length
 * is refused with 413 before any of the body is read, and a chunked body is
 * refused as soon as it passes the cap.
 *
 * Threads: libmicrohttpd's internal thread pool. Each pool thread opens its
 * own handle on the state store the first time it needs one and keeps it
 * until the server stops (a pthread key whose destructor closes it): an
 * SQLite connection must not be used by two threads at once (store.c keeps
 * prepared statements and the connection's error state per handle), WAL lets
 * the handles read concurrently, and opening per thread rather than per
 * request keeps the migration check off the request path.
 *
 * Ownership: ferry_server_start hands back a server that ferry_server_stop
 * frees; the options are copied.
 */
#ifndef FERRY_SERVER_HTTP_H
#define FERRY_SERVER_HTTP_H

#include <stddef.h>
#include "ferry/err.h"
#include "util/crypto.h"

#define FERRY_HTTP_MAX_BODY (1024 * 1024)
#define FERRY_HTTP_DEFAULT_LISTEN "127.0.0.1:8080"

struct ferry_server;

struct ferry_server_opts {
	const char *listen;     /* "HOST:PORT"; NULL: FERRY_HTTP_DEFAULT_LISTEN */
	const char *db_path;    /* the state store */
	unsigned threads;       /* request threads; 0: 2 */
	const struct ferry_key *key;   /* opens and seals secrets; NULL: routes needing it answer 400 */
	/* Called (from a request thread) after a job was queued, e.g. to wake workers. */
	void (*on_enqueue)(void *ctx);
	void *ctx;
};

/* A parsed --listen value: an IPv4 or [IPv6] literal or "localhost", and a port. */
struct ferry_listen_addr {
	char host[64];          /* as given, without brackets */
	int port;               /* 0..65535; 0 picks a free port */
	int family;             /* AF_INET or AF_INET6 */
	unsigned char addr[16]; /* network order */
};

/* Parses "HOST:PORT" ("127.0.0.1:8080", "[::1]:8080", "localhost:0"). FERRY_EUSAGE when malformed. */
int ferry_listen_parse(const char *s, struct ferry_listen_addr *out, struct ferry_err *err);

/* Binds, listens and starts answering. FERRY_EUSAGE for a bad address, FERRY_ECONNECT when it cannot bind. */
int ferry_server_start(const struct ferry_server_opts *opts, struct ferry_server **out,
		       struct ferry_err *err);
/* "http://127.0.0.1:8080" (the real port when 0 was asked for). */
const char *ferry_server_url(const struct ferry_server *s);
/* Stops accepting, finishes the requests in flight, closes the store handles, frees s. */
void ferry_server_stop(struct ferry_server *s);

/*
 * Matches path against pattern segment by segment; "{name}" matches one
 * non-empty segment of under 128 bytes, copied into the next params[i].
 * Returns how many were captured, or -1 when path does not match (or has more
 * than nparams of them). Exposed for the unit test.
 */
int ferry_http_match(const char *pattern, const char *path, char params[][128], int nparams);

#endif
