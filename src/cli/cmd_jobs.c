/*
 * cmd_jobs.c - `ferry jobs` and `ferry job show ID`: the job history, and a
 * job's completion webhooks with every attempt to send them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "store/deliveries.h"
#include "util/text.h"

static const char jobs_help[] =
	"usage: ferry jobs [--limit N] [--json]\n"
	"       ferry job show ID [--json]\n\n"
	"Lists sync jobs, newest first: status, mode, source -> destination, rows, error.\n";

static long long total(json_t *job, const char *field)
{
	long long t = 0;
	size_t i;
	json_t *s;

	json_array_foreach(json_object_get(job, "streams"), i, s)
		t += json_integer_value(json_object_get(s, field));
	return t;
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

int cmd_jobs(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"limit", required_argument, 0, 'l'},
					     {"json", no_argument, 0, 'j'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	struct ferry_err err = {0};
	long long limit = 20;
	bool json = false;
	json_t *jobs, *j;
	size_t i;
	int ch;

	optind = 1;
	while ((ch = cli_getopt("jobs", argc, argv, opts)) != -1) {
		switch (ch) {
		case 'l':
			if (!cli_int_opt("jobs", "--limit", optarg, 1, 1000000, &limit))
				return 2;
			break;
		case 'j': json = true; break;
		case 'h': fputs(jobs_help, stdout); return 0;
		case 1: return cli_usage_error("jobs", "unexpected argument \"%s\"", optarg);
		default: return 2;
		}
	}
	if (cli_store(c, &err) || ferry_store_jobs(c->store, (int)limit, &jobs, &err))
		return cli_fail(&err);
	if (json) {
		cli_print_json(jobs);
		return 0;
	}
	if (!json_array_size(jobs))
		printf("no jobs yet (run `ferry sync SOURCE DEST`)\n");
	else
		printf("%-6s %-10s %-12s %-36s %-20s %9s %s\n", "ID", "STATUS", "MODE",
		       "SOURCE -> DEST", "STARTED", "ROWS", "ERROR");
	json_array_foreach(jobs, i, j) {
		char route[64];
		snprintf(route, sizeof(route), "%s -> %s", str(j, "source"), str(j, "destination"));
		printf("%-6lld %-10s %-12s %-36s %-20.19s %9lld %.60s\n",
		       (long long)json_integer_value(json_object_get(j, "id")), str(j, "status"),
		       str(j, "mode"), route, str(j, "started_at"), total(j, "read"), str(j, "error"));
	}
	json_decref(jobs);
	return 0;
}

/* The delivery log: one line per webhook, then one per attempt. */
static void print_deliveries(json_t *v)
{
	json_t *d, *a;
	size_t i, k;

	if (!json_array_size(v))
		return;
	printf("  webhooks:\n");
	json_array_foreach(v, i, d) {
		printf("    %s %s to %s: %s, %lld of %lld attempts", str(d, "message_id"),
		       str(d, "type"), str(d, "url"), str(d, "status"),
		       (long long)json_integer_value(json_object_get(d, "attempt")),
		       (long long)json_integer_value(json_object_get(d, "max_attempts")));
		if (*str(d, "next_attempt_at"))
			printf(", next at %s", str(d, "next_attempt_at"));
		printf("\n");
		json_array_foreach(json_object_get(d, "attempts"), k, a) {
			json_t *st = json_object_get(a, "http_status");
			printf("      %s  ", str(a, "at"));
			if (json_is_integer(st))
				printf("HTTP %lld", (long long)json_integer_value(st));
			else
				printf("no answer");
			if (*str(a, "error"))
				printf("  %s", str(a, "error"));
			printf("\n");
		}
	}
}

int cmd_job(struct cli *c, int argc, char **argv)
{
	struct ferry_err err = {0};
	bool json = false;
	const char *id = NULL;
	long long jid;
	json_t *j, *s, *deliveries;
	size_t i;
	int a;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(jobs_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "show"))
		return cli_usage_error("job", "unknown subcommand \"%s\" (try `ferry job show ID`)", argv[1]);
	for (a = 2; a < argc; a++) {
		if (!strcmp(argv[a], "--json"))
			json = true;
		else if (!strcmp(argv[a], "--help")) {
			fputs(jobs_help, stdout);
			return 0;
		} else if (argv[a][0] == '-')
			return cli_usage_error("job", "unknown option %s", argv[a]);
		else if (id)
			return cli_usage_error("job", "unexpected argument \"%s\"", argv[a]);
		else
			id = argv[a];
	}
	if (!id)
		return cli_usage_error("job", "show needs a job ID");
	if (!ferry_parse_ll(id, 1, (1LL << 62), &jid))
		return cli_usage_error("job", "job ID must be a number, not \"%s\"", id);
	if (cli_store(c, &err) || ferry_store_job(c->store, jid, &j, &err)) {
		if (err.code == FERRY_ENOTFOUND)
			err.code = FERRY_EUSAGE;
		return cli_fail(&err);
	}
	if (ferry_store_job_deliveries(c->store, jid, &deliveries, &err)) {
		json_decref(j);
		return cli_fail(&err);
	}
	json_object_set_new(j, "deliveries", deliveries);
	if (json) {
		cli_print_json(j);
		return 0;
	}
	printf("job %lld: %s (%s)\n  source:      %s\n  destination: %s\n  started:     %s\n"
	       "  finished:    %s\n",
	       jid, str(j, "status"), str(j, "mode"), str(j, "source"), str(j, "destination"),
	       str(j, "started_at"), str(j, "finished_at"));
	if (json_integer_value(json_object_get(j, "attempt")) > 0 &&
	    json_integer_value(json_object_get(j, "max_attempts")) > 0)
		printf("  attempts:    %lld of %lld\n",
		       (long long)json_integer_value(json_object_get(j, "attempt")),
		       (long long)json_integer_value(json_object_get(j, "max_attempts")));
	if (json_integer_value(json_object_get(j, "duration_ms")))
		printf("  duration:    %.1fs\n",
		       json_integer_value(json_object_get(j, "duration_ms")) / 1000.0);
	if (*str(j, "error"))
		printf("  error:       %s\n", str(j, "error"));
	if (json_array_size(json_object_get(j, "streams"))) {
		bool api = false;
		int ws = 6, wt = 5;
		json_array_foreach(json_object_get(j, "streams"), i, s) {
			api = api || json_integer_value(json_object_get(s, "pages")) > 0;
			ws = (int)strlen(str(s, "name")) > ws ? (int)strlen(str(s, "name")) : ws;
			wt = (int)strlen(str(s, "table")) > wt ? (int)strlen(str(s, "table")) : wt;
		}
		printf("  %-*s  %-*s %-8s %10s %10s %10s %10s %10s%s\n", ws, "STREAM", wt, "TABLE",
		       "STATUS", "READ", "INSERTED", "UPDATED", "UNCHANGED", "DELETED",
		       api ? "      PAGES DUPLICATES COLLISIONS" : "");
		json_array_foreach(json_object_get(j, "streams"), i, s) {
			printf("  %-*s  %-*s %-8s %10lld %10lld %10lld %10lld %10lld", ws, str(s, "name"),
			       wt, str(s, "table"), str(s, "status"),
			       (long long)json_integer_value(json_object_get(s, "read")),
			       (long long)json_integer_value(json_object_get(s, "inserted")),
			       (long long)json_integer_value(json_object_get(s, "updated")),
			       (long long)json_integer_value(json_object_get(s, "unchanged")),
			       (long long)json_integer_value(json_object_get(s, "deleted")));
			if (api)
				printf(" %10lld %10lld %10lld",
				       (long long)json_integer_value(json_object_get(s, "pages")),
				       (long long)json_integer_value(json_object_get(s, "duplicates")),
				       (long long)json_integer_value(json_object_get(s, "collisions")));
			printf("\n");
		}
	}
	print_deliveries(json_object_get(j, "deliveries"));
	json_decref(j);
	return 0;
}
