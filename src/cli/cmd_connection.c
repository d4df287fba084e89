/*
 * cmd_connection.c - `ferry connection add|pause|resume|rotate-secret`: a
 * source, a destination and how to sync them (streams, namespace, mode), with
 * the schedule `ferry serve` and `ferry run-due` follow (issue 4).
 *
 * The options map onto the fields of core/entity_spec.h, which checks them and
 * builds the settings exactly as `ferry apply` and POST /api/v1/connections
 * do; this file adds only what is about the command line itself (--cron and
 * --every are one field, "schedule", given two ways) and names the options in
 * messages. list, show and rm are the entity commands of cmd_source.c;
 * trigger is cmd_rundue.c's.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "cli/cli.h"
#include "core/entity_spec.h"
#include "sched/cron.h"
#include "server/webhook_sig.h"
#include "util/text.h"

static const char add_help[] =
	"usage: ferry connection add NAME --source S --dest D [options]\n\n"
	"  --streams a,b          streams to sync (default: every stream)\n"
	"  --namespace NS         destination schema / NS__ table prefix\n"
	"  --prefix P             destination table prefix\n"
	"  --mode incremental|full  default incremental\n"
	"  --cron EXPR            schedule: 5 fields or @hourly, @daily, ... (UTC)\n"
	"  --every DURATION       schedule: 30s, 15m, 6h, 1d or seconds\n"
	"  --auto-sync on|off     run on the schedule (default on when there is one)\n"
	"  --max-attempts N       attempts per job before it fails (1-100, default 3)\n"
	"  --timeout DURATION     time limit of one attempt (e.g. 30m)\n"
	"  --webhook URL          POST a signed notice when a job ends\n"
	"  --signed-triggers on|off  accept POST /api/v1/connections/ID/trigger signed with\n"
	"                         the connection's secret instead of a token (default off)\n\n"
	"A webhook or signed triggers give the connection a signing secret (whsec_...),\n"
	"stored encrypted with FERRY_ENCRYPTION_KEY and printed once, here; replace it\n"
	"with `ferry connection rotate-secret NAME`.\n\n"
	"       ferry connection pause NAME|ID\n"
	"       ferry connection resume NAME|ID   (also after an error stopped it)\n"
	"       ferry connection trigger NAME|ID   queue a job now (`ferry run-due` runs it)\n"
	"       ferry connection rotate-secret NAME|ID\n";

/* The options' names, for messages about the fields they give. */
static const char *option_label(const char *field)
{
	static const char *const map[][2] = {
		{"source", "--source"},          {"destination", "--dest"},
		{"streams", "--streams"},        {"namespace", "--namespace"},
		{"prefix", "--prefix"},          {"mode", "--mode"},
		{"auto_sync", "--auto-sync"},    {"max_attempts", "--max-attempts"},
		{"timeout", "--timeout"},        {"webhook_url", "--webhook"},
		{"signed_triggers", "--signed-triggers"}};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(field, map[i][0]))
			return map[i][1];
	return NULL;
}

static void print_secret(const char *secret)
{
	printf("signing secret (shown once): %s\n", secret);
}

static int connection_add(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"source", required_argument, 0, 's'},    {"dest", required_argument, 0, 'd'},
		{"streams", required_argument, 0, 'S'},   {"namespace", required_argument, 0, 'n'},
		{"prefix", required_argument, 0, 'p'},    {"mode", required_argument, 0, 'm'},
		{"cron", required_argument, 0, 'c'},      {"every", required_argument, 0, 'e'},
		{"auto-sync", required_argument, 0, 'a'}, {"max-attempts", required_argument, 0, 'M'},
		{"timeout", required_argument, 0, 't'},   {"webhook", required_argument, 0, 'w'},
		{"signed-triggers", required_argument, 0, 'g'},
		{"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
	static const char *const fields_of_opt = "sdSnpmatwgM";
	static const char *const field_names[] = {"source", "destination", "streams", "namespace",
						  "prefix", "mode", "auto_sync", "timeout",
						  "webhook_url", "signed_triggers", "max_attempts"};
	const char *cmd = "connection add";
	const char *name = NULL, *cron = NULL, *every = NULL;
	struct ferry_spec_opts so = {.label = option_label};
	struct ferry_schedule sched;
	struct ferry_err err = {0};
	json_t *fields = json_object(), *set = NULL;
	char id[32], secret[FERRY_WHSEC_SIZE] = "";
	const char *p;
	int ch, rc = 0;

	optind = 1;
	while ((ch = cli_getopt(cmd, argc, argv, opts)) != -1) {
		switch (ch) {
		case 1:
			if (name) {
				rc = cli_usage_error(cmd, "unexpected argument \"%s\"", optarg);
				goto done;
			}
			name = optarg;
			break;
		case 'c': cron = optarg; break;
		case 'e': every = optarg; break;
		case 'h': fputs(add_help, stdout); goto done;
		default:
			if (ch > 0 && (p = strchr(fields_of_opt, ch))) {
				json_object_set_new(fields, field_names[p - fields_of_opt],
						    json_string(optarg));
				break;
			}
			rc = 2;
			goto done;
		}
	}
	if (!name || !*name) {
		rc = cli_usage_error(cmd, "needs a NAME");
		goto done;
	}
	if (!json_object_get(fields, "source") || !json_object_get(fields, "destination")) {
		rc = cli_usage_error(cmd, "needs --source and --dest");
		goto done;
	}
	if (cron && every) {
		rc = cli_usage_error(cmd, "give --cron or --every, not both");
		goto done;
	}
	if (cron || every) {
		/* Which option a schedule came in is the command line's own business. */
		if (ferry_schedule_parse(cron ? cron : every, &sched, &err))
			goto fail;
		if (every && sched.kind != FERRY_SCHEDULE_INTERVAL) {
			rc = cli_usage_error(cmd, "--every \"%s\" is not a duration (30s, 15m, 6h, 1d "
					     "or seconds): use --cron for cron expressions", every);
			goto done;
		}
		if (cron && sched.kind != FERRY_SCHEDULE_CRON) {
			rc = cli_usage_error(cmd, "--cron \"%s\" is an interval: use --every", cron);
			goto done;
		}
		json_object_set_new(fields, "schedule", json_string(cron ? cron : every));
	}
	if (cli_store(c, &err))
		goto fail;
	so.store = c->store;
	so.key = cli_key(c);
	if (ferry_spec_connection(name, fields, &so, &set, secret, &err) ||
	    ferry_store_put(c->store, FERRY_CONNECTION, name, "sync", set,
			    ferry_spec_connection_is_secret, so.key, false, id, NULL, &err))
		goto fail;
	printf("connection \"%s\" added (id %s)", name, id);
	/* The stored schedule: the one given, or the connector's interval for --auto-sync on. */
	if (json_string_value(json_object_get(set, "schedule")) &&
	    !ferry_schedule_parse(json_string_value(json_object_get(set, "schedule")), &sched, &err)) {
		char text[FERRY_SCHEDULE_TEXT_MAX];
		ferry_schedule_describe(&sched, text, sizeof(text));
		printf(", schedule %s%s%s%s", text, sched.kind == FERRY_SCHEDULE_CRON ? " (UTC)" : "",
		       cron || every ? "" : " (the connector's default interval)",
		       !strcmp(json_string_value(json_object_get(set, "auto_sync")), "off") ?
		       ", auto-sync off" : "");
	}
	printf("\n");
	if (secret[0])
		print_secret(secret);
	goto done;
fail:
	if (err.code == FERRY_EKEY && !cli_key(c) && c->key_err.msg[0] &&
	    !strstr(c->key_err.msg, "not set"))
		/* A key was given but is malformed: say that, not "not set". */
		err = c->key_err;
	rc = cli_fail(&err);
done:
	sodium_memzero(secret, sizeof(secret));
	json_decref(fields);
	json_decref(set);
	return rc;
}

/* pause / resume: the status the scheduler reads. */
static int connection_status(struct cli *c, const char *cmd, int argc, char **argv,
			     const char *status)
{
	struct ferry_entity e = {0};
	struct ferry_err err = {0};
	int rc;

	if (argc != 2 || !*argv[1])
		return cli_usage_error(cmd, "needs one NAME or ID");
	if ((rc = cli_store(c, &err)) ||
	    (rc = ferry_connection_set_status(c->store, argv[1], status, &e, &err))) {
		if (err.code == FERRY_ENOTFOUND)
			err.code = FERRY_EUSAGE;
		return cli_fail(&err);
	}
	printf("connection \"%s\" %s\n", e.name, !strcmp(status, "paused") ? "paused" : "resumed");
	ferry_entity_release(&e);
	return 0;
}

static int connection_rotate(struct cli *c, int argc, char **argv)
{
	struct ferry_entity e = {0};
	struct ferry_err err = {0};
	char secret[FERRY_WHSEC_SIZE], id[32];
	int rc;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(add_help, stdout);
		return 0;
	}
	if (argc != 2 || !*argv[1])
		return cli_usage_error("connection rotate-secret", "needs one NAME or ID");
	if ((rc = cli_lookup(c, FERRY_CONNECTION, argv[1], &e, &err)))
		return cli_fail(&err);
	if (!cli_key(c)) {
		err = c->key_err;
		ferry_err_prefix(&err, "connection \"%s\": its signing secret is stored encrypted: ",
				 e.name);
		ferry_entity_release(&e);
		return cli_fail(&err);
	}
	rc = ferry_connection_rotate_secret(c->store, e.id, cli_key(c), secret, id, &err);
	if (!rc) {
		printf("connection \"%s\": new signing secret; the old one no longer verifies\n",
		       e.name);
		print_secret(secret);
	}
	sodium_memzero(secret, sizeof(secret));
	ferry_entity_release(&e);
	return rc ? cli_fail(&err) : 0;
}

int cli_connection_cmd(struct cli *c, int argc, char **argv, bool *handled)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	*handled = true;
	if (sub && !strcmp(sub, "add"))
		return connection_add(c, argc - 1, argv + 1);
	if (sub && !strcmp(sub, "pause"))
		return connection_status(c, "connection pause", argc - 1, argv + 1, "paused");
	if (sub && !strcmp(sub, "resume"))
		return connection_status(c, "connection resume", argc - 1, argv + 1, "active");
	if (sub && !strcmp(sub, "trigger"))
		return cli_connection_trigger(c, argc - 1, argv + 1);
	if (sub && !strcmp(sub, "rotate-secret"))
		return connection_rotate(c, argc - 1, argv + 1);
	*handled = false;
	return 0;
}
