/*
 * manifest.h - the declarative description of an API connector.
 *
 * A manifest is a YAML file (docs/manifest.md is the reference) that
 * says how to call an HTTP API and where its records are: base URL, auth,
 * headers, settings, rate limit and retries, and per stream the path, record
 * selector, key, cursor, field types, pagination and incremental parameters.
 * The built-in connectors (stripe, close, smartlead, lemlist) are manifests
 * compiled into the binary (src/source/manifests/TYPE.yaml); users add their own
 * with `--set manifest=FILE` or by dropping NAME.yaml into a directory of
 * FERRY_MANIFEST_PATH.
 *
 * The parser checks everything it can before any request is sent and names
 * file, line and what is wrong ("stripe.yaml:14: pagination type \"cursr\" is
 * not one of none, cursor, offset, page, next_link, link_header").
 *
 * A stream's settings are the manifest's `defaults:` with the stream's own
 * keys on top (fields, params, parent_fields, pagination and incremental are
 * merged key by key, the stream winning).
 *
 * Strings in base_url, headers, params, auth and variables may hold
 * {setting} references, replaced by the source's setting of that name
 * (mf_expand). {{ and }} stand for literal braces. path and params may also
 * hold {parent.FIELD}, which mf_expand leaves for the connector to fill.
 * variables is JSON text: expand its string values one by one, not the text.
 *
 * Ownership: struct mf_manifest owns everything it points to; mf_free frees it.
 */
#ifndef FERRY_SOURCE_MANIFEST_H
#define FERRY_SOURCE_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include "ferry/buf.h"
#include "ferry/config.h"
#include "ferry/err.h"

enum mf_kind {
	MF_REST,      /* kind: rest (default) */
	MF_GRAPHQL,   /* kind: graphql: every stream POSTs {query, variables} to base_url + path */
};

enum mf_auth {
	MF_AUTH_NONE,
	MF_AUTH_BEARER,  /* Authorization: Bearer <token> */
	MF_AUTH_BASIC,   /* HTTP basic: username / password */
	MF_AUTH_HEADER,  /* <name>: <token> */
	MF_AUTH_QUERY,   /* ?<name>=<token> on every request */
};

enum mf_page {
	MF_PAGE_NONE,        /* one request */
	MF_PAGE_CURSOR,      /* next request sends cursor_param = last record's cursor_value, or body's cursor_path */
	MF_PAGE_OFFSET,      /* offset_param += records of the page */
	MF_PAGE_PAGE,        /* page_param = page_start, page_start + 1, ... */
	MF_PAGE_NEXT_LINK,   /* the next URL is at next_path in the body */
	MF_PAGE_LINK_HEADER, /* the next URL is the Link header's rel="next" */
};

/* How a field's JSON value becomes a column, and how a cursor bound is written. */
enum mf_type {
	MF_T_AUTO,          /* by JSON type: bigint, double precision, boolean, text, jsonb */
	MF_T_TEXT,
	MF_T_BIGINT,
	MF_T_DOUBLE,
	MF_T_BOOLEAN,
	MF_T_JSON,          /* jsonb */
	MF_T_UNIX_SECONDS,  /* number of seconds since 1970 -> timestamptz */
	MF_T_UNIX_MS,       /* milliseconds since 1970 -> timestamptz */
	MF_T_RFC3339,       /* "2024-05-01T10:00:00Z" -> timestamptz */
	MF_T_DATE,          /* "2024-05-01" -> date */
};

enum mf_order {
	MF_ORDER_ASC,    /* records arrive oldest first: the cursor is committed per batch */
	MF_ORDER_DESC,   /* newest first (Stripe): the cursor moves only after the whole stream */
	MF_ORDER_NONE,   /* no order: same as desc */
};

struct mf_kv {
	char *key;
	char *value;      /* may hold {setting} references */
};

struct mf_field {
	char *name;
	enum mf_type type;
};

struct mf_setting {
	char *key;
	bool required;
	bool secret;
	char *help;
	char *def;        /* default value, or NULL */
};

struct mf_pagination {
	enum mf_page type;
	char *limit_param;       /* "limit", "_limit", "per_page", "perPage"; NULL: not sent */
	long long limit;         /* page size (the sync_batch_size setting overrides it) */
	char *offset_param;      /* offset: "offset", "_skip", "_start" */
	char *page_param;        /* page: "page", "_page" */
	long long page_start;    /* page: number of the first page (0 or 1; default 1) */
	char *cursor_param;      /* cursor: request param ("starting_after", "after", "cursor") */
	char *cursor_value;      /* cursor: field of the last record ("id") */
	char *cursor_path;       /* cursor: body path of the next cursor ("pageInfo.endCursor") */
	char *has_more;          /* body path of a boolean; false stops ("has_more", "pageInfo.hasNextPage") */
	char *next_path;         /* next_link: body path of the next URL ("links.next") */
	char *total_path;        /* body path of the total record count ("total", "meta.count") */
	char *total_header;      /* header with the total record count ("X-Total-Count") */
	bool stop_on_short_page; /* a page with fewer than limit records is the last (default true) */
	long long max_pages;     /* safety stop; default 1000000 */
};

struct mf_incremental {
	char *param;             /* request param for the lower bound ("created[gte]", "updated_at_gte") */
	char *until_param;       /* request param for the upper bound, exclusive ("created[lt]") */
	enum mf_type format;     /* how bounds are written: unix_seconds, unix_ms, rfc3339, date */
};

struct mf_stream {
	char *name;
	int line;                 /* where it is declared, for messages */
	char *path;               /* appended to base_url ("/customers"); may hold {setting} and {parent.FIELD} */
	char *method;             /* "GET" (default) or "POST" */
	struct mf_kv *params;     /* query string (GET) */
	int nparams;
	char *records;            /* dot path of the record array in the body; "" or "." = the body itself */
	char *record_field;       /* take this field of each element ("node" for Relay edges); NULL: the element */
	char **primary_key;       /* field names; empty when key_fields is set */
	int npk;
	char **key_fields;        /* no natural id: key = SHA-256 of these fields, column "_ferry_key" */
	int nkey_fields;
	char *cursor_field;       /* NULL: no incremental reads */
	enum mf_order cursor_order;
	struct mf_field *fields;  /* declared types; other fields are typed by their JSON values */
	int nfields;
	char **drop;              /* fields never written */
	int ndrop;
	struct mf_pagination page;
	struct mf_incremental inc;
	char *parent;             /* another stream of the manifest: this path is read once per parent record */
	struct mf_kv *parent_fields; /* columns copied from the parent record: key = column, value = parent field */
	int nparent_fields;
	char *query;              /* graphql: the query text */
	char *variables;          /* graphql: JSON object text of fixed variables, or NULL */
};

struct mf_manifest {
	char *file;               /* "stripe.yaml" (built in) or the user's path */
	enum mf_kind kind;
	char *type;               /* connector type name: "stripe" */
	char *summary;
	char *docs_url;           /* the vendor's API reference, for messages and `source add --help` */
	char *base_url;
	struct mf_kv *headers;
	int nheaders;
	enum mf_auth auth;
	char *auth_token;         /* bearer/header/query value, e.g. "{api_key}" */
	char *auth_name;          /* header or query parameter name */
	char *auth_user, *auth_password;  /* basic */
	struct mf_setting *settings;
	int nsettings;
	double rps;               /* requests per second; 0: no limit */
	int burst;
	int max_attempts;
	long long backoff_ms, max_backoff_ms, retry_after_cap_ms;
	long long timeout_ms;
	long long max_response_bytes;
	int concurrency;          /* streams read at once; default 2 */
	long long sync_interval_s;  /* a connection's default interval (s); 0: FERRY_SYNC_INTERVAL_DEFAULT */
	struct mf_stream *streams;
	int nstreams;
};

/*
 * Parses a manifest from text. file names it in messages. On error returns
 * FERRY_ECONFIG with "FILE:LINE: what is wrong" and leaves *out NULL.
 */
int mf_parse(const char *file, const char *text, size_t len, struct mf_manifest **out,
	     struct ferry_err *err);
/* Reads and parses a file (FERRY_ENOTFOUND / FERRY_ECONFIG). */
int mf_load_file(const char *path, struct mf_manifest **out, struct ferry_err *err);
/*
 * Finds the manifest of a connector type: NAME.yaml / NAME.yml in the
 * directories of FERRY_MANIFEST_PATH (colon-separated, first match wins, so a
 * user may override a built-in), else the built-in one. FERRY_ENOTFOUND when
 * there is none (no message set then); FERRY_ECONFIG when the file found is
 * broken or declares another type.
 */
int mf_find(const char *type, struct mf_manifest **out, struct ferry_err *err);
/* The built-in connector types, NULL-terminated ("stripe", "close", ...). */
const char *const *mf_builtin_types(void);

/*
 * The built-in manifests, generated at build time from
 * src/source/manifests/TYPE.yaml by cmake/embed_manifests.cmake: type is the
 * file's base name. Both tables end with a NULL entry.
 */
struct mf_builtin {
	const char *type;   /* "stripe" */
	const char *file;   /* "stripe.yaml", for messages */
	const char *text;   /* the YAML, NUL-terminated */
	size_t len;
};
extern const struct mf_builtin mf_builtins[];
extern const char *const mf_builtin_names[];

void mf_free(struct mf_manifest *m);

/*
 * Replaces {name} references in s with settings from c (or the manifest's
 * default for that setting), appending to out. FERRY_ECONFIG naming the
 * setting when one is missing.
 */
int mf_expand(const struct mf_manifest *m, const struct ferry_config *c, const char *s,
	      struct ferry_buf *out, struct ferry_err *err);

/* "unix_seconds" -> MF_T_UNIX_SECONDS; -1 when unknown. */
int mf_type_of(const char *name);
const char *mf_type_name(enum mf_type t);

#endif
