/*
 * entity_spec.h - the one set of rules for sources, destinations and
 * connections: which fields each takes, which values are valid, and the
 * settings JSON the state store keeps for them.
 *
 * `ferry source|dest|connection add`, `ferry apply` and the HTTP API
 * (server/routes_entities.c) all check and build entities here, so a value
 * one of them accepts the others accept too, and a refusal reads the same
 * wherever it comes from: FERRY_EUSAGE (or FERRY_EKEY for a missing key) with
 * a message that names the field and the value at fault. Callers only map
 * their own syntax onto fields (a CLI option, a YAML key, a JSON member) and
 * may name fields their own way in messages (ferry_spec_opts.label: the CLI
 * says "--max-attempts" where the API says "max_attempts").
 *
 * Field values are JSON, read leniently so that each front end can hand over
 * what it has: YAML and the command line give every scalar as a string, JSON
 * bodies give numbers and booleans. A number field takes 5 or "5"; an on/off
 * field takes "on", "off", true or false; streams take ["a","b"] or "a,b".
 *
 * A connection's stored settings: source_id, destination_id, mode, status
 * ("active", "paused", or "error" set by the runner), max_attempts, auto_sync
 * ("on"/"off"), signed_triggers ("on"/"off"), and when given streams,
 * namespace, prefix, schedule (the text as given), timeout_s, webhook_url,
 * deletes, backup_retention, and signing_secret: a Standard Webhooks
 * "whsec_..." secret (server/webhook_sig.h), made when the connection first
 * gets a webhook URL or signed triggers, sealed with FERRY_ENCRYPTION_KEY,
 * shown once to whoever created or rotated it and as "********" after that.
 *
 * Ownership: JSON arguments are borrowed unless said otherwise; *_out JSON
 * is a new reference the caller releases with json_decref.
 */
#ifndef FERRY_CORE_ENTITY_SPEC_H
#define FERRY_CORE_ENTITY_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "ferry/err.h"
#include "store/store.h"
#include "util/crypto.h"

/* Longest name of a source, destination or connection (bytes). */
#define FERRY_SPEC_NAME_MAX 120

/* A name: 1 to FERRY_SPEC_NAME_MAX bytes, no control characters. */
int ferry_spec_name(enum ferry_kind_entity k, const char *name, struct ferry_err *err);

/* ferry_store_put's is_secret for entities of kind k. */
bool (*ferry_spec_is_secret(enum ferry_kind_entity k))(const char *type, json_t *settings,
							 const char *key);
bool ferry_spec_source_is_secret(const char *type, json_t *settings, const char *key);
bool ferry_spec_dest_is_secret(const char *type, json_t *settings, const char *key);
bool ferry_spec_connection_is_secret(const char *type, json_t *settings, const char *key);

/* ---- sources and destinations ---- */

/*
 * Checks a source of type type named name: the type exists (otherwise a
 * suggestion and the list of types), settings (a JSON object) fit the
 * connector's declared settings (an unknown key is refused with the closest
 * known one, a required one must be there), a postgres URL parses. Values
 * must be strings; numbers and booleans are turned into strings in place;
 * values sealed in the store ({"$secret": ...}) count as set.
 */
int ferry_spec_source(const char *name, const char *type, json_t *settings,
		      struct ferry_err *err);

/*
 * Checks a destination URL (postgres://... that libpq can parse, or
 * sqlite:///path) and gives its type, "postgres" or "sqlite". The URL is a
 * secret: messages never quote it.
 */
int ferry_spec_dest(const char *name, const char *url, const char **type_out,
		    struct ferry_err *err);

/* ---- connections ---- */

/*
 * The fields a connection takes (NULL-terminated), "name" first: a name
 * member of fields is ignored by ferry_spec_connection (its name argument is
 * the name), so a request body can be handed over whole.
 */
extern const char *const ferry_spec_connection_fields[];

struct ferry_spec_opts {
	/* How messages name a field ("--max-attempts"); NULL or NULL returned: its own name. */
	const char *(*label)(const char *field);
	/*
	 * Where source and destination names are looked up and turned into
	 * ids; NULL keeps the names as given (ferry apply's check pass, where
	 * they may still be only in the file).
	 */
	struct ferry_store *store;
	/* Seals a new signing secret; NULL refuses to make one (FERRY_EKEY). */
	const struct ferry_key *key;
	/* The stored settings being replaced (an update), or NULL: status and signing_secret carry over. */
	json_t *old;
};

/*
 * Checks a connection's fields (a JSON object of ferry_spec_connection_fields;
 * null values count as absent) and builds the settings to store in
 * *settings_out. A new signing secret, when one was made, is copied into
 * new_secret (FERRY_WHSEC_SIZE bytes, or NULL) for the caller to show once;
 * otherwise new_secret is set to "".
 */
int ferry_spec_connection(const char *name, json_t *fields, const struct ferry_spec_opts *o,
			  json_t **settings_out, char *new_secret, struct ferry_err *err);

/*
 * The fields that give back settings (for an update: overlay the change,
 * then ferry_spec_connection again). auto_sync is left out where it is what
 * the schedule implies, so that dropping the schedule also stops auto-sync.
 */
json_t *ferry_spec_connection_fields_of(json_t *settings);

/*
 * An entity for the CLI's --json and the API: {id, name, type, settings
 * (secrets as "********"), created_at, updated_at}; a connection also has
 * source and destination {id, name} and "state" (ferry_store_connection_state:
 * next_run_at, last_sync_at, last_sync_status, last_sync_error,
 * running_job_id). Never NULL.
 */
json_t *ferry_spec_entity_json(struct ferry_store *s, enum ferry_kind_entity k,
			       const struct ferry_entity *e);

/*
 * The connection's signing secret, opened with key, into out (n bytes, at
 * least FERRY_WHSEC_SIZE). FERRY_ENOTFOUND when the connection is unknown or
 * has no secret (no webhook URL and signed triggers off, ever); FERRY_EKEY
 * when key is NULL or not the one that sealed it. Used to sign completion
 * webhooks and to verify signed triggers.
 */
int ferry_connection_signing_secret(struct ferry_store *s, const char *connection_id,
				    const struct ferry_key *key, char *out, size_t n,
				    struct ferry_err *err);

/*
 * Replaces the signing secret of the connection name_or_id with a new one,
 * copied into new_secret (FERRY_WHSEC_SIZE bytes) to be shown once; id_out
 * gets the connection's id. FERRY_EKEY without a key.
 */
int ferry_connection_rotate_secret(struct ferry_store *s, const char *name_or_id,
				   const struct ferry_key *key, char *new_secret,
				   char id_out[32], struct ferry_err *err);

/*
 * Sets a connection's status: "paused", or "active" (resume; it also clears
 * "error"). e (may be NULL) gets the connection as stored afterwards.
 */
int ferry_connection_set_status(struct ferry_store *s, const char *name_or_id,
				const char *status, struct ferry_entity *e, struct ferry_err *err);

/*
 * Queues a job of the connection now, as `ferry connection trigger` does.
 * idempotency_key (may be NULL) is the caller's: the same key on the same
 * connection gives the same job (*existing true). FERRY_ECONFLICT when the
 * connection has a job queued or running, FERRY_ENOTFOUND when unknown.
 */
int ferry_connection_trigger(struct ferry_store *s, const struct ferry_entity *con,
			     const char *idempotency_key, long long now, long long *job_id,
			     bool *existing, struct ferry_err *err);

#endif
