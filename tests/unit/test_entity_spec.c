/*
 * test_entity_spec.c - the shared rules for sources, destinations and
 * connections (core/entity_spec.c): defaults, the lenient value forms each
 * front end hands over (YAML strings, JSON numbers and booleans), messages
 * that name the field as the caller calls it, what an update keeps (status,
 * signing secret), the fields view giving back the same settings, and the
 * signing secret's life: made once with a key, sealed, opened, rotated.
 */
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
#include "core/entity_spec.h"
#include "server/webhook_sig.h"

#define KEY_HEX "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0"

static struct ferry_key key;

static int setup(void **state)
{
	struct ferry_err e = {0};

	store_fixture_path("entity-spec");
	assert_int_equal(ferry_crypto_init(&e), 0);
	setenv(FERRY_KEY_ENV, KEY_HEX, 1);
	assert_int_equal(ferry_key_load(&key, &e), 0);
	return 0;
}

static int teardown(void **state)
{
	store_fixture_remove();
	return 0;
}

/* Builds a connection from JSON text with no store (names kept as ids) and no key. */
static int conn(const char *fields, json_t **set, struct ferry_err *e)
{
	json_t *f = json_loads(fields, 0, NULL);
	int rc;

	assert_non_null(f);
	rc = ferry_spec_connection("c", f, NULL, set, NULL, e);
	json_decref(f);
	return rc;
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static void connection_defaults(void **state)
{
	struct ferry_err e = {0};
	json_t *set;

	assert_int_equal(conn("{\"source\": \"s\", \"destination\": \"d\"}", &set, &e), 0);
	assert_string_equal(str(set, "source_id"), "s");
	assert_string_equal(str(set, "destination_id"), "d");
	assert_string_equal(str(set, "mode"), "incremental");
	assert_string_equal(str(set, "status"), "active");
	assert_string_equal(str(set, "auto_sync"), "off");
	assert_string_equal(str(set, "signed_triggers"), "off");
	assert_int_equal(json_integer_value(json_object_get(set, "max_attempts")), 3);
	assert_null(json_object_get(set, "schedule"));
	assert_null(json_object_get(set, "signing_secret"));
	json_decref(set);

	/* A schedule turns auto-sync on unless told otherwise. */
	assert_int_equal(conn("{\"source\": \"s\", \"destination\": \"d\", \"schedule\": \"@daily\"}",
			      &set, &e), 0);
	assert_string_equal(str(set, "auto_sync"), "on");
	assert_string_equal(str(set, "schedule"), "@daily");
	json_decref(set);
}

/* YAML and the CLI give strings, JSON bodies give numbers and booleans: the same settings. */
static void lenient_forms(void **state)
{
	struct ferry_err e = {0};
	json_t *a, *b;

	assert_int_equal(conn("{\"source\": \"s\", \"destination\": \"d\", \"max_attempts\": \"5\", "
			      "\"timeout\": \"30m\", \"auto_sync\": \"off\", \"schedule\": \"15m\", "
			      "\"streams\": \"a, b,,c \", \"backup_retention\": \"60\"}", &a, &e), 0);
	assert_int_equal(conn("{\"source\": \"s\", \"destination\": \"d\", \"max_attempts\": 5, "
			      "\"timeout\": 1800, \"auto_sync\": false, \"schedule\": \"15m\", "
			      "\"streams\": [\"a\", \"b\", \"c\"], \"backup_retention\": 60}", &b, &e), 0);
	assert_true(json_equal(a, b));
	assert_int_equal(json_integer_value(json_object_get(a, "timeout_s")), 1800);
	assert_int_equal(json_array_size(json_object_get(a, "streams")), 3);
	json_decref(a);
	json_decref(b);
}

static const char *cli_label(const char *field)
{
	return !strcmp(field, "max_attempts") ? "--max-attempts" :
	       !strcmp(field, "webhook_url") ? "--webhook" : NULL;
}

/* Each refusal names the field (as the caller calls it) and the value. */
static void refusals(void **state)
{
	static const struct {
		const char *fields, *needle;
	} cases[] = {
		{"{\"destination\": \"d\"}", "needs source"},
		{"{\"source\": \"s\"}", "needs destination"},
		{"{\"source\": \"s\", \"destination\": \"d\", \"mode\": \"fast\"}",
		 "mode is incremental or full, not \"fast\""},
		{"{\"source\": \"s\", \"destination\": \"d\", \"schedule\": \"61 * * * *\"}",
		 "schedule: cron expression \"61 * * * *\": minute field \"61\""},
		{"{\"source\": \"s\", \"destination\": \"d\", \"auto_sync\": 1}", "auto_sync is on or off"},
		{"{\"source\": \"s\", \"destination\": \"d\", \"max_attempts\": 101}",
		 "max_attempts must be 1 to 100, not 101"},
		{"{\"source\": \"s\", \"destination\": \"d\", \"max_attempts\": \"3x\"}",
		 "max_attempts must be 1 to 100, not \"3x\""},
		{"{\"source\": \"s\", \"destination\": \"d\", \"timeout\": \"0 * * * *\"}",
		 "timeout \"0 * * * *\" is not a duration"},
		{"{\"source\": \"s\", \"destination\": \"d\", \"timeout\": -5}", "timeout is not a duration"},
		{"{\"source\": \"s\", \"destination\": \"d\", \"webhook_url\": \"https://\"}",
		 "webhook_url must be an http:// or https:// URL"},
		{"{\"source\": \"s\", \"destination\": \"d\", \"webhook_url\": \"http://a b\"}",
		 "without blanks"},
		{"{\"source\": \"s\", \"destination\": \"d\", \"status\": \"error\"}",
		 "status is active or paused, not \"error\""},
		{"{\"source\": \"s\", \"destination\": \"d\", \"streams\": [\"a\", 3]}",
		 "streams must be a list of stream names (item 2"},
		{"{\"source\": \"s\", \"destination\": \"d\", \"namespace\": \"\"}",
		 "namespace must be a non-empty string"},
		{"{\"source\": \"s\", \"destination\": \"d\", \"schedul\": \"@daily\"}",
		 "unknown field \"schedul\" for a connection: did you mean \"schedule\"?"},
	};
	struct ferry_err e;
	json_t *set;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&e, 0, sizeof(e));
		set = (json_t *)1;
		assert_int_equal(conn(cases[i].fields, &set, &e), FERRY_EUSAGE);
		assert_null(set);
		if (!strstr(e.msg, cases[i].needle))
			fail_msg("case %zu: \"%s\" does not contain \"%s\"", i, e.msg, cases[i].needle);
	}

	/* The CLI names its options. */
	struct ferry_spec_opts o = {.label = cli_label};
	json_t *f = json_pack("{s:s, s:s, s:s}", "source", "s", "destination", "d", "max_attempts", "0");
	memset(&e, 0, sizeof(e));
	assert_int_equal(ferry_spec_connection("c", f, &o, &set, NULL, &e), FERRY_EUSAGE);
	assert_non_null(strstr(e.msg, "--max-attempts must be 1 to 100"));
	json_decref(f);

	/* A name with a newline, an empty name, an over-long name. */
	char longname[FERRY_SPEC_NAME_MAX + 2];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(ferry_spec_name(FERRY_CONNECTION, "a\nb", &e), FERRY_EUSAGE);
	assert_int_equal(ferry_spec_name(FERRY_SOURCE, "", &e), FERRY_EUSAGE);
	assert_int_equal(ferry_spec_name(FERRY_DESTINATION, longname, &e), FERRY_EUSAGE);
	assert_int_equal(ferry_spec_name(FERRY_SOURCE, "Italy Stripe Payments", &e), 0);
}

/* An update keeps what is not the caller's to give: the status (even "error") and the secret. */
static void update_keeps(void **state)
{
	struct ferry_spec_opts o = {0};
	struct ferry_err e = {0};
	json_t *old = json_pack("{s:s, s:s, s:s, s:{s:s}}", "source_id", "s", "destination_id", "d",
				"status", "error", "signing_secret", "$secret", "fv1:x:y");
	json_t *f = json_pack("{s:s, s:s, s:s}", "source", "s", "destination", "d", "webhook_url",
			      "https://h.example/x");
	json_t *set;
	char secret[FERRY_WHSEC_SIZE] = "junk";

	o.old = old;
	assert_int_equal(ferry_spec_connection("c", f, &o, &set, secret, &e), 0);
	assert_string_equal(str(set, "status"), "error");
	assert_string_equal(str(json_object_get(set, "signing_secret"), "$secret"), "fv1:x:y");
	assert_string_equal(secret, "");   /* none made, nothing to show */
	json_decref(set);

	/* Without an old secret, a webhook needs the key to make one. */
	o.old = NULL;
	assert_int_equal(ferry_spec_connection("c", f, &o, &set, secret, &e), FERRY_EKEY);
	assert_non_null(strstr(e.msg, FERRY_KEY_ENV));
	o.key = &key;
	assert_int_equal(ferry_spec_connection("c", f, &o, &set, secret, &e), 0);
	assert_memory_equal(secret, FERRY_WHSEC_PREFIX, strlen(FERRY_WHSEC_PREFIX));
	assert_string_equal(str(set, "signing_secret"), secret);
	json_decref(set);
	json_decref(f);
	json_decref(old);
}

/* settings -> fields -> settings is the identity; dropping the schedule stops auto-sync. */
static void fields_round_trip(void **state)
{
	static const char *const inputs[] = {
		"{\"source\": \"s\", \"destination\": \"d\"}",
		"{\"source\": \"s\", \"destination\": \"d\", \"schedule\": \"@hourly\"}",
		"{\"source\": \"s\", \"destination\": \"d\", \"schedule\": \"@hourly\", \"auto_sync\": \"off\","
		" \"status\": \"paused\", \"streams\": [\"x\"], \"namespace\": \"n\", \"prefix\": \"p_\","
		" \"mode\": \"full\", \"max_attempts\": 9, \"timeout\": \"2h\", \"deletes\": \"soft\","
		" \"backup_retention\": 0}",
	};
	struct ferry_err e = {0};
	json_t *a, *b, *f;
	size_t i;

	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		assert_int_equal(conn(inputs[i], &a, &e), 0);
		f = ferry_spec_connection_fields_of(a);
		assert_int_equal(ferry_spec_connection("c", f, NULL, &b, NULL, &e), 0);
		if (!json_equal(a, b))
			fail_msg("input %zu: settings changed by the round trip", i);
		json_decref(b);
		json_object_del(f, "schedule");
		assert_int_equal(ferry_spec_connection("c", f, NULL, &b, NULL, &e), 0);
		assert_string_equal(str(b, "auto_sync"), "off");
		json_decref(b);
		json_decref(f);
		json_decref(a);
	}
}

static void sources_and_destinations(void **state)
{
	struct ferry_err e = {0};
	const char *type;
	json_t *set;

	set = json_pack("{s:s, s:i}", "path", "/tmp/x.db", "batch_size_unused", 5);
	assert_int_equal(ferry_spec_source("s", "sqlite", set, &e), FERRY_EUSAGE);
	assert_non_null(strstr(e.msg, "unknown setting \"batch_size_unused\""));
	json_decref(set);

	set = json_pack("{s:s}", "pth", "/tmp/x.db");
	assert_int_equal(ferry_spec_source("s", "sqlite", set, &e), FERRY_EUSAGE);
	assert_non_null(strstr(e.msg, "did you mean \"path\""));
	json_decref(set);

	set = json_pack("{s:s}", "path", "/tmp/x.db");
	assert_int_equal(ferry_spec_source("s", "sqlit", set, &e), FERRY_EUSAGE);
	assert_non_null(strstr(e.msg, "unknown source type \"sqlit\": did you mean \"sqlite\"?"));
	assert_int_equal(ferry_spec_source("s", "sqlite", set, &e), 0);
	json_decref(set);

	/* Numbers become text; a sealed value counts as set; a list is refused naming the key. */
	set = json_pack("{s:{s:s}, s:i}", "api_key", "$secret", "fv1:x:y", "sync_batch_size", 50);
	assert_int_equal(ferry_spec_source("s", "stripe", set, &e), 0);
	assert_string_equal(str(set, "sync_batch_size"), "50");
	json_object_set_new(set, "base_url", json_pack("[s]", "http://x"));
	assert_int_equal(ferry_spec_source("s", "stripe", set, &e), FERRY_EUSAGE);
	assert_non_null(strstr(e.msg, "\"base_url\" must be a string, not a list"));
	json_decref(set);
	assert_true(ferry_spec_source_is_secret("stripe", NULL, "api_key"));
	assert_false(ferry_spec_source_is_secret("stripe", NULL, "base_url"));

	assert_int_equal(ferry_spec_dest("d", "sqlite:///tmp/w.db", &type, &e), 0);
	assert_string_equal(type, "sqlite");
	assert_int_equal(ferry_spec_dest("d", "postgres://u:pw@h:5432/db", &type, &e), 0);
	assert_string_equal(type, "postgres");
	assert_int_equal(ferry_spec_dest("d", "postgres://u:Hunter2@h:99999/db", &type, &e),
			 FERRY_EUSAGE);
	assert_null(strstr(e.msg, "Hunter2"));
	assert_int_equal(ferry_spec_dest("d", "mysql://u:Hunter2@h/db", &type, &e), FERRY_EUSAGE);
	assert_null(strstr(e.msg, "Hunter2"));
	assert_int_equal(ferry_spec_dest("d", "sqlite://", &type, &e), FERRY_EUSAGE);
	assert_true(ferry_spec_dest_is_secret("postgres", NULL, "url"));
	assert_true(ferry_spec_connection_is_secret("sync", NULL, "signing_secret"));
	assert_false(ferry_spec_connection_is_secret("sync", NULL, "webhook_url"));
}

/* Made once, sealed in the store, opened for signing, rotated; names resolved to ids. */
static void signing_secret(void **state)
{
	struct ferry_store *s;
	struct ferry_err e = {0};
	struct ferry_spec_opts o = {.key = &key};
	struct ferry_entity ent = {0};
	char sid[32], did[32], cid[32], plain_id[32], made[FERRY_WHSEC_SIZE];
	char got[FERRY_WHSEC_SIZE + 8], rotated[FERRY_WHSEC_SIZE];
	json_t *set, *f, *j;
	long long job, job2;
	bool existing;

	assert_int_equal(ferry_store_open(path, &s, &e), 0);
	o.store = s;
	set = json_pack("{s:s}", "path", "/tmp/x.db");
	assert_int_equal(ferry_store_put(s, FERRY_SOURCE, "shop", "sqlite", set, NULL, NULL, false,
					 sid, NULL, &e), 0);
	json_decref(set);
	set = json_pack("{s:s}", "url", "sqlite:///tmp/w.db");
	assert_int_equal(ferry_store_put(s, FERRY_DESTINATION, "wh", "sqlite", set,
					 ferry_spec_dest_is_secret, &key, false, did, NULL, &e), 0);
	json_decref(set);

	f = json_pack("{s:s, s:s, s:b}", "source", "shop", "destination", did, "signed_triggers", 1);
	assert_int_equal(ferry_spec_connection("hooked", f, &o, &set, made, &e), 0);
	assert_string_equal(str(set, "source_id"), sid);
	assert_string_equal(str(set, "destination_id"), did);
	assert_int_equal(ferry_store_put(s, FERRY_CONNECTION, "hooked", "sync", set,
					 ferry_spec_connection_is_secret, &key, false, cid, NULL, &e), 0);
	json_decref(set);
	json_decref(f);

	assert_int_equal(ferry_store_get(s, FERRY_CONNECTION, cid, &ent, &e), 0);
	assert_true(json_is_object(json_object_get(ent.settings, "signing_secret")));
	j = ferry_spec_entity_json(s, FERRY_CONNECTION, &ent);
	assert_string_equal(str(json_object_get(j, "settings"), "signing_secret"), "********");
	assert_string_equal(str(json_object_get(j, "source"), "name"), "shop");
	assert_true(json_is_null(json_object_get(json_object_get(j, "state"), "last_sync_at")));
	json_decref(j);

	assert_int_equal(ferry_connection_signing_secret(s, cid, &key, got, sizeof(got), &e), 0);
	assert_string_equal(got, made);
	assert_int_equal(ferry_connection_signing_secret(s, cid, NULL, got, sizeof(got), &e),
			 FERRY_EKEY);
	assert_int_equal(ferry_connection_rotate_secret(s, "hooked", &key, rotated, cid, &e), 0);
	assert_string_not_equal(rotated, made);
	assert_int_equal(ferry_connection_signing_secret(s, cid, &key, got, sizeof(got), &e), 0);
	assert_string_equal(got, rotated);
	assert_int_equal(ferry_connection_rotate_secret(s, "hooked", NULL, rotated, cid, &e),
			 FERRY_EKEY);

	/* A connection without webhook or signed triggers has none. */
	f = json_pack("{s:s, s:s}", "source", sid, "destination", "wh");
	assert_int_equal(ferry_spec_connection("plain", f, &o, &set, made, &e), 0);
	assert_string_equal(made, "");
	assert_int_equal(ferry_store_put(s, FERRY_CONNECTION, "plain", "sync", set,
					 ferry_spec_connection_is_secret, &key, false, plain_id, NULL,
					 &e), 0);
	assert_int_equal(ferry_connection_signing_secret(s, plain_id, &key, got, sizeof(got), &e),
			 FERRY_ENOTFOUND);
	assert_int_equal(ferry_connection_signing_secret(s, "con_nope", &key, got, sizeof(got), &e),
			 FERRY_ENOTFOUND);
	json_decref(set);
	json_decref(f);

	/* Unknown names are the request's fault: a usage error. */
	f = json_pack("{s:s, s:s}", "source", "nope", "destination", "wh");
	assert_int_equal(ferry_spec_connection("x", f, &o, &set, made, &e), FERRY_EUSAGE);
	assert_non_null(strstr(e.msg, "unknown source \"nope\""));
	json_decref(f);

	/* Trigger: an idempotency key gives the same job; another job while queued conflicts. */
	assert_int_equal(ferry_connection_trigger(s, &ent, "k", 1000, &job, &existing, &e), 0);
	assert_false(existing);
	assert_int_equal(ferry_connection_trigger(s, &ent, "k", 1001, &job2, &existing, &e), 0);
	assert_true(existing);
	assert_int_equal(job, job2);
	assert_int_equal(ferry_connection_trigger(s, &ent, NULL, 1002, &job2, &existing, &e),
			 FERRY_ECONFLICT);
	/* ... and the connection cannot be removed while it waits. */
	assert_int_equal(ferry_store_rm(s, FERRY_CONNECTION, "hooked", &e), FERRY_ECONFLICT);
	assert_int_equal(ferry_store_rm(s, FERRY_SOURCE, "shop", &e), FERRY_ECONFLICT);

	/* pause / resume; resume clears "error". */
	ferry_entity_release(&ent);
	assert_int_equal(ferry_connection_set_status(s, "plain", "paused", &ent, &e), 0);
	assert_string_equal(str(ent.settings, "status"), "paused");
	ferry_entity_release(&ent);
	assert_int_equal(ferry_connection_set_status(s, "plain", "active", &ent, &e), 0);
	assert_string_equal(str(ent.settings, "status"), "active");
	ferry_entity_release(&ent);
	ferry_store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(connection_defaults),
		cmocka_unit_test(lenient_forms),
		cmocka_unit_test(refusals),
		cmocka_unit_test(update_keeps),
		cmocka_unit_test(fields_round_trip),
		cmocka_unit_test(sources_and_destinations),
		cmocka_unit_test_setup_teardown(signing_secret, setup, teardown),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
