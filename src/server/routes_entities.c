/*
 * routes_entities.c - the HTTP routes for sources, destinations and
 * connections: list, create, show, change (PATCH) and remove each; trigger,
 * pause, resume and rotate-secret a connection.
 *
 * What is valid is core/entity_spec.c's to say, as for the CLI and `ferry
 * apply`; this file maps JSON bodies onto it. Every change runs in one
 * BEGIN IMMEDIATE transaction (look up, check, write), so two requests for
 * the same name cannot both create it and a refused request writes nothing.
 * Answers never hold a secret: sealed settings read "********", and a
 * connection's signing secret is in the answer only to the request that made
 * it (create, a change that turned it on, rotate-secret).
 *
 * The trigger route is open (http_int.h): it takes either a bearer token or a
 * Standard Webhooks signature made with the connection's signing secret
 * (signed_triggers on), so an external scheduler needs no API token. An
 * unauthenticated caller is told 401 whatever is wrong, including that the
 * connection does not exist or does not take signed triggers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>
#include "core/entity_spec.h"
#include "server/http_int.h"
#include "server/webhook_sig.h"

#define MASK "********"
#define IDEMPOTENCY_MAX 200

static const char *const source_fields[] = {"name", "type", "settings", NULL};
static const char *const dest_fields[] = {"name", "url", "settings", NULL};

static enum ferry_kind_entity kind_of(const struct req *r)
{
	const char *p = r->route->pattern + strlen("/api/v1/");

	return !strncmp(p, "sources", 7) ? FERRY_SOURCE :
	       !strncmp(p, "destinations", 12) ? FERRY_DESTINATION : FERRY_CONNECTION;
}

static const char *plural(enum ferry_kind_entity k)
{
	return k == FERRY_SOURCE ? "sources" : k == FERRY_DESTINATION ? "destinations" : "connections";
}

/*
 * Answers a refusal from core/entity_spec.c or the store: a bad value is
 * 400 invalid_field (the message names the field), the rest as http_fail.
 */
static void fail(struct req *r, const struct ferry_err *err)
{
	if (err->code == FERRY_EUSAGE || err->code == FERRY_ECONFIG)
		http_error(r, 400, "invalid_field", "%s", err->msg);
	else
		http_fail(r, err);
}

/* A string member, or NULL; answers 400 when present but not a non-empty string. */
static bool str_member(struct req *r, const char *name, const char **out)
{
	json_t *v = json_object_get(r->json, name);

	*out = NULL;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v) || !*json_string_value(v)) {
		http_error(r, 400, "invalid_field", "\"%s\" must be a non-empty string", name);
		return false;
	}
	*out = json_string_value(v);
	return true;
}

/* Runs BEGIN IMMEDIATE; false after answering when it failed. */
static bool begin(struct req *r, struct ferry_store *st)
{
	struct ferry_err err = {0};

	if (ferry_store_tx(st, "BEGIN IMMEDIATE", &err)) {
		http_internal_error(r, &err);
		return false;
	}
	return true;
}

/* Ends the transaction: COMMIT when ok (answering 500 if that fails), else ROLLBACK. */
static bool finish(struct req *r, struct ferry_store *st, bool ok)
{
	struct ferry_err err = {0};

	if (!ok) {
		ferry_store_tx(st, "ROLLBACK", &err);
		return false;
	}
	if (ferry_store_tx(st, "COMMIT", &err)) {
		ferry_store_tx(st, "ROLLBACK", &err);
		http_internal_error(r, &err);
		return false;
	}
	return true;
}

/* Answers 409 when an entity of kind k is named name; true when the name is free. */
static bool name_free(struct req *r, struct ferry_store *st, enum ferry_kind_entity k,
		      const char *name)
{
	struct ferry_entity e = {0};
	struct ferry_err err = {0};
	int rc = ferry_store_get(st, k, name, &e, &err);

	if (rc == FERRY_ENOTFOUND)
		return true;
	if (rc)
		http_internal_error(r, &err);
	else
		http_error(r, 409, "conflict", "a %s named \"%s\" already exists (id %s): choose "
			   "another name, or change that one with PATCH /api/v1/%s/%s",
			   ferry_entity_word(k), e.name, e.id, plural(k), e.id);
	ferry_entity_release(&e);
	return false;
}

/* Answers with the entity stored under id (status 200 or 201); secret, when made, shown once. */
static void answer_entity(struct req *r, struct ferry_store *st, enum ferry_kind_entity k,
			  const char *id, unsigned status, const char *secret)
{
	struct ferry_entity e = {0};
	struct ferry_err err = {0};
	json_t *j;

	if (ferry_store_get(st, k, id, &e, &err)) {
		http_internal_error(r, &err);
		return;
	}
	j = ferry_spec_entity_json(st, k, &e);
	if (secret && *secret)
		json_object_set_new(j, "signing_secret", json_string(secret));
	http_answer(r, status, j);
	ferry_entity_release(&e);
}

/* ---- list, show, delete ---- */

static void h_list(struct req *r)
{
	static const char *const known[] = {NULL};
	enum ferry_kind_entity k = kind_of(r);
	struct ferry_err err = {0};
	struct ferry_entity *v = NULL;
	struct ferry_store *st;
	json_t *arr;
	int n = 0, i;

	if (!http_query_known(r, known) || !(st = http_store(r)))
		return;
	if (ferry_store_list(st, k, &v, &n, &err)) {
		http_internal_error(r, &err);
		return;
	}
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, ferry_spec_entity_json(st, k, &v[i]));
	ferry_entities_free(v, n);
	http_answer(r, 200, json_pack("{s:o}", plural(k), arr));
}

static void h_show(struct req *r)
{
	static const char *const known[] = {NULL};
	enum ferry_kind_entity k = kind_of(r);
	struct ferry_err err = {0};
	struct ferry_entity e = {0};
	struct ferry_store *st;

	if (!http_query_known(r, known) || !(st = http_store(r)))
		return;
	if (ferry_store_get(st, k, r->params[0], &e, &err)) {
		fail(r, &err);
		return;
	}
	http_answer(r, 200, ferry_spec_entity_json(st, k, &e));
	ferry_entity_release(&e);
}

static void h_delete(struct req *r)
{
	static const char *const known[] = {NULL};
	struct ferry_err err = {0};
	struct ferry_store *st;
	struct MHD_Response *resp;

	if (!http_query_known(r, known) || !(st = http_store(r)))
		return;
	if (ferry_store_rm(st, kind_of(r), r->params[0], &err)) {
		fail(r, &err);
		return;
	}
	resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		ferry_err_set(&err, FERRY_ENOMEM, "out of memory");
		http_internal_error(r, &err);
		return;
	}
	http_answer_raw(r, 204, resp);
}

/* ---- sources and destinations ---- */

/*
 * The settings of a change: old's, with patch's members laid over (null
 * removes one, "********" keeps a sealed one). New reference, or NULL after
 * answering 400.
 */
static json_t *merge_settings(struct req *r, json_t *old, json_t *patch)
{
	json_t *set = json_deep_copy(old), *v, *was;
	const char *k;

	json_object_foreach(patch, k, v) {
		was = json_object_get(old, k);
		if (json_is_null(v)) {
			json_object_del(set, k);
		} else if (json_is_string(v) && !strcmp(json_string_value(v), MASK)) {
			if (!json_is_object(was)) {
				http_error(r, 400, "invalid_field", "settings.%s is \"" MASK "\" (keep the "
					   "secret), but there is no stored secret \"%s\" to keep", k, k);
				json_decref(set);
				return NULL;
			}
		} else {
			json_object_set(set, k, v);
		}
	}
	return set;
}

static void h_source_create(struct req *r)
{
	struct ferry_err err = {0};
	struct ferry_store *st;
	const char *name, *type;
	json_t *given = json_object_get(r->json, "settings"), *set;
	char id[32];
	bool ok;

	if (!str_member(r, "name", &name) || !str_member(r, "type", &type))
		return;
	if (!name || !type) {
		http_error(r, 400, "invalid_field", "a source needs \"name\" and \"type\" (and its "
			   "\"settings\"), e.g. {\"name\": \"shop\", \"type\": \"postgres\", "
			   "\"settings\": {\"url\": \"postgres://...\"}}");
		return;
	}
	if (given && !json_is_object(given)) {
		http_error(r, 400, "invalid_field", "\"settings\" must be an object of KEY: VALUE");
		return;
	}
	set = given ? json_deep_copy(given) : json_object();
	if (ferry_spec_name(FERRY_SOURCE, name, &err) || ferry_spec_source(name, type, set, &err)) {
		fail(r, &err);
		json_decref(set);
		return;
	}
	if (!(st = http_store(r)) || !begin(r, st)) {
		json_decref(set);
		return;
	}
	ok = name_free(r, st, FERRY_SOURCE, name) &&
	     !ferry_store_put(st, FERRY_SOURCE, name, type, set, ferry_spec_source_is_secret,
			      http_opts(r)->key, false, id, NULL, &err);
	if (!ok && err.code)
		fail(r, &err);
	if (finish(r, st, ok))
		answer_entity(r, st, FERRY_SOURCE, id, 201, NULL);
	json_decref(set);
}

static void h_source_patch(struct req *r)
{
	struct ferry_entity e = {0};
	struct ferry_err err = {0};
	struct ferry_store *st;
	const char *name, *type;
	json_t *patch = json_object_get(r->json, "settings"), *set = NULL;
	char id[32];
	bool ok = false;

	if (!r->json) {
		http_error(r, 400, "invalid_field", "PATCH needs a JSON body, e.g. {\"settings\": "
			   "{\"tables\": \"users,orders\"}}");
		return;
	}
	if (!str_member(r, "name", &name) || !str_member(r, "type", &type))
		return;
	if (patch && !json_is_object(patch)) {
		http_error(r, 400, "invalid_field", "\"settings\" must be an object of KEY: VALUE "
			   "(null removes a key, \"" MASK "\" keeps a secret)");
		return;
	}
	if (!(st = http_store(r)) || !begin(r, st))
		return;
	if (ferry_store_get(st, FERRY_SOURCE, r->params[0], &e, &err)) {
		fail(r, &err);
		goto out;
	}
	if (name && strcmp(name, e.name)) {
		http_error(r, 400, "invalid_field", "\"name\" cannot change (source \"%s\"): its "
			   "secrets are sealed to it; create a new source instead", e.name);
		goto out;
	}
	if (type && strcmp(type, e.type)) {
		http_error(r, 400, "invalid_field", "\"type\" cannot change (source \"%s\" is %s): "
			   "create a new source instead", e.name, e.type);
		goto out;
	}
	if (!(set = merge_settings(r, e.settings, patch)))
		goto out;
	ok = !ferry_spec_source(e.name, e.type, set, &err) &&
	     !ferry_store_put(st, FERRY_SOURCE, e.name, e.type, set, ferry_spec_source_is_secret,
			      http_opts(r)->key, true, id, NULL, &err);
	if (!ok)
		fail(r, &err);
out:
	if (finish(r, st, ok))
		answer_entity(r, st, FERRY_SOURCE, id, 200, NULL);
	json_decref(set);
	ferry_entity_release(&e);
}

/* The URL of a destination body: "url" or "settings": {"url"}; NULL when absent. */
static bool dest_url(struct req *r, const char **url)
{
	json_t *set = json_object_get(r->json, "settings");
	const char *k;
	json_t *v;

	if (!str_member(r, "url", url))
		return false;
	if (!set || json_is_null(set))
		return true;
	if (!json_is_object(set)) {
		http_error(r, 400, "invalid_field", "\"settings\" must be an object: {\"url\": \"...\"}");
		return false;
	}
	json_object_foreach(set, k, v) {
		if (strcmp(k, "url")) {
			http_error(r, 400, "invalid_field", "unknown setting \"%.100s\" for a destination "
				   "(it has one: url)", k);
			return false;
		}
		if (*url) {
			http_error(r, 400, "invalid_field", "give the URL once: \"url\" or "
				   "\"settings\": {\"url\"}, not both");
			return false;
		}
		if (!json_is_string(v) || !*json_string_value(v)) {
			http_error(r, 400, "invalid_field", "settings.url must be a non-empty string");
			return false;
		}
		*url = json_string_value(v);
	}
	return true;
}

static void h_dest_create(struct req *r)
{
	struct ferry_err err = {0};
	struct ferry_store *st;
	const char *name, *url, *type;
	json_t *set;
	char id[32];
	bool ok;

	if (!str_member(r, "name", &name) || !dest_url(r, &url))
		return;
	if (!name || !url) {
		http_error(r, 400, "invalid_field", "a destination needs \"name\" and \"url\", e.g. "
			   "{\"name\": \"warehouse\", \"url\": \"postgres://user:password@host:5432/db\"}");
		return;
	}
	if (ferry_spec_name(FERRY_DESTINATION, name, &err) ||
	    ferry_spec_dest(name, url, &type, &err)) {
		fail(r, &err);
		return;
	}
	if (!(st = http_store(r)) || !begin(r, st))
		return;
	set = json_pack("{s:s}", "url", url);
	ok = name_free(r, st, FERRY_DESTINATION, name) &&
	     !ferry_store_put(st, FERRY_DESTINATION, name, type, set, ferry_spec_dest_is_secret,
			      http_opts(r)->key, false, id, NULL, &err);
	json_decref(set);
	if (!ok && err.code)
		fail(r, &err);
	if (finish(r, st, ok))
		answer_entity(r, st, FERRY_DESTINATION, id, 201, NULL);
}

static void h_dest_patch(struct req *r)
{
	struct ferry_entity e = {0};
	struct ferry_err err = {0};
	struct ferry_store *st;
	const char *name, *url, *type;
	json_t *set = NULL;
	char id[32];
	bool ok = false;

	if (!r->json) {
		http_error(r, 400, "invalid_field", "PATCH needs a JSON body, e.g. {\"url\": "
			   "\"postgres://user:password@host:5432/db\"}");
		return;
	}
	if (!str_member(r, "name", &name) || !dest_url(r, &url))
		return;
	if (!(st = http_store(r)) || !begin(r, st))
		return;
	if (ferry_store_get(st, FERRY_DESTINATION, r->params[0], &e, &err)) {
		fail(r, &err);
		goto out;
	}
	if (name && strcmp(name, e.name)) {
		http_error(r, 400, "invalid_field", "\"name\" cannot change (destination \"%s\"): its "
			   "URL is sealed to it; create a new destination instead", e.name);
		goto out;
	}
	if (!url || !strcmp(url, MASK)) {
		/* Nothing to change: answer with it as it is. */
		snprintf(id, sizeof(id), "%s", e.id);
		ok = true;
		goto out;
	}
	if (ferry_spec_dest(e.name, url, &type, &err)) {
		fail(r, &err);
		goto out;
	}
	set = json_pack("{s:s}", "url", url);
	if (!(ok = !ferry_store_put(st, FERRY_DESTINATION, e.name, type, set,
				    ferry_spec_dest_is_secret, http_opts(r)->key, true, id, NULL,
				    &err)))
		fail(r, &err);
out:
	if (finish(r, st, ok))
		answer_entity(r, st, FERRY_DESTINATION, id, 200, NULL);
	json_decref(set);
	ferry_entity_release(&e);
}

/* ---- connections ---- */

static void h_connection_create(struct req *r)
{
	struct ferry_spec_opts so = {.key = http_opts(r)->key};
	struct ferry_err err = {0};
	struct ferry_store *st;
	char id[32], secret[FERRY_WHSEC_SIZE] = "";
	const char *name;
	json_t *set = NULL;
	bool ok;

	if (!str_member(r, "name", &name))
		return;
	if (!name || !json_object_get(r->json, "source") || !json_object_get(r->json, "destination")) {
		http_error(r, 400, "invalid_field", "a connection needs \"name\", \"source\" and "
			   "\"destination\" (names or ids), e.g. {\"name\": \"nightly\", \"source\": "
			   "\"shop\", \"destination\": \"warehouse\", \"schedule\": \"0 2 * * *\"}");
		return;
	}
	if (!(st = http_store(r)) || !begin(r, st))
		return;
	so.store = st;
	ok = name_free(r, st, FERRY_CONNECTION, name);
	if (ok && !(ok = !ferry_spec_connection(name, r->json, &so, &set, secret, &err) &&
			 !ferry_store_put(st, FERRY_CONNECTION, name, "sync", set,
					  ferry_spec_connection_is_secret, so.key, false, id, NULL,
					  &err)))
		fail(r, &err);
	if (finish(r, st, ok))
		answer_entity(r, st, FERRY_CONNECTION, id, 201, secret);
	sodium_memzero(secret, sizeof(secret));
	json_decref(set);
}

static void h_connection_patch(struct req *r)
{
	struct ferry_spec_opts so = {.key = http_opts(r)->key};
	struct ferry_entity e = {0};
	struct ferry_err err = {0};
	struct ferry_store *st;
	char id[32], secret[FERRY_WHSEC_SIZE] = "";
	const char *name, *k;
	json_t *fields = NULL, *set = NULL, *v;
	bool ok = false;

	if (!r->json) {
		http_error(r, 400, "invalid_field", "PATCH needs a JSON body, e.g. {\"schedule\": "
			   "\"*/30 * * * *\"} (null removes a field)");
		return;
	}
	if (!str_member(r, "name", &name) || !(st = http_store(r)) || !begin(r, st))
		return;
	if (ferry_store_get(st, FERRY_CONNECTION, r->params[0], &e, &err)) {
		fail(r, &err);
		goto out;
	}
	if (name && strcmp(name, e.name)) {
		http_error(r, 400, "invalid_field", "\"name\" cannot change (connection \"%s\"): "
			   "create a new connection instead", e.name);
		goto out;
	}
	fields = ferry_spec_connection_fields_of(e.settings);
	json_object_foreach(r->json, k, v) {
		if (json_is_null(v))
			json_object_del(fields, k);
		else
			json_object_set(fields, k, v);
	}
	so.store = st;
	so.old = e.settings;
	if (!(ok = !ferry_spec_connection(e.name, fields, &so, &set, secret, &err) &&
		   !ferry_store_put(st, FERRY_CONNECTION, e.name, e.type, set,
				    ferry_spec_connection_is_secret, so.key, true, id, NULL, &err)))
		fail(r, &err);
out:
	if (finish(r, st, ok))
		answer_entity(r, st, FERRY_CONNECTION, id, 200, secret);
	sodium_memzero(secret, sizeof(secret));
	json_decref(fields);
	json_decref(set);
	ferry_entity_release(&e);
}

static void set_status(struct req *r, const char *status)
{
	struct ferry_entity e = {0};
	struct ferry_err err = {0};
	struct ferry_store *st;

	if (!(st = http_store(r)))
		return;
	if (ferry_connection_set_status(st, r->params[0], status, &e, &err)) {
		fail(r, &err);
		return;
	}
	http_answer(r, 200, ferry_spec_entity_json(st, FERRY_CONNECTION, &e));
	ferry_entity_release(&e);
}

static void h_pause(struct req *r)
{
	set_status(r, "paused");
}

static void h_resume(struct req *r)
{
	set_status(r, "active");
}

static void h_rotate(struct req *r)
{
	struct ferry_err err = {0};
	struct ferry_store *st;
	char id[32], secret[FERRY_WHSEC_SIZE];

	if (!(st = http_store(r)))
		return;
	if (ferry_connection_rotate_secret(st, r->params[0], http_opts(r)->key, secret, id, &err)) {
		fail(r, &err);
		return;
	}
	answer_entity(r, st, FERRY_CONNECTION, id, 200, secret);
	sodium_memzero(secret, sizeof(secret));
}

/* ---- trigger ---- */

/* The body of a bearer trigger: empty, or {"idempotency_key": "..."}. False after answering. */
static bool trigger_body(struct req *r, const char **key)
{
	json_error_t je;
	const char *k;
	json_t *v;

	*key = NULL;
	if (!r->body.len)
		return true;
	r->json = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &je);
	if (!r->json) {
		http_error(r, 400, "invalid_json", "the request body is not valid JSON: %s (line %d, "
			   "column %d)", je.text, je.line, je.column);
		return false;
	}
	if (!json_is_object(r->json)) {
		http_error(r, 400, "invalid_json", "the request body must be a JSON object");
		return false;
	}
	json_object_foreach(r->json, k, v) {
		if (strcmp(k, "idempotency_key")) {
			http_error(r, 400, "unknown_field", "unknown field \"%.100s\" in the body of %s %s",
				   k, r->method, r->route->pattern);
			return false;
		}
		if (!json_is_string(v) || !*json_string_value(v) ||
		    strlen(json_string_value(v)) > IDEMPOTENCY_MAX) {
			http_error(r, 400, "invalid_field", "\"idempotency_key\" must be a string of 1 to "
				   "%d bytes", IDEMPOTENCY_MAX);
			return false;
		}
		*key = json_string_value(v);
	}
	return true;
}

static void signature_refused(struct req *r)
{
	http_error(r, 401, "unauthorized",
		   "this trigger needs \"Authorization: Bearer <token>\", or Standard Webhooks "
		   "headers (webhook-id, webhook-timestamp, webhook-signature) signed with the "
		   "connection's signing secret when the connection has signed_triggers on; the "
		   "signature given does not verify for this connection");
}

/*
 * A signed trigger: the headers are checked for form and age first (the same
 * for every connection), then the signature with the connection's secret. Any
 * failure after the first step answers the same 401, so that a caller
 * without the secret learns nothing about the connection. *con gets the
 * connection when the signature holds.
 */
static bool signed_caller(struct req *r, struct ferry_store *st, struct ferry_entity *con,
			  const char **msg_id)
{
	const char *id = http_header(r, "webhook-id"), *ts = http_header(r, "webhook-timestamp");
	const char *sig = http_header(r, "webhook-signature"), *on;
	struct ferry_err err = {0};
	char secret[FERRY_WHSEC_SIZE + 64];
	long long now = (long long)time(NULL), t;
	char *end;
	int rc;

	*msg_id = id;
	if (!id || !*id || !ts || !sig || !*sig) {
		http_error(r, 401, "unauthorized", "a signed trigger needs the three headers "
			   "webhook-id, webhook-timestamp and webhook-signature (Standard Webhooks); "
			   "or send \"Authorization: Bearer <token>\"");
		return false;
	}
	if (strlen(id) > IDEMPOTENCY_MAX) {
		http_error(r, 401, "unauthorized", "webhook-id is over %d bytes", IDEMPOTENCY_MAX);
		return false;
	}
	t = strtoll(ts, &end, 10);
	if (end == ts || *end || t < now - FERRY_WEBHOOK_TOLERANCE || t > now + FERRY_WEBHOOK_TOLERANCE) {
		http_error(r, 401, "unauthorized", "webhook-timestamp must be the unix time in seconds "
			   "within %d s of the server's clock (%lld); sign each trigger when it is sent",
			   FERRY_WEBHOOK_TOLERANCE, now);
		return false;
	}
	if (ferry_store_get(st, FERRY_CONNECTION, r->params[0], con, &err))
		goto refuse;
	on = json_string_value(json_object_get(con->settings, "signed_triggers"));
	if (!on || strcmp(on, "on"))
		goto refuse;
	rc = ferry_connection_signing_secret(st, con->id, http_opts(r)->key, secret, sizeof(secret),
					     &err);
	if (rc) {
		/* The operator's problem, not the caller's: said on the server's stderr only. */
		fprintf(stderr, "ferry serve: signed trigger of connection \"%s\" refused: %s\n",
			con->name, err.msg);
		goto refuse;
	}
	rc = ferry_webhook_verify(secret, id, ts, sig, r->body.data, r->body.len, now, &err);
	sodium_memzero(secret, sizeof(secret));
	if (!rc)
		return true;
refuse:
	ferry_entity_release(con);
	signature_refused(r);
	return false;
}

static void h_trigger(struct req *r)
{
	struct ferry_entity con = {0};
	struct ferry_err err = {0};
	struct ferry_store *st;
	const char *key = NULL, *msg_id = NULL;
	char signed_key[IDEMPOTENCY_MAX + 16], url[64];
	long long job = 0;
	bool existing = false;
	int rc;

	if (http_header(r, MHD_HTTP_HEADER_AUTHORIZATION)) {
		if (!http_authorized(r) || !trigger_body(r, &key) || !(st = http_store(r)))
			return;
		if (ferry_store_get(st, FERRY_CONNECTION, r->params[0], &con, &err)) {
			fail(r, &err);
			return;
		}
	} else {
		if (!(st = http_store(r)) || !signed_caller(r, st, &con, &msg_id))
			return;
		/* A message delivered twice (a sender's retry, a replay) queues one job. */
		snprintf(signed_key, sizeof(signed_key), "signed:%s", msg_id);
		key = signed_key;
	}
	rc = ferry_connection_trigger(st, &con, key, (long long)time(NULL), &job, &existing, &err);
	if (rc) {
		fail(r, &err);
	} else {
		snprintf(url, sizeof(url), "/api/v1/jobs/%lld", job);
		http_answer(r, 202, json_pack("{s:I, s:s, s:s, s:b}", "job_id", (json_int_t)job,
					      "status_url", url, "connection_id", con.id,
					      "existing", existing));
		if (!existing && http_opts(r)->on_enqueue)
			http_opts(r)->on_enqueue(http_opts(r)->ctx);
	}
	ferry_entity_release(&con);
}

const struct route ferry_routes_entities[] = {
	{"GET", "/api/v1/sources", h_list, NULL, false},
	{"POST", "/api/v1/sources", h_source_create, source_fields, false},
	{"GET", "/api/v1/sources/{id}", h_show, NULL, false},
	{"PATCH", "/api/v1/sources/{id}", h_source_patch, source_fields, false},
	{"DELETE", "/api/v1/sources/{id}", h_delete, NULL, false},
	{"GET", "/api/v1/destinations", h_list, NULL, false},
	{"POST", "/api/v1/destinations", h_dest_create, dest_fields, false},
	{"GET", "/api/v1/destinations/{id}", h_show, NULL, false},
	{"PATCH", "/api/v1/destinations/{id}", h_dest_patch, dest_fields, false},
	{"DELETE", "/api/v1/destinations/{id}", h_delete, NULL, false},
	{"GET", "/api/v1/connections", h_list, NULL, false},
	{"POST", "/api/v1/connections", h_connection_create, ferry_spec_connection_fields, false},
	{"GET", "/api/v1/connections/{id}", h_show, NULL, false},
	{"PATCH", "/api/v1/connections/{id}", h_connection_patch, ferry_spec_connection_fields,
	 false},
	{"DELETE", "/api/v1/connections/{id}", h_delete, NULL, false},
	{"POST", "/api/v1/connections/{id}/trigger", h_trigger, NULL, true},
	{"POST", "/api/v1/connections/{id}/pause", h_pause, NULL, false},
	{"POST", "/api/v1/connections/{id}/resume", h_resume, NULL, false},
	{"POST", "/api/v1/connections/{id}/rotate-secret", h_rotate, NULL, false},
};
const int ferry_nroutes_entities =
	(int)(sizeof(ferry_routes_entities) / sizeof(ferry_routes_entities[0]));
