/*
 * test_store.c - the state store: migrations, entities by name or id,
 * "did you mean", sealed settings, jobs, interrupted jobs, newer schema refused,
 * API tokens (hash only, revoke, find, touch), jobs by status.
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
#include "store_fixture.h"
#include <sqlite3.h>
#include "store/store.h"


static bool secret_url(const char *type, json_t *settings, const char *key)
{
	return !strcmp(key, "url");
}

static int setup(void **state)
{
	struct ferry_err e;
	store_fixture_path("store");
	ferry_crypto_init(&e);
	return 0;
}

static int teardown(void **state)
{
	store_fixture_remove();
	return 0;
}

static void entities(void **state)
{
	struct ferry_store *s;
	struct ferry_err e = {0};
	struct ferry_entity ent;
	struct ferry_key k;
	struct ferry_config cfg;
	json_t *set = json_pack("{s:s, s:s}", "url", "postgres://u:pw@h/db", "tables", "a,b");
	char id[32], id2[32];
	FILE *f;
	char buf[65536];
	size_t n;

	setenv(FERRY_KEY_ENV, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 1);
	assert_int_equal(ferry_key_load(&k, &e), 0);
	assert_int_equal(ferry_store_open(path, &s, &e), 0);
	/* A secret without a key is refused and nothing is stored. */
	assert_int_equal(ferry_store_put(s, FERRY_SOURCE, "shop", "postgres", set, secret_url, NULL,
					 false, id, NULL, &e), FERRY_EKEY);
	assert_int_equal(ferry_store_get(s, FERRY_SOURCE, "shop", &ent, &e), FERRY_ENOTFOUND);
	assert_int_equal(ferry_store_put(s, FERRY_SOURCE, "shop", "postgres", set, secret_url, &k,
					 false, id, NULL, &e), 0);
	assert_memory_equal(id, "src_", 4);
	/* Same name again: refused. */
	assert_int_equal(ferry_store_put(s, FERRY_SOURCE, "shop", "postgres", set, secret_url, &k,
					 false, id2, NULL, &e), FERRY_EUSAGE);
	/* By id and by name. */
	assert_int_equal(ferry_store_get(s, FERRY_SOURCE, id, &ent, &e), 0);
	assert_string_equal(ent.name, "shop");
	assert_true(ferry_entity_has_secrets(&ent));
	assert_int_equal(ferry_entity_config(&ent, FERRY_SOURCE, &k, &cfg, &e), 0);
	assert_string_equal(ferry_config_get(&cfg, "url"), "postgres://u:pw@h/db");
	ferry_config_release(&cfg);
	json_t *red = ferry_entity_redacted(&ent);
	assert_string_equal(json_string_value(json_object_get(red, "url")), "********");
	json_decref(red);
	ferry_entity_release(&ent);
	/* Unknown name: a suggestion. */
	assert_int_equal(ferry_store_get(s, FERRY_SOURCE, "shpo", &ent, &e), FERRY_ENOTFOUND);
	assert_non_null(strstr(e.msg, "did you mean \"shop\""));
	ferry_store_close(s);
	json_decref(set);

	/* The plaintext is nowhere in the file. */
	f = fopen(path, "rb");
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_null(memmem(buf, n, "u:pw@h", 6));
}

static void interrupted_and_newer(void **state)
{
	struct ferry_store *s;
	struct ferry_err e = {0};
	long long id;
	json_t *j;
	sqlite3 *db;

	assert_int_equal(ferry_store_open(path, &s, &e), 0);
	assert_int_equal(ferry_store_job_begin(s, NULL, "src_1", "a", "dst_1", "b", "full", NULL, &id, &e), 0);
	ferry_store_close(s);
	/* Pretend the job's process died: a pid that cannot exist. */
	sqlite3_open(path, &db);
	sqlite3_exec(db, "UPDATE jobs SET pid = 2147483600", NULL, NULL, NULL);
	sqlite3_close(db);
	assert_int_equal(ferry_store_open(path, &s, &e), 0);
	assert_int_equal(ferry_store_job(s, id, &j, &e), 0);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "failed");
	assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "interrupted"));
	json_decref(j);
	ferry_store_close(s);

	sqlite3_open(path, &db);
	sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL);
	sqlite3_close(db);
	assert_int_equal(ferry_store_open(path, &s, &e), FERRY_ESTORE);
	assert_non_null(strstr(e.msg, "newer ferry"));
}

static void tokens(void **state)
{
	struct ferry_store *s;
	struct ferry_err e = {0};
	char id[32], id2[32], rid[32];
	long long idle;
	bool already;
	json_t *list;
	char *dump;

	assert_int_equal(ferry_store_open(path, &s, &e), 0);
	assert_true(ferry_store_schema_version() >= 3);   /* tokens came with schema 3 */
	/* Revoking when there are none says how to create one. */
	assert_int_equal(ferry_store_token_revoke(s, "ci", rid, &already, &e), FERRY_ENOTFOUND);
	assert_non_null(strstr(e.msg, "ferry token create"));

	assert_int_equal(ferry_store_token_create(s, "ci", "hash-of-ci", id, &e), 0);
	assert_memory_equal(id, "tok_", 4);
	assert_int_equal(ferry_store_token_create(s, "ci", "hash-other", id2, &e), FERRY_EUSAGE);
	assert_non_null(strstr(e.msg, "already exists"));
	assert_int_equal(ferry_store_token_create(s, "cron", "hash-of-cron", id2, &e), 0);

	/* Listed by name, never with the hash. */
	assert_int_equal(ferry_store_tokens(s, &list, &e), 0);
	assert_int_equal(json_array_size(list), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")), "ci");
	assert_true(json_is_null(json_object_get(json_array_get(list, 0), "last_used_at")));
	dump = json_dumps(list, 0);
	assert_null(strstr(dump, "hash-of"));
	free(dump);
	json_decref(list);

	/* Found by hash; never used yet; touched. */
	assert_int_equal(ferry_store_token_find(s, "hash-of-ci", rid, &idle, &e), 0);
	assert_string_equal(rid, id);
	assert_int_equal(idle, -1);
	assert_int_equal(ferry_store_token_touch(s, id, &e), 0);
	assert_int_equal(ferry_store_token_find(s, "hash-of-ci", rid, &idle, &e), 0);
	assert_true(idle >= 0 && idle < 5);
	assert_int_equal(ferry_store_token_find(s, "hash-nope", rid, &idle, &e), FERRY_ENOTFOUND);

	/* Revoke by name, then by id again: the second time says it already was. */
	assert_int_equal(ferry_store_token_revoke(s, "ci", rid, &already, &e), 0);
	assert_false(already);
	assert_string_equal(rid, id);
	assert_int_equal(ferry_store_token_revoke(s, id, rid, &already, &e), 0);
	assert_true(already);
	assert_int_equal(ferry_store_token_find(s, "hash-of-ci", rid, &idle, &e), FERRY_ENOTFOUND);
	assert_int_equal(ferry_store_token_find(s, "hash-of-cron", rid, &idle, &e), 0);
	/* Unknown: the closest name. */
	assert_int_equal(ferry_store_token_revoke(s, "crno", rid, &already, &e), FERRY_ENOTFOUND);
	assert_non_null(strstr(e.msg, "did you mean \"cron\""));
	ferry_store_close(s);
}

static void jobs_by_status(void **state)
{
	struct ferry_store *s;
	struct ferry_err e = {0};
	long long a, b, n = -1;
	json_t *j;

	assert_int_equal(ferry_store_open(path, &s, &e), 0);
	assert_int_equal(ferry_store_job_begin(s, NULL, "src_1", "a", "dst_1", "b", "full", NULL, &a, &e), 0);
	assert_int_equal(ferry_store_job_begin(s, NULL, "src_1", "a", "dst_1", "b", "full", NULL, &b, &e), 0);
	assert_int_equal(ferry_store_job_end(s, a, "succeeded", NULL, NULL, &e), 0);
	assert_int_equal(ferry_store_jobs_with(s, 0, "running", &j, &e), 0);
	assert_int_equal(json_array_size(j), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(j, 0), "id")), b);
	json_decref(j);
	assert_int_equal(ferry_store_jobs_with(s, 0, NULL, &j, &e), 0);
	assert_int_equal(json_array_size(j), 2);
	json_decref(j);
	assert_int_equal(ferry_store_jobs_with(s, 1, NULL, &j, &e), 0);
	assert_int_equal(json_array_size(j), 1);
	json_decref(j);
	assert_int_equal(ferry_store_jobs_count(s, "queued", &n, &e), 0);
	assert_int_equal(n, 0);
	assert_int_equal(ferry_store_jobs_count(s, "running", &n, &e), 0);
	assert_int_equal(n, 1);
	ferry_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(entities, setup, NULL),
		cmocka_unit_test_teardown(interrupted_and_newer, teardown),
		cmocka_unit_test_setup_teardown(tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(jobs_by_status, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
