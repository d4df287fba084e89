/*
 * cli.h - what the command files share: the command table entry, the global
 * context (state store, key, output mode), option parsing with range checks,
 * and the one way errors are printed.
 *
 * Exit codes: 0 ok, 1 the operation failed, 2 the command line is wrong.
 */
#ifndef FERRY_CLI_H
#define FERRY_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <jansson.h>
#include "ferry/err.h"
#include "ferry/connector.h"
#include "store/store.h"
#include "util/crypto.h"

struct cli {
	const char *db_path;          /* --db, FERRY_DATABASE_URL or the default */
	struct ferry_store *store;    /* opened on first use */
	struct ferry_key key;
	bool have_key;
	int key_rc;                   /* why there is no key */
	struct ferry_err key_err;
};

struct cli_command {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	const char *summary;
};

/* Prints "ferry: <msg>" (and a hint when it helps) and returns the exit status for err. */
int cli_fail(const struct ferry_err *err);
/* Prints a usage error for cmd and returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Finds a stored source, destination or connection the user named. An unknown
 * name is the user's input being wrong: FERRY_EUSAGE (exit 2), with the
 * store's "did you mean".
 */
int cli_lookup(struct cli *c, enum ferry_kind_entity k, const char *name_or_id,
	       struct ferry_entity *out, struct ferry_err *err);
/* Opens the state store if not yet open. */
int cli_store(struct cli *c, struct ferry_err *err);
/* The encryption key, or NULL (with c->key_err explaining why). */
const struct ferry_key *cli_key(struct cli *c);
/* Prints JSON to stdout with a newline. Consumes j. */
void cli_print_json(json_t *j);
/* Parses an integer option value in [min, max]; prints a usage error and returns false otherwise. */
bool cli_int_opt(const char *cmd, const char *opt, const char *val, long long min, long long max,
		 long long *out);
/* Parses "key=value" into k and v (pointers into a copy the caller frees via *buf). */
bool cli_split_kv(const char *arg, char **buf, const char **k, const char **v);

/*
 * getopt_long with ferry's messages: returns the option, -1 at the end, or
 * '?' after printing a usage error (caller returns 2). Positional arguments
 * may come anywhere; call with optind reset.
 */
int cli_getopt(const char *cmd, int argc, char **argv, const struct option *opts);

int cmd_source(struct cli *c, int argc, char **argv);
int cmd_dest(struct cli *c, int argc, char **argv);
int cmd_sync(struct cli *c, int argc, char **argv);
int cmd_jobs(struct cli *c, int argc, char **argv);
int cmd_job(struct cli *c, int argc, char **argv);
int cmd_apply(struct cli *c, int argc, char **argv);
int cmd_export(struct cli *c, int argc, char **argv);
int cmd_doctor(struct cli *c, int argc, char **argv);
int cmd_keygen(struct cli *c, int argc, char **argv);
int cmd_connection(struct cli *c, int argc, char **argv);
/* connection add|pause|resume (cmd_connection.c); *handled false for the other subcommands. */
int cli_connection_cmd(struct cli *c, int argc, char **argv, bool *handled);
int cmd_token(struct cli *c, int argc, char **argv);
int cmd_serve(struct cli *c, int argc, char **argv);
int cmd_run_due(struct cli *c, int argc, char **argv);
int cmd_webhook_secret(struct cli *c, int argc, char **argv);
/* connection trigger NAME (cmd_rundue.c): queues a job now. */
int cli_connection_trigger(struct cli *c, int argc, char **argv);

/* Shared by sync and doctor: opens a stored source / destination (secrets decrypted). */
struct cli_source {
	struct ferry_entity e;
	struct ferry_config config;
	struct ferry_source src;
};
struct cli_dest {
	struct ferry_entity e;
	struct ferry_config config;
	struct ferry_dest dst;
};
int cli_source_load(struct cli *c, const char *name_or_id, struct cli_source *out,
		    struct ferry_err *err);
int cli_source_connect(struct cli_source *s, struct ferry_fault *fault, struct ferry_err *err);
void cli_source_release(struct cli_source *s);
int cli_dest_load(struct cli *c, const char *name_or_id, struct cli_dest *out,
		  struct ferry_err *err);
int cli_dest_connect(struct cli_dest *d, struct ferry_fault *fault, struct ferry_err *err);
void cli_dest_release(struct cli_dest *d);
bool cli_dest_is_secret(const char *type, json_t *settings, const char *key);
/* Whether a source setting is secret, for ferry_store_put (settings: the source's, plaintext). */
bool cli_source_is_secret(const char *type, json_t *settings, const char *key);

#endif
