/*
 * cmd_serve.c - `ferry serve`: the HTTP API (server/http.h), and the workers,
 * scheduler and webhook sender (sched/workers.h), until SIGTERM or SIGINT.
 *
 * The signals are blocked before any thread starts, so every thread inherits
 * the mask and only this thread receives them, in sigwait: no signal handler
 * runs in the middle of a request or a job. On a signal the workers stop
 * first (no new claims, running jobs get the grace period, then go back to
 * the queue), and the HTTP server last, so GET /api/v1/jobs/{id} shows the
 * jobs ending until the end.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"
#include "sched/cron.h"
#include "sched/workers.h"
#include "server/http.h"

static const char serve_help[] =
	"usage: ferry serve [--listen HOST:PORT] [--threads N] [--workers N] [--grace DURATION]\n\n"
	"Runs the HTTP API (see docs/api.md), the scheduler and N workers that run the\n"
	"queued jobs, until SIGTERM or SIGINT (Ctrl-C). Then it stops taking jobs, lets\n"
	"running jobs finish within the grace period, puts those still running back in\n"
	"the queue (the attempt does not count; the next ferry serve or run-due runs\n"
	"them), finishes the requests in flight and exits 0.\n\n"
	"  --listen HOST:PORT  address to listen on (default " FERRY_HTTP_DEFAULT_LISTEN ");\n"
	"                      an IP address, [IPv6] or localhost; port 0 picks a free one\n"
	"  --threads N         request threads (default 2)\n"
	"  --workers N         jobs run at once (0-64, default 2); 0 runs only the API, with\n"
	"                      no scheduler, workers or webhooks (run-due or another serve\n"
	"                      runs the jobs)\n"
	"  --grace DURATION    how long running jobs may take to finish after SIGTERM\n"
	"                      (30s, 2m, ... or seconds; 0 stops them at once; default 30s)\n\n"
	"Every /api/v1 request needs `Authorization: Bearer <token>` (ferry token create).\n"
	"GET /health answers without one. Jobs and webhook attempts are logged on stderr.\n\n"
	"Environment: FERRY_ENCRYPTION_KEY opens stored secrets; FERRY_LEASE_S (job lease,\n"
	"default 60), FERRY_RETRY_BASE_S (job retry backoff base, default 30),\n"
	"FERRY_WEBHOOK_RETRY_BASE_S (webhook retry base, default 45), FERRY_TICK_MS\n"
	"(scheduler tick, default 1000).\n";

/* During the grace period: a second SIGTERM or SIGINT stops the running jobs at once. */
struct second_signal {
	sigset_t set;
	struct ferry_workers *pool;
};

static void *second_signal_main(void *arg)
{
	struct second_signal *x = arg;
	int sig;

	while (sigwait(&x->set, &sig) == 0) {
		if (sig != SIGTERM && sig != SIGINT)
			continue;
		fprintf(stderr, "ferry serve: second %s: stopping the running jobs now\n",
			sig == SIGINT ? "SIGINT" : "SIGTERM");
		ferry_workers_hurry(x->pool);
	}
	return NULL;
}

/* --grace: "0" or a duration as --timeout takes it; -1 after a usage error. */
static long long grace_opt(const char *v)
{
	struct ferry_schedule s;
	struct ferry_err err = {0};

	if (!strcmp(v, "0") || !strcmp(v, "0s"))
		return 0;
	if (ferry_schedule_parse(v, &s, &err) || s.kind != FERRY_SCHEDULE_INTERVAL ||
	    s.every > 86400) {
		cli_usage_error("serve", "--grace \"%s\" is not a duration of at most a day (30s, 2m, "
				"1h, 0 or seconds)", v);
		return -1;
	}
	return s.every;
}

int cmd_serve(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"listen", required_argument, 0, 'l'},
					     {"threads", required_argument, 0, 't'},
					     {"workers", required_argument, 0, 'w'},
					     {"grace", required_argument, 0, 'g'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	struct ferry_server_opts so = {.listen = FERRY_HTTP_DEFAULT_LISTEN, .db_path = c->db_path};
	struct ferry_workers_opts wo = {.db_path = c->db_path};
	struct ferry_workers *pool = NULL;
	struct ferry_listen_addr addr;
	struct ferry_err err = {0};
	struct ferry_server *srv;
	long long threads = 2, workers = 2, grace = 30;
	sigset_t set;
	int ch, sig = 0;

	optind = 1;
	while ((ch = cli_getopt("serve", argc, argv, opts)) != -1) {
		switch (ch) {
		case 'l': so.listen = optarg; break;
		case 't':
			if (!cli_int_opt("serve", "--threads", optarg, 1, 64, &threads))
				return 2;
			break;
		case 'w':
			if (!cli_int_opt("serve", "--workers", optarg, 0, FERRY_WORKERS_MAX, &workers))
				return 2;
			break;
		case 'g':
			if ((grace = grace_opt(optarg)) < 0)
				return 2;
			break;
		case 'h': fputs(serve_help, stdout); return 0;
		case 1: return cli_usage_error("serve", "unexpected argument \"%s\"", optarg);
		default: return 2;
		}
	}
	so.threads = (unsigned)threads;
	so.key = cli_key(c);
	if (ferry_listen_parse(so.listen, &addr, &err))
		return cli_usage_error("serve", "%s", err.msg);

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (workers > 0) {
		wo.workers = (int)workers;
		wo.key = cli_key(c);
		if (ferry_workers_start(&wo, &pool, &err))
			return err.code == FERRY_EUSAGE ? cli_usage_error("serve", "%s", err.msg)
							: cli_fail(&err);
		so.on_enqueue = ferry_workers_wake;
		so.ctx = pool;
	}
	if (ferry_server_start(&so, &srv, &err)) {
		ferry_workers_stop(pool, 0);
		ferry_workers_free(pool);
		return cli_fail(&err);
	}
	fprintf(stderr, "ferry serve: listening on %s, %lld worker%s\n", ferry_server_url(srv),
		workers, workers == 1 ? "" : "s");
	if (workers > 0 && !cli_key(c))
		fprintf(stderr, "ferry serve: " FERRY_KEY_ENV " is not set: jobs whose source or "
			"destination has secrets will fail, and webhooks cannot be signed\n");
	while (sigwait(&set, &sig) == 0 && sig != SIGTERM && sig != SIGINT)
		;
	fprintf(stderr, "ferry serve: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	if (pool) {
		struct second_signal x = {set, pool};
		pthread_t t;
		bool watching = !pthread_create(&t, NULL, second_signal_main, &x);
		ferry_workers_stop(pool, grace * 1000);
		if (watching) {
			pthread_cancel(t);   /* it waits in sigwait, a cancellation point */
			pthread_join(t, NULL);
		}
		ferry_workers_free(pool);
	}
	ferry_server_stop(srv);
	fprintf(stderr, "ferry serve: stopped\n");
	return 0;
}
