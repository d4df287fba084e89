/*
 * cmd_connection.c - `ferry connection add|pause|resume`: a source, a
 * destination and how to sync them (streams, namespace, mode), with the
 * schedule `ferry serve` and `ferry run-due` follow (issue 4).
 *
 * A connection is a store entity whose settings JSON holds source_id,
 * destination_id, mode, streams, namespace, prefix, schedule (the text as the
 * user gave it, checked by src/sched/cron.c), auto_sync ("on"/"off"), status
 * ("active"/"paused"), max_attempts, timeout_s and webhook_url. list, show
 * and rm are the entity commands of cmd_source.c; `ferry apply` writes the
 * same settings.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "sched/cron.h"
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
	"  --max-attempts N       attempts per job before it fails (default 3)\n"
	"  --timeout DURATION     time limit of one attempt (e.g. 30m)\n"
	"  --webhook URL          POST a signed notice when a job ends\n"
	"       ferry connection pause NAME|ID\n"
	"       ferry connection resume NAME|ID\n"
	"       ferry connection trigger NAME|ID   queue a job now (`ferry run-due` runs it)\n";

/* Splits "a,b" into a JSON array of trimmed, non-empty names. */
static json_t *stream_list(const char *s)
{
	json_t *a = json_array();
	char *copy = strdup(s), *save = NULL, *tok;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		for (char *e = tok + strlen(tok); e > tok && e[-1] == ' ';)
			*--e = '\0';
		if (*tok)
			json_array_append_new(a, json_string(tok));
	}
	free(copy);
	return a;
}

/* A duration ("30m", "2h", "90") in seconds, or -1 with a usage error printed. */
static long long duration(const char *cmd, const char *opt, const char *v)
{
	struct ferry_schedule s;
	struct ferry_err err = {0};

	if (ferry_schedule_parse(v, &s, &err) || s.kind != FERRY_SCHEDULE_INTERVAL) {
		cli_usage_error(cmd, "%s \"%s\" is not a duration (30s, 15m, 6h, 1d or seconds)", opt, v);
		return -1;
	}
	return s.every;
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
		{"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
	const char *cmd = "connection add";
	const char *name = NULL, *sname = NULL, *dname = NULL, *streams = NULL, *ns = NULL;
	const char *prefix = NULL, *mode = "incremental", *cron = NULL, *every = NULL;
	const char *autosync = NULL, *webhook = NULL;
	long long attempts = 3, timeout = -1;
	struct ferry_entity se = {0}, de = {0};
	struct ferry_schedule sched;
	struct ferry_err err = {0};
	json_t *set = NULL;
	char id[32];
	int ch, rc;

	optind = 1;
	while ((ch = cli_getopt(cmd, argc, argv, opts)) != -1) {
		switch (ch) {
		case 1:
			if (name)
				return cli_usage_error(cmd, "unexpected argument \"%s\"", optarg);
			name = optarg;
			break;
		case 's': sname = optarg; break;
		case 'd': dname = optarg; break;
		case 'S': streams = optarg; break;
		case 'n': ns = optarg; break;
		case 'p': prefix = optarg; break;
		case 'm': mode = optarg; break;
		case 'c': cron = optarg; break;
		case 'e': every = optarg; break;
		case 'a': autosync = optarg; break;
		case 'M':
			if (!ferry_parse_ll(optarg, 1, 100, &attempts))
				return cli_usage_error(cmd, "--max-attempts must be 1 to 100, not \"%s\"",
						       optarg);
			break;
		case 't':
			if ((timeout = duration(cmd, "--timeout", optarg)) < 0)
				return 2;
			break;
		case 'w': webhook = optarg; break;
		case 'h': fputs(add_help, stdout); return 0;
		default: return 2;
		}
	}
	if (!name || !*name)
		return cli_usage_error(cmd, "needs a NAME");
	if (!sname || !dname)
		return cli_usage_error(cmd, "needs --source and --dest");
	if (strcmp(mode, "incremental") && strcmp(mode, "full"))
		return cli_usage_error(cmd, "--mode is incremental or full, not \"%s\"", mode);
	if (cron && every)
		return cli_usage_error(cmd, "give --cron or --every, not both");
	if (autosync && strcmp(autosync, "on") && strcmp(autosync, "off"))
		return cli_usage_error(cmd, "--auto-sync is on or off, not \"%s\"", autosync);
	if (webhook && strncmp(webhook, "http://", 7) && strncmp(webhook, "https://", 8))
		return cli_usage_error(cmd, "--webhook must be an http:// or https:// URL");
	if ((cron || every) && ferry_schedule_parse(cron ? cron : every, &sched, &err))
		return cli_fail(&err);
	if (every && sched.kind != FERRY_SCHEDULE_INTERVAL)
		return cli_usage_error(cmd, "--every \"%s\" is not a duration (30s, 15m, 6h, 1d or "
				       "seconds): use --cron for cron expressions", every);
	if (cron && sched.kind != FERRY_SCHEDULE_CRON)
		return cli_usage_error(cmd, "--cron \"%s\" is an interval: use --every", cron);
	if (autosync && !strcmp(autosync, "on") && !cron && !every)
		return cli_usage_error(cmd, "--auto-sync on needs a schedule: --cron or --every");

	if ((rc = cli_store(c, &err)) || (rc = cli_lookup(c, FERRY_SOURCE, sname, &se, &err)) ||
	    (rc = cli_lookup(c, FERRY_DESTINATION, dname, &de, &err)))
		goto out;
	set = json_pack("{s:s, s:s, s:s, s:s, s:I}", "source_id", se.id, "destination_id", de.id,
			"mode", mode, "status", "active", "max_attempts", (json_int_t)attempts);
	if (streams)
		json_object_set_new(set, "streams", stream_list(streams));
	if (ns)
		json_object_set_new(set, "namespace", json_string(ns));
	if (prefix)
		json_object_set_new(set, "prefix", json_string(prefix));
	if (cron || every)
		json_object_set_new(set, "schedule", json_string(cron ? cron : every));
	json_object_set_new(set, "auto_sync",
			    json_string(autosync ? autosync : cron || every ? "on" : "off"));
	if (timeout > 0)
		json_object_set_new(set, "timeout_s", json_integer(timeout));
	if (webhook)
		json_object_set_new(set, "webhook_url", json_string(webhook));
	if ((rc = ferry_store_put(c->store, FERRY_CONNECTION, name, "sync", set, NULL, NULL, false,
				  id, NULL, &err)))
		goto out;
	printf("connection \"%s\" added (id %s)", name, id);
	if (cron || every) {
		char text[FERRY_SCHEDULE_TEXT_MAX];
		ferry_schedule_describe(&sched, text, sizeof(text));
		printf(", schedule %s%s%s", text, sched.kind == FERRY_SCHEDULE_CRON ? " (UTC)" : "",
		       autosync && !strcmp(autosync, "off") ? ", auto-sync off" : "");
	}
	printf("\n");
out:
	json_decref(set);
	ferry_entity_release(&se);
	ferry_entity_release(&de);
	return rc ? cli_fail(&err) : 0;
}

/* pause / resume: the status the scheduler reads. */
static int connection_status(struct cli *c, const char *cmd, int argc, char **argv,
			     const char *status)
{
	struct ferry_entity e = {0};
	struct ferry_err err = {0};
	json_t *set;
	char id[32];
	int rc;

	if (argc != 2 || !*argv[1])
		return cli_usage_error(cmd, "needs one NAME or ID");
	if ((rc = cli_store(c, &err)) || (rc = cli_lookup(c, FERRY_CONNECTION, argv[1], &e, &err)))
		return cli_fail(&err);
	set = json_deep_copy(e.settings);
	json_object_set_new(set, "status", json_string(status));
	rc = ferry_store_put(c->store, FERRY_CONNECTION, e.name, e.type, set, NULL, NULL, true, id,
			     NULL, &err);
	json_decref(set);
	if (!rc)
		printf("connection \"%s\" %s\n", e.name, !strcmp(status, "paused") ? "paused" : "resumed");
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
	*handled = false;
	return 0;
}
