/*
 * test_manifest.c - the manifest parser: a full manifest read back with its
 * defaults merged, every kind of mistake refused with FILE:LINE and the exact
 * message a user sees, {setting} expansion, FERRY_MANIFEST_PATH lookup and
 * the built-in manifests (each one must parse).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "ferry/buf.h"
#include "ferry/config.h"
#include "ferry/err.h"
#include "source/manifest.h"

/* Close to the worked example of docs/manifest.md, with more keys to check. */
static const char acme_yaml[] =
	"kind: rest\n"                                                   /* 1 */
	"type: acme\n"
	"summary: \"Acme: customers, invoices, invoice lines\"\n"
	"docs: https://developer.acme.example/api\n"
	"base_url: https://api.acme.example/v2\n"                        /* 5 */
	"settings:\n"
	"  token: {required: true, secret: true, help: \"API token (Settings > API)\"}\n"
	"  region: {default: eu, help: \"data region\"}\n"
	"auth:\n"
	"  type: bearer\n"                                               /* 10 */
	"  token: \"{token}\"\n"
	"headers: {Accept: application/json, X-Region: \"{region}\"}\n"
	"rate_limit: {requests_per_second: 10}\n"
	"retry: {max_attempts: 7, backoff_ms: 250}\n"
	"timeout_ms: 30000\n"                                            /* 15 */
	"max_response_bytes: 16MB\n"
	"concurrency: 3\n"
	"defaults:\n"
	"  records: items\n"
	"  primary_key: id\n"                                            /* 20 */
	"  fields: {created_at: rfc3339, updated_at: rfc3339, metadata: json}\n"
	"  params: {include: all, limit: 50}\n"
	"  pagination:\n"
	"    type: offset\n"
	"    offset_param: offset\n"                                     /* 25 */
	"    limit_param: limit\n"
	"    limit: 100\n"
	"    total_path: meta.total\n"
	"streams:\n"
	"  - name: customers\n"                                          /* 30 */
	"    path: /customers\n"
	"    cursor: updated_at\n"
	"    cursor_order: asc\n"
	"    params: {limit: 25, sort: updated_at}\n"
	"    incremental: {param: updated_since}\n"                      /* 35 */
	"    drop: [links]\n"
	"  - name: invoices\n"
	"    path: /invoices\n"
	"    method: post\n"
	"    records: data.invoices\n"                                   /* 40 */
	"    fields: {amount: bigint, due: date, metadata: text}\n"
	"    pagination: {limit: 10, stop_on_short_page: false, max_pages: 50}\n"
	"  - name: invoice_lines\n"
	"    path: /invoices/{parent.id}/lines\n"
	"    parent: invoices\n"                                         /* 45 */
	"    parent_fields: {invoice_id: id}\n"
	"    records: .\n"
	"    cursor_order: none\n"
	"    key_fields: [invoice_id, line]\n"
	"    pagination: {type: none}\n"                                 /* 50 */
	"sync_interval: 21600\n";

static struct mf_manifest *parse_ok(const char *text)
{
	struct ferry_err err = {0};
	struct mf_manifest *m = NULL;
	int rc = mf_parse("acme.yaml", text, strlen(text), &m, &err);

	if (rc)
		fail_msg("parse failed (%d): %s", rc, err.msg);
	assert_non_null(m);
	return m;
}

static const char *kv(const struct mf_kv *v, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v[i].key, key))
			return v[i].value;
	return NULL;
}

static int field_type(const struct mf_stream *s, const char *name)
{
	for (int i = 0; i < s->nfields; i++)
		if (!strcmp(s->fields[i].name, name))
			return (int)s->fields[i].type;
	return -1;
}

static void full_manifest_reads_back_with_defaults_merged(void **state)
{
	struct mf_manifest *m = parse_ok(acme_yaml);
	const struct mf_stream *c, *inv, *lines;

	assert_string_equal(m->file, "acme.yaml");
	assert_int_equal(m->kind, MF_REST);
	assert_string_equal(m->type, "acme");
	assert_string_equal(m->summary, "Acme: customers, invoices, invoice lines");
	assert_string_equal(m->docs_url, "https://developer.acme.example/api");
	assert_string_equal(m->base_url, "https://api.acme.example/v2");
	assert_int_equal(m->nsettings, 2);
	assert_string_equal(m->settings[0].key, "token");
	assert_true(m->settings[0].required);
	assert_true(m->settings[0].secret);
	assert_string_equal(m->settings[0].help, "API token (Settings > API)");
	assert_null(m->settings[0].def);
	assert_string_equal(m->settings[1].key, "region");
	assert_false(m->settings[1].required);
	assert_string_equal(m->settings[1].def, "eu");
	assert_int_equal(m->auth, MF_AUTH_BEARER);
	assert_string_equal(m->auth_token, "{token}");
	assert_int_equal(m->nheaders, 2);
	assert_string_equal(kv(m->headers, m->nheaders, "X-Region"), "{region}");
	assert_true(m->rps == 10.0);
	assert_int_equal(m->burst, 10);               /* burst defaults to rps */
	assert_int_equal(m->max_attempts, 7);
	assert_int_equal(m->backoff_ms, 250);
	assert_int_equal(m->max_backoff_ms, 30000);   /* defaults where not given */
	assert_int_equal(m->retry_after_cap_ms, 60000);
	assert_int_equal(m->timeout_ms, 30000);
	assert_int_equal(m->max_response_bytes, 16LL << 20);
	assert_int_equal(m->concurrency, 3);
	assert_int_equal(m->sync_interval_s, 21600);
	assert_int_equal(m->nstreams, 3);

	c = &m->streams[0];
	assert_string_equal(c->name, "customers");
	assert_int_equal(c->line, 30);
	assert_string_equal(c->path, "/customers");
	assert_string_equal(c->method, "GET");
	assert_string_equal(c->records, "items");
	assert_null(c->record_field);
	assert_int_equal(c->npk, 1);
	assert_string_equal(c->primary_key[0], "id");
	assert_string_equal(c->cursor_field, "updated_at");
	assert_int_equal(c->cursor_order, MF_ORDER_ASC);
	assert_int_equal(c->nparams, 3);              /* include from defaults, limit overridden */
	assert_string_equal(kv(c->params, c->nparams, "include"), "all");
	assert_string_equal(kv(c->params, c->nparams, "limit"), "25");
	assert_string_equal(kv(c->params, c->nparams, "sort"), "updated_at");
	assert_int_equal(field_type(c, "updated_at"), MF_T_RFC3339);
	assert_int_equal(field_type(c, "metadata"), MF_T_JSON);
	assert_int_equal(c->page.type, MF_PAGE_OFFSET);
	assert_string_equal(c->page.offset_param, "offset");
	assert_string_equal(c->page.limit_param, "limit");
	assert_int_equal(c->page.limit, 100);
	assert_string_equal(c->page.total_path, "meta.total");
	assert_int_equal(c->page.page_start, 1);
	assert_true(c->page.stop_on_short_page);
	assert_int_equal(c->page.max_pages, 1000000);
	assert_null(c->page.cursor_param);
	assert_string_equal(c->inc.param, "updated_since");
	assert_null(c->inc.until_param);
	assert_int_equal(c->inc.format, MF_T_RFC3339);
	assert_int_equal(c->ndrop, 1);
	assert_string_equal(c->drop[0], "links");
	assert_null(c->parent);
	assert_null(c->query);
	assert_null(c->variables);

	inv = &m->streams[1];
	assert_string_equal(inv->method, "POST");     /* any case in, upper case out */
	assert_string_equal(inv->records, "data.invoices");
	assert_int_equal(field_type(inv, "amount"), MF_T_BIGINT);
	assert_int_equal(field_type(inv, "due"), MF_T_DATE);
	assert_int_equal(field_type(inv, "metadata"), MF_T_TEXT);   /* stream wins */
	assert_int_equal(field_type(inv, "created_at"), MF_T_RFC3339); /* merged */
	assert_int_equal(inv->page.type, MF_PAGE_OFFSET);            /* pagination merged */
	assert_string_equal(inv->page.offset_param, "offset");
	assert_int_equal(inv->page.limit, 10);
	assert_false(inv->page.stop_on_short_page);
	assert_int_equal(inv->page.max_pages, 50);
	assert_null(inv->cursor_field);
	assert_int_equal(inv->cursor_order, MF_ORDER_NONE);

	lines = &m->streams[2];
	assert_string_equal(lines->path, "/invoices/{parent.id}/lines");
	assert_string_equal(lines->parent, "invoices");
	assert_int_equal(lines->nparent_fields, 1);
	assert_string_equal(lines->parent_fields[0].key, "invoice_id");
	assert_string_equal(lines->parent_fields[0].value, "id");
	assert_string_equal(lines->records, "");      /* "." is the body itself */
	assert_int_equal(lines->page.type, MF_PAGE_NONE);
	assert_int_equal(lines->nkey_fields, 2);
	assert_string_equal(lines->key_fields[1], "line");
	mf_free(m);
}

static void minimal_manifest_gets_every_default(void **state)
{
	struct mf_manifest *m = parse_ok("type: tiny\n"
					 "base_url: http://localhost\n"
					 "streams: [{name: things, path: /things}]\n");
	const struct mf_stream *s = &m->streams[0];

	assert_int_equal(m->kind, MF_REST);
	assert_int_equal(m->auth, MF_AUTH_NONE);
	assert_null(m->auth_token);
	assert_true(m->rps == 0);
	assert_int_equal(m->burst, 0);
	assert_int_equal(m->max_attempts, 5);
	assert_int_equal(m->backoff_ms, 500);
	assert_int_equal(m->max_backoff_ms, 30000);
	assert_int_equal(m->retry_after_cap_ms, 60000);
	assert_int_equal(m->timeout_ms, 60000);
	assert_int_equal(m->max_response_bytes, 64LL << 20);
	assert_int_equal(m->concurrency, 2);
	assert_string_equal(s->method, "GET");
	assert_string_equal(s->records, "");
	assert_int_equal(s->npk, 0);
	assert_int_equal(s->cursor_order, MF_ORDER_NONE);
	assert_int_equal(s->page.type, MF_PAGE_NONE);
	assert_int_equal(s->page.page_start, 1);
	assert_true(s->page.stop_on_short_page);
	assert_int_equal(s->page.max_pages, 1000000);
	assert_int_equal(s->page.limit, 0);
	mf_free(m);
}

static void graphql_and_other_auths(void **state)
{
	struct mf_manifest *m = parse_ok(
		"kind: graphql\n"
		"type: gq\n"
		"base_url: \"{endpoint}\"\n"
		"settings: {endpoint: {required: true}, key: {secret: true, required: true}, sub: }\n"
		"auth: {type: header, name: X-Api-Key, token: \"{key}\"}\n"
		"rate_limit: {requests_per_second: 0.5}\n"
		"streams:\n"
		"  - name: users\n"
		"    path: /graphql\n"
		"    records: data.users.edges\n"
		"    record_field: node\n"
		"    cursor: updatedAt\n"
		"    fields: {updatedAt: unix_ms}\n"
		"    query: \"query($first: Int, $after: String) { users(first: $first, after: $after) { pageInfo { endCursor hasNextPage } edges { node { id } } } }\"\n"
		"    variables: {status: active, n: 3, r: 1.5, ok: true, none: ~, q: \"7\", tags: [a, 1], o: {x: \"{sub}\"}}\n"
		"    incremental: {param: since}\n"
		"    pagination: {type: cursor, cursor_param: after, cursor_path: data.users.pageInfo.endCursor, has_more: data.users.pageInfo.hasNextPage, limit_param: first}\n"
		"  - name: teams\n"
		"    query: \"{ teams { id } }\"\n");
	const struct mf_stream *s = &m->streams[0];

	assert_int_equal(m->kind, MF_GRAPHQL);
	assert_int_equal(m->auth, MF_AUTH_HEADER);
	assert_string_equal(m->auth_name, "X-Api-Key");
	assert_int_equal(m->nsettings, 3);
	assert_null(m->settings[2].help);
	assert_int_equal(m->burst, 1);
	assert_string_equal(s->method, "POST");
	assert_string_equal(s->record_field, "node");
	assert_non_null(strstr(s->query, "pageInfo"));
	assert_string_equal(s->variables,
			    "{\"status\":\"active\",\"n\":3,\"r\":1.5,\"ok\":true,\"none\":null,\"q\":\"7\","
			    "\"tags\":[\"a\",1],\"o\":{\"x\":\"{sub}\"}}");
	assert_int_equal(s->inc.format, MF_T_UNIX_MS);  /* from the cursor field's type */
	assert_int_equal(s->page.limit, 100);           /* limit_param without limit */
	assert_string_equal(m->streams[1].path, "");    /* graphql: base_url itself */
	mf_free(m);
}

static void basic_and_query_auth(void **state)
{
	struct mf_manifest *m = parse_ok(
		"type: b\nbase_url: http://localhost\nsettings: {k: {}}\n"
		"auth: {type: basic, username: \"{k}\"}\n"
		"streams: [{name: a, path: /a}]\n");

	assert_int_equal(m->auth, MF_AUTH_BASIC);
	assert_string_equal(m->auth_user, "{k}");
	assert_string_equal(m->auth_password, "");
	mf_free(m);
	m = parse_ok("type: q\nbase_url: http://localhost\nsettings: {k: {}}\n"
		     "auth: {type: query, name: api_key, token: \"{k}\"}\n"
		     "max_response_bytes: 1048576\n"
		     "streams: [{name: a, path: \"/a/{{parent.id}}\"}]\n");
	assert_int_equal(m->auth, MF_AUTH_QUERY);
	assert_string_equal(m->streams[0].path, "/a/{{parent.id}}");  /* literal braces, no parent */
	assert_int_equal(m->max_response_bytes, 1048576);
	mf_free(m);
}

/* ---- mistakes, as data: the manifest and the whole message ------------------ */

#define HEAD "type: acme\nbase_url: http://localhost\n"            /* lines 1-2 */
#define USERS "streams:\n  - name: users\n    path: /users\n"     /* lines 3-5 */

static const struct {
	const char *yaml, *msg;
} bad[] = {
	{HEAD USERS "    pagination: {type: cursr}\n",
	 "m.yaml:6: pagination type \"cursr\" is not one of none, cursor, offset, page, next_link, link_header"},
	{HEAD USERS "    primary_kye: id\n",
	 "m.yaml:6: unknown key \"primary_kye\" in stream \"users\": did you mean \"primary_key\"?"},
	{"type: acme\nbse_url: http://localhost\n",
	 "m.yaml:2: unknown key \"bse_url\" in the manifest: did you mean \"base_url\"?"},
	{HEAD USERS "    pagination:\n      type: page\n      page_parm: p\n",
	 "m.yaml:8: unknown key \"page_parm\" in the pagination of stream \"users\": did you mean \"page_param\"?"},
	{HEAD "defaults:\n  pagination: {typo: 1}\n" USERS,
	 "m.yaml:4: unknown key \"typo\" in the pagination of defaults: did you mean \"type\"?"},
	{HEAD "retry: {max_attempt: 3}\n" USERS,
	 "m.yaml:3: unknown key \"max_attempt\" in retry: did you mean \"max_attempts\"?"},
	{HEAD USERS "    pagination: {limit: [1]}\n",
	 "m.yaml:6: expected a number for \"limit\", not a list"},
	{HEAD USERS "    primary_key: {a: b}\n",
	 "m.yaml:6: expected a list or a string for \"primary_key\", not a mapping"},
	{HEAD "streams:\n  - name: users\n    path: [a]\n",
	 "m.yaml:5: expected a string for \"path\", not a list"},
	{HEAD USERS "    pagination: {limit: -5}\n",
	 "m.yaml:6: \"limit\" must not be negative (got -5)"},
	{HEAD USERS "    pagination: {limit: abc}\n",
	 "m.yaml:6: expected a number for \"limit\", got \"abc\""},
	{HEAD USERS "    pagination: {limit: 0}\n",
	 "m.yaml:6: \"limit\" must be at least 1 (got 0)"},
	{HEAD USERS "    pagination: {max_pages: 99999999999999999999}\n",
	 "m.yaml:6: \"max_pages\" is too large: 99999999999999999999 (at most 9223372036854775807)"},
	{HEAD "sync_interval: 59\n" USERS,
	 "m.yaml:3: \"sync_interval\" must be at least 60 (got 59)"},
	{HEAD "concurrency: 17\n" USERS,
	 "m.yaml:3: \"concurrency\" is too large: 17 (at most 16)"},
	{HEAD "timeout_ms: 1.5\n" USERS,
	 "m.yaml:3: expected a number for \"timeout_ms\", got \"1.5\""},
	{HEAD "rate_limit: {requests_per_second: fast}\n" USERS,
	 "m.yaml:3: expected a number for \"requests_per_second\", got \"fast\""},
	{HEAD "max_response_bytes: 64XB\n" USERS,
	 "m.yaml:3: expected a size for \"max_response_bytes\" (bytes, or with KB, MB or GB: 64MB), got \"64XB\""},
	{HEAD "max_response_bytes: 17GB\n" USERS,
	 "m.yaml:3: \"max_response_bytes\" is too large: 17GB (at most 16GB)"},
	{HEAD "max_response_bytes: 100\n" USERS,
	 "m.yaml:3: \"max_response_bytes\" must be at least 1KB (got 100)"},
	{HEAD USERS "    pagination: {stop_on_short_page: maybe}\n",
	 "m.yaml:6: expected true or false for \"stop_on_short_page\""},
	{HEAD "retry: {backoff_ms: 5000, max_backoff_ms: 1000}\n" USERS,
	 "m.yaml:3: retry backoff_ms (5000) is larger than max_backoff_ms (1000)"},
	{"type: acme\nbase_url: [unclosed\n",
	 "m.yaml:3: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 2)"},
	{"type: acme\n  base_url: x\n",
	 "m.yaml:2: YAML syntax error: mapping values are not allowed in this context"},
	{"type: \"acme\xff\"\n",
	 "m.yaml:1: YAML syntax error: invalid leading UTF-8 octet"},
	{"", "m.yaml:1: the manifest is empty: it needs type:, base_url: and streams: (see docs/manifest.md)"},
	{"# only a comment\n\n",
	 "m.yaml:1: the manifest is empty: it needs type:, base_url: and streams: (see docs/manifest.md)"},
	{"- type: acme\n",
	 "m.yaml:1: expected a mapping at the top level (type:, base_url:, streams:, ...), not a list"},
	{"just text\n",
	 "m.yaml:1: expected a mapping at the top level (type:, base_url:, streams:, ...), not a single value"},
	{HEAD USERS "---\ntype: other\n",
	 "m.yaml:6: a second YAML document: a manifest is one document (remove the ---)"},
	{"base_url: http://localhost\n" USERS,
	 "m.yaml:1: missing \"type\": the connector type name (type: acme)"},
	{"type: acme\n" USERS,
	 "m.yaml:1: missing \"base_url\" (base_url: https://api.example.com/v1; the base_url setting overrides it)"},
	{"type: acme\nbase_url: api.acme.com\n" USERS,
	 "m.yaml:2: base_url \"api.acme.com\" must start with http:// or https://"},
	{"type: Acme\nbase_url: http://localhost\n" USERS,
	 "m.yaml:1: type \"Acme\" must be lower-case letters, digits and _, starting with a letter"},
	{"type: postgres\nbase_url: http://localhost\n" USERS,
	 "m.yaml:1: type \"postgres\" is taken by a connector of ferry: choose another name"},
	{"kind: soap\n" HEAD USERS,
	 "m.yaml:1: kind \"soap\" is not one of rest, graphql"},
	{HEAD, "m.yaml:1: no streams: add a streams: list with at least one stream (name:, path:)"},
	{HEAD "streams: []\n",
	 "m.yaml:3: no streams: add a streams: list with at least one stream (name:, path:)"},
	{HEAD "streams: {users: {path: /users}}\n",
	 "m.yaml:3: expected a list for \"streams\", not a mapping"},
	{HEAD "streams:\n  - path: /x\n",
	 "m.yaml:4: stream 1 has no name (name: users)"},
	{HEAD "streams:\n  - name: users\n",
	 "m.yaml:4: stream \"users\" has no path (e.g. path: /users)"},
	{HEAD "streams:\n  - name: Users\n    path: /u\n",
	 "m.yaml:4: stream name \"Users\" must be lower-case letters, digits and _, starting with a letter (it becomes part of a table name)"},
	{HEAD USERS "  - name: users\n    path: /people\n",
	 "m.yaml:6: stream \"users\" is declared twice (first at line 4)"},
	{HEAD USERS "    path: /again\n",
	 "m.yaml:6: key \"path\" appears twice in stream \"users\" (first at line 5)"},
	{HEAD "streams:\n  - name: users\n    path: users\n",
	 "m.yaml:5: path \"users\" of stream \"users\" must start with \"/\" (it is appended to base_url)"},
	{HEAD USERS "    pagination: {type: cursor, cursor_value: id}\n",
	 "m.yaml:6: pagination type \"cursor\" of stream \"users\" needs cursor_param (the request parameter that carries the cursor)"},
	{HEAD USERS "    pagination:\n      type: cursor\n      cursor_param: after\n",
	 "m.yaml:7: pagination type \"cursor\" of stream \"users\" needs cursor_value (a field of the last record) or cursor_path (where the body holds the next cursor)"},
	{HEAD USERS "    pagination: {type: offset, limit_param: limit}\n",
	 "m.yaml:6: pagination type \"offset\" of stream \"users\" needs offset_param (the request parameter of the offset)"},
	{HEAD "defaults:\n  pagination: {type: page}\n" USERS,
	 "m.yaml:4: pagination type \"page\" of stream \"users\" needs page_param (the request parameter of the page number)"},
	{HEAD USERS "    pagination: {type: next_link, next_path: \"\"}\n",
	 "m.yaml:6: pagination type \"next_link\" of stream \"users\" needs next_path (where the body holds the next URL)"},
	{HEAD USERS "    incremental: {param: since}\n",
	 "m.yaml:6: incremental param \"since\" of stream \"users\" needs a cursor field (cursor: FIELD, the record field it filters on)"},
	{HEAD USERS "    incremental: {format: iso}\n",
	 "m.yaml:6: incremental format \"iso\" is not one of unix_seconds, unix_ms, rfc3339, date"},
	{HEAD USERS "    parent: user\n",
	 "m.yaml:6: parent \"user\" of stream \"users\" is not a stream of this manifest: did you mean \"users\"?"},
	{HEAD USERS "    parent: users\n",
	 "m.yaml:6: parent \"users\" of stream \"users\" makes a cycle (users -> users)"},
	{HEAD "streams:\n  - name: a\n    path: /a\n    parent: b\n  - name: b\n    path: /b\n    parent: a\n",
	 "m.yaml:6: parent \"b\" of stream \"a\" makes a cycle (a -> b -> a)"},
	{HEAD USERS "    parent_fields: {user_id: id}\n",
	 "m.yaml:6: stream \"users\" has parent_fields but no parent (parent: STREAM)"},
	{HEAD "streams:\n  - name: users\n    path: /users/{parent.id}\n",
	 "m.yaml:5: path of stream \"users\" uses {parent.…} but the stream has no parent (parent: STREAM)"},
	{HEAD USERS "    params: {team: \"{parent.team}\", lit: \"{{parent.x}}\"}\n",
	 "m.yaml:6: param \"team\" of stream \"users\" uses {parent.…} but the stream has no parent (parent: STREAM)"},
	{"type: acme\nsettings: {region: {}}\nbase_url: \"https://{regin}.acme.com\"\n" USERS,
	 "m.yaml:3: \"base_url\" uses {regin}, which is not a declared setting: did you mean \"region\"?"},
	{HEAD "headers: {X-Key: \"{secret_key}\"}\n" USERS,
	 "m.yaml:3: header \"X-Key\" uses {secret_key}, which is not a declared setting: declare it under settings:"},
	{HEAD USERS "    params: {limit: \"{page_size}\"}\n",
	 "m.yaml:6: param \"limit\" uses {page_size}, which is not a declared setting: declare it under settings:"},
	{HEAD "auth: {type: bearer, token: \"{api_key}\"}\n" USERS,
	 "m.yaml:3: \"token\" uses {api_key}, which is not a declared setting: declare it under settings:"},
	{"type: acme\nbase_url: \"http://x/{parent.id}\"\n" USERS,
	 "m.yaml:2: \"base_url\" cannot use {parent.id}: parent fields are only for path and params"},
	{HEAD USERS "    path: \"/users/{id\"\n",
	 "m.yaml:6: key \"path\" appears twice in stream \"users\" (first at line 5)"},
	{HEAD "streams:\n  - name: users\n    path: \"/users/{id\"\n",
	 "m.yaml:5: \"path\" has a \"{\" that is never closed: write {{ for a literal brace"},
	{HEAD "streams:\n  - name: users\n    path: \"/users/id}\"\n",
	 "m.yaml:5: \"path\" has a \"}\" that closes nothing: write }} for a literal brace"},
	{HEAD "streams:\n  - name: users\n    path: \"/users/{a b}\"\n",
	 "m.yaml:5: \"path\" uses {a b}, which is not a setting name: write {{ and }} for literal braces"},
	{HEAD USERS "    fields: {created: timestmp}\n",
	 "m.yaml:6: field \"created\" has type \"timestmp\", which is not one of auto, text, bigint, integer, double, number, boolean, json, jsonb, unix_seconds, unix_ms, rfc3339, timestamp, date"},
	{"kind: graphql\n" HEAD "streams:\n  - name: users\n",
	 "m.yaml:5: stream \"users\" has no query (kind: graphql streams send one)"},
	{"kind: graphql\n" HEAD "streams:\n  - name: users\n    query: \"{ users { id } }\"\n    method: GET\n",
	 "m.yaml:7: stream \"users\" has method GET, but graphql requests are always POST"},
	{HEAD USERS "    query: \"{ users { id } }\"\n",
	 "m.yaml:6: stream \"users\" has a query, which only kind: graphql manifests send"},
	{HEAD USERS "    method: PUT\n",
	 "m.yaml:6: method \"PUT\" is not one of GET, POST"},
	{HEAD "auth: {type: bearer}\n" USERS,
	 "m.yaml:3: auth type \"bearer\" needs token (e.g. token: \"{api_key}\")"},
	{HEAD "settings: {k: {}}\nauth: {type: header, token: \"{k}\"}\n" USERS,
	 "m.yaml:4: auth type \"header\" needs name (the header that carries the token)"},
	{HEAD "settings: {k: {}}\nauth: {type: query, token: \"{k}\"}\n" USERS,
	 "m.yaml:4: auth type \"query\" needs name (the query parameter that carries the token)"},
	{HEAD "auth:\n  type: basic\n  password: x\n" USERS,
	 "m.yaml:4: auth type \"basic\" needs username (e.g. username: \"{api_key}\")"},
	{HEAD "auth: {token: x}\n" USERS,
	 "m.yaml:3: auth has no type: one of none, bearer, basic, header, query"},
	{HEAD "auth: {type: oauth}\n" USERS,
	 "m.yaml:3: auth type \"oauth\" is not one of none, bearer, basic, header, query"},
	{HEAD "defaults: {name: x}\n" USERS,
	 "m.yaml:3: defaults cannot set \"name\": each stream names itself"},
	{HEAD "defaults: [a]\n" USERS,
	 "m.yaml:3: expected a mapping for \"defaults\", not a list"},
	{HEAD "settings: {k: {required: true, default: x}}\n" USERS,
	 "m.yaml:3: setting \"k\" is required and has a default: keep one of the two"},
	{HEAD "settings: {k: {requird: true}}\n" USERS,
	 "m.yaml:3: unknown key \"requird\" in setting \"k\": did you mean \"required\"?"},
	{HEAD "settings: {k: secret}\n" USERS,
	 "m.yaml:3: expected a mapping for setting \"k\" ({required: true, secret: true, help: ...}), not a single value"},
	{HEAD USERS "    primary_key: id\n    key_fields: [a, b]\n",
	 "m.yaml:7: stream \"users\" has both primary_key and key_fields: keep primary_key when records have an id, key_fields when they do not"},
	{HEAD USERS "    cursor_order: newest\n",
	 "m.yaml:6: cursor_order \"newest\" is not one of asc, desc, none"},
	{HEAD "headers: {\"Bad Name\": x}\n" USERS,
	 "m.yaml:3: header name \"Bad Name\" is not valid (no spaces or colons)"},
	{"kind: graphql\n" HEAD "streams:\n  - name: users\n    query: q\n    variables: [a]\n",
	 "m.yaml:7: expected a mapping for \"variables\", not a list"},
	{"kind: graphql\n" HEAD "streams:\n  - name: users\n    query: q\n    variables: {a: \"{nope}\"}\n",
	 "m.yaml:7: variable \"a\" uses {nope}, which is not a declared setting: declare it under settings:"},
	{"kind: graphql\n" HEAD "streams:\n  - name: users\n    query: q\n    variables: &v {a: *v}\n",
	 "m.yaml:7: \"variables\" are nested too deeply or too large"},
	{HEAD "streams: &s [*s]\n",
	 "m.yaml:3: expected a mapping for stream 1 (name:, path:, ...), not a list"},
};

static void every_mistake_names_file_line_and_fix(void **state)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ferry_err err = {0};
		struct mf_manifest *m = (struct mf_manifest *)1;
		int rc = mf_parse("m.yaml", bad[i].yaml, strlen(bad[i].yaml), &m, &err);

		if (rc != FERRY_ECONFIG || strcmp(err.msg, bad[i].msg) || m) {
			print_error("case %zu:\n%s\nwant %s\ngot  %d %s\n\n", i, bad[i].yaml, bad[i].msg,
				    rc, err.msg);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

static void unknown_key_without_suggestion_lists_known_keys(void **state)
{
	const char *y = HEAD "zzzzzzzzzzzz: 1\n" USERS;
	struct ferry_err err = {0};
	struct mf_manifest *m;

	assert_int_equal(mf_parse("m.yaml", y, strlen(y), &m, &err), FERRY_ECONFIG);
	assert_string_equal(err.msg, "m.yaml:3: unknown key \"zzzzzzzzzzzz\" in the manifest (known keys: "
			    "kind, type, summary, docs, base_url, settings, auth, headers, rate_limit, "
			    "retry, timeout_ms, max_response_bytes, concurrency, sync_interval, defaults, streams)");
}

static void a_nul_byte_is_refused(void **state)
{
	static const char y[] = "type: acme\nbase_url: \"http://x\\0y\"\n";
	struct ferry_err err = {0};
	struct mf_manifest *m;

	assert_int_equal(mf_parse("m.yaml", y, sizeof(y) - 1, &m, &err), FERRY_ECONFIG);
	assert_string_equal(err.msg, "m.yaml:2: \"base_url\" contains a NUL byte");
}

/* ---- mf_expand --------------------------------------------------------------- */

static const char expand_yaml[] =
	"type: acme\n"
	"base_url: https://api.acme.example\n"
	"settings:\n"
	"  api_key: {required: true, secret: true, help: \"API token (Settings > API)\"}\n"
	"  region: {default: eu}\n"
	"  other: {}\n"
	"streams: [{name: a, path: /a}]\n";

static void expand_replaces_settings(void **state)
{
	struct mf_manifest *m = parse_ok(expand_yaml);
	struct ferry_config c = {0};
	struct ferry_err err = {0};
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"Bearer {api_key}", "Bearer sk_test_123"},
		{"https://{region}.acme.example", "https://eu.acme.example"},   /* the default */
		{"{base_url}/v2", "http://127.0.0.1:9/v2"},                     /* common setting */
		{"{{literal}} and }}{{", "{literal} and }{"},
		{"/leads/{parent.id}/x?{api_key}", "/leads/{parent.id}/x?sk_test_123"},
		{"", ""},
		{"plain", "plain"},
		{"{api_key}{region}", "sk_test_123eu"},
	};

	assert_int_equal(ferry_config_set(&c, "api_key", "sk_test_123"), 0);
	assert_int_equal(ferry_config_set(&c, "base_url", "http://127.0.0.1:9"), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ferry_buf b = FERRY_BUF_INIT;
		assert_int_equal(mf_expand(m, &c, cases[i].in, &b, &err), 0);
		assert_string_equal(b.data, cases[i].out);
		ferry_buf_release(&b);
	}

	/* a configured value wins over the default; values go in as they are */
	assert_int_equal(ferry_config_set(&c, "region", "us {x} &"), 0);
	{
		struct ferry_buf b = FERRY_BUF_INIT;
		assert_int_equal(mf_expand(m, &c, "{region}", &b, &err), 0);
		assert_string_equal(b.data, "us {x} &");
		ferry_buf_release(&b);
	}
	ferry_config_release(&c);
	mf_free(m);
}

static void expand_names_a_missing_setting(void **state)
{
	struct mf_manifest *m = parse_ok(expand_yaml);
	struct ferry_config c = {0};
	struct ferry_err err = {0};
	struct ferry_buf b = FERRY_BUF_INIT;

	assert_int_equal(mf_expand(m, &c, "Bearer {api_key}", &b, &err), FERRY_ECONFIG);
	assert_string_equal(err.msg, "setting \"api_key\" is needed by connector \"acme\": add --set "
			    "api_key=... (API token (Settings > API))");
	assert_int_equal(mf_expand(m, NULL, "{other}", &b, &err), FERRY_ECONFIG);
	assert_string_equal(err.msg, "setting \"other\" is needed by connector \"acme\": add --set other=...");
	assert_int_equal(mf_expand(m, &c, "{sync_batch_size}", &b, &err), FERRY_ECONFIG);
	assert_int_equal(mf_expand(m, &c, "{open", &b, &err), FERRY_ECONFIG);
	ferry_buf_release(&b);

	/* a capped buffer: the result does not fit */
	assert_int_equal(ferry_config_set(&c, "api_key", "0123456789abcdef0123456789"), 0);
	ferry_buf_init(&b, 16);
	assert_int_equal(mf_expand(m, &c, "{api_key}", &b, &err), FERRY_ETOOBIG);
	assert_null(strstr(err.msg, "0123456789"));       /* never the value */
	ferry_buf_release(&b);
	ferry_config_release(&c);
	mf_free(m);
}

static void type_names_round_trip(void **state)
{
	assert_int_equal(mf_type_of("unix_seconds"), MF_T_UNIX_SECONDS);
	assert_int_equal(mf_type_of("integer"), MF_T_BIGINT);
	assert_int_equal(mf_type_of("number"), MF_T_DOUBLE);
	assert_int_equal(mf_type_of("jsonb"), MF_T_JSON);
	assert_int_equal(mf_type_of("timestamp"), MF_T_RFC3339);
	assert_int_equal(mf_type_of("Text"), -1);
	assert_int_equal(mf_type_of("varchar"), -1);
	assert_int_equal(mf_type_of(NULL), -1);
	for (int t = MF_T_AUTO; t <= MF_T_DATE; t++)
		assert_int_equal(mf_type_of(mf_type_name((enum mf_type)t)), t);
	assert_string_equal(mf_type_name(MF_T_BIGINT), "bigint");
	assert_string_equal(mf_type_name(MF_T_RFC3339), "rfc3339");
}

/* ---- files, FERRY_MANIFEST_PATH and the built-ins ---------------------------- */

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static void load_file_not_found_and_broken(void **state)
{
	struct ferry_err err = {0};
	struct mf_manifest *m;
	char dir[] = "/tmp/ferry-mf-XXXXXX", path[600];

	assert_int_equal(mf_load_file("/nonexistent/acme.yaml", &m, &err), FERRY_ENOTFOUND);
	assert_string_equal(err.msg, "manifest file \"/nonexistent/acme.yaml\" not found");
	assert_null(m);

	assert_non_null(mkdtemp(dir));
	write_file(dir, "bad.yaml", "type: acme\nbase_url: http://localhost\nstreams: 3\n");
	snprintf(path, sizeof(path), "%s/bad.yaml", dir);
	assert_int_equal(mf_load_file(path, &m, &err), FERRY_ECONFIG);
	assert_non_null(strstr(err.msg, "/bad.yaml:3: expected a list for \"streams\", not a single value"));
	assert_int_equal(strncmp(err.msg, dir, strlen(dir)), 0);   /* the path as given */
	unlink(path);

	write_file(dir, "ok.yaml", acme_yaml);
	snprintf(path, sizeof(path), "%s/ok.yaml", dir);
	assert_int_equal(mf_load_file(path, &m, &err), 0);
	assert_string_equal(m->file, path);
	mf_free(m);
	unlink(path);
	rmdir(dir);
}

static void manifest_path_is_searched_before_the_builtins(void **state)
{
	const char *const *types = mf_builtin_types();
	struct ferry_err err = {0};
	struct mf_manifest *m;
	char dir[] = "/tmp/ferry-mf-XXXXXX", env[600], path[600], over[256];

	assert_non_null(mkdtemp(dir));
	write_file(dir, "myapi.yaml", "type: myapi\nbase_url: http://localhost\nstreams: [{name: a, path: /a}]\n");
	write_file(dir, "other.yml", "type: other\nbase_url: http://localhost\nstreams: [{name: a, path: /a}]\n");
	write_file(dir, "liar.yaml", "type: truth\nbase_url: http://localhost\nstreams: [{name: a, path: /a}]\n");
	write_file(dir, "broken.yaml", "type: broken\n");
	snprintf(env, sizeof(env), "/nonexistent::%s", dir);   /* empty and missing dirs are skipped */
	setenv("FERRY_MANIFEST_PATH", env, 1);

	assert_int_equal(mf_find("myapi", &m, &err), 0);
	snprintf(path, sizeof(path), "%s/myapi.yaml", dir);
	assert_string_equal(m->file, path);
	mf_free(m);
	assert_int_equal(mf_find("other", &m, &err), 0);      /* .yml too */
	assert_string_equal(m->type, "other");
	mf_free(m);

	assert_int_equal(mf_find("liar", &m, &err), FERRY_ECONFIG);
	assert_null(m);
	assert_non_null(strstr(err.msg, "liar.yaml declares type \"truth\": a manifest found as liar.yaml must declare type: liar"));
	assert_int_equal(mf_find("broken", &m, &err), FERRY_ECONFIG);
	assert_non_null(strstr(err.msg, "broken.yaml:1: missing \"base_url\""));

	err.msg[0] = '\0';
	assert_int_equal(mf_find("nothing_here", &m, &err), FERRY_ENOTFOUND);
	assert_null(m);
	assert_string_equal(err.msg, "");                     /* no message: the caller words it */
	assert_int_equal(mf_find("../etc/passwd", &m, &err), FERRY_ENOTFOUND);
	assert_int_equal(mf_find("", &m, &err), FERRY_ENOTFOUND);

	/* a user's file of a built-in's name wins */
	if (types[0]) {
		snprintf(over, sizeof(over), "%s.yaml", types[0]);
		snprintf(path, sizeof(path),
			 "type: %s\nsummary: mine\nbase_url: http://localhost\nstreams: [{name: a, path: /a}]\n",
			 types[0]);
		write_file(dir, over, path);
		assert_int_equal(mf_find(types[0], &m, &err), 0);
		assert_string_equal(m->summary, "mine");
		mf_free(m);
		snprintf(path, sizeof(path), "%s/%s", dir, over);
		unlink(path);
	}

	unsetenv("FERRY_MANIFEST_PATH");
	assert_int_equal(mf_find("myapi", &m, &err), FERRY_ENOTFOUND);
	for (const char *f = "myapi.yaml\0other.yml\0liar.yaml\0broken.yaml\0"; *f; f += strlen(f) + 1) {
		snprintf(path, sizeof(path), "%s/%s", dir, f);
		unlink(path);
	}
	rmdir(dir);
}

static void every_builtin_parses_and_is_listed(void **state)
{
	const char *const *types = mf_builtin_types();
	int n = 0;

	unsetenv("FERRY_MANIFEST_PATH");
	for (const struct mf_builtin *b = mf_builtins; b->type; b++, n++) {
		struct ferry_err err = {0};
		struct mf_manifest *m = NULL;
		char file[128];

		assert_string_equal(types[n], b->type);
		snprintf(file, sizeof(file), "%s.yaml", b->type);
		assert_string_equal(b->file, file);
		assert_int_equal(strlen(b->text), b->len);
		if (mf_find(b->type, &m, &err))
			fail_msg("built-in %s: %s", b->file, err.msg);
		assert_string_equal(m->type, b->type);
		assert_string_equal(m->file, b->file);
		assert_true(m->nstreams > 0);
		assert_non_null(m->summary);
		mf_free(m);
	}
	assert_null(types[n]);
	print_message("%d built-in manifests\n", n);
}

/*
 * The complete manifests shown in docs/manifest.md (```yaml blocks with type:,
 * base_url: and streams:) must parse: the reference cannot drift from the
 * parser. The source tree is found from this file's path.
 */
static void docs_examples_parse(void **state)
{
	char path[1024], *text, *p;
	const char *slash = strrchr(__FILE__, '/');
	struct ferry_buf b = FERRY_BUF_INIT;
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%.*s/../../docs/manifest.md",
		 slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".");
	if (!(f = fopen(path, "r")))
		skip();
	while (!feof(f)) {
		char chunk[4096];
		size_t got = fread(chunk, 1, sizeof(chunk), f);
		assert_int_equal(ferry_buf_add(&b, chunk, got), 0);
	}
	fclose(f);
	text = b.data;
	while ((p = strstr(text, "```yaml\n"))) {
		char *end = strstr(p + 8, "```");
		assert_non_null(end);
		*end = '\0';
		p += 8;
		if (strstr(p, "\ntype:") && strstr(p, "\nbase_url:") && strstr(p, "\nstreams:")) {
			struct ferry_err err = {0};
			struct mf_manifest *m = NULL;
			if (mf_parse("manifest.md", p, strlen(p), &m, &err))
				fail_msg("example %d of docs/manifest.md: %s", n + 1, err.msg);
			assert_true(m->nstreams > 0);
			mf_free(m);
			n++;
		}
		text = end + 3;
	}
	ferry_buf_release(&b);
	assert_true(n >= 2);  /* the Acme and the GraphQL examples */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_manifest_reads_back_with_defaults_merged),
		cmocka_unit_test(minimal_manifest_gets_every_default),
		cmocka_unit_test(graphql_and_other_auths),
		cmocka_unit_test(basic_and_query_auth),
		cmocka_unit_test(every_mistake_names_file_line_and_fix),
		cmocka_unit_test(unknown_key_without_suggestion_lists_known_keys),
		cmocka_unit_test(a_nul_byte_is_refused),
		cmocka_unit_test(expand_replaces_settings),
		cmocka_unit_test(expand_names_a_missing_setting),
		cmocka_unit_test(type_names_round_trip),
		cmocka_unit_test(load_file_not_found_and_broken),
		cmocka_unit_test(manifest_path_is_searched_before_the_builtins),
		cmocka_unit_test(every_builtin_parses_and_is_listed),
		cmocka_unit_test(docs_examples_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
