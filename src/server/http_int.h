/*
 * http_int.h - what the HTTP server's route modules share with its core
 * (http.c): the per-request state, the route table entry, and the calls a
 * handler answers with. Not for use outside src/server/.
 *
 * A handler runs once per request, after the route was found, the token
 * checked and the body (when any) parsed into r->json with only the route's
 * fields in it. It answers with exactly one of http_answer (JSON),
 * http_error, http_internal_error, http_answer_text or http_answer_raw; the
 * core sends it when the handler returns. Handlers run on libmicrohttpd's
 * pool threads: state they share lives in the store or behind a lock.
 *
 * Route modules: routes_jobs.c (jobs, syncs, health, metrics, scheduler),
 * routes_entities.c (sources, destinations, connections). Each exports a
 * table and its length; http.c lists the tables.
 */
#ifndef FERRY_SERVER_HTTP_INT_H
#define FERRY_SERVER_HTTP_INT_H

#include <stdbool.h>
#include <jansson.h>
#include <microhttpd.h>
#include "ferry/buf.h"
#include "server/http.h"
#include "store/store.h"

#define HTTP_MAX_PARAMS 4

struct req;
struct sse_hub;
struct ferry_fastread;

struct route {
	const char *method;
	const char *pattern;          /* "/api/v1/jobs/{id}" */
	void (*fn)(struct req *r);
	const char *const *fields;    /* body fields the route accepts (NULL: no body) */
	bool open;                    /* under /api/v1 but checked by the handler, not by token */
};

struct req {
	struct ferry_server *srv;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	const struct route *route;
	char params[HTTP_MAX_PARAMS][128];
	struct ferry_buf body;        /* the raw body (kept for signature checks) */
	json_t *json;                 /* the parsed body, when there is one */
	bool answered;                /* a response is queued: ignore the rest */
	bool too_big;                 /* the body passed the cap: discard the rest */
	size_t received;              /* body bytes so far */
	/* the answer */
	unsigned status;
	json_t *out;                  /* JSON answer */
	char *text;                   /* or a text answer (owned) ... */
	const char *content_type;     /* ... of this type */
	struct MHD_Response *raw;     /* or a response the handler built (owned until sent) */
	char allow[40];               /* for 405: the methods the path has */
};

extern const struct route ferry_routes_jobs[];
extern const int ferry_nroutes_jobs;
extern const struct route ferry_routes_entities[];
extern const int ferry_nroutes_entities;

/* The server's options as started (key, hooks); see http.h. */
const struct ferry_server_opts *http_opts(const struct req *r);

/* Answers with JSON (out is stolen). */
void http_answer(struct req *r, unsigned status, json_t *out);
/* Answers {"error": {"code", "message"}}. */
void http_error(struct req *r, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A failure of ferry itself (the store): 500 (503 when retryable), and a line on stderr. */
void http_internal_error(struct req *r, const struct ferry_err *err);
/*
 * Maps an error from a store or core call to its status: FERRY_ENOTFOUND 404,
 * FERRY_ECONFLICT 409, FERRY_EUSAGE/ECONFIG 400, FERRY_EKEY 400 (the server
 * has no key), anything else http_internal_error.
 */
void http_fail(struct req *r, const struct ferry_err *err);
/* Answers with text of content_type (text is stolen). */
void http_answer_text(struct req *r, unsigned status, const char *content_type, char *text);
/* Answers with a response the handler built (stolen), e.g. a stream. */
void http_answer_raw(struct req *r, unsigned status, struct MHD_Response *resp);

/*
 * For open routes: true when the request carries a live bearer token;
 * otherwise answers 401 and returns false.
 */
bool http_authorized(struct req *r);
/* A query parameter, or NULL. */
const char *http_query(struct req *r, const char *name);
/* True when every query parameter is one of known (NULL-ended); otherwise answers 400 naming it. */
bool http_query_known(struct req *r, const char *const *known);
/* A header, or NULL. */
const char *http_header(struct req *r, const char *name);
/* This thread's store handle, or NULL with err set (nothing answered). */
struct ferry_store *http_thread_store(struct req *r, struct ferry_err *err);
/* This thread's store handle, or NULL after answering 500. */
struct ferry_store *http_store(struct req *r);
/* This thread's store handle for code that runs outside a handler (an event stream's poll). */
struct ferry_store *http_server_store(struct ferry_server *s, struct ferry_err *err);
/* This thread's reader of the hot reads (store/fastread.h), or NULL after answering 500. */
struct ferry_fastread *http_fastread(struct req *r);
/* The server's event stream hub (server/sse.h). */
struct sse_hub *http_sse_hub(const struct req *r);

#endif
