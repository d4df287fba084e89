/*
 * entity_spec.c - the rules for sources, destinations and connections, shared
 * by the CLI, `ferry apply` and the HTTP API (see entity_spec.h).
 *
 * Every check here refuses with a message that names the field as the caller
 * calls it (ferry_spec_opts.label) and the value given, except for secrets,
 * which are never quoted. Nothing is stored by the checks: callers store what
 * they get back, so a refused request leaves the store as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include <sodium.h>
#include "core/entity_spec.h"
#include "ferry/connector.h"
#include "ferry/engine.h"
#include "sched/cron.h"
#include "server/webhook_sig.h"
#include "source/rest.h"
#include "util/text.h"

#define SIGNING_SECRET "signing_secret"

const char *const ferry_spec_connection_fields[] = {
	"name", "source", "destination", "streams", "namespace", "prefix", "mode", "schedule",
	"auto_sync", "max_attempts", "timeout", "webhook_url", "signed_triggers", "status",
	"deletes", "backup_retention", NULL};

int ferry_spec_name(enum ferry_kind_entity k, const char *name, struct ferry_err *err)
{
	const unsigned char *p;

	if (!name || !*name)
		return ferry_err_set(err, FERRY_EUSAGE, "a %s needs a name", ferry_entity_word(k));
	if (strlen(name) > FERRY_SPEC_NAME_MAX)
		return ferry_err_set(err, FERRY_EUSAGE, "the %s name \"%.40s...\" is %zu bytes; the "
				     "limit is %d", ferry_entity_word(k), name, strlen(name),
				     FERRY_SPEC_NAME_MAX);
	for (p = (const unsigned char *)name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return ferry_err_set(err, FERRY_EUSAGE, "a %s name cannot hold control "
					     "characters (tabs, newlines)", ferry_entity_word(k));
	if (k == FERRY_CONNECTION && !strcmp(name, "due"))
		return ferry_err_set(err, FERRY_EUSAGE, "\"due\" cannot name a connection: "
				     "/api/v1/connections/due lists the due connections (choose "
				     "another name)");
	return 0;
}

/* ---- secrets ---- */

bool ferry_spec_dest_is_secret(const char *type, json_t *settings, const char *key)
{
	return !strcmp(key, "url");
}

bool ferry_spec_source_is_secret(const char *type, json_t *settings, const char *key)
{
	struct ferry_config cfg = {0};
	const char *k;
	json_t *v;
	bool secret;

	json_object_foreach(settings, k, v)
		if (json_is_string(v))
			ferry_config_set(&cfg, k, json_string_value(v));
	secret = ferry_source_setting_is_secret(type, &cfg, key);
	ferry_config_release(&cfg);
	return secret;
}

bool ferry_spec_connection_is_secret(const char *type, json_t *settings, const char *key)
{
	return !strcmp(key, SIGNING_SECRET);
}

bool (*ferry_spec_is_secret(enum ferry_kind_entity k))(const char *, json_t *, const char *)
{
	return k == FERRY_SOURCE ? ferry_spec_source_is_secret :
	       k == FERRY_DESTINATION ? ferry_spec_dest_is_secret : ferry_spec_connection_is_secret;
}

/* ---- sources and destinations ---- */

/* A postgres URL that libpq cannot parse is refused before anything is stored. */
static int check_pg_url(const char *what, const char *name, const char *url, struct ferry_err *err)
{
	char *msg = NULL;
	PQconninfoOption *o;

	if (strncmp(url, "postgres://", 11) && strncmp(url, "postgresql://", 13))
		return ferry_err_set(err, FERRY_EUSAGE,
				     "%s \"%s\": malformed URL: it must start with postgres:// "
				     "(postgres://user:password@host:port/dbname)", what, name);
	o = PQconninfoParse(url, &msg);
	if (!o) {
		char reason[200];
		/* libpq's message may quote the URL: keep only its first line, never the URL. */
		snprintf(reason, sizeof(reason), "%s", msg ? msg : "cannot parse it");
		reason[strcspn(reason, "\n")] = '\0';
		if (strstr(reason, "\""))
			snprintf(reason, sizeof(reason), "libpq cannot parse it");
		PQfreemem(msg);
		return ferry_err_set(err, FERRY_EUSAGE,
				     "%s \"%s\": malformed URL: %s (expected "
				     "postgres://user:password@host:port/dbname)", what, name, reason);
	}
	for (PQconninfoOption *opt = o; opt->keyword; opt++) {
		long long port;
		char *save = NULL, *tok, *copy;
		bool ok = true;
		if (strcmp(opt->keyword, "port") || !opt->val)
			continue;
		copy = strdup(opt->val);
		for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && ok;
		     tok = strtok_r(NULL, ",", &save))
			ok = ferry_parse_ll(tok, 1, 65535, &port);
		free(copy);
		if (!ok) {
			PQconninfoFree(o);
			return ferry_err_set(err, FERRY_EUSAGE,
					     "%s \"%s\": malformed URL: the port must be a number from 1 to "
					     "65535 (postgres://user:password@host:5432/dbname)", what, name);
		}
	}
	PQconninfoFree(o);
	return 0;
}

int ferry_spec_dest(const char *name, const char *url, const char **type_out,
		    struct ferry_err *err)
{
	if (!url || !*url)
		return ferry_err_set(err, FERRY_EUSAGE,
				     "destination \"%s\" needs a url (postgres://user:password@host:port/dbname "
				     "or sqlite:///path/to/file.db)", name);
	if (!strncmp(url, "sqlite://", 9)) {
		if (!url[9])
			return ferry_err_set(err, FERRY_EUSAGE,
					     "destination \"%s\": malformed URL: no file path "
					     "(expected sqlite:///path/to/file.db)", name);
		*type_out = "sqlite";
		return 0;
	}
	if (!strncmp(url, "postgres", 8)) {
		*type_out = "postgres";
		return check_pg_url("destination", name, url, err);
	}
	return ferry_err_set(err, FERRY_EUSAGE,
			     "destination \"%s\": unsupported URL: expected "
			     "postgres://user:password@host:port/dbname or sqlite:///path/to/file.db", name);
}

static int unknown_type(const char *type, struct ferry_err *err)
{
	const struct ferry_source_ops *const *t = ferry_source_types();
	const char *names[48];
	const char *best;
	int n = 0;

	while (t[n] && n < 8) {
		names[n] = t[n]->type;
		n++;
	}
	for (const char *const *api = ferry_api_builtin_types(); *api && n < 44; api++)
		names[n++] = *api;
	names[n++] = "rest";
	names[n++] = "graphql";
	best = ferry_closest(type, names, n);
	return ferry_err_set(err, FERRY_EUSAGE,
			     "unknown source type \"%s\"%s%s%s (types: postgres, sqlite, rest, graphql, "
			     "stripe, close, smartlead, lemlist; or a manifest NAME.yaml on "
			     "FERRY_MANIFEST_PATH)", type, best ? ": did you mean \"" : "",
			     best ? best : "", best ? "\"?" : "");
}

int ferry_spec_source(const char *name, const char *type, json_t *settings,
		      struct ferry_err *err)
{
	const struct ferry_source_ops *ops;
	struct ferry_config cfg = {0};
	const char *k, *url;
	json_t *v;
	int rc = 0;

	if (!type || !*type)
		return ferry_err_set(err, FERRY_EUSAGE, "source \"%s\" needs a type (postgres, sqlite, "
				     "rest, graphql, stripe, close, smartlead, lemlist)", name);
	if (!(ops = ferry_source_type(type)))
		return unknown_type(type, err);
	if (!json_is_object(settings))
		return ferry_err_set(err, FERRY_EUSAGE, "the settings of source \"%s\" must be an object "
				     "of KEY: VALUE", name);
	json_object_foreach(settings, k, v) {
		char num[64];
		if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
			json_object_set_new(settings, k, json_string(num));
		} else if (json_is_real(v)) {
			snprintf(num, sizeof(num), "%.17g", json_real_value(v));
			json_object_set_new(settings, k, json_string(num));
		} else if (json_is_boolean(v)) {
			json_object_set_new(settings, k, json_string(json_is_true(v) ? "true" : "false"));
		} else if (!json_is_string(v) &&
			   !(json_is_object(v) && json_is_string(json_object_get(v, "$secret")))) {
			rc = ferry_err_set(err, FERRY_EUSAGE, "source \"%s\": setting \"%s\" must be a "
					   "string, not %s", name, k,
					   json_is_null(v) ? "null" : json_is_array(v) ? "a list" : "an object");
			goto out;
		}
		v = json_object_get(settings, k);
		ferry_config_set(&cfg, k, json_is_string(v) ? json_string_value(v) : "(sealed)");
	}
	if ((rc = ferry_source_check_settings(ops, &cfg, err)))
		goto out;
	url = ferry_config_get(&cfg, "url");
	if (!strcmp(type, "postgres") && url && strcmp(url, "(sealed)"))
		rc = check_pg_url("source", name, url, err);
out:
	ferry_config_release(&cfg);
	return rc;
}

/* ---- connections ---- */

static const char *label_of(const struct ferry_spec_opts *o, const char *field)
{
	const char *l = o && o->label ? o->label(field) : NULL;

	return l ? l : field;
}

/* The field's value, or NULL when absent or null. */
static json_t *field(json_t *fields, const char *f)
{
	json_t *v = json_object_get(fields, f);

	return json_is_null(v) ? NULL : v;
}

static int text_field(json_t *fields, const char *f, const struct ferry_spec_opts *o,
		      const char **out, struct ferry_err *err)
{
	json_t *v = field(fields, f);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v) || !*json_string_value(v))
		return ferry_err_set(err, FERRY_EUSAGE, "%s must be a non-empty string",
				     label_of(o, f));
	*out = json_string_value(v);
	return 0;
}

/* One of choices (NULL-terminated); *out NULL when absent. */
static int choice_field(json_t *fields, const char *f, const struct ferry_spec_opts *o,
			const char *const *choices, const char **out, struct ferry_err *err)
{
	json_t *v = field(fields, f);
	char list[128] = "";
	int i;

	*out = NULL;
	if (!v)
		return 0;
	for (i = 0; choices[i]; i++) {
		if (json_is_string(v) && !strcmp(json_string_value(v), choices[i])) {
			*out = choices[i];
			return 0;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 i ? (choices[i + 1] ? ", " : " or ") : "", choices[i]);
	}
	if (json_is_string(v))
		return ferry_err_set(err, FERRY_EUSAGE, "%s is %s, not \"%.100s\"", label_of(o, f),
				     list, json_string_value(v));
	return ferry_err_set(err, FERRY_EUSAGE, "%s is %s (a string)", label_of(o, f), list);
}

/* "on" / "off" / true / false; *out "on", "off" or NULL when absent. */
static int onoff_field(json_t *fields, const char *f, const struct ferry_spec_opts *o,
		       const char **out, struct ferry_err *err)
{
	static const char *const onoff[] = {"on", "off", NULL};
	json_t *v = field(fields, f);

	if (json_is_boolean(v)) {
		*out = json_is_true(v) ? "on" : "off";
		return 0;
	}
	return choice_field(fields, f, o, onoff, out, err);
}

/* A whole number in [min, max], as a JSON integer or its text; *set false when absent. */
static int int_field(json_t *fields, const char *f, const struct ferry_spec_opts *o,
		     long long min, long long max, long long *out, bool *set, struct ferry_err *err)
{
	json_t *v = field(fields, f);

	*set = false;
	if (!v)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= min && json_integer_value(v) <= max) {
		*out = json_integer_value(v);
		*set = true;
		return 0;
	}
	if (json_is_string(v) && ferry_parse_ll(json_string_value(v), min, max, out)) {
		*set = true;
		return 0;
	}
	if (json_is_string(v))
		return ferry_err_set(err, FERRY_EUSAGE, "%s must be %lld to %lld, not \"%.60s\"",
				     label_of(o, f), min, max, json_string_value(v));
	if (json_is_integer(v))
		return ferry_err_set(err, FERRY_EUSAGE, "%s must be %lld to %lld, not %lld",
				     label_of(o, f), min, max, (long long)json_integer_value(v));
	return ferry_err_set(err, FERRY_EUSAGE, "%s must be a whole number from %lld to %lld",
			     label_of(o, f), min, max);
}

/* A duration: seconds as a number, or "30s", "15m", "6h", "1d". */
static int duration_field(json_t *fields, const char *f, const struct ferry_spec_opts *o,
			  long long *out, bool *set, struct ferry_err *err)
{
	json_t *v = field(fields, f);
	struct ferry_schedule s;
	struct ferry_err ignore = {0};

	*set = false;
	if (!v)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) <= FERRY_SCHEDULE_MAX_INTERVAL) {
		*out = json_integer_value(v);
		*set = true;
		return 0;
	}
	if (json_is_string(v) && !ferry_schedule_parse(json_string_value(v), &s, &ignore) &&
	    s.kind == FERRY_SCHEDULE_INTERVAL) {
		*out = s.every;
		*set = true;
		return 0;
	}
	if (json_is_string(v))
		return ferry_err_set(err, FERRY_EUSAGE, "%s \"%.60s\" is not a duration (30s, 15m, 6h, "
				     "1d or seconds)", label_of(o, f), json_string_value(v));
	return ferry_err_set(err, FERRY_EUSAGE, "%s is not a duration (30s, 15m, 6h, 1d or a "
			     "positive number of seconds)", label_of(o, f));
}

/* ["a", "b"] or "a, b": a new array of trimmed, non-empty names. */
static int streams_field(json_t *fields, const struct ferry_spec_opts *o, json_t **out,
			 struct ferry_err *err)
{
	json_t *v = field(fields, "streams"), *e;
	size_t i;

	*out = NULL;
	if (!v)
		return 0;
	if (json_is_string(v)) {
		char *copy = strdup(json_string_value(v)), *save = NULL, *tok;
		if (!copy)
			return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		*out = json_array();
		for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			while (*tok == ' ')
				tok++;
			for (char *end = tok + strlen(tok); end > tok && end[-1] == ' ';)
				*--end = '\0';
			if (*tok)
				json_array_append_new(*out, json_string(tok));
		}
		free(copy);
		return 0;
	}
	if (!json_is_array(v))
		return ferry_err_set(err, FERRY_EUSAGE, "%s must be a list of stream names",
				     label_of(o, "streams"));
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) || !*json_string_value(e))
			return ferry_err_set(err, FERRY_EUSAGE, "%s must be a list of stream names "
					     "(item %zu is not a non-empty string)",
					     label_of(o, "streams"), i + 1);
	}
	*out = json_deep_copy(v);
	return 0;
}

/* Looks up the source or destination a connection names; its id into id. */
static int endpoint(const struct ferry_spec_opts *o, enum ferry_kind_entity k, const char *f,
		    const char *name_or_id, char id[32], struct ferry_err *err)
{
	struct ferry_entity e = {0};
	int rc;

	if (!name_or_id)
		return ferry_err_set(err, FERRY_EUSAGE, "a connection needs %s (the %s's name or id)",
				     label_of(o, f), ferry_entity_word(k));
	if (!o || !o->store) {
		snprintf(id, 32, "%s", name_or_id);
		return 0;
	}
	rc = ferry_store_get(o->store, k, name_or_id, &e, err);
	if (rc == FERRY_ENOTFOUND)
		rc = err->code = FERRY_EUSAGE;   /* a bad value in the request, not a missing resource */
	if (!rc)
		snprintf(id, 32, "%s", e.id);
	ferry_entity_release(&e);
	return rc;
}

/* The interval of a connection from source sid that has none: its connector's, else an hour. */
static long long default_interval(const struct ferry_spec_opts *o, const char *sid)
{
	struct ferry_entity e = {0};
	struct ferry_err ignore = {0};
	const struct ferry_source_ops *ops = NULL;
	long long every = FERRY_SYNC_INTERVAL_DEFAULT;

	if (o && o->store && !ferry_store_get(o->store, FERRY_SOURCE, sid, &e, &ignore))
		ops = ferry_source_type(e.type);
	if (ops && ops->sync_interval_s > 0)
		every = ops->sync_interval_s;
	ferry_entity_release(&e);
	return every;
}

static int webhook_field(json_t *fields, const struct ferry_spec_opts *o, const char **out,
			 struct ferry_err *err)
{
	const char *u;
	int rc;

	if ((rc = text_field(fields, "webhook_url", o, out, err)) || !(u = *out))
		return rc;
	if ((strncmp(u, "http://", 7) || !u[7]) && (strncmp(u, "https://", 8) || !u[8]))
		return ferry_err_set(err, FERRY_EUSAGE, "%s must be an http:// or https:// URL, not "
				     "\"%.100s\"", label_of(o, "webhook_url"), u);
	if (strlen(u) > 2048 || strpbrk(u, " \t\r\n"))
		return ferry_err_set(err, FERRY_EUSAGE, "%s must be one URL without blanks, at most "
				     "2048 bytes", label_of(o, "webhook_url"));
	return 0;
}

/* Refuses members outside ferry_spec_connection_fields, suggesting the closest. */
static int known_fields(json_t *fields, struct ferry_err *err)
{
	const char *k;
	json_t *v;
	int n = 0, i;

	while (ferry_spec_connection_fields[n])
		n++;
	json_object_foreach(fields, k, v) {
		const char *best;
		for (i = 0; i < n && strcmp(k, ferry_spec_connection_fields[i]); i++)
			;
		if (i < n)
			continue;
		best = ferry_closest(k, ferry_spec_connection_fields, n);
		return ferry_err_set(err, FERRY_EUSAGE, "unknown field \"%.100s\" for a connection%s%s%s",
				     k, best ? ": did you mean \"" : "", best ? best : "",
				     best ? "\"?" : "");
	}
	return 0;
}

int ferry_spec_connection(const char *name, json_t *fields, const struct ferry_spec_opts *o,
			  json_t **settings_out, char *new_secret, struct ferry_err *err)
{
	static const char *const modes[] = {"incremental", "full", NULL};
	static const char *const statuses[] = {"active", "paused", NULL};
	static const char *const deletes_v[] = {"hard", "soft", NULL};
	const char *sname, *dname, *ns, *prefix, *mode, *sched, *autosync, *webhook, *signed_tr;
	const char *status, *deletes;
	long long attempts = 3, timeout = 0, retention = 0;
	bool have_attempts, have_timeout, have_retention;
	struct ferry_schedule sc;
	char sid[32], did[32], default_sched[24];
	json_t *set = NULL, *streams = NULL, *old_secret;
	int rc;

	*settings_out = NULL;
	if (new_secret)
		new_secret[0] = '\0';
	if ((rc = ferry_spec_name(FERRY_CONNECTION, name, err)))
		return rc;
	if (!json_is_object(fields))
		return ferry_err_set(err, FERRY_EUSAGE, "a connection's fields must be an object");
	if ((rc = known_fields(fields, err)) ||
	    (rc = text_field(fields, "source", o, &sname, err)) ||
	    (rc = text_field(fields, "destination", o, &dname, err)) ||
	    (rc = text_field(fields, "namespace", o, &ns, err)) ||
	    (rc = text_field(fields, "prefix", o, &prefix, err)) ||
	    (rc = choice_field(fields, "mode", o, modes, &mode, err)) ||
	    (rc = text_field(fields, "schedule", o, &sched, err)) ||
	    (rc = onoff_field(fields, "auto_sync", o, &autosync, err)) ||
	    (rc = int_field(fields, "max_attempts", o, 1, 100, &attempts, &have_attempts, err)) ||
	    (rc = duration_field(fields, "timeout", o, &timeout, &have_timeout, err)) ||
	    (rc = webhook_field(fields, o, &webhook, err)) ||
	    (rc = onoff_field(fields, "signed_triggers", o, &signed_tr, err)) ||
	    (rc = choice_field(fields, "status", o, statuses, &status, err)) ||
	    (rc = choice_field(fields, "deletes", o, deletes_v, &deletes, err)) ||
	    (rc = int_field(fields, "backup_retention", o, 0, 315360000, &retention,
			    &have_retention, err)) ||
	    (rc = streams_field(fields, o, &streams, err)))
		goto out;
	if (sched && (rc = ferry_schedule_parse(sched, &sc, err))) {
		ferry_err_prefix(err, "%s: ", label_of(o, "schedule"));
		goto out;
	}
	if ((rc = endpoint(o, FERRY_SOURCE, "source", sname, sid, err)) ||
	    (rc = endpoint(o, FERRY_DESTINATION, "destination", dname, did, err)))
		goto out;
	if (autosync && !strcmp(autosync, "on") && !sched) {
		/* Auto-sync with no schedule: the connector's interval, in seconds. */
		snprintf(default_sched, sizeof(default_sched), "%lld", default_interval(o, sid));
		sched = default_sched;
	}

	set = json_pack("{s:s, s:s, s:s, s:I}", "source_id", sid, "destination_id", did, "mode",
			mode ? mode : "incremental", "max_attempts", (json_int_t)attempts);
	if (!status && o && o->old)
		status = json_string_value(json_object_get(o->old, "status"));
	json_object_set_new(set, "status", json_string(status ? status : "active"));
	if (streams)
		json_object_set(set, "streams", streams);
	if (ns)
		json_object_set_new(set, "namespace", json_string(ns));
	if (prefix)
		json_object_set_new(set, "prefix", json_string(prefix));
	if (sched)
		json_object_set_new(set, "schedule", json_string(sched));
	json_object_set_new(set, "auto_sync", json_string(autosync ? autosync : sched ? "on" : "off"));
	if (have_timeout)
		json_object_set_new(set, "timeout_s", json_integer(timeout));
	if (webhook)
		json_object_set_new(set, "webhook_url", json_string(webhook));
	json_object_set_new(set, "signed_triggers", json_string(signed_tr ? signed_tr : "off"));
	if (deletes)
		json_object_set_new(set, "deletes", json_string(deletes));
	if (have_retention)
		json_object_set_new(set, "backup_retention", json_integer(retention));

	/* The signing secret: kept when there is one, made when first needed. */
	old_secret = o && o->old ? json_object_get(o->old, SIGNING_SECRET) : NULL;
	if (old_secret) {
		json_object_set(set, SIGNING_SECRET, old_secret);
	} else if (webhook || (signed_tr && !strcmp(signed_tr, "on"))) {
		char secret[FERRY_WHSEC_SIZE];
		if (!o || !o->key) {
			rc = ferry_err_set(err, FERRY_EKEY,
					   FERRY_KEY_ENV " is not set: connection \"%s\" %s a signing "
					   "secret, which is stored encrypted with it (create a key with "
					   "`ferry keygen`)", name, webhook ? "has a webhook URL, so it needs" :
					   "accepts signed triggers, so it needs");
			goto out;
		}
		ferry_whsec_new(secret, sizeof(secret));
		json_object_set_new(set, SIGNING_SECRET, json_string(secret));
		if (new_secret)
			memcpy(new_secret, secret, sizeof(secret));
		sodium_memzero(secret, sizeof(secret));
	}
	*settings_out = set;
	set = NULL;
out:
	json_decref(streams);
	json_decref(set);
	return rc;
}

json_t *ferry_spec_connection_fields_of(json_t *settings)
{
	static const char *const same[] = {"streams", "namespace", "prefix", "mode", "schedule",
					   "max_attempts", "webhook_url", "signed_triggers", "status",
					   "deletes", "backup_retention", NULL};
	json_t *f = json_object(), *v;
	const char *as = json_string_value(json_object_get(settings, "auto_sync"));
	bool sched = json_is_string(json_object_get(settings, "schedule"));
	int i;

	if ((v = json_object_get(settings, "source_id")))
		json_object_set(f, "source", v);
	if ((v = json_object_get(settings, "destination_id")))
		json_object_set(f, "destination", v);
	if ((v = json_object_get(settings, "timeout_s")))
		json_object_set(f, "timeout", v);
	for (i = 0; same[i]; i++)
		if ((v = json_object_get(settings, same[i])))
			json_object_set(f, same[i], v);
	/* "error" is the runner's; an update keeps it unless the caller changes the status. */
	if (json_is_string(json_object_get(f, "status")) &&
	    !strcmp(json_string_value(json_object_get(f, "status")), "error"))
		json_object_del(f, "status");
	if (as && strcmp(as, sched ? "on" : "off"))
		json_object_set_new(f, "auto_sync", json_string(as));
	return f;
}

/* ---- showing ---- */

static json_t *endpoint_json(struct ferry_store *s, enum ferry_kind_entity k, const char *id)
{
	struct ferry_entity e = {0};
	struct ferry_err err = {0};
	json_t *o;

	if (!id)
		return json_null();
	if (s && !ferry_store_get(s, k, id, &e, &err))
		o = json_pack("{s:s, s:s}", "id", e.id, "name", e.name);
	else
		o = json_pack("{s:s, s:n}", "id", id, "name");
	ferry_entity_release(&e);
	return o;
}

json_t *ferry_spec_entity_json(struct ferry_store *s, enum ferry_kind_entity k,
			       const struct ferry_entity *e)
{
	struct ferry_err err = {0};
	json_t *o, *state = NULL;

	o = json_pack("{s:s, s:s, s:s}", "id", e->id, "name", e->name, "type", e->type);
	if (k == FERRY_CONNECTION) {
		json_object_set_new(o, "source", endpoint_json(s, FERRY_SOURCE,
				    json_string_value(json_object_get(e->settings, "source_id"))));
		json_object_set_new(o, "destination", endpoint_json(s, FERRY_DESTINATION,
				    json_string_value(json_object_get(e->settings, "destination_id"))));
	}
	json_object_set_new(o, "settings", ferry_entity_redacted(e));
	if (k == FERRY_CONNECTION) {
		if (!s || ferry_store_connection_state(s, e->id, &state, &err))
			state = json_pack("{s:n, s:n, s:n, s:n, s:n}", "next_run_at", "last_sync_at",
					  "last_sync_status", "last_sync_error", "running_job_id");
		json_object_set_new(o, "state", state);
	}
	json_object_set_new(o, "created_at", json_string(e->created_at));
	json_object_set_new(o, "updated_at", json_string(e->updated_at));
	return o;
}

/* ---- signing secrets, status, trigger ---- */

int ferry_connection_signing_secret(struct ferry_store *s, const char *connection_id,
				    const struct ferry_key *key, char *out, size_t n,
				    struct ferry_err *err)
{
	struct ferry_entity e = {0};
	struct ferry_config cfg = {0};
	const char *secret;
	int rc;

	if ((rc = ferry_store_get(s, FERRY_CONNECTION, connection_id, &e, err)))
		return rc;
	if (!json_object_get(e.settings, SIGNING_SECRET)) {
		rc = ferry_err_set(err, FERRY_ENOTFOUND, "connection \"%s\" has no signing secret (it "
				   "gets one with a webhook URL or signed triggers)", e.name);
		goto out;
	}
	if ((rc = ferry_entity_config(&e, FERRY_CONNECTION, key, &cfg, err)))
		goto out;
	secret = ferry_config_get(&cfg, SIGNING_SECRET);
	if (!secret || strlen(secret) >= n)
		rc = ferry_err_set(err, FERRY_ETOOBIG, "connection \"%s\": the signing secret does not "
				   "fit the caller's buffer", e.name);
	else
		memcpy(out, secret, strlen(secret) + 1);
out:
	ferry_config_release(&cfg);
	ferry_entity_release(&e);
	return rc;
}

int ferry_connection_rotate_secret(struct ferry_store *s, const char *name_or_id,
				   const struct ferry_key *key, char *new_secret,
				   char id_out[32], struct ferry_err *err)
{
	struct ferry_entity e = {0};
	char secret[FERRY_WHSEC_SIZE];
	json_t *set;
	int rc;

	new_secret[0] = '\0';
	if ((rc = ferry_store_get(s, FERRY_CONNECTION, name_or_id, &e, err)))
		return rc;
	if (!key) {
		rc = ferry_err_set(err, FERRY_EKEY, FERRY_KEY_ENV " is not set: the signing secret of "
				   "connection \"%s\" is stored encrypted with it (create a key with "
				   "`ferry keygen`)", e.name);
		goto out;
	}
	ferry_whsec_new(secret, sizeof(secret));
	set = json_deep_copy(e.settings);
	json_object_set_new(set, SIGNING_SECRET, json_string(secret));
	rc = ferry_store_put(s, FERRY_CONNECTION, e.name, e.type, set,
			     ferry_spec_connection_is_secret, key, true, id_out, NULL, err);
	json_decref(set);
	if (!rc)
		memcpy(new_secret, secret, sizeof(secret));
	sodium_memzero(secret, sizeof(secret));
out:
	ferry_entity_release(&e);
	return rc;
}

int ferry_connection_set_status(struct ferry_store *s, const char *name_or_id,
				const char *status, struct ferry_entity *e, struct ferry_err *err)
{
	struct ferry_entity c = {0};
	char id[32];
	json_t *set;
	int rc;

	if ((rc = ferry_store_get(s, FERRY_CONNECTION, name_or_id, &c, err)))
		return rc;
	set = json_deep_copy(c.settings);
	json_object_set_new(set, "status", json_string(status));
	/* Secrets are already sealed: nothing here needs the key. */
	rc = ferry_store_put(s, FERRY_CONNECTION, c.name, c.type, set, NULL, NULL, true, id, NULL,
			     err);
	json_decref(set);
	if (!rc && e)
		rc = ferry_store_get(s, FERRY_CONNECTION, id, e, err);
	ferry_entity_release(&c);
	return rc;
}

int ferry_connection_trigger(struct ferry_store *s, const struct ferry_entity *con,
			     const char *idempotency_key, long long now, long long *job_id,
			     bool *existing, struct ferry_err *err)
{
	struct ferry_entity se = {0}, de = {0};
	struct ferry_job_request r = {0};
	struct ferry_err ignore = {0};
	char key[400];
	int rc;

	r.connection_id = con->id;
	r.source_id = json_string_value(json_object_get(con->settings, "source_id"));
	r.dest_id = json_string_value(json_object_get(con->settings, "destination_id"));
	r.mode = json_string_value(json_object_get(con->settings, "mode"));
	/* Names as they are now, for job lists (the ids stay the truth). */
	if (r.source_id && !ferry_store_get(s, FERRY_SOURCE, r.source_id, &se, &ignore))
		r.source_name = se.name;
	if (r.dest_id && !ferry_store_get(s, FERRY_DESTINATION, r.dest_id, &de, &ignore))
		r.dest_name = de.name;
	r.max_attempts = (int)json_integer_value(json_object_get(con->settings, "max_attempts"));
	r.timeout_s = json_integer_value(json_object_get(con->settings, "timeout_s"));
	r.run_after = now;
	if (idempotency_key) {
		/* Keys are the caller's per connection: the same text elsewhere is another job. */
		snprintf(key, sizeof(key), "%s/%.300s", con->id, idempotency_key);
		r.idempotency_key = key;
	}
	rc = ferry_store_enqueue(s, &r, job_id, existing, err);
	ferry_entity_release(&se);
	ferry_entity_release(&de);
	return rc;
}
