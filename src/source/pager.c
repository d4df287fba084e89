/*
 * pager.c - the pages of one API stream (see pager.h).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "source/pager.h"

/* ---- the connection ------------------------------------------------------- */

static int nomem(struct ferry_err *err)
{
	return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
}

static char *expand(const struct mf_manifest *m, const struct ferry_config *cfg, const char *s,
		    struct ferry_err *err)
{
	struct ferry_buf b = FERRY_BUF_INIT;

	if (mf_expand(m, cfg, s ? s : "", &b, err)) {
		ferry_buf_release(&b);
		return NULL;
	}
	return ferry_buf_detach(&b, NULL);
}

static int add_header(struct api_conn *c, const char *name, const char *value)
{
	char **v = realloc(c->headers, sizeof(*v) * (size_t)(c->nheaders + 1));

	if (!v)
		return FERRY_ENOMEM;
	c->headers = v;
	if (asprintf(&v[c->nheaders], "%s: %s", name, value) < 0)
		return FERRY_ENOMEM;
	c->nheaders++;
	return 0;
}

int api_conn_init(struct api_conn *c, const struct mf_manifest *m, const struct ferry_config *cfg,
		  const char *name, struct ferry_err *err)
{
	const char *base = ferry_config_get(cfg, "base_url");
	char *tok = NULL, *v;
	size_t n;
	int rc = 0;

	memset(c, 0, sizeof(*c));
	c->m = m;
	c->config = cfg;
	c->name = name;
	if (!(c->base = expand(m, cfg, base ? base : m->base_url, err)))
		return FERRY_ECONFIG;
	n = strlen(c->base);
	while (n && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	if (strncmp(c->base, "http://", 7) && strncmp(c->base, "https://", 8))
		return ferry_err_set(err, FERRY_EUSAGE,
				     "source \"%s\": base_url must start with http:// or https://", name);
	for (int i = 0; i < m->nheaders; i++) {
		if (!(v = expand(m, cfg, m->headers[i].value, err)))
			return FERRY_ECONFIG;
		rc = add_header(c, m->headers[i].key, v);
		free(v);
		if (rc)
			return nomem(err);
	}
	if (m->auth != MF_AUTH_NONE && m->auth != MF_AUTH_BASIC &&
	    !(tok = expand(m, cfg, m->auth_token, err)))
		return FERRY_ECONFIG;
	switch (m->auth) {
	case MF_AUTH_BEARER:
		if (asprintf(&v, "Bearer %s", tok) < 0)
			rc = FERRY_ENOMEM;
		else {
			rc = add_header(c, "Authorization", v);
			free(v);
		}
		break;
	case MF_AUTH_HEADER:
		rc = add_header(c, m->auth_name, tok);
		break;
	case MF_AUTH_QUERY: {
		struct ferry_buf q = FERRY_BUF_INIT;
		ferry_http_urlencode(&q, m->auth_name);
		ferry_buf_addc(&q, '=');
		ferry_http_urlencode(&q, tok);
		c->query_auth = ferry_buf_detach(&q, NULL);
		break;
	}
	case MF_AUTH_BASIC:
		if (!(c->user = expand(m, cfg, m->auth_user, err)) ||
		    !(c->password = expand(m, cfg, m->auth_password, err)))
			return FERRY_ECONFIG;
		break;
	case MF_AUTH_NONE:
		break;
	}
	free(tok);
	if (rc)
		return nomem(err);
	/* every secret setting's value, so no message can show it */
	c->secrets = calloc((size_t)m->nsettings + 1, sizeof(*c->secrets));
	if (!c->secrets)
		return nomem(err);
	for (int i = 0; i < m->nsettings; i++) {
		const char *val = ferry_config_get(cfg, m->settings[i].key);
		if (m->settings[i].secret && val && *val)
			c->secrets[c->nsecrets++] = val;
	}
	return 0;
}

void api_conn_release(struct api_conn *c)
{
	free(c->base);
	for (int i = 0; i < c->nheaders; i++)
		free(c->headers[i]);
	free(c->headers);
	free(c->query_auth);
	free(c->user);
	free(c->password);
	free(c->secrets);
	memset(c, 0, sizeof(*c));
}

/* ---- JSON helpers ------------------------------------------------------------ */

char *jt_scalar(const struct jtape *t, int node)
{
	const char *s = node >= 0 ? jt_text(t, node, NULL) : NULL;

	return s ? strdup(s) : NULL;
}

/* A parent record's field (parents are small jansson objects) as text. */
static char *parent_text(const json_t *v)
{
	char *s = NULL;

	if (json_is_string(v))
		return strdup(json_string_value(v));
	if (json_is_integer(v) && asprintf(&s, "%lld", (long long)json_integer_value(v)) >= 0)
		return s;
	if (json_is_real(v) && asprintf(&s, "%.17g", json_real_value(v)) >= 0)
		return s;
	return NULL;
}

/* ---- requests -------------------------------------------------------------------- */

static bool graphql(const struct pager *p)
{
	return p->c->m->kind == MF_GRAPHQL;
}

static long long page_size(const struct pager *p)
{
	return p->c->page_size > 0 ? p->c->page_size : p->ms->page.limit;
}

/* Copies s with {parent.FIELD} replaced by the parent record's values (URL-encoded when enc). */
static int put_parent_refs(struct pager *p, struct ferry_buf *out, const char *s, bool enc,
			   struct ferry_err *err)
{
	while (*s) {
		const char *ref = strstr(s, "{parent.");
		const char *end;
		char field[128], *val;
		if (!ref) {
			ferry_buf_adds(out, s);
			break;
		}
		ferry_buf_add(out, s, (size_t)(ref - s));
		end = strchr(ref, '}');
		if (!end || (size_t)(end - ref - 8) >= sizeof(field))
			return ferry_err_set(err, FERRY_ECONFIG, "%s: stream \"%s\": unclosed {parent. "
					     "reference", p->c->m->file, p->ms->name);
		memcpy(field, ref + 8, (size_t)(end - ref - 8));
		field[end - ref - 8] = '\0';
		val = p->parent ? parent_text(json_object_get(p->parent, field)) : NULL;
		if (!val)
			return ferry_err_set(err, FERRY_ESOURCE,
					     "stream \"%s\": its parent record has no value for \"%s\" "
					     "(needed by {parent.%s})", p->ms->name, field, field);
		if (enc)
			ferry_http_urlencode(out, val);
		else
			ferry_buf_adds(out, val);
		free(val);
		s = end + 1;
	}
	return 0;
}

static void add_param(struct ferry_buf *url, const char *key, const char *value)
{
	ferry_buf_addc(url, strchr(url->data, '?') ? '&' : '?');
	ferry_http_urlencode(url, key);
	ferry_buf_addc(url, '=');
	ferry_http_urlencode(url, value);
}

/* A next link may be absolute, host-relative ("/v1/x?page=2") or relative to base_url. */
static void resolve(const struct api_conn *c, const char *link, struct ferry_buf *out)
{
	if (!strncmp(link, "http://", 7) || !strncmp(link, "https://", 8)) {
		ferry_buf_adds(out, link);
	} else if (link[0] == '/') {
		const char *host = strstr(c->base, "://") + 3;
		size_t n = (size_t)(host - c->base) + strcspn(host, "/");
		ferry_buf_add(out, c->base, n);
		ferry_buf_adds(out, link);
	} else {
		ferry_buf_addf(out, "%s/%s", c->base, link);
	}
}

/* Sets a GraphQL variable: integers for sizes and pages, strings otherwise. */
static void set_var(json_t *vars, const char *name, const char *value, bool integer)
{
	if (integer)
		json_object_set_new(vars, name, json_integer(strtoll(value, NULL, 10)));
	else
		json_object_set_new(vars, name, json_string(value));
}

/* {setting} references in the string values of fixed GraphQL variables. */
static int expand_strings(struct pager *p, json_t *v, struct ferry_err *err)
{
	const char *k;
	json_t *x;
	size_t i;
	int rc = 0;

	if (json_is_object(v)) {
		json_object_foreach(v, k, x)
			if ((rc = expand_strings(p, x, err)))
				return rc;
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			if ((rc = expand_strings(p, x, err)))
				return rc;
	} else if (json_is_string(v) && strchr(json_string_value(v), '{')) {
		struct ferry_buf b = FERRY_BUF_INIT;
		if (!(rc = mf_expand(p->c->m, p->c->config, json_string_value(v), &b, err)))
			json_string_set(v, b.data);
		ferry_buf_release(&b);
	}
	return rc;
}

/* The URL (and body, for GraphQL) of the next request. */
static int build(struct pager *p, struct ferry_buf *url, struct ferry_buf *body,
		 struct ferry_err *err)
{
	const struct mf_stream *ms = p->ms;
	const struct mf_pagination *pg = &ms->page;
	const struct mf_manifest *m = p->c->m;
	json_t *vars = NULL;
	char num[32];
	int rc = 0;

	if (p->next_url) {
		resolve(p->c, p->next_url, url);
		if (p->c->query_auth && !strstr(url->data, p->c->query_auth)) {
			ferry_buf_addc(url, strchr(url->data, '?') ? '&' : '?');
			ferry_buf_adds(url, p->c->query_auth);
		}
		return 0;
	}
	ferry_buf_adds(url, p->c->base);
	{
		struct ferry_buf path = FERRY_BUF_INIT;
		rc = mf_expand(m, p->c->config, ms->path ? ms->path : "", &path, err);
		if (!rc)
			rc = put_parent_refs(p, url, path.data, true, err);
		ferry_buf_release(&path);
		if (rc)
			return rc;
	}
	if (graphql(p)) {
		vars = ms->variables ? json_loads(ms->variables, 0, NULL) : json_object();
		if (vars && (rc = expand_strings(p, vars, err)))
			goto out;
		if (!vars)
			vars = json_object();
	}
	for (int i = 0; i < ms->nparams; i++) {
		struct ferry_buf v = FERRY_BUF_INIT, v2 = FERRY_BUF_INIT;
		if ((rc = mf_expand(m, p->c->config, ms->params[i].value, &v, err)) ||
		    (rc = put_parent_refs(p, &v2, v.data, false, err))) {
			ferry_buf_release(&v);
			ferry_buf_release(&v2);
			goto out;
		}
		if (vars)
			set_var(vars, ms->params[i].key, v2.data, false);
		else
			add_param(url, ms->params[i].key, v2.data);
		ferry_buf_release(&v);
		ferry_buf_release(&v2);
	}
#define PARAM(k, v, isint) do { if (vars) set_var(vars, k, v, isint); else add_param(url, k, v); } while (0)
	if (pg->limit_param && page_size(p) > 0) {
		snprintf(num, sizeof(num), "%lld", page_size(p));
		PARAM(pg->limit_param, num, true);
	}
	switch (pg->type) {
	case MF_PAGE_OFFSET:
		snprintf(num, sizeof(num), "%lld", p->offset);
		PARAM(pg->offset_param, num, true);
		break;
	case MF_PAGE_PAGE:
		snprintf(num, sizeof(num), "%lld", p->page);
		PARAM(pg->page_param, num, true);
		break;
	case MF_PAGE_CURSOR:
		if (p->cursor)
			PARAM(pg->cursor_param, p->cursor, false);
		break;
	default:
		break;
	}
	if (p->lo && ms->inc.param)
		PARAM(ms->inc.param, p->lo, false);
	if (p->hi && ms->inc.until_param)
		PARAM(ms->inc.until_param, p->hi, false);
#undef PARAM
	if (p->c->query_auth) {
		ferry_buf_addc(url, strchr(url->data, '?') ? '&' : '?');
		ferry_buf_adds(url, p->c->query_auth);
	}
	if (vars) {
		json_t *req = json_pack("{s:s, s:o}", "query", ms->query ? ms->query : "", "variables", vars);
		char *s = req ? json_dumps(req, JSON_COMPACT) : NULL;
		vars = NULL;
		json_decref(req);
		if (!s)
			return nomem(err);
		ferry_buf_adds(body, s);
		free(s);
	}
out:
	json_decref(vars);
	return rc;
}

/* ---- answers ---------------------------------------------------------------------- */

static void where(const struct pager *p, const char *url, char *out, size_t n)
{
	char host[256];
	const char *path;

	ferry_http_host(url, host, sizeof(host));
	path = strstr(url, "://");
	path = path ? strchr(path + 3, '/') : NULL;
	snprintf(out, n, "%s%.*s", host, path ? (int)strcspn(path, "?") : 0, path ? path : "");
}

/* GraphQL answers errors with 200: the first message says what went wrong. */
static int graphql_errors(struct pager *p, const char *at, struct ferry_err *err)
{
	const struct jtape *t = &p->tape;
	int errs = jt_get(t, 0, "errors"), msg;

	if (errs < 0 || jt_type(t, errs) != JT_ARRAY || jt_first(t, errs) < 0)
		return 0;
	msg = jt_get(t, jt_first(t, errs), "message");
	return ferry_err_set(err, FERRY_ESOURCE, "GraphQL error from %s (stream \"%s\"): %s", at,
			     p->ms->name, msg >= 0 && jt_text(t, msg, NULL) ? jt_text(t, msg, NULL)
									 : "(no message)");
}

static long long count_of(const struct jtape *t, int v)
{
	const char *s = v >= 0 ? jt_text(t, v, NULL) : NULL;
	char *end;
	long long n;

	if (!s || (jt_type(t, v) != JT_INT && jt_type(t, v) != JT_STRING))
		return -1;
	n = strtoll(s, &end, 10);
	return *end || end == s ? -1 : n;
}

/* Moves the state to the next page; sets done when there is none. */
static int advance(struct pager *p, const struct ferry_http_resp *resp, int records,
		   const char *at, struct ferry_err *err)
{
	const struct mf_pagination *pg = &p->ms->page;
	const struct jtape *t = &p->tape;
	int n = jt_count(t, records), v, last = -1;
	long long size = page_size(p);

	if (pg->total_path && (v = jt_path(t, 0, pg->total_path)) >= 0)
		p->total = count_of(t, v);
	else if (pg->total_header && ferry_http_header(resp, pg->total_header))
		p->total = strtoll(ferry_http_header(resp, pg->total_header), NULL, 10);
	free(p->next_url);
	p->next_url = NULL;
	if (n == 0 || pg->type == MF_PAGE_NONE) {
		p->done = true;
		return 0;
	}
	if (pg->has_more && (v = jt_path(t, 0, pg->has_more)) >= 0 &&
	    (jt_type(t, v) == JT_TRUE || jt_type(t, v) == JT_FALSE)) {
		if (jt_type(t, v) == JT_FALSE) {
			p->done = true;
			return 0;
		}
	} else if (pg->stop_on_short_page && size > 0 && (long long)n < size &&
		   pg->type != MF_PAGE_NEXT_LINK && pg->type != MF_PAGE_LINK_HEADER) {
		p->done = true;
		return 0;
	}
	if (p->total >= 0 && p->seen >= p->total &&
	    (pg->type == MF_PAGE_OFFSET || pg->type == MF_PAGE_PAGE)) {
		p->done = true;
		return 0;
	}
	switch (pg->type) {
	case MF_PAGE_CURSOR:
		free(p->cursor);
		p->cursor = NULL;
		if (pg->cursor_path) {
			p->cursor = jt_scalar(t, jt_path(t, 0, pg->cursor_path));
		} else {
			for (int i = jt_first(t, records); i >= 0; i = jt_sibling(t, records, i))
				last = i;
			if (p->ms->record_field)
				last = jt_get(t, last, p->ms->record_field);
			p->cursor = jt_scalar(t, jt_get(t, last, pg->cursor_value));
		}
		if (!p->cursor || !*p->cursor)
			p->done = true;
		break;
	case MF_PAGE_OFFSET:
		p->offset += n;
		break;
	case MF_PAGE_PAGE:
		p->page++;
		break;
	case MF_PAGE_NEXT_LINK:
		v = jt_path(t, 0, pg->next_path);
		if (v >= 0 && jt_type(t, v) == JT_STRING && *jt_text(t, v, NULL))
			p->next_url = strdup(jt_text(t, v, NULL));
		else
			p->done = true;
		break;
	case MF_PAGE_LINK_HEADER: {
		const char *link = ferry_http_header(resp, "Link");
		p->next_url = link ? ferry_http_link_next(link) : NULL;
		if (!p->next_url)
			p->done = true;
		break;
	}
	case MF_PAGE_NONE:
		break;
	}
	if (!p->done && p->pages >= pg->max_pages)
		return ferry_err_set(err, FERRY_ESOURCE,
				     "stream \"%s\": stopped after %lld pages from %s (max_pages): "
				     "the API keeps saying there is more; raise max_pages in the "
				     "manifest if this is right", p->ms->name, p->pages, at);
	return 0;
}

void pager_init(struct pager *p, const struct api_conn *c, const struct mf_stream *ms,
		struct ferry_http *http, const json_t *parent, const char *lo, const char *hi)
{
	memset(p, 0, sizeof(*p));
	p->c = c;
	p->ms = ms;
	p->http = http;
	p->parent = parent;
	p->lo = lo;
	p->hi = hi;
	p->total = -1;
	p->page = ms->page.page_start;
	ferry_buf_init(&p->last_req, 0);
	ferry_buf_init(&p->bytes, 0);
}

void pager_release(struct pager *p)
{
	free(p->cursor);
	free(p->next_url);
	ferry_buf_release(&p->last_req);
	ferry_buf_release(&p->bytes);
	jt_release(&p->tape);
	memset(p, 0, sizeof(*p));
}

int pager_next(struct pager *p, int *records, struct ferry_err *err)
{
	struct ferry_buf url = FERRY_BUF_INIT, body = FERRY_BUF_INIT;
	struct ferry_http_resp resp;
	struct ferry_http_req req = {0};
	char at[512], jerr[200];
	int recs, rc;

	*records = -1;
	if (p->done)
		return FERRY_DONE;
	ferry_http_resp_init(&resp);
	if ((rc = build(p, &url, &body, err)))
		goto out;
	where(p, url.data, at, sizeof(at));
	/* the same request twice in a row can only give the same page again */
	if (p->pages && p->last_req.len == url.len + body.len &&
	    !memcmp(p->last_req.data, url.data, url.len) &&
	    !memcmp(p->last_req.data + url.len, body.data, body.len)) {
		rc = ferry_err_set(err, FERRY_ESOURCE,
				   "stream \"%s\": page loop: %s asks for the same page again after "
				   "page %lld (its next cursor or link does not move)",
				   p->ms->name, at, p->pages);
		goto out;
	}
	ferry_buf_reset(&p->last_req);
	ferry_buf_add(&p->last_req, url.data, url.len);
	ferry_buf_add(&p->last_req, body.data, body.len);

	req.method = graphql(p) ? "POST" : (p->ms->method ? p->ms->method : "GET");
	req.url = url.data;
	req.headers = (const char *const *)p->c->headers;
	req.nheaders = p->c->nheaders;
	const char *hdrs[64];
	if (graphql(p)) {
		int n = 0;
		for (int i = 0; i < p->c->nheaders && n < 62; i++)
			hdrs[n++] = p->c->headers[i];
		hdrs[n++] = "Content-Type: application/json";
		req.headers = hdrs;
		req.nheaders = n;
		req.body = body.data;
		req.body_len = body.len;
	}
	req.secrets = p->c->secrets;
	req.nsecrets = p->c->nsecrets;
	req.user = p->c->user;
	req.password = p->c->password;
	if ((rc = ferry_http_do(p->http, &req, &resp, err)))
		goto out;
	p->pages++;
	p->last_bytes = (long long)resp.body.len;

	/* p->bytes still holds the page before: the same bytes again is a loop */
	if (p->pages > 1 && resp.body.len == p->bytes.len &&
	    !memcmp(resp.body.data, p->bytes.data, resp.body.len)) {
		rc = ferry_err_set(err, FERRY_ESOURCE,
				   "stream \"%s\": page loop: %s returned page %lld identical to the page "
				   "before it; the pagination settings do not move through the data",
				   p->ms->name, at, p->pages);
		goto out;
	}

	/* the tape points into the page's bytes: keep them until the next page */
	ferry_buf_release(&p->bytes);
	p->bytes = resp.body;
	ferry_buf_init(&resp.body, 0);
	if (jt_parse(&p->tape, p->bytes.data, p->bytes.len, jerr, sizeof(jerr))) {
		rc = ferry_err_set(err, FERRY_ESOURCE,
				   "stream \"%s\": invalid JSON from %s (page %lld, %zu bytes): %s",
				   p->ms->name, at, p->pages, p->bytes.len, jerr);
		goto out;
	}
	if (graphql(p) && (rc = graphql_errors(p, at, err)))
		goto out;
	recs = jt_path(&p->tape, 0, p->ms->records);
	if ((recs >= 0 && jt_type(&p->tape, recs) == JT_NULL) ||
	    (recs < 0 && p->ms->records && *p->ms->records && p->pages > 1)) {
		recs = -1; /* an absent list on a later page: no more records */
	} else if (recs < 0 || jt_type(&p->tape, recs) != JT_ARRAY) {
		rc = ferry_err_set(err, FERRY_ESOURCE,
				   "stream \"%s\": the answer from %s has no record list at \"%s\" "
				   "(the manifest's records path)", p->ms->name, at,
				   p->ms->records && *p->ms->records ? p->ms->records : ".");
		goto out;
	}
	if (recs < 0) {
		p->done = true;
		rc = 0;
		goto out;
	}
	p->seen += jt_count(&p->tape, recs);
	if ((rc = advance(p, &resp, recs, at, err)))
		goto out;
	*records = recs;
out:
	ferry_http_resp_release(&resp);
	ferry_buf_release(&url);
	ferry_buf_release(&body);
	return rc;
}
