/*
 * pager.h - walks the pages of one API stream: builds each request from the
 * manifest (URL, query string or GraphQL variables, auth, pagination and
 * incremental parameters), sends it through the HTTP client, parses the JSON
 * and finds the records, and decides from the answer whether there is a next
 * page (has_more, next link, Link header, total, a short or empty page).
 *
 * It refuses to go round in circles: a next request identical to the one
 * just sent, or a page whose bytes equal the previous page's, ends the
 * stream with an error naming the loop, and so does max_pages.
 */
#ifndef FERRY_SOURCE_PAGER_H
#define FERRY_SOURCE_PAGER_H

#include <stdbool.h>
#include <jansson.h>
#include "ferry/buf.h"
#include "ferry/config.h"
#include "ferry/err.h"
#include "source/manifest.h"
#include "util/http.h"
#include "util/jtape.h"

/* What every request of a source shares (owned by the source). */
struct api_conn {
	const struct mf_manifest *m;
	const struct ferry_config *config;
	const char *name;            /* source name, for messages */
	char *base;                  /* base URL, no trailing '/' */
	char **headers;              /* "Name: value", auth included */
	int nheaders;
	char *query_auth;            /* "name=value" (encoded) for query auth, or NULL */
	char *user, *password;       /* basic auth */
	const char **secrets;        /* secret setting values, for redaction */
	int nsecrets;
	long long page_size;         /* sync_batch_size, 0: the manifest's */
};

/* Expands the manifest's connection parts; 0 or FERRY_ECONFIG naming a missing setting. */
int api_conn_init(struct api_conn *c, const struct mf_manifest *m, const struct ferry_config *cfg,
		  const char *name, struct ferry_err *err);
void api_conn_release(struct api_conn *c);

struct pager {
	const struct api_conn *c;
	const struct mf_stream *ms;
	struct ferry_http *http;     /* borrowed */
	const json_t *parent;        /* parent record for {parent.FIELD}, or NULL */
	const char *lo, *hi;         /* incremental bound values as the API wants them, or NULL */
	/* state */
	bool done;
	long long pages, seen, offset, page, total;
	char *cursor;                /* next cursor token */
	char *next_url;              /* next link */
	struct ferry_buf last_req;   /* the request just sent (URL + body), for loop detection */
	long long last_bytes;        /* body bytes of the last page */
	struct ferry_buf bytes;      /* the last page, as it came */
	struct jtape tape;           /* the last page, parsed */
};

void pager_init(struct pager *p, const struct api_conn *c, const struct mf_stream *ms,
		struct ferry_http *http, const json_t *parent, const char *lo, const char *hi);
void pager_release(struct pager *p);
/*
 * Fetches the next page. *records is the node of the array of elements in
 * p->tape (valid until the next call), -1 when the page has none.
 * FERRY_DONE when there is no next page.
 */
int pager_next(struct pager *p, int *records, struct ferry_err *err);

/* A scalar node as malloc'd text (strings as they are, numbers as written); NULL otherwise. */
char *jt_scalar(const struct jtape *t, int node);

#endif
