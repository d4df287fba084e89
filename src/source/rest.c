/*
 * rest.c - the declarative API source: every connector type that is a
 * manifest (stripe, close, smartlead, lemlist, a user's own), plus the
 * generic types "rest" and "graphql" that take a manifest file setting.
 *
 * The pieces: manifest.c says what to call, pager.c walks one stream's pages
 * through the HTTP client, apirow.c turns records into rows and learns the
 * columns. This file ties them to the source ops: discover() lists the
 * manifest's streams with their declared columns; begin() opens a handle per
 * stream (streams are read in parallel, up to the "concurrency" setting,
 * sharing the source's rate limit); read() fills a batch from pages,
 * filtering by the cursor bounds, skipping duplicate hashed-key records and
 * handing the batch over early when a record needs new columns.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>
#include "ferry/connector.h"
#include "source/apirow.h"
#include "source/manifest.h"
#include "source/pager.h"
#include "source/rest.h"
#include "util/http.h"
#include "util/text.h"

/* Settings every API connector takes on top of its manifest's. */
static const struct ferry_setting_spec common_settings[] = {
	{"base_url", false, false, "the API's base URL, for regional endpoints and tests"},
	{"manifest", false, false, "path of a YAML manifest (types rest and graphql)"},
	{"requests_per_second", false, false, "rate limit of this source (default: the manifest's)"},
	{"rate_limit_delay_ms", false, false, "minimum milliseconds between requests"},
	{"sync_batch_size", false, false, "records per page (default: the manifest's)"},
	{"concurrency", false, false, "streams read at once (default 2)"},
	{"max_attempts", false, false, "requests per page before giving up (default 5)"},
	{"timeout_ms", false, false, "timeout of one request (default 60000)"},
	{"max_response_bytes", false, false, "cap on one response body (default 64 MiB)"},
	{NULL, false, false, NULL},
};
#define NCOMMON ((int)(sizeof(common_settings) / sizeof(common_settings[0])) - 1)

/* ---- connector types ----------------------------------------------------------- */

/*
 * One loaded manifest, kept for the life of the process: its ops table and
 * settings spec point into it. Keyed by type name (built in, or found on
 * FERRY_MANIFEST_PATH) or by "file:" + path (the manifest setting).
 */
struct api_type {
	char *key;
	struct mf_manifest *m;
	struct ferry_setting_spec *spec;
	struct ferry_source_ops ops;
	struct api_type *next;
};

static pthread_mutex_t types_mu = PTHREAD_MUTEX_INITIALIZER;
static struct api_type *types;

extern const struct ferry_source_ops ferry_source_rest, ferry_source_graphql;
static int api_settings_for(const struct ferry_source_ops *ops, const struct ferry_config *c,
			    const struct ferry_setting_spec **out, struct ferry_err *err);

static struct ferry_setting_spec *build_spec(const struct mf_manifest *m)
{
	struct ferry_setting_spec *v = calloc((size_t)(m->nsettings + NCOMMON + 1), sizeof(*v));
	int n = 0;

	if (!v)
		return NULL;
	for (int i = 0; i < m->nsettings; i++)
		v[n++] = (struct ferry_setting_spec){m->settings[i].key,
						     m->settings[i].required && !m->settings[i].def,
						     m->settings[i].secret, m->settings[i].help};
	for (int i = 0; i < NCOMMON; i++)
		v[n++] = common_settings[i];
	return v;
}

/* The loaded manifest for key, loading it with load() the first time. */
static struct api_type *type_get(const char *key, const char *arg,
				 int (*load)(const char *, struct mf_manifest **, struct ferry_err *),
				 struct ferry_err *err)
{
	struct api_type *t;
	struct mf_manifest *m = NULL;

	pthread_mutex_lock(&types_mu);
	for (t = types; t; t = t->next)
		if (!strcmp(t->key, key))
			goto out;
	if (load(arg, &m, err))
		goto out;
	t = calloc(1, sizeof(*t));
	if (!t || !(t->key = strdup(key)) || !(t->spec = build_spec(m))) {
		if (t)
			free(t->key);
		free(t);
		t = NULL;
		mf_free(m);
		ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		goto out;
	}
	t->m = m;
	t->ops = m->kind == MF_GRAPHQL ? ferry_source_graphql : ferry_source_rest;
	t->ops.type = m->type;
	t->ops.summary = m->summary ? m->summary : "an API described by a manifest";
	t->ops.settings = t->spec;
	t->ops.settings_for = api_settings_for;
	t->ops.sync_interval_s = m->sync_interval_s;
	t->next = types;
	types = t;
out:
	pthread_mutex_unlock(&types_mu);
	return t;
}

const struct ferry_source_ops *ferry_api_source_type(const char *type)
{
	struct ferry_err err = {0};
	struct api_type *t;

	if (!strcmp(type, "rest"))
		return &ferry_source_rest;
	if (!strcmp(type, "graphql"))
		return &ferry_source_graphql;
	t = type_get(type, type, mf_find, &err);
	return t ? &t->ops : NULL;
}

const char *const *ferry_api_builtin_types(void)
{
	return mf_builtin_types();
}

/* The manifest of a source: its type's, or the file its "manifest" setting names. */
static struct api_type *type_of_source(const struct ferry_source_ops *ops,
				       const struct ferry_config *c, struct ferry_err *err)
{
	const char *file = ferry_config_get(c, "manifest");
	struct api_type *t;
	char key[4200];

	if (ops == &ferry_source_rest || ops == &ferry_source_graphql) {
		if (!file)
			return ferry_err_set(err, FERRY_EUSAGE,
					     "a %s source needs the setting \"manifest\" (path of a YAML "
					     "manifest, see docs/manifest.md): add --set manifest=FILE",
					     ops->type), NULL;
		snprintf(key, sizeof(key), "file:%s", file);
		t = type_get(key, file, mf_load_file, err);
		if (!t && (err->code == FERRY_ECONFIG || err->code == FERRY_ENOTFOUND))
			err->code = FERRY_EUSAGE; /* the user's file: fix it and run again (exit 2) */
		if (t && (t->m->kind == MF_GRAPHQL) != (ops == &ferry_source_graphql))
			return ferry_err_set(err, FERRY_EUSAGE,
					     "manifest %s is of kind %s: use --type %s",
					     file, t->m->kind == MF_GRAPHQL ? "graphql" : "rest",
					     t->m->kind == MF_GRAPHQL ? "graphql" : "rest"), NULL;
		return t;
	}
	if (file)
		return ferry_err_set(err, FERRY_EUSAGE,
				     "a %s source has its manifest built in: the \"manifest\" setting "
				     "is for types rest and graphql", ops->type), NULL;
	return type_get(ops->type, ops->type, mf_find, err);
}



/* ---- the source ----------------------------------------------------------------- */

struct rest_src {
	const struct mf_manifest *m;
	struct api_conn conn;
	struct ferry_http_limits lim;
	struct ferry_ratelimit *rl;
	int concurrency;
};

/* "64MB", "1KB", "512" -> bytes (KB = 1024); false when not a size. */
static bool parse_size(const char *v, long long lo, long long hi, long long *out)
{
	static const char *const units[] = {"KB", "MB", "GB"};
	char num[32];
	size_t n = strlen(v);

	for (int u = 0; u < 3; u++) {
		long long x;
		if (n <= 2 || n >= sizeof(num) || strcasecmp(v + n - 2, units[u]))
			continue;
		memcpy(num, v, n - 2);
		num[n - 2] = '\0';
		if (!ferry_parse_ll(num, 1, 1LL << 40, &x))
			return false;
		x <<= 10 * (u + 1);
		if (x < lo || x > hi)
			return false;
		*out = x;
		return true;
	}
	return ferry_parse_ll(v, lo, hi, out);
}

static bool setting_ll(const struct ferry_config *c, const char *key, long long lo, long long hi,
		       long long *out, struct ferry_err *err)
{
	const char *v = ferry_config_get(c, key);

	if (!v)
		return true;
	if (!strcmp(key, "max_response_bytes") ? !parse_size(v, lo, hi, out)
					       : !ferry_parse_ll(v, lo, hi, out)) {
		ferry_err_set(err, FERRY_EUSAGE, "setting %s=%s must be a whole number from %lld to "
			      "%lld%s", key, v, lo, hi,
			      !strcmp(key, "max_response_bytes") ? " (or with KB, MB, GB)" : "");
		return false;
	}
	return true;
}

/* What a source's settings make of the manifest's limits. */
struct limits {
	struct ferry_http_limits http;
	double rps;
	int burst, concurrency;
	long long page_size;
};

/* The manifest's limits with the source's settings on top; FERRY_EUSAGE naming a bad value. */
static int read_limits(const struct mf_manifest *m, const struct ferry_config *c,
		       struct limits *l, struct ferry_err *err)
{
	long long rps_x = -1, delay = -1, v;
	const char *base = ferry_config_get(c, "base_url");

	ferry_http_limits_default(&l->http);
	l->http.max_attempts = m->max_attempts;
	l->http.backoff_ms = m->backoff_ms;
	l->http.max_backoff_ms = m->max_backoff_ms;
	l->http.retry_after_cap_ms = m->retry_after_cap_ms;
	l->http.timeout_ms = m->timeout_ms;
	l->http.max_response_bytes = m->max_response_bytes;
	l->rps = m->rps;
	l->burst = m->burst;
	l->page_size = 0;
	v = m->concurrency;
	if (!setting_ll(c, "concurrency", 1, 16, &v, err))
		return FERRY_EUSAGE;
	l->concurrency = (int)v;
	v = l->http.max_attempts;
	if (!setting_ll(c, "max_attempts", 1, 100, &v, err))
		return FERRY_EUSAGE;
	l->http.max_attempts = (int)v;
	if (!setting_ll(c, "timeout_ms", 1, 3600000, &l->http.timeout_ms, err) ||
	    !setting_ll(c, "max_response_bytes", 1024, 1LL << 34, &l->http.max_response_bytes, err) ||
	    !setting_ll(c, "requests_per_second", 1, 100000, &rps_x, err) ||
	    !setting_ll(c, "rate_limit_delay_ms", 0, 3600000, &delay, err) ||
	    !setting_ll(c, "sync_batch_size", 1, 100000, &l->page_size, err))
		return FERRY_EUSAGE;
	if (rps_x > 0) {
		l->rps = (double)rps_x;
		l->burst = (int)rps_x;
	}
	if (delay >= 0) {
		l->rps = delay ? 1000.0 / (double)delay : 0;
		l->burst = 1;
	}
	if (base && strncmp(base, "http://", 7) && strncmp(base, "https://", 8))
		return ferry_err_set(err, FERRY_EUSAGE, "setting base_url=%s must start with http:// "
				     "or https://", base);
	return 0;
}

/* The spec of a source's settings; the values of the common ones are checked too. */
static int api_settings_for(const struct ferry_source_ops *ops, const struct ferry_config *c,
			    const struct ferry_setting_spec **out, struct ferry_err *err)
{
	struct api_type *t = type_of_source(ops, c, err);
	struct limits l;

	if (!t)
		return err->code ? err->code : FERRY_ECONFIG;
	*out = t->spec;
	return read_limits(t->m, c, &l, err);
}

static int rest_open(struct ferry_source *src, struct ferry_err *err)
{
	struct api_type *t = type_of_source(src->ops, src->config, err);
	struct rest_src *r;
	struct limits l;
	int rc;

	if (!t)
		return err->code ? err->code : FERRY_ECONFIG;
	if ((rc = read_limits(t->m, src->config, &l, err)))
		return ferry_err_prefix(err, "source \"%s\": ", src->name);
	r = calloc(1, sizeof(*r));
	if (!r)
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	src->priv = r;
	r->m = t->m;
	r->lim = l.http;
	r->concurrency = l.concurrency;
	if ((rc = api_conn_init(&r->conn, t->m, src->config, src->name, err)))
		return rc;
	r->conn.page_size = l.page_size;
	if (l.rps > 0 && !(r->rl = ferry_ratelimit_new(l.rps, l.burst > 0 ? l.burst : 1)))
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	return 0;
}

static void rest_close(struct ferry_source *src)
{
	struct rest_src *r = src->priv;

	if (!r)
		return;
	api_conn_release(&r->conn);
	ferry_ratelimit_free(r->rl);
	free(r);
	src->priv = NULL;
}

static int rest_max_parallel(struct ferry_source *src)
{
	struct rest_src *r = src->priv;

	return r ? r->concurrency : 1;
}

static const struct mf_stream *mstream(const struct mf_manifest *m, const char *name)
{
	for (int i = 0; i < m->nstreams; i++)
		if (!strcmp(m->streams[i].name, name))
			return &m->streams[i];
	return NULL;
}

static int add_col(struct ferry_stream *s, const char *name, enum mf_type t)
{
	enum ar_type at = AR_UNKNOWN;

	if (ferry_stream_column(s, name) >= 0)
		return 0;
	switch (t) {
	case MF_T_TEXT: at = AR_TEXT; break;
	case MF_T_BIGINT: at = AR_BIGINT; break;
	case MF_T_DOUBLE: at = AR_DOUBLE; break;
	case MF_T_BOOLEAN: at = AR_BOOL; break;
	case MF_T_JSON: at = AR_JSONB; break;
	case MF_T_UNIX_SECONDS:
	case MF_T_UNIX_MS:
	case MF_T_RFC3339: at = AR_TSTZ; break;
	case MF_T_DATE: at = AR_DATE; break;
	case MF_T_AUTO: break;
	}
	return ferry_stream_add_column(s, name, ar_pg_type(at), false);
}

static enum mf_type field_type(const struct mf_stream *ms, const char *name)
{
	for (int i = 0; i < ms->nfields; i++)
		if (!strcmp(ms->fields[i].name, name))
			return ms->fields[i].type;
	return MF_T_AUTO;
}

/* The declared columns of a stream: key, cursor, typed fields, parent fields. */
static int declare(struct ferry_stream *s, const struct mf_stream *ms)
{
	int rc = 0;

	if (ms->nkey_fields)
		rc = add_col(s, "_ferry_key", MF_T_TEXT);
	for (int i = 0; !rc && i < ms->npk; i++)
		rc = add_col(s, ms->primary_key[i], field_type(ms, ms->primary_key[i]));
	for (int i = 0; !rc && i < ms->nparent_fields; i++)
		rc = add_col(s, ms->parent_fields[i].key, MF_T_AUTO);
	if (!rc && ms->cursor_field)
		rc = add_col(s, ms->cursor_field, field_type(ms, ms->cursor_field));
	for (int i = 0; !rc && i < ms->nfields; i++)
		rc = add_col(s, ms->fields[i].name, ms->fields[i].type);
	if (rc)
		return rc;
	s->npk = ms->nkey_fields ? 1 : ms->npk;
	if (s->npk && !(s->pk = malloc(sizeof(int) * (size_t)s->npk)))
		return FERRY_ENOMEM;
	if (ms->nkey_fields)
		s->pk[0] = ferry_stream_column(s, "_ferry_key");
	else
		for (int i = 0; i < ms->npk; i++)
			s->pk[i] = ferry_stream_column(s, ms->primary_key[i]);
	s->cursor = ms->cursor_field ? ferry_stream_column(s, ms->cursor_field) : -1;
	s->cursor_unordered = ms->cursor_order != MF_ORDER_ASC;
	return 0;
}

static int rest_discover(struct ferry_source *src, struct ferry_stream_list *out,
			 struct ferry_err *err)
{
	struct rest_src *r = src->priv;

	for (int i = 0; i < r->m->nstreams; i++) {
		const struct mf_stream *ms = &r->m->streams[i];
		struct ferry_stream *s = ferry_stream_list_push(out);
		if (!s || !(s->name = strdup(ms->name)) || !(s->source_table = strdup(ms->name)) ||
		    declare(s, ms))
			return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	}
	return 0;
}

/* ---- reading one stream ------------------------------------------------------------- */

/* A cursor value made comparable: times in microseconds, numbers, or text. */
struct ckey {
	int kind;            /* 0 none, 1 number, 2 text */
	double num;
	char *text;
};

/* Hashed keys seen in this run: 16 bytes of the key, 8 of the content. */
struct seen {
	unsigned char (*v)[24];
	size_t cap, n;
};

struct rest_h {
	struct rest_src *r;
	const struct mf_stream *ms;
	struct ferry_stream stream;
	struct apirow row;
	struct ferry_http *http;
	struct pager pg;
	bool paging;
	/* parents */
	json_t *parents;
	size_t parent_i;
	/* the page being turned into rows */
	int recs;                  /* the page's record array in h->pg.tape, -1 */
	int cur;                   /* the next element of it, -1 */
	struct ar_field *f;        /* the record being written, as fields */
	int nf, fcap;
	char (*pbuf)[48];          /* parent field values printed as text, one per parent field */
	char key_hex[65];
	long long pages, bytes;
	/* bounds */
	struct ckey lo, hi;
	char *lo_param, *hi_param;
	struct ckey max;
	char *max_text;
	struct seen seen;
	struct ferry_buf cell;
	long long batch_rows, batch_bytes;
	long long total;
	bool done;
	bool beyond;               /* a record past the bounds in the order the API sorts by */
};

static bool time_decl(enum mf_type t)
{
	return t == MF_T_UNIX_SECONDS || t == MF_T_UNIX_MS || t == MF_T_RFC3339 || t == MF_T_DATE;
}

/* The key of a cursor given as text (stored cursor, --since, a cell). */
static bool key_of_text(enum mf_type decl, const char *s, struct ckey *k)
{
	long long us;
	char *end;

	memset(k, 0, sizeof(*k));
	if (time_decl(decl)) {
		if (!ar_parse_time(s, &us))
			return false;
		k->kind = 1;
		k->num = (double)us;
		return true;
	}
	k->num = strtod(s, &end);
	if (*s && !*end) {
		k->kind = 1;
		return true;
	}
	k->kind = 2;
	k->text = strdup(s);
	return k->text != NULL;
}

static int key_cmp(const struct ckey *a, const struct ckey *b)
{
	if (a->kind == 1 && b->kind == 1)
		return a->num < b->num ? -1 : a->num > b->num;
	if (a->kind == 2 && b->kind == 2)
		return strcmp(a->text, b->text);
	return a->kind - b->kind;
}

static void key_free(struct ckey *k)
{
	free(k->text);
	memset(k, 0, sizeof(*k));
}

/* A bound as the API wants it in its incremental parameter. */
static char *param_of(const struct mf_stream *ms, const char *text, const struct ckey *k)
{
	char *s = NULL, tb[40];
	long long us = (long long)k->num;

	switch (ms->inc.format) {
	case MF_T_UNIX_SECONDS:
		if (k->kind == 1 && asprintf(&s, "%lld", us / 1000000) < 0)
			s = NULL;
		return s;
	case MF_T_UNIX_MS:
		if (k->kind == 1 && asprintf(&s, "%lld", us / 1000) < 0)
			s = NULL;
		return s;
	case MF_T_DATE:
		if (k->kind != 1)
			return NULL;
		ar_format_time(us, tb);
		tb[10] = '\0';
		return strdup(tb);
	case MF_T_RFC3339:
		if (k->kind == 1 && !time_decl(field_type(ms, ms->cursor_field))) {
			ar_format_time(us, tb);
			return strdup(tb);
		}
		break;
	default:
		break;
	}
	/* as stored: the API gave it in its own format */
	if (time_decl(field_type(ms, ms->cursor_field)) && field_type(ms, ms->cursor_field) != MF_T_RFC3339 &&
	    field_type(ms, ms->cursor_field) != MF_T_DATE) {
		ar_format_time(us, tb);
		return strdup(tb);
	}
	return strdup(text);
}

static int bound(struct rest_h *h, const char *text, const char *what, struct ckey *k, char **param,
		 struct ferry_err *err)
{
	enum mf_type decl = field_type(h->ms, h->ms->cursor_field);

	if (!key_of_text(decl, text, k))
		return ferry_err_set(err, FERRY_EUSAGE,
				     "%s \"%s\" is not a time for stream \"%s\" (cursor \"%s\"): use "
				     "2024-05-01 or 2024-05-01T10:00:00Z", what, text, h->ms->name,
				     h->ms->cursor_field);
	if (!(*param = param_of(h->ms, text, k)))
		return ferry_err_set(err, FERRY_EUSAGE, "%s \"%s\" cannot be sent to the API of stream "
				     "\"%s\" as %s", what, text, h->ms->name, mf_type_name(h->ms->inc.format));
	return 0;
}

static void rest_end(struct ferry_source *src, void *hv)
{
	struct rest_h *h = hv;

	if (!h)
		return;
	if (h->paging)
		pager_release(&h->pg);
	json_decref(h->parents);
	ferry_http_free(h->http);
	apirow_release(&h->row);
	ferry_stream_release(&h->stream);
	key_free(&h->lo);
	key_free(&h->hi);
	key_free(&h->max);
	free(h->lo_param);
	free(h->hi_param);
	free(h->max_text);
	free(h->seen.v);
	free(h->f);
	free(h->pbuf);
	ferry_buf_release(&h->cell);
	free(h);
}

static int rest_begin(struct ferry_source *src, const struct ferry_read_req *req, void **hv,
		      char **cursor_hi, struct ferry_err *err)
{
	struct rest_src *r = src->priv;
	struct rest_h *h = calloc(1, sizeof(*h));
	const char *lo_text;
	int rc;

	*hv = h;
	*cursor_hi = NULL;
	if (!h)
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	h->r = r;
	h->total = -1;
	h->recs = h->cur = -1;
	h->batch_rows = req->batch_rows;
	h->batch_bytes = req->batch_bytes;
	if (!(h->ms = mstream(r->m, req->stream->name)))
		return ferry_err_set(err, FERRY_ENOTFOUND, "stream \"%s\" is not in manifest %s",
				     req->stream->name, r->m->file);
	if ((h->ms->nparent_fields &&
	     !(h->pbuf = calloc((size_t)h->ms->nparent_fields, sizeof(*h->pbuf)))) ||
	    ferry_stream_copy(&h->stream, req->stream) ||
	    !(h->http = ferry_http_new(&r->lim, r->rl, req->cancel)))
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	if ((rc = apirow_init(&h->row, &h->stream, h->ms, err)))
		return rc;
	/* the lower bound: the later of the stored cursor and --since */
	lo_text = req->cursor_from;
	if (req->since && h->ms->cursor_field) {
		struct ckey a = {0}, b = {0};
		enum mf_type decl = field_type(h->ms, h->ms->cursor_field);
		if (lo_text && key_of_text(decl, lo_text, &a) && key_of_text(decl, req->since, &b) &&
		    key_cmp(&b, &a) > 0)
			lo_text = req->since;
		else if (!lo_text)
			lo_text = req->since;
		key_free(&a);
		key_free(&b);
	}
	if (lo_text && h->ms->cursor_field &&
	    (rc = bound(h, lo_text, lo_text == req->since ? "--since" : "the stored cursor", &h->lo,
			&h->lo_param, err)))
		return rc;
	if (req->until && h->ms->cursor_field &&
	    (rc = bound(h, req->until, "--until", &h->hi, &h->hi_param, err)))
		return rc;
	return 0;
}

/* A parent record's scalar fields as a small JSON object (parents outlive their page). */
static json_t *parent_object(const struct jtape *t, int rec)
{
	json_t *o = json_object();

	for (int k = jt_first(t, rec); o && k >= 0; k = jt_sibling(t, rec, k + 1)) {
		const char *name = jt_text(t, k, NULL), *text = jt_text(t, k + 1, NULL);
		json_t *v = NULL;
		switch (jt_type(t, k + 1)) {
		case JT_STRING: v = json_string(text); break;
		case JT_INT: v = json_integer(strtoll(text, NULL, 10)); break;
		case JT_REAL: v = json_real(strtod(text, NULL)); break;
		case JT_TRUE: v = json_true(); break;
		case JT_FALSE: v = json_false(); break;
		default: break;
		}
		if (v)
			json_object_set_new(o, name, v);
	}
	return o;
}

/* All records of the parent stream (child streams read their path once per parent). */
static int load_parents(struct rest_h *h, struct ferry_err *err)
{
	const struct mf_stream *ps = mstream(h->r->m, h->ms->parent);
	struct pager pg;
	int recs, rc;

	if (!ps)
		return ferry_err_set(err, FERRY_ECONFIG, "stream \"%s\": parent stream \"%s\" is not in "
				     "the manifest", h->ms->name, h->ms->parent);
	if (!(h->parents = json_array()))
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	pager_init(&pg, &h->r->conn, ps, h->http, NULL, NULL, NULL);
	while ((rc = pager_next(&pg, &recs, err)) == 0) {
		h->pages++;
		h->bytes += pg.last_bytes;
		for (int e = jt_first(&pg.tape, recs); recs >= 0 && e >= 0;
		     e = jt_sibling(&pg.tape, recs, e)) {
			int rec = ps->record_field ? jt_get(&pg.tape, e, ps->record_field) : e;
			if (rec >= 0 && jt_type(&pg.tape, rec) == JT_OBJECT)
				json_array_append_new(h->parents, parent_object(&pg.tape, rec));
		}
	}
	pager_release(&pg);
	if (rc < 0)
		return ferry_err_prefix(err, "reading parent stream \"%s\" of \"%s\": ", ps->name,
					h->ms->name);
	return 0;
}

/* The next page of records; FERRY_DONE after the last (of the last parent). */
static int next_page(struct rest_h *h, struct ferry_err *err)
{
	int rc;

	for (;;) {
		if (!h->paging) {
			const json_t *parent = NULL;
			if (h->ms->parent) {
				if (!h->parents && (rc = load_parents(h, err)))
					return rc;
				if (h->parent_i >= json_array_size(h->parents))
					return FERRY_DONE;
				parent = json_array_get(h->parents, h->parent_i++);
			} else if (h->done) {
				return FERRY_DONE;
			}
			pager_init(&h->pg, &h->r->conn, h->ms, h->http, parent, h->lo_param, h->hi_param);
			h->paging = true;
		}
		rc = pager_next(&h->pg, &h->recs, err);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			h->cur = jt_first(&h->pg.tape, h->recs);
			h->pages++;
			h->bytes += h->pg.last_bytes;
			if (!h->ms->parent)
				h->total = h->pg.total;
			if (h->cur >= 0)
				return 0;
			continue;
		}
		pager_release(&h->pg);
		h->paging = false;
		h->recs = h->cur = -1;
		if (!h->ms->parent)
			h->done = true;
	}
}

/* The key of a record without a natural id: SHA-256 of the type and the key fields. */
static void hash_key(struct rest_h *h, unsigned char key[32])
{
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)h->r->m->type, strlen(h->r->m->type));
	for (int i = 0; i < h->ms->nkey_fields; i++) {
		unsigned char tag = 0;
		crypto_hash_sha256_update(&st, (const unsigned char *)"\x1f", 1);
		for (int j = 0; j < h->nf; j++) {
			if (strcmp(h->f[j].name, h->ms->key_fields[i]))
				continue;
			tag = (unsigned char)('0' + h->f[j].v.type);
			crypto_hash_sha256_update(&st, &tag, 1);
			crypto_hash_sha256_update(&st, (const unsigned char *)h->f[j].v.s, h->f[j].v.len);
			break;
		}
	}
	crypto_hash_sha256_final(&st, key);
}

/*
 * Remembers a hashed key: 0 new, 1 seen with the same content (duplicate),
 * 2 seen with other content (collision).
 */
static int remember(struct seen *s, const unsigned char key[32], const unsigned char content[8])
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		unsigned char (*v)[24] = calloc(cap, 24);
		if (!v)
			return -1;
		for (i = 0; i < s->cap; i++) {
			size_t j;
			if (!memcmp(s->v[i], (unsigned char[24]){0}, 24))
				continue;
			memcpy(&j, s->v[i], sizeof(j));
			for (j %= cap; memcmp(v[j], (unsigned char[24]){0}, 24); j = (j + 1) % cap)
				;
			memcpy(v[j], s->v[i], 24);
		}
		free(s->v);
		s->v = v;
		s->cap = cap;
	}
	memcpy(&i, key, sizeof(i));
	for (i %= s->cap; memcmp(s->v[i], (unsigned char[24]){0}, 24); i = (i + 1) % s->cap)
		if (!memcmp(s->v[i], key, 16))
			return memcmp(s->v[i] + 16, content, 8) ? 2 : 1;
	memcpy(s->v[i], key, 16);
	memcpy(s->v[i] + 16, content, 8);
	s->n++;
	return 0;
}

static int add_field(struct rest_h *h, const char *name, int type, const char *text, size_t len)
{
	if (h->nf == h->fcap) {
		int cap = h->fcap ? h->fcap * 2 : 64;
		struct ar_field *v = realloc(h->f, sizeof(*v) * (size_t)cap);
		if (!v)
			return FERRY_ENOMEM;
		h->f = v;
		h->fcap = cap;
	}
	h->f[h->nf++] = (struct ar_field){name, strlen(name), {type, text ? text : "", len}};
	return 0;
}

/* A parent's field as a value of the child record (printed into pbuf[slot]). */
static int add_parent_field(struct rest_h *h, const char *name, const json_t *v, int slot)
{
	char *b = h->pbuf[slot];

	if (json_is_string(v))
		return add_field(h, name, JT_STRING, json_string_value(v), json_string_length(v));
	if (json_is_integer(v)) {
		snprintf(b, sizeof(h->pbuf[0]), "%lld", (long long)json_integer_value(v));
		return add_field(h, name, JT_INT, b, strlen(b));
	}
	if (json_is_real(v)) {
		snprintf(b, sizeof(h->pbuf[0]), "%.17g", json_real_value(v));
		return add_field(h, name, JT_REAL, b, strlen(b));
	}
	if (json_is_boolean(v))
		return add_field(h, name, json_is_true(v) ? JT_TRUE : JT_FALSE, NULL, 0);
	return add_field(h, name, JT_NULL, NULL, 0);
}

/*
 * Makes element e of the page into the fields written: the record's own
 * (minus dropped ones), the parent fields, and the hashed key.
 */
static int prepare(struct rest_h *h, int e, unsigned char content[8], struct ferry_err *err)
{
	const struct mf_stream *ms = h->ms;
	const struct jtape *t = &h->pg.tape;
	int rec = ms->record_field ? jt_get(t, e, ms->record_field) : e, rc = 0;

	if (rec < 0 || jt_type(t, rec) != JT_OBJECT)
		return ferry_err_set(err, FERRY_ESOURCE, "stream \"%s\": a record is not a JSON object%s%s",
				     ms->name, ms->record_field ? " at field " : "",
				     ms->record_field ? ms->record_field : "");
	h->nf = 0;
	for (int k = jt_first(t, rec); !rc && k >= 0; k = jt_sibling(t, rec, k + 1)) {
		const char *name = jt_text(t, k, NULL);
		const char *text;
		size_t len = 0;
		bool dropped = false;
		for (int i = 0; i < ms->ndrop && !dropped; i++)
			dropped = !strcmp(ms->drop[i], name);
		if (dropped)
			continue;
		text = jt_raw(t, k + 1, &len);
		rc = add_field(h, name, jt_type(t, k + 1), text, text ? len : 0);
	}
	if (ms->parent) {
		const json_t *parent = json_array_get(h->parents, h->parent_i - 1);
		for (int i = 0; !rc && i < ms->nparent_fields; i++)
			rc = add_parent_field(h, ms->parent_fields[i].key,
					      json_object_get(parent, ms->parent_fields[i].value), i);
	}
	if (!rc && ms->nkey_fields) {
		unsigned char key[32];
		size_t len;
		const char *raw = jt_raw(t, rec, &len);
		crypto_generichash_state st;
		crypto_generichash_init(&st, NULL, 0, 8);
		crypto_generichash_update(&st, (const unsigned char *)raw, len);
		for (int i = 0; i < h->nf; i++)
			if (h->f[i].v.s < t->body || h->f[i].v.s >= t->body + t->len)
				crypto_generichash_update(&st, (const unsigned char *)h->f[i].v.s,
							  h->f[i].v.len);
		crypto_generichash_final(&st, content, 8);
		hash_key(h, key);
		sodium_bin2hex(h->key_hex, sizeof(h->key_hex), key, 32);
		rc = add_field(h, "_ferry_key", JT_STRING, h->key_hex, 64);
	}
	return rc ? ferry_err_set(err, FERRY_ENOMEM, "out of memory") : 0;
}

/* Whether the record last scanned has its cursor inside the bounds; tracks the highest one. */
static bool in_bounds(struct rest_h *h)
{
	const struct ar_col *c;
	const struct ar_val *v;
	struct ckey k;
	long long us;
	bool ok = true;

	if (!h->ms->cursor_field || h->row.cursor < 0)
		return true;
	c = &h->row.cols[h->row.cursor];
	v = apirow_value(&h->row, h->row.cursor);
	memset(&k, 0, sizeof(k));
	if (c->type == AR_TSTZ && apirow_unix_us(c->decl, v, &us)) {
		/* the common case (Stripe's created): compare before formatting anything */
		k.kind = 1;
		k.num = (double)us;
		if (h->lo.kind && key_cmp(&k, &h->lo) < 0) {
			h->beyond = h->ms->cursor_order == MF_ORDER_DESC;
			return false;
		}
		if (h->hi.kind && key_cmp(&k, &h->hi) >= 0) {
			h->beyond = h->ms->cursor_order == MF_ORDER_ASC;
			return false;
		}
		if (h->max.kind && key_cmp(&k, &h->max) <= 0)
			return true;
	}
	ferry_buf_reset(&h->cell);
	if (!apirow_cell(c->type == AR_UNKNOWN ? AR_TEXT : c->type, c->decl, v, &h->cell) ||
	    !key_of_text(c->decl, h->cell.data, &k))
		return true; /* no cursor value: nothing to filter on */
	if (h->lo.kind && key_cmp(&k, &h->lo) < 0) {
		ok = false;
		h->beyond = h->ms->cursor_order == MF_ORDER_DESC;
	}
	if (h->hi.kind && key_cmp(&k, &h->hi) >= 0) {
		ok = false;
		h->beyond = h->ms->cursor_order == MF_ORDER_ASC;
	}
	if (ok && (!h->max.kind || key_cmp(&k, &h->max) > 0)) {
		key_free(&h->max);
		h->max = k;
		memset(&k, 0, sizeof(k));
		free(h->max_text);
		h->max_text = strdup(h->cell.data);
	}
	key_free(&k);
	return ok;
}

static int rest_read(struct ferry_source *src, void *hv, struct ferry_batch *out,
		     struct ferry_err *err)
{
	struct rest_h *h = hv;
	int rc;

	out->shape = apirow_shape(&h->row);
	for (;;) {
		unsigned char content[8] = {0};
		bool publish;

		if (out->nrows >= h->batch_rows || (h->batch_bytes && (long long)out->data.len >= h->batch_bytes))
			break;
		if (h->cur < 0) {
			rc = next_page(h, err);
			out->pages += h->pages;
			out->src_bytes += h->bytes;
			h->pages = h->bytes = 0;
			out->total = h->total;
			if (rc == FERRY_DONE) {
				if (h->max_text && !(out->cursor_hi = strdup(h->max_text)))
					return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
				return FERRY_DONE;
			}
			if (rc)
				return rc;
			continue;
		}
		if ((rc = prepare(h, h->cur, content, err)) ||
		    (rc = apirow_scan(&h->row, h->f, h->nf, &publish, err)))
			return rc;
		if (publish) {
			if (out->nrows)
				break; /* these rows have the old columns: hand them over first */
			if ((rc = apirow_publish(&h->row, &out->shape, err)))
				return rc;
		}
		h->cur = jt_sibling(&h->pg.tape, h->recs, h->cur);
		if (!in_bounds(h)) {
			/*
			 * Sorted by the cursor and past the bound: the rest of the
			 * stream is too, so no more pages are asked for.
			 */
			if (h->beyond && !h->ms->parent) {
				pager_release(&h->pg);
				h->paging = false;
				h->recs = h->cur = -1;
				h->done = true;
			}
			continue;
		}
		if (h->ms->nkey_fields) {
			unsigned char key[32];
			if (sodium_hex2bin(key, 32, h->key_hex, 64, NULL, NULL, NULL))
				return ferry_err_set(err, FERRY_EINTERNAL, "stream \"%s\": no hashed key",
						     h->ms->name);
			rc = remember(&h->seen, key, content);
			if (rc < 0)
				return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
			if (rc == 1) {
				out->duplicates++;
				continue;
			}
			if (rc == 2) {
				out->collisions++;
				continue;
			}
		}
		if ((rc = apirow_encode(&h->row, &out->data, err)))
			return rc;
		out->nrows++;
	}
	return 0;
}

#define API_OPS(name, summary_text)                                                    \
	{                                                                                 \
		.type = name,                                                             \
		.summary = summary_text,                                                  \
		.settings = common_settings,                                              \
		.settings_for = api_settings_for,                                         \
		.max_parallel = rest_max_parallel,                                        \
		.name_by_source = true,                                                   \
		.open = rest_open,                                                        \
		.discover = rest_discover,                                                \
		.begin = rest_begin,                                                      \
		.read = rest_read,                                                        \
		.end = rest_end,                                                          \
		.close = rest_close,                                                      \
	}

const struct ferry_source_ops ferry_source_rest =
	API_OPS("rest", "any REST API described by a YAML manifest (--set manifest=FILE)");
const struct ferry_source_ops ferry_source_graphql =
	API_OPS("graphql", "any GraphQL API described by a YAML manifest (--set manifest=FILE)");
