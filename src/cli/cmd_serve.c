/*
 * cmd_serve.c - `ferry serve`: the HTTP API (server/http.h) until SIGTERM or SIGINT.
 *
 * The signals are blocked before the server's threads start, so the threads
 * inherit the mask and only this thread receives them, in sigwait: no signal
 * handler runs in the middle of a request.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"
#include "server/http.h"

static const char serve_help[] =
	"usage: ferry serve [--listen HOST:PORT] [--threads N]\n\n"
	"Runs the HTTP API (see docs/api.md) until SIGTERM or SIGINT (Ctrl-C), then\n"
	"finishes the requests in flight and exits 0.\n\n"
	"  --listen HOST:PORT  address to listen on (default " FERRY_HTTP_DEFAULT_LISTEN ");\n"
	"                      an IP address, [IPv6] or localhost; port 0 picks a free one\n"
	"  --threads N         request threads (default 2)\n\n"
	"Every /api/v1 request needs `Authorization: Bearer <token>` (ferry token create).\n"
	"GET /health answers without one.\n";

int cmd_serve(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"listen", required_argument, 0, 'l'},
					     {"threads", required_argument, 0, 't'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	struct ferry_server_opts so = {.listen = FERRY_HTTP_DEFAULT_LISTEN, .db_path = c->db_path};
	struct ferry_listen_addr addr;
	struct ferry_err err = {0};
	struct ferry_server *srv;
	long long threads = 2;
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
		case 'h': fputs(serve_help, stdout); return 0;
		case 1: return cli_usage_error("serve", "unexpected argument \"%s\"", optarg);
		default: return 2;
		}
	}
	so.threads = (unsigned)threads;
	if (ferry_listen_parse(so.listen, &addr, &err))
		return cli_usage_error("serve", "%s", err.msg);

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (ferry_server_start(&so, &srv, &err))
		return cli_fail(&err);
	fprintf(stderr, "ferry serve: listening on %s\n", ferry_server_url(srv));
	while (sigwait(&set, &sig) == 0 && sig != SIGTERM && sig != SIGINT)
		;
	fprintf(stderr, "ferry serve: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	ferry_server_stop(srv);
	return 0;
}
