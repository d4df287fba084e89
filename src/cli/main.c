/*
 * main.c - ferry's entry point: global options and the command table.
 *
 * Each command group lives in its own cmd_*.c; this file only finds the state
 * store (--db, FERRY_DATABASE_URL, ./ferry.db) and dispatches.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "util/text.h"

static const struct cli_command commands[] = {
	{"source", cmd_source, "add, list, show, test, set or remove sources"},
	{"dest", cmd_dest, "add, list, show, test or remove destinations"},
	{"connection", cmd_connection, "list, show or remove connections (create them with apply)"},
	{"sync", cmd_sync, "copy a source into a destination (incremental or --full)"},
	{"jobs", cmd_jobs, "list recent sync jobs"},
	{"job", cmd_job, "show one job: `ferry job show ID`"},
	{"apply", cmd_apply, "create or update sources, destinations, connections from YAML"},
	{"export", cmd_export, "print the configuration as YAML (secrets as ${...})"},
	{"doctor", cmd_doctor, "check the state store, the key and every connection"},
	{"keygen", cmd_keygen, "print a new FERRY_ENCRYPTION_KEY"},
	{"serve", cmd_serve, "run the HTTP API, the scheduler and workers (`ferry serve --help`)"},
	{"run-due", cmd_run_due, "queue due connections' jobs, run what is queued, exit (for cron)"},
	{"token", cmd_token, "create, list or revoke API tokens for `ferry serve`"},
	{"webhook-secret", cmd_webhook_secret, "print (or --rotate) the secret that signs ad-hoc jobs' webhooks"},
	{NULL, NULL, NULL},
};

static void usage(FILE *f)
{
	int i;

	fprintf(f, "usage: ferry [--db PATH] COMMAND [ARGS...]\n\n"
		   "ferry copies data from databases and APIs into your database.\n\n"
		   "Commands:\n");
	for (i = 0; commands[i].name; i++)
		fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nGlobal options:\n"
		   "  --db PATH     state store (SQLite file); also FERRY_DATABASE_URL; default ./ferry.db\n"
		   "  --version     print the version\n"
		   "  --help        this help; `ferry COMMAND --help` for a command\n\n"
		   "Environment:\n"
		   "  FERRY_ENCRYPTION_KEY  64 hex characters that encrypt stored secrets (ferry keygen)\n"
		   "  FERRY_DATABASE_URL    the state store: a path or sqlite:///path\n");
}

int cli_fail(const struct ferry_err *err)
{
	fprintf(stderr, "ferry: %s\n", err->msg[0] ? err->msg : ferry_code_name(err->code));
	return ferry_exit_status(err->code);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ferry %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see `ferry %s --help`)\n", cmd);
	return 2;
}

int cli_store(struct cli *c, struct ferry_err *err)
{
	if (c->store)
		return 0;
	return ferry_store_open(c->db_path, &c->store, err);
}

int cli_lookup(struct cli *c, enum ferry_kind_entity k, const char *name_or_id,
	       struct ferry_entity *out, struct ferry_err *err)
{
	int rc = cli_store(c, err);

	if (!rc)
		rc = ferry_store_get(c->store, k, name_or_id, out, err);
	if (rc == FERRY_ENOTFOUND)
		rc = err->code = FERRY_EUSAGE;
	return rc;
}

const struct ferry_key *cli_key(struct cli *c)
{
	return c->have_key ? &c->key : NULL;
}

void cli_print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

	if (s) {
		puts(s);
		free(s);
	}
	json_decref(j);
}

bool cli_int_opt(const char *cmd, const char *opt, const char *val, long long min, long long max,
		 long long *out)
{
	if (ferry_parse_ll(val, min, max, out))
		return true;
	cli_usage_error(cmd, "%s needs a whole number from %lld to %lld, not \"%s\"", opt, min, max,
			val);
	return false;
}

bool cli_split_kv(const char *arg, char **buf, const char **k, const char **v)
{
	char *eq;

	*buf = strdup(arg);
	if (!*buf)
		return false;
	eq = strchr(*buf, '=');
	if (!eq || eq == *buf) {
		free(*buf);
		*buf = NULL;
		return false;
	}
	*eq = '\0';
	*k = *buf;
	*v = eq + 1;
	return true;
}

int cli_getopt(const char *cmd, int argc, char **argv, const struct option *opts)
{
	int ch;

	/* "-": positional arguments come back as 1, in order; ":": report missing values. */
	opterr = 0;
	ch = getopt_long(argc, argv, "-:h", opts, NULL);
	if (ch == '?') {
		if (optopt)
			cli_usage_error(cmd, "unknown option -%c", optopt);
		else
			cli_usage_error(cmd, "unknown option %s", argv[optind - 1]);
	} else if (ch == ':') {
		cli_usage_error(cmd, "option %s needs a value", argv[optind - 1]);
		ch = '?';
	}
	return ch;
}

int main(int argc, char **argv)
{
	struct cli c = {0};
	struct ferry_err err = {0};
	const char *env = getenv("FERRY_DATABASE_URL");
	int i = 1, k, rc;

	c.db_path = "ferry.db";
	if (env && *env)
		c.db_path = strncmp(env, "sqlite://", 9) ? env : env + 9;
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--version")) {
			printf("ferry %s\n", FERRY_VERSION);
			return 0;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--db") && i + 1 < argc) {
			c.db_path = argv[i + 1];
			i += 2;
			continue;
		}
		if (!strncmp(argv[i], "--db=", 5)) {
			c.db_path = argv[i] + 5;
			i++;
			continue;
		}
		fprintf(stderr, "ferry: unknown option %s (see `ferry --help`)\n", argv[i]);
		return 2;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (ferry_crypto_init(&err))
		return cli_fail(&err);
	c.key_rc = ferry_key_load(&c.key, &c.key_err);
	c.have_key = c.key_rc == 0;

	for (k = 0; commands[k].name; k++) {
		if (!strcmp(commands[k].name, argv[i])) {
			rc = commands[k].fn(&c, argc - i, argv + i);
			ferry_store_close(c.store);
			return rc;
		}
	}
	{
		const char *names[32];
		const char *best;
		int n = 0;
		for (k = 0; commands[k].name; k++)
			names[n++] = commands[k].name;
		best = ferry_closest(argv[i], names, n);
		fprintf(stderr, "ferry: unknown command \"%s\"%s%s%s (see `ferry --help`)\n", argv[i],
			best ? ": did you mean \"" : "", best ? best : "", best ? "\"?" : "");
	}
	return 2;
}
