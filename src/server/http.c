/*
 * http.c - the HTTP API server: listening socket, request life cycle, auth,
 * route table, JSON answers and errors (see http.h).
 *
 * libmicrohttpd calls the access handler several times per request: once
 * when the headers are in (we find the route, check the token and the
 * announced body size here, so a refused request costs no body reading), once
 * per piece of body (kept in a capped buffer), and once at the end (the
 * handler runs and the answer is queued). The per-request state lives in
 * struct req, freed by the completion callback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <jansson.h>
#include <microhttpd.h>
#include "ferry/buf.h"
#include "server/http_int.h"
#include "server/sse.h"
#include "server/token.h"
#include "store/fastread.h"
#include "store/store.h"
#include "util/text.h"

#define DISCARD_MAX (8 * FERRY_HTTP_MAX_BODY)  /* then a too-big body's connection is closed */
#define TOUCH_EVERY_S 60    /* last_used_at moves at most once a minute per token */

struct ferry_server {
	struct MHD_Daemon *daemon;
	char *db_path;
	char url[96];
	pthread_key_t store_key;   /* this thread's struct thread_ctx * */
	bool key_made;
	struct sse_hub *sse;       /* event streams (sse.h), parked between polls */
	struct ferry_server_opts opts;   /* listen and db_path point into this struct's copies */
};

/* ---- answers ---- */

static void clear_answer(struct req *r)
{
	json_decref(r->out);
	r->out = NULL;
	free(r->text);
	r->text = NULL;
	if (r->raw)
		MHD_destroy_response(r->raw);
	r->raw = NULL;
}

void http_answer(struct req *r, unsigned status, json_t *out)
{
	clear_answer(r);
	r->status = status;
	r->out = out;
}

void http_answer_text(struct req *r, unsigned status, const char *content_type, char *text)
{
	clear_answer(r);
	r->status = status;
	r->text = text;
	r->content_type = content_type;
}

void http_answer_raw(struct req *r, unsigned status, struct MHD_Response *resp)
{
	clear_answer(r);
	r->status = status;
	r->raw = resp;
}

void http_error(struct req *r, unsigned status, const char *code, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	http_answer(r, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

void http_internal_error(struct req *r, const struct ferry_err *err)
{
	fprintf(stderr, "ferry serve: %s %s: %s\n", r->method, r->path, err->msg);
	http_error(r, err->code == FERRY_ESTORE && err->retryable ? 503 : 500,
		   err->code == FERRY_ESTORE ? "store_error" : "internal_error", "%s", err->msg);
}

void http_fail(struct req *r, const struct ferry_err *err)
{
	switch (err->code) {
	case FERRY_ENOTFOUND: http_error(r, 404, "not_found", "%s", err->msg); break;
	case FERRY_ECONFLICT: http_error(r, 409, "conflict", "%s", err->msg); break;
	case FERRY_EUSAGE:
	case FERRY_ECONFIG: http_error(r, 400, "invalid_request", "%s", err->msg); break;
	case FERRY_EKEY: http_error(r, 400, "no_key", "%s", err->msg); break;
	default: http_internal_error(r, err);
	}
}

const struct ferry_server_opts *http_opts(const struct req *r)
{
	return &r->srv->opts;
}

static enum MHD_Result send_answer(struct req *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	const char *type = "application/json";
	char *text;

	if (r->raw) {
		resp = r->raw;
		r->raw = NULL;
	} else {
		if (r->text) {
			text = r->text;
			r->text = NULL;
			type = r->content_type;
		} else {
			if (!r->out)
				http_error(r, 500, "internal_error",
					   "the handler gave no answer (a bug in ferry)");
			text = json_dumps(r->out, JSON_COMPACT | JSON_PRESERVE_ORDER);
		}
		if (!text)
			return MHD_NO;
		resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
		if (!resp) {
			free(text);
			return MHD_NO;
		}
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (r->status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (r->status == 405 && r->allow[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	ret = MHD_queue_response(r->conn, r->status, resp);
	MHD_destroy_response(resp);
	r->answered = true;
	return ret;
}

/* ---- the store, one handle per thread ---- */

/*
 * What each pool thread keeps until the server stops: its store handle, and
 * the statements of the reads every request makes (the token, a job)
 * prepared once on it (store/fastread.h).
 */
struct thread_ctx {
	struct ferry_store *st;
	struct ferry_fastread *fr;
};

static void close_thread_ctx(void *p)
{
	struct thread_ctx *t = p;

	ferry_fastread_close(t->fr);
	ferry_store_close(t->st);
	free(t);
}

static struct thread_ctx *thread_ctx(struct ferry_server *s, struct ferry_err *err)
{
	struct thread_ctx *t = pthread_getspecific(s->store_key);

	if (t)
		return t;
	if (!(t = calloc(1, sizeof(*t)))) {
		ferry_err_set(err, FERRY_ENOMEM, "out of memory opening a store handle");
		return NULL;
	}
	if (ferry_store_open(s->db_path, &t->st, err) || ferry_fastread_open(t->st, &t->fr, err))
		goto fail;
	if (pthread_setspecific(s->store_key, t)) {
		ferry_err_set(err, FERRY_ENOMEM, "out of memory keeping a store handle");
		goto fail;
	}
	return t;
fail:
	close_thread_ctx(t);
	return NULL;
}

static struct ferry_store *thread_store(struct ferry_server *s, struct ferry_err *err)
{
	struct thread_ctx *t = thread_ctx(s, err);

	return t ? t->st : NULL;
}

/* ---- auth ---- */

/* True when the request carries a live token; otherwise answers 401. */
static bool authorized(struct req *r)
{
	const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	char hash[FERRY_TOKEN_HASH_LEN + 1], id[32];
	struct ferry_err err = {0};
	struct thread_ctx *t;
	long long idle;
	int rc;

	if (!h || !*h) {
		http_error(r, 401, "unauthorized",
			   "this route needs an \"Authorization: Bearer <token>\" header "
			   "(create a token with `ferry token create NAME`)");
		return false;
	}
	if (strncasecmp(h, "Bearer ", 7)) {
		http_error(r, 401, "unauthorized",
			   "the Authorization header must be \"Bearer <token>\" (another scheme was sent)");
		return false;
	}
	h += 7;
	while (*h == ' ')
		h++;
	/* Never echo what was sent: it may be a real token with a typo. */
	if (!ferry_token_well_formed(h)) {
		http_error(r, 401, "unauthorized",
			   "the bearer token is not a ferry token (they start with \"fy_\"; "
			   "see `ferry token list`)");
		return false;
	}
	ferry_token_hash(h, hash);
	if (!(t = thread_ctx(r->srv, &err))) {
		http_internal_error(r, &err);
		return false;
	}
	rc = ferry_fastread_token(t->fr, hash, id, &idle, &err);
	if (rc == FERRY_ENOTFOUND) {
		http_error(r, 401, "unauthorized",
			   "the bearer token is unknown or revoked (see `ferry token list`; "
			   "create a new one with `ferry token create NAME`)");
		return false;
	}
	if (rc) {
		http_internal_error(r, &err);
		return false;
	}
	/* A busy token would otherwise write to the store on every request. */
	if ((idle < 0 || idle >= TOUCH_EVERY_S) && ferry_store_token_touch(t->st, id, &err))
		fprintf(stderr, "ferry serve: %s\n", err.msg);
	return true;
}

bool http_authorized(struct req *r)
{
	return authorized(r);
}

/* ---- helpers for handlers ---- */

const char *http_query(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

struct unknown_arg {
	const char *const *known;
	const char *bad;
};

static enum MHD_Result find_unknown_arg(void *cls, enum MHD_ValueKind kind, const char *key,
					const char *value)
{
	struct unknown_arg *u = cls;
	int i;

	for (i = 0; u->known[i]; i++)
		if (!strcmp(key, u->known[i]))
			return MHD_YES;
	u->bad = key;
	return MHD_NO;
}

bool http_query_known(struct req *r, const char *const *known)
{
	struct unknown_arg u = {known, NULL};

	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, find_unknown_arg, &u);
	if (!u.bad)
		return true;
	http_error(r, 400, "unknown_parameter", "unknown query parameter \"%.100s\" for %s %s",
		   u.bad, r->method, r->route->pattern);
	return false;
}

struct ferry_store *http_thread_store(struct req *r, struct ferry_err *err)
{
	return thread_store(r->srv, err);
}

struct ferry_store *http_server_store(struct ferry_server *s, struct ferry_err *err)
{
	return thread_store(s, err);
}

struct ferry_fastread *http_fastread(struct req *r)
{
	struct ferry_err err = {0};
	struct thread_ctx *t = thread_ctx(r->srv, &err);

	if (!t)
		http_internal_error(r, &err);
	return t ? t->fr : NULL;
}

struct sse_hub *http_sse_hub(const struct req *r)
{
	return r->srv->sse;
}

struct ferry_store *http_store(struct req *r)
{
	struct ferry_err err = {0};
	struct ferry_store *st = thread_store(r->srv, &err);

	if (!st)
		http_internal_error(r, &err);
	return st;
}

/* ---- routing ---- */

int ferry_http_match(const char *pattern, const char *path, char params[][128], int nparams)
{
	const char *p = pattern, *q = path;
	int n = 0;

	while (*p && *q) {
		size_t pl = strcspn(p + 1, "/") + 1, ql = strcspn(q + 1, "/") + 1;
		if (*p != '/' || *q != '/')
			return -1;
		if (p[1] == '{') {
			if (ql < 2 || ql - 1 >= 128 || n >= nparams)
				return -1;
			memcpy(params[n], q + 1, ql - 1);
			params[n++][ql - 1] = '\0';
		} else if (pl != ql || memcmp(p, q, pl)) {
			return -1;
		}
		p += pl;
		q += ql;
	}
	return *p || *q ? -1 : n;
}

static bool needs_token(const char *path)
{
	return !strncmp(path, "/api/v1", 7) && (path[7] == '/' || !path[7]);
}

/*
 * The route for r's method and path, its captures in params; NULL when there
 * is none, with *path_known telling whether another method has the path
 * (r->allow then lists them).
 */
static const struct route *lookup(struct req *r, char params[][128], bool *path_known)
{
	static const struct {
		const struct route *v;
		const int *n;
	} tables[] = {{ferry_routes_jobs, &ferry_nroutes_jobs},
		      {ferry_routes_entities, &ferry_nroutes_entities}};
	size_t t;
	int i;

	*path_known = false;
	r->allow[0] = '\0';
	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (i = 0; i < *tables[t].n; i++) {
			const struct route *rt = &tables[t].v[i];
			if (ferry_http_match(rt->pattern, r->path, params, HTTP_MAX_PARAMS) < 0)
				continue;
			*path_known = true;
			if (!strcmp(rt->method, r->method))
				return rt;
			if (strlen(r->allow) + strlen(rt->method) + 3 < sizeof(r->allow))
				snprintf(r->allow + strlen(r->allow),
					 sizeof(r->allow) - strlen(r->allow), "%s%s",
					 r->allow[0] ? ", " : "", rt->method);
		}
	}
	return NULL;
}

/* Finds the route; answers 404 or 405 when there is none. */
static bool route(struct req *r)
{
	bool path_known;

	if ((r->route = lookup(r, r->params, &path_known)))
		return true;
	if (path_known)
		http_error(r, 405, "method_not_allowed", "%s is not allowed on %s (use %s)", r->method,
			   r->path, r->allow);
	else
		http_error(r, 404, "not_found", "no route %s %.200s (see docs/api.md)", r->method,
			   r->path);
	return false;
}

/* An /api/v1 route whose handler checks the caller itself (a signed trigger). */
static bool open_route(struct req *r)
{
	char scratch[HTTP_MAX_PARAMS][128];
	bool path_known;
	const struct route *rt = lookup(r, scratch, &path_known);

	return rt && rt->open;
}

/* ---- the request life cycle ---- */

static bool body_to_json(struct req *r)
{
	json_error_t je;
	const char *k;
	json_t *v;
	int i;

	if (!r->body.len || r->route->open)
		return true;   /* an open route reads its raw body itself */
	r->json = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &je);
	if (!r->json) {
		http_error(r, 400, "invalid_json",
			   "the request body is not valid JSON: %s (line %d, column %d)", je.text,
			   je.line, je.column);
		return false;
	}
	if (!json_is_object(r->json)) {
		http_error(r, 400, "invalid_json", "the request body must be a JSON object");
		return false;
	}
	json_object_foreach(r->json, k, v) {
		for (i = 0; r->route->fields && r->route->fields[i]; i++)
			if (!strcmp(k, r->route->fields[i]))
				break;
		if (!r->route->fields || !r->route->fields[i]) {
			http_error(r, 400, "unknown_field", "unknown field \"%.100s\" in the body of %s %s",
				   k, r->method, r->route->pattern);
			return false;
		}
	}
	return true;
}

/* The first call, headers in: route, token, announced size. False once answered. */
static bool admit(struct req *r)
{
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	long long len;

	if (needs_token(r->path) && !open_route(r) && !authorized(r))
		return false;
	if (!route(r))
		return false;
	if (cl && ferry_parse_ll(cl, 0, 0x7fffffffffffffffLL, &len) && len > FERRY_HTTP_MAX_BODY) {
		http_error(r, 413, "payload_too_large",
			   "the request body is %lld bytes; the limit is %d bytes", len,
			   FERRY_HTTP_MAX_BODY);
		return false;
	}
	return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct ferry_server *srv = cls;
	struct req *r = *con_cls;

	if (!r) {
		if (!(r = calloc(1, sizeof(*r))))
			return MHD_NO;
		r->srv = srv;
		r->conn = conn;
		r->method = method;
		r->path = url;
		ferry_buf_init(&r->body, FERRY_HTTP_MAX_BODY);
		*con_cls = r;
		if (!admit(r))
			return send_answer(r);
		return MHD_YES;
	}
	if (r->answered) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		/*
		 * A body without Content-Length (chunked) that passes the cap: the
		 * rest is counted but not kept (libmicrohttpd cannot answer in the
		 * middle of a body), and a client that keeps sending is cut off.
		 */
		int rc = r->too_big ? FERRY_ETOOBIG : ferry_buf_add(&r->body, upload_data,
								    *upload_data_size);
		r->received += *upload_data_size;
		*upload_data_size = 0;
		if (rc == FERRY_ETOOBIG) {
			r->too_big = true;
			ferry_buf_release(&r->body);
			return r->received > DISCARD_MAX ? MHD_NO : MHD_YES;
		}
		return rc ? MHD_NO : MHD_YES;
	}
	if (r->too_big)
		http_error(r, 413, "payload_too_large", "the request body is over the limit of %d bytes",
			   FERRY_HTTP_MAX_BODY);
	else if (body_to_json(r))
		r->route->fn(r);
	return send_answer(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;

	if (!r)
		return;
	ferry_buf_release(&r->body);
	json_decref(r->json);
	clear_answer(r);
	free(r);
	*con_cls = NULL;
}

/* ---- listening ---- */

int ferry_listen_parse(const char *s, struct ferry_listen_addr *out, struct ferry_err *err)
{
	const char *colon, *host = s;
	size_t hlen;
	long long port;

	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		goto bad;
	if (*s == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':')
			goto bad;
		host = s + 1;
		hlen = (size_t)(end - host);
		colon = end + 1;
		out->family = AF_INET6;
	} else {
		colon = strrchr(s, ':');
		if (!colon || strchr(s, ':') != colon)
			goto bad;
		hlen = (size_t)(colon - s);
		out->family = AF_INET;
	}
	if (!hlen || hlen >= sizeof(out->host))
		goto bad;
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	if (strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    !ferry_parse_ll(colon + 1, 0, 65535, &port))
		goto bad;
	out->port = (int)port;
	if (out->family == AF_INET && !strcmp(out->host, "localhost"))
		snprintf(out->host, sizeof(out->host), "127.0.0.1");
	if (inet_pton(out->family, out->host, out->addr) != 1)
		goto bad;
	return 0;
bad:
	return ferry_err_set(err, FERRY_EUSAGE,
			     "--listen needs HOST:PORT with an IP address and a port from 0 to 65535 "
			     "(e.g. 127.0.0.1:8080 or [::1]:8080), not \"%s\"", s ? s : "");
}

static int open_listener(const struct ferry_listen_addr *a, int *port_out, struct ferry_err *err)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int fd, one = 1;

	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)a->port);
		memcpy(&s6->sin6_addr, a->addr, 16);
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)a->port);
		memcpy(&s4->sin_addr, a->addr, 4);
		len = sizeof(*s4);
	}
	fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return ferry_err_set(err, FERRY_ECONNECT, "cannot create a socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 128)) {
		int e = errno;
		close(fd);
		return ferry_err_set(err, FERRY_ECONNECT, "cannot listen on %s%s%s:%d: %s%s",
				     a->family == AF_INET6 ? "[" : "", a->host,
				     a->family == AF_INET6 ? "]" : "", a->port, strerror(e),
				     e == EADDRINUSE ? " (is another ferry serve running? choose "
						       "another port with --listen)" :
				     e == EADDRNOTAVAIL ? " (that address is not on this machine)" : "");
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		*port_out = ntohs(a->family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							 : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* libmicrohttpd's own messages (a connection cut off, a failed accept), marked as such. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[300];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	fprintf(stderr, "ferry serve: libmicrohttpd: %s\n", msg);
}

int ferry_server_start(const struct ferry_server_opts *opts, struct ferry_server **out,
		       struct ferry_err *err)
{
	struct ferry_listen_addr a;
	struct ferry_server *s;
	struct ferry_store *st;
	int rc, fd, port = 0;

	if ((rc = ferry_listen_parse(opts->listen ? opts->listen : FERRY_HTTP_DEFAULT_LISTEN, &a,
				     err)))
		return rc;
	/* Open (and migrate) the store once up front, so a bad --db fails here, not per request. */
	if ((rc = ferry_store_open(opts->db_path, &st, err)))
		return rc;
	ferry_store_close(st);
	if (!(s = calloc(1, sizeof(*s))) || !(s->db_path = strdup(opts->db_path))) {
		free(s);
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	}
	s->opts = *opts;
	s->opts.db_path = s->db_path;
	s->opts.listen = NULL;   /* the caller's string; s->url says where it listens */
	if (pthread_key_create(&s->store_key, close_thread_ctx)) {
		rc = ferry_err_set(err, FERRY_ENOMEM, "cannot create a thread key");
		goto fail;
	}
	s->key_made = true;
	if ((rc = ferry_sse_hub_new(&s->sse, err)))
		goto fail;
	if ((fd = open_listener(&a, &port, err)) < 0) {
		rc = fd;
		goto fail;
	}
	snprintf(s->url, sizeof(s->url), "http://%s%s%s:%d", a.family == AF_INET6 ? "[" : "",
		 a.host, a.family == AF_INET6 ? "]" : "", port);
	s->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
			MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
		on_request, s,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)(opts->threads ? opts->threads : 2),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
		MHD_OPTION_END);
	if (!s->daemon) {
		close(fd);
		rc = ferry_err_set(err, FERRY_EINTERNAL,
				   "cannot start the HTTP server on %s (libmicrohttpd refused to start)",
				   s->url);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	ferry_server_stop(s);
	return rc;
}

const char *ferry_server_url(const struct ferry_server *s)
{
	return s->url;
}

void ferry_server_stop(struct ferry_server *s)
{
	if (!s)
		return;
	/* libmicrohttpd must not stop with suspended (parked) event streams. */
	ferry_sse_hub_stop(s->sse);
	/* Joins the pool threads; each closes its store handle as it exits. */
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	ferry_sse_hub_free(s->sse);
	if (s->key_made)
		pthread_key_delete(s->store_key);
	free(s->db_path);
	free(s);
}
