/*
 * sse.c - Server-Sent Events streams and the hub that parks them between
 * polls (see sse.h).
 *
 * A stream is parked by its own content reader (suspend, then return 0:
 * libmicrohttpd's pattern for "no data yet" in its internal polling modes,
 * where returning 0 alone would spin). Resuming a connection that is not
 * suspended is undefined, so a stream is marked parked only once it is
 * suspended, and the ticker resumes only marked streams. libmicrohttpd is
 * never called with the hub's lock held: the ticker takes the marked
 * streams off under the lock and resumes them after, which is safe because
 * a suspended connection is left alone by libmicrohttpd until it is resumed.
 * At stop the ticker is joined first, then the streams still parked are
 * resumed; a reader that parks after that resumes itself.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <microhttpd.h>
#include "server/http_int.h"
#include "server/sse.h"
#include "util/text.h"

struct sse_stream {
	struct sse_hub *hub;
	struct ferry_server *srv;
	struct MHD_Connection *conn;
	struct sse_source src;
	struct ferry_buf out;       /* bytes to send, from off */
	size_t off;
	long long last_write_ms;
	bool over;                  /* the source is done: end after out is sent */
	bool parked;                /* suspended, waiting for the ticker (under hub->lock) */
	struct sse_stream *prev, *next;   /* under hub->lock */
};

struct sse_hub {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t ticker;
	bool ticker_started;
	bool stopping;
	struct sse_stream *head;
	int n;
	long long keepalive_ms;
};

/* ---- the hub ---- */

/* Takes the parked streams off under the lock; the caller resumes them. */
static int take_parked(struct sse_hub *h, struct MHD_Connection **v, int max)
{
	struct sse_stream *s;
	int n = 0;

	for (s = h->head; s && n < max; s = s->next)
		if (s->parked) {
			s->parked = false;
			v[n++] = s->conn;
		}
	return n;
}

static void resume_all(struct sse_hub *h)
{
	struct MHD_Connection *v[SSE_MAX_STREAMS];
	int n, i;

	pthread_mutex_lock(&h->lock);
	n = take_parked(h, v, SSE_MAX_STREAMS);
	pthread_mutex_unlock(&h->lock);
	for (i = 0; i < n; i++)
		MHD_resume_connection(v[i]);
}

static void *ticker(void *arg)
{
	struct sse_hub *h = arg;
	struct timespec until;
	bool stop;

	for (;;) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += SSE_POLL_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&h->lock);
		while (!h->stopping &&
		       pthread_cond_timedwait(&h->wake, &h->lock, &until) != ETIMEDOUT)
			;
		stop = h->stopping;
		pthread_mutex_unlock(&h->lock);
		if (stop)
			return NULL;
		resume_all(h);
	}
}

int ferry_sse_hub_new(struct sse_hub **out, struct ferry_err *err)
{
	struct sse_hub *h = calloc(1, sizeof(*h));
	const char *ka = getenv("FERRY_SSE_KEEPALIVE_S");
	long long secs = 15;

	*out = NULL;
	if (!h)
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	if (ka && *ka && !ferry_parse_ll(ka, 1, 3600, &secs))
		secs = 15;
	h->keepalive_ms = secs * 1000;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->wake, NULL);
	if (pthread_create(&h->ticker, NULL, ticker, h)) {
		ferry_sse_hub_free(h);
		return ferry_err_set(err, FERRY_ENOMEM, "cannot start the event stream thread");
	}
	h->ticker_started = true;
	*out = h;
	return 0;
}

void ferry_sse_hub_stop(struct sse_hub *h)
{
	struct timespec until;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	pthread_cond_broadcast(&h->wake);
	pthread_mutex_unlock(&h->lock);
	if (h->ticker_started)
		pthread_join(h->ticker, NULL);
	h->ticker_started = false;
	resume_all(h);
	/*
	 * Give the streams a moment to send their last line and end cleanly
	 * (the client sees the end of the chunked body, not a cut connection).
	 */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&h->lock);
	while (h->n > 0 && pthread_cond_timedwait(&h->wake, &h->lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&h->lock);
}

void ferry_sse_hub_free(struct sse_hub *h)
{
	if (!h)
		return;
	ferry_sse_hub_stop(h);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->wake);
	free(h);
}

/* ---- one stream ---- */

int ferry_sse_event(struct ferry_buf *out, const char *name, const char *data)
{
	return ferry_buf_addf(out, "event: %s\ndata: %s\n\n", name, data);
}

static bool stopping(struct sse_hub *h)
{
	bool v;

	pthread_mutex_lock(&h->lock);
	v = h->stopping;
	pthread_mutex_unlock(&h->lock);
	return v;
}

/* Polls the source; a keep-alive comment when it had nothing for a while. */
static void fill(struct sse_stream *s)
{
	struct ferry_err err = {0};
	struct ferry_store *st;

	if (stopping(s->hub)) {
		ferry_buf_adds(&s->out, ": the server is stopping\n\n");
		s->over = true;
		return;
	}
	st = http_server_store(s->srv, &err);
	s->over = s->src.poll(s->src.ctx, st, &err, &s->out);
	if (!s->out.len && !s->over && ferry_mono_ms() - s->last_write_ms >= s->hub->keepalive_ms)
		ferry_buf_adds(&s->out, ": keep-alive\n\n");
}

/* Suspends the connection until the next tick. False when the server is stopping. */
static bool park(struct sse_stream *s)
{
	struct sse_hub *h = s->hub;

	if (stopping(h))
		return false;
	MHD_suspend_connection(s->conn);
	pthread_mutex_lock(&h->lock);
	if (h->stopping) {
		/* Too late for ferry_sse_hub_stop to see it: wake up at once and end. */
		pthread_mutex_unlock(&h->lock);
		MHD_resume_connection(s->conn);
		return true;
	}
	s->parked = true;
	pthread_mutex_unlock(&h->lock);
	return true;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse_stream *s = cls;
	size_t n;

	if (s->off >= s->out.len) {
		ferry_buf_reset(&s->out);
		s->off = 0;
		if (s->over)
			return MHD_CONTENT_READER_END_OF_STREAM;
		fill(s);
		if (!s->out.len) {
			if (s->over || !park(s))
				return MHD_CONTENT_READER_END_OF_STREAM;
			return 0;
		}
	}
	n = s->out.len - s->off < max ? s->out.len - s->off : max;
	memcpy(buf, s->out.data + s->off, n);
	s->off += n;
	s->last_write_ms = ferry_mono_ms();
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	struct sse_stream *s = cls;
	struct sse_hub *h = s->hub;

	pthread_mutex_lock(&h->lock);
	if (s->prev)
		s->prev->next = s->next;
	else
		h->head = s->next;
	if (s->next)
		s->next->prev = s->prev;
	h->n--;
	pthread_cond_broadcast(&h->wake);   /* ferry_sse_hub_stop may wait for the last one */
	pthread_mutex_unlock(&h->lock);
	if (s->src.free)
		s->src.free(s->src.ctx);
	ferry_buf_release(&s->out);
	free(s);
}

void ferry_sse_answer(struct req *r, const struct sse_source *src)
{
	struct sse_hub *h = http_sse_hub(r);
	struct MHD_Response *resp;
	struct sse_stream *s;
	const char *why = NULL;

	if (!(s = calloc(1, sizeof(*s)))) {
		if (src->free)
			src->free(src->ctx);
		http_error(r, 503, "unavailable", "out of memory starting an event stream");
		return;
	}
	s->hub = h;
	s->srv = r->srv;
	s->conn = r->conn;
	s->src = *src;
	s->last_write_ms = ferry_mono_ms();
	ferry_buf_init(&s->out, 0);
	pthread_mutex_lock(&h->lock);
	if (h->stopping)
		why = "the server is stopping";
	else if (h->n >= SSE_MAX_STREAMS)
		why = "too many event streams are open";
	if (!why) {
		s->next = h->head;
		if (h->head)
			h->head->prev = s;
		h->head = s;
		h->n++;
	}
	pthread_mutex_unlock(&h->lock);
	if (why) {
		if (src->free)
			src->free(src->ctx);
		free(s);
		http_error(r, 503, "unavailable",
			   "%s (at most %d per server); poll GET /api/v1/jobs/{id} instead, or retry later",
			   why, SSE_MAX_STREAMS);
		return;
	}
	/* From here sse_free owns s (and src): libmicrohttpd calls it when the response goes. */
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, s, sse_free);
	if (!resp) {
		sse_free(s);
		http_error(r, 503, "unavailable", "out of memory starting an event stream");
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	/* A buffering proxy (nginx) would hold the events back. */
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	http_answer_raw(r, 200, resp);
}
