/*
 * sse.h - Server-Sent Events streams for the HTTP server (text/event-stream),
 * e.g. GET /api/v1/jobs/{id}/events.
 *
 * A stream is driven by its source's poll function, called on a pool thread
 * with that thread's store handle about every SSE_POLL_MS: it appends events
 * when something changed and says when the stream is over. Between polls the
 * connection is suspended (MHD_suspend_connection), not waited on: a pool
 * thread serves thousands of connections with epoll, and blocking it in a
 * callback would stall every request assigned to it. The hub's ticker
 * thread resumes the parked streams on each tick. A comment line
 * (": keep-alive") goes out when nothing else did for FERRY_SSE_KEEPALIVE_S
 * seconds (default 15), so proxies keep the connection open and a client
 * that left is noticed at the next write.
 *
 * libmicrohttpd must not be stopped with suspended connections: the server
 * calls ferry_sse_hub_stop (every stream ends, none starts) before
 * MHD_stop_daemon, and ferry_sse_hub_free after it.
 */
#ifndef FERRY_SERVER_SSE_H
#define FERRY_SERVER_SSE_H

#include <stdbool.h>
#include "ferry/buf.h"
#include "ferry/err.h"
#include "store/store.h"

#define SSE_POLL_MS 300
#define SSE_MAX_STREAMS 256   /* per server: more are answered 503 */

struct sse_hub;
struct req;

struct sse_source {
	/*
	 * Appends events (complete "event: ...\ndata: ...\n\n" blocks) to out;
	 * returns true when the stream is over once they are sent. st is the
	 * calling pool thread's store handle, or NULL when it cannot be opened
	 * (err says why); the callback never runs on two threads at once.
	 */
	bool (*poll)(void *ctx, struct ferry_store *st, const struct ferry_err *err,
		     struct ferry_buf *out);
	void (*free)(void *ctx);   /* may be NULL */
	void *ctx;
};

int ferry_sse_hub_new(struct sse_hub **out, struct ferry_err *err);
/* Ends every stream at its next write, refuses new ones, stops the ticker. */
void ferry_sse_hub_stop(struct sse_hub *h);
void ferry_sse_hub_free(struct sse_hub *h);

/*
 * Answers r with a stream from src (which it takes over: src->free runs
 * whatever happens), or with 503 when the server is stopping or already
 * has SSE_MAX_STREAMS streams.
 */
void ferry_sse_answer(struct req *r, const struct sse_source *src);

/* Appends one event: "event: NAME\ndata: DATA\n\n" (DATA must be one line). */
int ferry_sse_event(struct ferry_buf *out, const char *name, const char *data);

#endif
