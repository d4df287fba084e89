/*
 * store.c - the SQLite state store (see store.h).
 *
 * Migrations are an append-only list of SQL scripts; PRAGMA user_version holds
 * how many ran. A store written by a newer binary (a higher version than this
 * binary knows) is refused rather than guessed at.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>
#include <sodium.h>
#include "store/store_int.h"
#include "util/text.h"

/* SQL: 1 when the settings JSON x asks for runs on a schedule (queue.c's due scan). */
#define SCHEDULED(x) \
	"(json_extract(" x ", '$.schedule') IS NOT NULL" \
	" AND coalesce(json_extract(" x ", '$.auto_sync'), 'on') <> 'off'" \
	" AND coalesce(json_extract(" x ", '$.status'), 'active') = 'active')"

static const char *const migrations[] = {
	/* 1: the foundation */
	"CREATE TABLE sources (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL,"
	"  settings TEXT NOT NULL, is_active INTEGER NOT NULL DEFAULT 1,"
	"  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
	"CREATE TABLE destinations (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL,"
	"  settings TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
	"CREATE TABLE connections (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, type TEXT NOT NULL,"
	"  settings TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
	"CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, connection_id TEXT,"
	"  source_id TEXT, source_name TEXT, dest_id TEXT, dest_name TEXT, mode TEXT NOT NULL,"
	"  options TEXT, status TEXT NOT NULL, error_code TEXT, error TEXT, attempt INTEGER NOT NULL DEFAULT 1,"
	"  pid INTEGER, host TEXT, created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT,"
	"  duration_ms INTEGER);"
	"CREATE INDEX jobs_status ON jobs(status);"
	"CREATE TABLE job_streams (job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"
	"  stream TEXT NOT NULL, dest_table TEXT, status TEXT, rows_read INTEGER, inserted INTEGER,"
	"  updated INTEGER, unchanged INTEGER, deleted INTEGER, total_estimate INTEGER, bytes INTEGER,"
	"  PRIMARY KEY (job_id, stream));"
	"CREATE TABLE stream_state (source_id TEXT NOT NULL, dest_id TEXT NOT NULL,"
	"  namespace TEXT NOT NULL, stream TEXT NOT NULL, cursor TEXT, updated_at TEXT NOT NULL,"
	"  PRIMARY KEY (source_id, dest_id, namespace, stream));",
	/* 2: API sources count pages, and hashed-key records skipped as duplicates or collisions */
	"ALTER TABLE job_streams ADD COLUMN pages INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE job_streams ADD COLUMN duplicates INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE job_streams ADD COLUMN collisions INTEGER NOT NULL DEFAULT 0;",
	/* 3: API tokens for `ferry serve`, stored as hashes (server/token.h) */
	"CREATE TABLE tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, hash TEXT NOT NULL UNIQUE,"
	"  created_at TEXT NOT NULL, last_used_at TEXT, revoked_at TEXT);",
	/*
	 * 4: the job queue (queue.c): jobs wait as 'queued' until run_after, are
	 * leased by a worker, retried up to max_attempts; per-connection schedule
	 * state. Rows from before keep their status and read as they did.
	 */
	"ALTER TABLE jobs ADD COLUMN run_after INTEGER;"
	"ALTER TABLE jobs ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 3;"
	"ALTER TABLE jobs ADD COLUMN lease_owner TEXT;"
	"ALTER TABLE jobs ADD COLUMN lease_until INTEGER;"
	"ALTER TABLE jobs ADD COLUMN idempotency_key TEXT;"
	"ALTER TABLE jobs ADD COLUMN request TEXT;"
	"ALTER TABLE jobs ADD COLUMN progress TEXT;"
	"ALTER TABLE jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE jobs ADD COLUMN timeout_s INTEGER;"
	"CREATE UNIQUE INDEX jobs_idempotency ON jobs(idempotency_key) WHERE idempotency_key IS NOT NULL;"
	"CREATE INDEX jobs_queue ON jobs(status, run_after);"
	"CREATE INDEX jobs_connection ON jobs(connection_id, status);"
	"CREATE TABLE connection_state (connection_id TEXT PRIMARY KEY"
	"  REFERENCES connections(id) ON DELETE CASCADE, next_run_at INTEGER, last_sync_at TEXT,"
	"  last_sync_status TEXT, last_sync_error TEXT, running_job_id INTEGER,"
	"  scheduled INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX connection_state_due ON connection_state(scheduled, next_run_at);"
	/*
	 * scheduled: whether the connection runs on its own (a schedule, auto_sync
	 * not "off", status "active"), kept from its settings by these triggers so
	 * that the due scan reads an index instead of every connection's JSON.
	 */
	"CREATE TRIGGER connections_scheduled_insert AFTER INSERT ON connections BEGIN"
	"  INSERT INTO connection_state (connection_id, scheduled) VALUES (new.id, " SCHEDULED("new.settings") ")"
	"  ON CONFLICT (connection_id) DO UPDATE SET scheduled = excluded.scheduled; END;"
	"CREATE TRIGGER connections_scheduled_update AFTER UPDATE OF settings ON connections BEGIN"
	"  INSERT INTO connection_state (connection_id, scheduled) VALUES (new.id, " SCHEDULED("new.settings") ")"
	"  ON CONFLICT (connection_id) DO UPDATE SET scheduled = excluded.scheduled; END;"
	"INSERT INTO connection_state (connection_id, scheduled) SELECT id, " SCHEDULED("settings")
	"  FROM connections WHERE true;",
	/*
	 * 5: completion webhooks (deliveries.c): one row per message to send when
	 * a job ends, with its attempts; store-wide secrets, sealed (the signing
	 * secret of webhooks for jobs without a connection).
	 */
	"CREATE TABLE webhook_deliveries (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE, url TEXT NOT NULL,"
	"  event TEXT NOT NULL, msg_id TEXT NOT NULL UNIQUE, payload TEXT NOT NULL,"
	"  attempt INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'pending',"
	"  last_http_status INTEGER, last_error TEXT, log TEXT, next_attempt_at INTEGER NOT NULL,"
	"  created_at TEXT NOT NULL, delivered_at TEXT);"
	"CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);"
	"CREATE INDEX webhook_deliveries_job ON webhook_deliveries(job_id);"
	"CREATE TABLE store_secrets (name TEXT PRIMARY KEY, sealed TEXT NOT NULL,"
	"  created_at TEXT NOT NULL, updated_at TEXT NOT NULL);",
};
#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

static const char *const tables[] = {"sources", "destinations", "connections"};
static const char *const words[] = {"source", "destination", "connection"};
static const char *const id_prefix[] = {"src_", "dst_", "con_"};

int ferry_store_schema_version(void)
{
	return NMIGRATIONS;
}

const char *ferry_entity_word(enum ferry_kind_entity k)
{
	return words[k];
}

const char *ferry_store_path(const struct ferry_store *s)
{
	return s->path;
}

int ferry__store_err(struct ferry_store *s, struct ferry_err *err, const char *what)
{
	int rc = sqlite3_errcode(s->db);

	ferry_err_set(err, FERRY_ESTORE, "state store %s: %s failed: %s", s->path, what,
		      sqlite3_errmsg(s->db));
	err->retryable = rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
	return FERRY_ESTORE;
}

int ferry__store_exec(struct ferry_store *s, const char *sql, struct ferry_err *err)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return ferry__store_err(s, err, "a query");
	return 0;
}

int ferry__store_end(struct ferry_store *s, int rc, struct ferry_err *err)
{
	int c;

	if (rc < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	if ((c = ferry__store_exec(s, "COMMIT", err))) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return c;
	}
	return rc;
}

int ferry__store_prepare(struct ferry_store *s, const char *sql, sqlite3_stmt **st, struct ferry_err *err)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
		return ferry__store_err(s, err, "preparing a query");
	return 0;
}

int ferry_store_tx(struct ferry_store *s, const char *sql, struct ferry_err *err)
{
	return ferry__store_exec(s, sql, err);
}

static int migrate(struct ferry_store *s, struct ferry_err *err)
{
	sqlite3_stmt *st;
	int version, i, rc;
	char sql[64];

	if ((rc = ferry__store_prepare(s, "PRAGMA user_version", &st, err)))
		return rc;
	sqlite3_step(st);
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > NMIGRATIONS)
		return ferry_err_set(err, FERRY_ESTORE,
				     "state store %s was written by a newer ferry (schema version %d; "
				     "this ferry %s knows up to %d): upgrade ferry, or use another --db",
				     s->path, version, FERRY_VERSION, NMIGRATIONS);
	for (i = version; i < NMIGRATIONS; i++) {
		if ((rc = ferry__store_exec(s, "BEGIN IMMEDIATE", err)))
			return rc;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", i + 1);
		if ((rc = ferry__store_exec(s, migrations[i], err)) || (rc = ferry__store_exec(s, sql, err)) ||
		    (rc = ferry__store_exec(s, "COMMIT", err))) {
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return ferry_err_prefix(err, "migrating to schema version %d: ", i + 1);
		}
	}
	return 0;
}

int ferry_store_open(const char *path, struct ferry_store **out, struct ferry_err *err)
{
	struct ferry_store *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
	s->path = strdup(path);
	gethostname(s->host, sizeof(s->host) - 1);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		rc = ferry_err_set(err, FERRY_ESTORE,
				   "cannot open state store %s: %s (check the path, or set --db / "
				   "FERRY_DATABASE_URL)", path, s->db ? sqlite3_errmsg(s->db) : "?");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 10000);
	if ((rc = ferry__store_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
			  "PRAGMA foreign_keys=ON", err))) {
		ferry_err_set(err, FERRY_ESTORE, "cannot open state store %s: %s (is it a ferry state store?)",
			      path, sqlite3_errmsg(s->db));
		goto fail;
	}
	if ((rc = migrate(s, err)) || (rc = ferry__queue_recover(s, err)))
		goto fail;
	*out = s;
	return 0;
fail:
	ferry_store_close(s);
	return rc;
}

void ferry_store_close(struct ferry_store *s)
{
	if (!s)
		return;
	sqlite3_close(s->db);
	free(s->path);
	free(s);
}

/* ---- entities ---- */

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return strdup(t ? (const char *)t : "");
}

static void row_to_entity(sqlite3_stmt *st, struct ferry_entity *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", (const char *)sqlite3_column_text(st, 0));
	e->name = col_dup(st, 1);
	e->type = col_dup(st, 2);
	e->settings = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
	if (!e->settings)
		e->settings = json_object();
	e->created_at = col_dup(st, 4);
	e->updated_at = col_dup(st, 5);
}

void ferry_entity_release(struct ferry_entity *e)
{
	free(e->name);
	free(e->type);
	json_decref(e->settings);
	free(e->created_at);
	free(e->updated_at);
	memset(e, 0, sizeof(*e));
}

void ferry_entities_free(struct ferry_entity *v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		ferry_entity_release(&v[i]);
	free(v);
}

int ferry_store_list(struct ferry_store *s, enum ferry_kind_entity k, struct ferry_entity **out,
		     int *n, struct ferry_err *err)
{
	char sql[160];
	sqlite3_stmt *st;
	struct ferry_entity *v = NULL;
	int rc, cnt = 0;

	snprintf(sql, sizeof(sql),
		 "SELECT id, name, type, settings, created_at, updated_at FROM %s ORDER BY name",
		 tables[k]);
	if ((rc = ferry__store_prepare(s, sql, &st, err)))
		return rc;
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct ferry_entity *nv = realloc(v, sizeof(*v) * (size_t)(cnt + 1));
		if (!nv) {
			sqlite3_finalize(st);
			ferry_entities_free(v, cnt);
			return ferry_err_set(err, FERRY_ENOMEM, "out of memory");
		}
		v = nv;
		row_to_entity(st, &v[cnt++]);
	}
	sqlite3_finalize(st);
	*out = v;
	*n = cnt;
	return 0;
}

int ferry_store_get(struct ferry_store *s, enum ferry_kind_entity k, const char *name_or_id,
		    struct ferry_entity *out, struct ferry_err *err)
{
	char sql[200];
	sqlite3_stmt *st;
	struct ferry_entity *all = NULL;
	const char **names;
	const char *best;
	int rc, n = 0, i;

	snprintf(sql, sizeof(sql),
		 "SELECT id, name, type, settings, created_at, updated_at FROM %s "
		 "WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1", tables[k]);
	if ((rc = ferry__store_prepare(s, sql, &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, name_or_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		row_to_entity(st, out);
		sqlite3_finalize(st);
		return 0;
	}
	sqlite3_finalize(st);

	if ((rc = ferry_store_list(s, k, &all, &n, err)))
		return rc;
	names = calloc((size_t)n + 1, sizeof(*names));
	for (i = 0; names && i < n; i++)
		names[i] = all[i].name;
	best = names ? ferry_closest(name_or_id, names, n) : NULL;
	if (best)
		ferry_err_set(err, FERRY_ENOTFOUND, "unknown %s \"%s\": did you mean \"%s\"? (see `ferry %s list`)",
			      words[k], name_or_id, best, k == FERRY_DESTINATION ? "dest" : words[k]);
	else if (n)
		ferry_err_set(err, FERRY_ENOTFOUND, "unknown %s \"%s\" (see `ferry %s list`)", words[k],
			      name_or_id, k == FERRY_DESTINATION ? "dest" : words[k]);
	else
		ferry_err_set(err, FERRY_ENOTFOUND, "unknown %s \"%s\": there are none yet (add one with `ferry %s add`)",
			      words[k], name_or_id, k == FERRY_DESTINATION ? "dest" : words[k]);
	free(names);
	ferry_entities_free(all, n);
	return FERRY_ENOTFOUND;
}

static bool is_secret_value(json_t *v)
{
	return json_is_object(v) && json_object_get(v, "$secret");
}

bool ferry_entity_has_secrets(const struct ferry_entity *e)
{
	const char *k;
	json_t *v;

	json_object_foreach(e->settings, k, v)
		if (is_secret_value(v))
			return true;
	return false;
}

static void secret_ctx(char *out, size_t n, enum ferry_kind_entity k, const char *name,
		       const char *key)
{
	/* Bound to the entity's name, not its id: ids are assigned after sealing. */
	snprintf(out, n, "%s/%s/%s", words[k], name, key);
}

int ferry_store_put(struct ferry_store *s, enum ferry_kind_entity k, const char *name,
		    const char *type, json_t *settings, bool (*is_secret)(const char *type, json_t *settings, const char *key),
		    const struct ferry_key *key, bool update, char id_out[32], bool *created,
		    struct ferry_err *err)
{
	json_t *stored = json_object();
	struct ferry_entity old = {0};
	sqlite3_stmt *st = NULL;
	const char *kname;
	json_t *v;
	char now[32], *text = NULL, sql[256];
	bool exists;
	int rc = 0;

	exists = ferry_store_get(s, k, name, &old, err) == 0;
	ferry_err_clear(err);
	if (exists && (!update || strcmp(old.name, name))) {
		rc = ferry_err_set(err, FERRY_EUSAGE,
				   "a %s named \"%s\" already exists (id %s): choose another name, or "
				   "remove it first with `ferry %s rm %s`",
				   words[k], name, old.id, k == FERRY_DESTINATION ? "dest" : words[k], old.id);
		goto out;
	}
	json_object_foreach(settings, kname, v) {
		char ctx[256], *sealed = NULL;
		if (!is_secret || !is_secret(type, settings, kname) || !json_is_string(v)) {
			json_object_set(stored, kname, v);
			continue;
		}
		if (!key) {
			rc = ferry_err_set(err, FERRY_EKEY,
					   FERRY_KEY_ENV " is not set: it is needed to store the secret "
					   "setting \"%s\" of %s \"%s\" (create one with `ferry keygen`)",
					   kname, words[k], name);
			goto out;
		}
		secret_ctx(ctx, sizeof(ctx), k, name, kname);
		if ((rc = ferry_secret_seal(key, ctx, json_string_value(v), &sealed, err)))
			goto out;
		json_object_set_new(stored, kname, json_pack("{s:s}", "$secret", sealed));
		free(sealed);
	}
	text = json_dumps(stored, JSON_COMPACT | JSON_SORT_KEYS);
	ferry_now_iso(now);
	if (exists) {
		snprintf(sql, sizeof(sql),
			 "UPDATE %s SET type = ?, settings = ?, updated_at = ? WHERE id = ?", tables[k]);
		snprintf(id_out, 32, "%s", old.id);
	} else {
		snprintf(sql, sizeof(sql),
			 "INSERT INTO %s (type, settings, updated_at, id, name, created_at) "
			 "VALUES (?, ?, ?, ?, ?, ?3)", tables[k]);
		ferry_random_id(id_prefix[k], id_out, 32);
	}
	if ((rc = ferry__store_prepare(s, sql, &st, err)))
		goto out;
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, id_out, -1, SQLITE_STATIC);
	if (!exists)
		sqlite3_bind_text(st, 5, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) {
		if (!exists && sqlite3_errcode(s->db) == SQLITE_CONSTRAINT)
			/* Another process took the name between the lookup and the insert. */
			rc = ferry_err_set(err, FERRY_EUSAGE, "a %s named \"%s\" already exists: choose "
					   "another name", words[k], name);
		else
			rc = ferry__store_err(s, err, "saving");
	}
	if (created)
		*created = !exists;
out:
	sqlite3_finalize(st);
	free(text);
	json_decref(stored);
	if (exists)
		ferry_entity_release(&old);
	return rc;
}

int ferry_store_rm(struct ferry_store *s, enum ferry_kind_entity k, const char *name_or_id,
		   struct ferry_err *err)
{
	struct ferry_entity e;
	sqlite3_stmt *st;
	char sql[128];
	int rc;

	if ((rc = ferry_store_get(s, k, name_or_id, &e, err)))
		return rc;
	if (k != FERRY_CONNECTION) {
		/* A connection that names this entity would dangle. */
		if ((rc = ferry__store_prepare(s, "SELECT name FROM connections WHERE json_extract(settings, ?) = ?",
				  &st, err)))
			goto out;
		sqlite3_bind_text(st, 1, k == FERRY_SOURCE ? "$.source_id" : "$.destination_id", -1,
				  SQLITE_STATIC);
		sqlite3_bind_text(st, 2, e.id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			rc = ferry_err_set(err, FERRY_ECONFLICT,
					   "%s \"%s\" is used by connection \"%s\": remove the "
					   "connection first", words[k], e.name, sqlite3_column_text(st, 0));
			sqlite3_finalize(st);
			goto out;
		}
		sqlite3_finalize(st);
	} else {
		/* Its job would run on after the connection is gone, and record into nothing. */
		if ((rc = ferry__store_prepare(s, "SELECT id, status FROM jobs WHERE connection_id = ? "
					       "AND status IN ('queued', 'running') ORDER BY id LIMIT 1",
					       &st, err)))
			goto out;
		sqlite3_bind_text(st, 1, e.id, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW) {
			long long job = sqlite3_column_int64(st, 0);
			rc = ferry_err_set(err, FERRY_ECONFLICT,
					   "connection \"%s\" has job %lld %s: wait for it to end, or "
					   "cancel it (POST /api/v1/jobs/%lld/cancel), then remove the "
					   "connection", e.name, job, (const char *)sqlite3_column_text(st, 1),
					   job);
			sqlite3_finalize(st);
			goto out;
		}
		sqlite3_finalize(st);
	}
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = ?", tables[k]);
	if ((rc = ferry__store_prepare(s, sql, &st, err)))
		goto out;
	sqlite3_bind_text(st, 1, e.id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = ferry__store_err(s, err, "removing");
	sqlite3_finalize(st);
out:
	ferry_entity_release(&e);
	return rc;
}

int ferry_entity_config(const struct ferry_entity *e, enum ferry_kind_entity k,
			const struct ferry_key *key, struct ferry_config *out, struct ferry_err *err)
{
	const char *kname;
	json_t *v;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	json_object_foreach(e->settings, kname, v) {
		char ctx[256], *plain = NULL, num[64];
		if (is_secret_value(v)) {
			if (!key) {
				rc = ferry_err_set(err, FERRY_EKEY,
						   FERRY_KEY_ENV " is not set: it is needed to read the "
						   "secret setting \"%s\" of %s \"%s\"", kname, words[k], e->name);
				break;
			}
			secret_ctx(ctx, sizeof(ctx), k, e->name, kname);
			rc = ferry_secret_open(key, ctx, json_string_value(json_object_get(v, "$secret")),
					       &plain, err);
			if (rc) {
				ferry_err_prefix(err, "%s \"%s\": ", words[k], e->name);
				break;
			}
			rc = ferry_config_set(out, kname, plain);
			sodium_memzero(plain, strlen(plain));
			free(plain);
		} else if (json_is_string(v)) {
			rc = ferry_config_set(out, kname, json_string_value(v));
		} else if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
			rc = ferry_config_set(out, kname, num);
		} else if (json_is_boolean(v)) {
			rc = ferry_config_set(out, kname, json_is_true(v) ? "true" : "false");
		} else {
			char *dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			rc = ferry_config_set(out, kname, dump ? dump : "");
			free(dump);
		}
		if (rc) {
			if (rc == FERRY_ENOMEM)
				ferry_err_set(err, rc, "out of memory");
			break;
		}
	}
	if (rc)
		ferry_config_release(out);
	return rc;
}

json_t *ferry_entity_redacted(const struct ferry_entity *e)
{
	json_t *o = json_object(), *v;
	const char *k;

	json_object_foreach(e->settings, k, v)
		json_object_set_new(o, k, is_secret_value(v) ? json_string("********") : json_incref(v));
	return o;
}

/* ---- jobs ---- */

int ferry_store_job_begin(struct ferry_store *s, const char *connection_id, const char *source_id,
			  const char *source_name, const char *dest_id, const char *dest_name,
			  const char *mode, json_t *options, long long *job_id, struct ferry_err *err)
{
	sqlite3_stmt *st;
	char now[32], *opts = options ? json_dumps(options, JSON_COMPACT) : NULL;
	int rc;

	ferry_now_iso(now);
	if ((rc = ferry__store_prepare(s, "INSERT INTO jobs (connection_id, source_id, source_name, dest_id, "
			     "dest_name, mode, options, status, pid, host, created_at, started_at) "
			     "VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?10, ?10)", &st, err))) {
		free(opts);
		return rc;
	}
	sqlite3_bind_text(st, 1, connection_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, source_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, source_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, dest_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, dest_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, mode, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, opts, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, (long long)getpid());
	sqlite3_bind_text(st, 9, s->host, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, now, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = ferry__store_err(s, err, "recording the job");
	else
		*job_id = sqlite3_last_insert_rowid(s->db);
	sqlite3_finalize(st);
	free(opts);
	return rc;
}

int ferry_store_job_streams(struct ferry_store *s, long long job_id,
			    const struct ferry_job_stream *v, int n, struct ferry_err *err)
{
	sqlite3_stmt *st;
	int i, rc;

	if ((rc = ferry__store_exec(s, "BEGIN IMMEDIATE", err)))
		return rc;
	if ((rc = ferry__store_prepare(s, "INSERT OR REPLACE INTO job_streams (job_id, stream, dest_table, status, "
			     "rows_read, inserted, updated, unchanged, deleted, total_estimate, bytes, pages, "
			     "duplicates, collisions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &st, err)))
		goto out;
	for (i = 0; i < n; i++) {
		sqlite3_bind_int64(st, 1, job_id);
		sqlite3_bind_text(st, 2, v[i].name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, v[i].table, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, v[i].status, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, v[i].read);
		sqlite3_bind_int64(st, 6, v[i].inserted);
		sqlite3_bind_int64(st, 7, v[i].updated);
		sqlite3_bind_int64(st, 8, v[i].unchanged);
		sqlite3_bind_int64(st, 9, v[i].deleted);
		if (v[i].estimate >= 0)
			sqlite3_bind_int64(st, 10, v[i].estimate);
		else
			sqlite3_bind_null(st, 10);
		sqlite3_bind_int64(st, 11, v[i].bytes);
		sqlite3_bind_int64(st, 12, v[i].pages);
		sqlite3_bind_int64(st, 13, v[i].duplicates);
		sqlite3_bind_int64(st, 14, v[i].collisions);
		if (sqlite3_step(st) != SQLITE_DONE) {
			rc = ferry__store_err(s, err, "recording progress");
			break;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
out:
	if (rc) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	return ferry__store_exec(s, "COMMIT", err);
}

int ferry_store_job_end(struct ferry_store *s, long long job_id, const char *status,
			const char *error_code, const char *error_msg, struct ferry_err *err)
{
	sqlite3_stmt *st;
	char now[32];
	int rc;

	ferry_now_iso(now);
	if ((rc = ferry__store_prepare(s, "UPDATE jobs SET status = ?, error_code = ?, error = ?, finished_at = ?, "
			     "duration_ms = CAST(round((julianday(?4) - julianday(started_at)) * 86400000) AS INTEGER) "
			     "WHERE id = ?", &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, error_code, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, error_msg, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, job_id);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = ferry__store_err(s, err, "ending the job");
	sqlite3_finalize(st);
	return rc;
}

json_t *ferry__col_json(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL:
		return json_null();
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(st, i));
	default:
		return json_string((const char *)sqlite3_column_text(st, i));
	}
}

static json_t *job_streams_json(struct ferry_store *s, long long id)
{
	json_t *arr = json_array();
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(s->db,
			       "SELECT stream, dest_table, status, rows_read, inserted, updated, unchanged, "
			       "deleted, total_estimate, bytes, pages, duplicates, collisions FROM job_streams "
			       "WHERE job_id = ? ORDER BY rowid",
			       -1, &st, NULL) != SQLITE_OK)
		return arr;
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_array_append_new(arr, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
						     "name", ferry__col_json(st, 0), "table", ferry__col_json(st, 1),
						     "status", ferry__col_json(st, 2), "read", ferry__col_json(st, 3),
						     "inserted", ferry__col_json(st, 4), "updated", ferry__col_json(st, 5),
						     "unchanged", ferry__col_json(st, 6), "deleted", ferry__col_json(st, 7),
						     "total_estimate", ferry__col_json(st, 8), "bytes", ferry__col_json(st, 9),
						     "pages", ferry__col_json(st, 10), "duplicates", ferry__col_json(st, 11),
						     "collisions", ferry__col_json(st, 12)));
	}
	sqlite3_finalize(st);
	return arr;
}

#define JOB_COLS "id, status, mode, source_name, dest_name, source_id, dest_id, connection_id, " \
		 "error_code, error, attempt, created_at, started_at, finished_at, duration_ms, options, " \
		 "max_attempts, run_after, cancel_requested, request, progress, timeout_s"

json_t *ferry__col_parsed(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	json_t *v = t ? json_loads((const char *)t, 0, NULL) : NULL;

	return v ? v : json_null();
}

static json_t *job_row_json(struct ferry_store *s, sqlite3_stmt *st)
{
	long long id = sqlite3_column_int64(st, 0);
	json_t *o;

	o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
		      "id", (json_int_t)id, "status", ferry__col_json(st, 1), "mode", ferry__col_json(st, 2),
		      "source", ferry__col_json(st, 3), "destination", ferry__col_json(st, 4),
		      "source_id", ferry__col_json(st, 5), "destination_id", ferry__col_json(st, 6),
		      "connection_id", ferry__col_json(st, 7), "error_code", ferry__col_json(st, 8),
		      "error", ferry__col_json(st, 9), "attempt", ferry__col_json(st, 10),
		      "created_at", ferry__col_json(st, 11), "started_at", ferry__col_json(st, 12),
		      "finished_at", ferry__col_json(st, 13), "duration_ms", ferry__col_json(st, 14),
		      "options", ferry__col_parsed(st, 15), "streams", job_streams_json(s, id));
	/* The queue's fields (schema 4); null for jobs run directly by `ferry sync`. */
	json_object_set_new(o, "max_attempts", ferry__col_json(st, 16));
	json_object_set_new(o, "run_after", ferry__col_json(st, 17));
	json_object_set_new(o, "cancel_requested", json_boolean(sqlite3_column_int(st, 18)));
	json_object_set_new(o, "request", ferry__col_parsed(st, 19));
	json_object_set_new(o, "progress", ferry__col_parsed(st, 20));
	json_object_set_new(o, "timeout_s", ferry__col_json(st, 21));
	return o;
}

int ferry_store_jobs_with(struct ferry_store *s, int limit, const char *status, json_t **out,
			  struct ferry_err *err)
{
	sqlite3_stmt *st;
	json_t *arr;
	int rc;

	if ((rc = ferry__store_prepare(s, "SELECT " JOB_COLS " FROM jobs WHERE ?1 IS NULL OR status = ?1 "
			     "ORDER BY id DESC LIMIT ?2", &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, limit > 0 ? limit : -1);
	arr = json_array();
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(arr, job_row_json(s, st));
	sqlite3_finalize(st);
	*out = arr;
	return 0;
}

int ferry_store_jobs(struct ferry_store *s, int limit, json_t **out, struct ferry_err *err)
{
	return ferry_store_jobs_with(s, limit, NULL, out, err);
}

int ferry_store_jobs_count(struct ferry_store *s, const char *status, long long *n,
			   struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = ferry__store_prepare(s, "SELECT count(*) FROM jobs WHERE status = ?", &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	else
		rc = ferry__store_err(s, err, "counting jobs");
	sqlite3_finalize(st);
	return rc;
}

int ferry_store_job(struct ferry_store *s, long long job_id, json_t **out, struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = ferry__store_prepare(s, "SELECT " JOB_COLS " FROM jobs WHERE id = ?", &st, err)))
		return rc;
	sqlite3_bind_int64(st, 1, job_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*out = job_row_json(s, st);
	} else {
		rc = ferry_err_set(err, FERRY_ENOTFOUND, "unknown job %lld (see `ferry jobs`)", job_id);
	}
	sqlite3_finalize(st);
	return rc;
}

int ferry_store_state_set(struct ferry_store *s, const char *source_id, const char *dest_id,
			  const char *ns, const char *stream, const char *cursor,
			  struct ferry_err *err)
{
	sqlite3_stmt *st;
	char now[32];
	int rc;

	ferry_now_iso(now);
	if ((rc = ferry__store_prepare(s, "INSERT OR REPLACE INTO stream_state (source_id, dest_id, namespace, "
			     "stream, cursor, updated_at) VALUES (?, ?, ?, ?, ?, ?)", &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, source_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, dest_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, ns ? ns : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, stream, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, cursor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, now, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = ferry__store_err(s, err, "saving stream state");
	sqlite3_finalize(st);
	return rc;
}

/* ---- API tokens ---- */

int ferry_store_token_create(struct ferry_store *s, const char *name, const char *hash,
			     char id_out[32], struct ferry_err *err)
{
	sqlite3_stmt *st;
	char now[32];
	int rc;

	if ((rc = ferry__store_prepare(s, "SELECT id FROM tokens WHERE name = ?", &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		rc = ferry_err_set(err, FERRY_EUSAGE,
				   "a token named \"%s\" already exists (id %s): choose another name "
				   "(names of revoked tokens stay taken; see `ferry token list`)",
				   name, sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		return rc;
	}
	sqlite3_finalize(st);

	ferry_now_iso(now);
	ferry_random_id("tok_", id_out, 32);
	if ((rc = ferry__store_prepare(s, "INSERT INTO tokens (id, name, hash, created_at) VALUES (?, ?, ?, ?)",
			  &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, id_out, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = ferry__store_err(s, err, "saving the token");
	sqlite3_finalize(st);
	return rc;
}

int ferry_store_tokens(struct ferry_store *s, json_t **out, struct ferry_err *err)
{
	sqlite3_stmt *st;
	json_t *arr;
	int rc;

	/* Never the hash: nothing outside the auth check needs it. */
	if ((rc = ferry__store_prepare(s, "SELECT id, name, created_at, last_used_at, revoked_at FROM tokens "
			     "ORDER BY name", &st, err)))
		return rc;
	arr = json_array();
	while (sqlite3_step(st) == SQLITE_ROW)
		json_array_append_new(arr, json_pack("{s:o, s:o, s:o, s:o, s:o}",
						     "id", ferry__col_json(st, 0), "name", ferry__col_json(st, 1),
						     "created_at", ferry__col_json(st, 2),
						     "last_used_at", ferry__col_json(st, 3),
						     "revoked_at", ferry__col_json(st, 4)));
	sqlite3_finalize(st);
	*out = arr;
	return 0;
}

static int token_unknown(struct ferry_store *s, const char *name_or_id, struct ferry_err *err)
{
	json_t *all = NULL, *t;
	const char **names = NULL;
	const char *best = NULL;
	size_t i, n;
	int rc;

	if ((rc = ferry_store_tokens(s, &all, err)))
		return rc;
	n = json_array_size(all);
	names = calloc(n + 1, sizeof(*names));
	json_array_foreach(all, i, t)
		if (names)
			names[i] = json_string_value(json_object_get(t, "name"));
	if (names)
		best = ferry_closest(name_or_id, names, (int)n);
	if (best)
		ferry_err_set(err, FERRY_ENOTFOUND,
			      "unknown token \"%s\": did you mean \"%s\"? (see `ferry token list`)",
			      name_or_id, best);
	else if (n)
		ferry_err_set(err, FERRY_ENOTFOUND, "unknown token \"%s\" (see `ferry token list`)",
			      name_or_id);
	else
		ferry_err_set(err, FERRY_ENOTFOUND,
			      "unknown token \"%s\": there are none yet (create one with "
			      "`ferry token create NAME`)", name_or_id);
	free(names);
	json_decref(all);
	return FERRY_ENOTFOUND;
}

int ferry_store_token_revoke(struct ferry_store *s, const char *name_or_id, char id_out[32],
			     bool *already, struct ferry_err *err)
{
	sqlite3_stmt *st;
	char now[32];
	int rc;

	if ((rc = ferry__store_prepare(s, "SELECT id, revoked_at FROM tokens WHERE id = ?1 OR name = ?1 "
			     "ORDER BY id = ?1 DESC LIMIT 1", &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, name_or_id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return token_unknown(s, name_or_id, err);
	}
	snprintf(id_out, 32, "%s", (const char *)sqlite3_column_text(st, 0));
	*already = sqlite3_column_type(st, 1) != SQLITE_NULL;
	sqlite3_finalize(st);
	if (*already)
		return 0;

	ferry_now_iso(now);
	if ((rc = ferry__store_prepare(s, "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
			  &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id_out, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = ferry__store_err(s, err, "revoking the token");
	sqlite3_finalize(st);
	return rc;
}

int ferry_store_token_find(struct ferry_store *s, const char *hash, char id_out[32],
			   long long *idle_s, struct ferry_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = ferry__store_prepare(s, "SELECT id, CAST((julianday('now') - julianday(last_used_at)) * 86400 "
			     "AS INTEGER) FROM tokens WHERE hash = ? AND revoked_at IS NULL", &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(id_out, 32, "%s", (const char *)sqlite3_column_text(st, 0));
		*idle_s = sqlite3_column_type(st, 1) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 1);
	} else {
		/* No name in the message: the caller only knows a hash, and says 401. */
		rc = ferry_err_set(err, FERRY_ENOTFOUND, "no such token, or it was revoked");
	}
	sqlite3_finalize(st);
	return rc;
}

int ferry_store_token_touch(struct ferry_store *s, const char *id, struct ferry_err *err)
{
	sqlite3_stmt *st;
	char now[32];
	int rc;

	ferry_now_iso(now);
	if ((rc = ferry__store_prepare(s, "UPDATE tokens SET last_used_at = ? WHERE id = ?", &st, err)))
		return rc;
	sqlite3_bind_text(st, 1, now, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = ferry__store_err(s, err, "recording the token's use");
	sqlite3_finalize(st);
	return rc;
}
