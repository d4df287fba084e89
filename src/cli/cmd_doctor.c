/*
 * cmd_doctor.c - `ferry doctor` and `ferry keygen`.
 *
 * doctor answers "is my setup healthy?" in one go: the state store opens and
 * is current, the encryption key is there and opens every stored secret, and
 * every source and destination can be reached. Exit 1 if anything fails.
 */
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"
#include "ferry/engine.h"

static const char doctor_help[] =
	"usage: ferry doctor\n\n"
	"Checks the state store, FERRY_ENCRYPTION_KEY, and that every source and destination\n"
	"can be reached; lists sources and destinations with their ids. Exit 1 on any failure.\n";

static void line(bool ok, const char *what, const char *detail)
{
	printf("  [%s] %-34s %s\n", ok ? " ok " : "FAIL", what, detail);
}

int cmd_doctor(struct cli *c, int argc, char **argv)
{
	struct ferry_err err = {0};
	struct ferry_entity *v;
	int n, i, bad = 0;
	char what[128], detail[600];

	if (argc > 1) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			fputs(doctor_help, stdout);
			return 0;
		}
		return cli_usage_error("doctor", "unexpected argument \"%s\"", argv[1]);
	}
	printf("ferry %s\n", FERRY_VERSION);
	if (cli_store(c, &err)) {
		line(false, "state store", err.msg);
		return 1;
	}
	snprintf(detail, sizeof(detail), "%s (schema version %d)", ferry_store_path(c->store),
		 ferry_store_schema_version());
	line(true, "state store", detail);
	if (c->have_key) {
		snprintf(detail, sizeof(detail), "set (key id %s)", c->key.id);
		line(true, "FERRY_ENCRYPTION_KEY", detail);
	} else {
		line(false, "FERRY_ENCRYPTION_KEY", c->key_err.msg);
		bad++;
	}

	if (ferry_store_list(c->store, FERRY_SOURCE, &v, &n, &err) == 0) {
		printf("sources:\n");
		if (!n)
			printf("  (none: add one with `ferry source add`)\n");
		for (i = 0; i < n; i++) {
			struct cli_source s;
			struct ferry_stream_list l = {0};
			int rc = cli_source_load(c, v[i].id, &s, &err);
			if (!rc)
				rc = cli_source_connect(&s, NULL, &err);
			if (!rc)
				rc = s.src.ops->discover(&s.src, &l, &err);
			snprintf(what, sizeof(what), "%s (%s, %s)", v[i].name, v[i].id, v[i].type);
			if (!rc)
				snprintf(detail, sizeof(detail), "reachable, %d stream%s", l.n, l.n == 1 ? "" : "s");
			line(rc == 0, what, rc ? err.msg : detail);
			bad += rc != 0;
			ferry_stream_list_release(&l);
			cli_source_release(&s);
		}
		ferry_entities_free(v, n);
	}
	if (ferry_store_list(c->store, FERRY_DESTINATION, &v, &n, &err) == 0) {
		printf("destinations:\n");
		if (!n)
			printf("  (none: add one with `ferry dest add`)\n");
		for (i = 0; i < n; i++) {
			struct cli_dest d;
			int rc = cli_dest_load(c, v[i].id, &d, &err);
			if (!rc)
				rc = cli_dest_connect(&d, NULL, &err);
			snprintf(what, sizeof(what), "%s (%s, %s)", v[i].name, v[i].id, v[i].type);
			line(rc == 0, what, rc ? err.msg : "reachable");
			bad += rc != 0;
			cli_dest_release(&d);
		}
		ferry_entities_free(v, n);
	}
	printf(bad ? "%d problem%s found\n" : "all good\n", bad, bad == 1 ? "" : "s");
	return bad ? 1 : 0;
}

int cmd_keygen(struct cli *c, int argc, char **argv)
{
	char hex[65];

	if (argc > 1) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			printf("usage: ferry keygen\n\nPrints a new random FERRY_ENCRYPTION_KEY "
			       "(64 hex characters). Keep it safe: stored secrets cannot be read "
			       "without it.\n");
			return 0;
		}
		return cli_usage_error("keygen", "unexpected argument \"%s\"", argv[1]);
	}
	ferry_key_generate(hex);
	printf("%s\n", hex);
	return 0;
}
