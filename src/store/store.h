/*
 * store.h - the state store: sources, destinations, connections, jobs, state.
 *
 * One SQLite file (WAL, versioned migrations). Sources, destinations and
 * connections share one shape, an "entity": a stable id ("src_1a2b…"), a
 * unique name, a type and a JSON object of settings in which secret values
 * are sealed ({"$secret": "fv1:…"}, see util/crypto.h). Commands find an
 * entity by id or by name; an unknown one is an error that suggests the
 * closest name. Jobs and their per-stream counts are rows; list and show
 * calls hand back JSON (jansson) that the CLI prints or renders.
 *
 * Ownership: out-parameters are the caller's; release entities with
 * ferry_entity_release and JSON with json_decref.
 */
#ifndef FERRY_STORE_H
#define FERRY_STORE_H

#include <stdbool.h>
#include <jansson.h>
#include "ferry/err.h"
#include "ferry/config.h"
#include "util/crypto.h"

struct ferry_store;

enum ferry_kind_entity {
	FERRY_SOURCE,
	FERRY_DESTINATION,
	FERRY_CONNECTION,
};

struct ferry_entity {
	char id[32];
	char *name;
	char *type;
	json_t *settings;   /* secrets sealed as {"$secret": "..."} */
	char *created_at;
	char *updated_at;
};

/* Opens (creating) the store, migrates it, and marks jobs of dead processes failed. */
int ferry_store_open(const char *path, struct ferry_store **out, struct ferry_err *err);
void ferry_store_close(struct ferry_store *s);
const char *ferry_store_path(const struct ferry_store *s);
int ferry_store_schema_version(void);

/* Runs "BEGIN IMMEDIATE", "COMMIT" or "ROLLBACK" (to group several puts). */
int ferry_store_tx(struct ferry_store *s, const char *sql, struct ferry_err *err);

/* "source", "destination", "connection". */
const char *ferry_entity_word(enum ferry_kind_entity k);

/*
 * Creates (or, with update, replaces the settings of) an entity. settings is
 * borrowed; values of keys for which is_secret(key) is true are sealed with
 * key (FERRY_EKEY when key is NULL and a secret is present). id_out gets the id.
 */
int ferry_store_put(struct ferry_store *s, enum ferry_kind_entity k, const char *name,
		    const char *type, json_t *settings, bool (*is_secret)(const char *type, json_t *settings, const char *key),
		    const struct ferry_key *key, bool update, char id_out[32], bool *created,
		    struct ferry_err *err);
/* Finds by id or name. FERRY_ENOTFOUND with a "did you mean" when unknown. */
int ferry_store_get(struct ferry_store *s, enum ferry_kind_entity k, const char *name_or_id,
		    struct ferry_entity *out, struct ferry_err *err);
int ferry_store_list(struct ferry_store *s, enum ferry_kind_entity k, struct ferry_entity **out,
		     int *n, struct ferry_err *err);
int ferry_store_rm(struct ferry_store *s, enum ferry_kind_entity k, const char *name_or_id,
		   struct ferry_err *err);
void ferry_entity_release(struct ferry_entity *e);
void ferry_entities_free(struct ferry_entity *v, int n);

/* Plaintext settings (secrets opened with key; FERRY_EKEY when key is NULL and one is sealed). */
int ferry_entity_config(const struct ferry_entity *e, enum ferry_kind_entity k,
			const struct ferry_key *key, struct ferry_config *out, struct ferry_err *err);
/* Settings for display: secrets as "********". New reference. */
json_t *ferry_entity_redacted(const struct ferry_entity *e);
/* Whether any setting is sealed. */
bool ferry_entity_has_secrets(const struct ferry_entity *e);

/* ---- jobs ---- */

struct ferry_job_stream {
	const char *name;
	const char *table;
	const char *status;   /* "pending", "running", "done", "failed" */
	long long read, inserted, updated, unchanged, deleted, estimate, bytes;
	long long pages, duplicates, collisions;   /* API sources */
};

/* Records a new running job owned by this process. */
int ferry_store_job_begin(struct ferry_store *s, const char *connection_id, const char *source_id,
			  const char *source_name, const char *dest_id, const char *dest_name,
			  const char *mode, json_t *options, long long *job_id, struct ferry_err *err);
/* Replaces the per-stream counts (progress). */
int ferry_store_job_streams(struct ferry_store *s, long long job_id,
			    const struct ferry_job_stream *v, int n, struct ferry_err *err);
/* Ends a job: status "succeeded" | "failed" | "cancelled"; error_code/msg may be NULL. */
int ferry_store_job_end(struct ferry_store *s, long long job_id, const char *status,
			const char *error_code, const char *error_msg, struct ferry_err *err);
/* Jobs newest first as a JSON array (limit <= 0: all). */
int ferry_store_jobs(struct ferry_store *s, int limit, json_t **out, struct ferry_err *err);
int ferry_store_job(struct ferry_store *s, long long job_id, json_t **out, struct ferry_err *err);
/* Like ferry_store_jobs, only jobs with status when status is not NULL. */
int ferry_store_jobs_with(struct ferry_store *s, int limit, const char *status, json_t **out,
			  struct ferry_err *err);
/* How many jobs have status ("queued": the queue depth). */
int ferry_store_jobs_count(struct ferry_store *s, const char *status, long long *n,
			   struct ferry_err *err);

/* Mirror of a destination's cursor, for display. */
int ferry_store_state_set(struct ferry_store *s, const char *source_id, const char *dest_id,
			  const char *ns, const char *stream, const char *cursor,
			  struct ferry_err *err);

/*
 * ---- API tokens (server/token.h) ----
 *
 * Only a token's hash is stored; no call here returns it. A revoked token
 * stays listed (with revoked_at) so its name keeps telling what it was.
 */

/* Records a token by its hash; FERRY_EUSAGE when the name is taken. id_out gets "tok_…". */
int ferry_store_token_create(struct ferry_store *s, const char *name, const char *hash,
			     char id_out[32], struct ferry_err *err);
/* Tokens by name as a JSON array of {id, name, created_at, last_used_at, revoked_at}. */
int ferry_store_tokens(struct ferry_store *s, json_t **out, struct ferry_err *err);
/*
 * Revokes by name or id. FERRY_ENOTFOUND with a "did you mean" when unknown;
 * *already is set (and nothing changes) when it was revoked before.
 */
int ferry_store_token_revoke(struct ferry_store *s, const char *name_or_id, char id_out[32],
			     bool *already, struct ferry_err *err);
/*
 * The live (not revoked) token with this hash: its id, and the seconds since
 * it was last used (-1: never). FERRY_ENOTFOUND otherwise.
 */
int ferry_store_token_find(struct ferry_store *s, const char *hash, char id_out[32],
			   long long *idle_s, struct ferry_err *err);
/* Sets last_used_at to now. */
int ferry_store_token_touch(struct ferry_store *s, const char *id, struct ferry_err *err);

#endif
