/*
 * cmd_rundue.c - `ferry run-due`: one scheduler tick and the jobs it leaves,
 * run one after the other in this process, then exit (for system cron, CI
 * and containers that loop); and `ferry connection trigger NAME`, which
 * queues a job of one connection now.
 *
 * The work is src/sched/runner.c's; this file only prints. Exit 0 when every
 * job run succeeded, 1 when one failed (even if it will be retried). Before
 * exiting, the completion webhooks of the jobs that ended are sent, one
 * attempt each (server/webhook_send.h); those that fail stay queued for the
 * next run-due or a ferry serve, and do not change the exit status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli/cli.h"
#include "core/entity_spec.h"
#include "sched/runner.h"
#include "server/webhook_send.h"
#include "util/text.h"

static const char rundue_help[] =
	"usage: ferry run-due [--limit N] [--json]\n\n"
	"Queues a job for every connection whose schedule is due (at most N, default 100),\n"
	"then runs the queued jobs that may run now, one after the other, and exits.\n"
	"A job whose worker died is retried once its lease ends. The completion webhooks\n"
	"of the jobs that ended are sent before it exits (one attempt each; the rest are\n"
	"retried by the next run-due or ferry serve). Exit 0 when every job succeeded,\n"
	"1 when one failed. Run it from system cron, e.g. every minute:\n\n"
	"  * * * * * FERRY_ENCRYPTION_KEY=... ferry --db /var/lib/ferry/ferry.db run-due\n\n"
	"  --limit N   due connections to queue in this run (1-100000, default 100)\n"
	"  --json      one JSON object per job, one per line\n";

static void connection_label(struct cli *c, const char *id, char *out, size_t n)
{
	struct ferry_entity e = {0};
	struct ferry_err err = {0};

	if (!*id) {
		snprintf(out, n, "(ad hoc)");
		return;
	}
	if (!ferry_store_get(c->store, FERRY_CONNECTION, id, &e, &err))
		snprintf(out, n, "%s", e.name);
	else
		snprintf(out, n, "%s", id);
	ferry_entity_release(&e);
}

static void report(struct cli *c, const struct ferry_claimed *job,
		   const struct ferry_run_outcome *r, bool json)
{
	char name[160];

	connection_label(c, job->connection_id, name, sizeof(name));
	if (json) {
		json_t *j = json_pack("{s:I, s:s, s:i, s:s, s:b, s:I, s:I, s:I, s:o}", "job_id",
					 (json_int_t)job->job_id, "connection", name, "attempt",
					 job->attempt, "status", r->status, "requeued", r->requeued,
					 "retry_after_s", (json_int_t)r->retry_after_s, "duration_ms",
					 (json_int_t)r->duration_ms, "rows", (json_int_t)r->rows,
					 "error", r->err.code ? json_string(r->err.msg) : json_null());
		char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
		if (text)
			printf("%s\n", text);
		free(text);
		json_decref(j);
		fflush(stdout);
		return;
	}
	printf("job %lld connection %s: %s in %.1fs", job->job_id, name, r->status,
	       r->duration_ms / 1000.0);
	if (r->err.code) {
		printf(" (attempt %d of %d", job->attempt, job->max_attempts);
		if (r->requeued)
			printf(", retry in %llds", r->retry_after_s);
		printf("): %s", r->err.msg);
	}
	printf("\n");
	fflush(stdout);
}

int cmd_run_due(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"limit", required_argument, 0, 'l'},
					     {"json", no_argument, 0, 'j'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	struct ferry_runner_opts ro = {0};
	struct ferry_err err = {0};
	long long limit = 100, *ended = NULL, *nv;
	int nended = 0, i;
	bool json = false, failed = false;
	char owner[160], host[64] = "";
	int ch, rc;

	optind = 1;
	while ((ch = cli_getopt("run-due", argc, argv, opts)) != -1) {
		switch (ch) {
		case 1: return cli_usage_error("run-due", "unexpected argument \"%s\"", optarg);
		case 'l':
			if (!cli_int_opt("run-due", "--limit", optarg, 1, 100000, &limit))
				return 2;
			break;
		case 'j': json = true; break;
		case 'h': fputs(rundue_help, stdout); return 0;
		default: return 2;
		}
	}
	ro.fault = ferry_fault_from_env(&err);
	if (err.code)
		return cli_fail(&err);
	if ((rc = cli_store(c, &err)))
		goto out;
	gethostname(host, sizeof(host) - 1);
	snprintf(owner, sizeof(owner), "run-due@%s:%ld", host, (long)getpid());
	ro.owner = owner;
	ro.lease_s = ferry_lease_seconds();
	ro.key = cli_key(c);
	if ((rc = ferry_sched_enqueue_due(c->store, (long long)time(NULL), (int)limit, NULL, &err)))
		goto out;
	for (;;) {
		struct ferry_claimed job;
		struct ferry_run_outcome r;
		rc = ferry_store_claim(c->store, owner, ro.lease_s, (long long)time(NULL), &job, &err);
		if (rc == FERRY_DONE) {
			rc = 0;
			break;
		}
		if (rc)
			goto out;
		rc = ferry_runner_run(c->store, &job, &ro, &r, &err);
		if (!rc) {
			report(c, &job, &r, json);
			failed = failed || strcmp(r.status, "succeeded");
			/* Its webhooks, if it has any, are queued now that it ended. */
			if (!r.requeued && strcmp(r.status, "lost") && strcmp(r.status, "released") &&
			    (nv = realloc(ended, sizeof(*ended) * (size_t)(nended + 1)))) {
				ended = nv;
				ended[nended++] = job.job_id;
			}
		}
		ferry_claimed_release(&job);
		if (rc)
			goto out;
	}
	for (i = 0; i < nended && !rc; i++)
		rc = ferry_webhooks_send_due(c->store, ro.key, ended[i], 0, stderr, NULL, &err);
out:
	free(ended);
	ferry_fault_free(ro.fault);
	if (rc)
		return cli_fail(&err);
	return failed ? 1 : 0;
}

/* `ferry connection trigger NAME`: a job now, unless one is queued or running. */
int cli_connection_trigger(struct cli *c, int argc, char **argv)
{
	struct ferry_entity e = {0};
	struct ferry_err err = {0};
	long long job_id = 0;
	bool existing;
	int rc;

	if (argc != 2 || !*argv[1])
		return cli_usage_error("connection trigger", "needs one NAME or ID");
	if ((rc = cli_store(c, &err)) || (rc = cli_lookup(c, FERRY_CONNECTION, argv[1], &e, &err)))
		return cli_fail(&err);
	rc = ferry_connection_trigger(c->store, &e, NULL, (long long)time(NULL), &job_id, &existing,
				      &err);
	if (rc == FERRY_ECONFLICT)
		ferry_err_prefix(&err, "already queued or running: ");
	else if (!rc)
		printf("job %lld queued for connection \"%s\" (run it with `ferry run-due`)\n", job_id,
		       e.name);
	ferry_entity_release(&e);
	return rc ? cli_fail(&err) : 0;
}
