/*
 * cmd_token.c - `ferry token create|list|revoke`: the API tokens of `ferry serve`.
 *
 * A token is printed once, when it is created, and only its hash is stored
 * (server/token.h); nothing can show it again. The token goes alone to stdout
 * so `TOKEN=$(ferry token create ci)` captures it; the note about keeping it
 * goes to stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "cli/cli.h"
#include "server/token.h"

static const char token_help[] =
	"usage: ferry token create NAME [--json]\n"
	"       ferry token list [--json]\n"
	"       ferry token revoke NAME|ID\n\n"
	"API tokens for `ferry serve`: every /api/v1 request needs\n"
	"`Authorization: Bearer <token>`.\n\n"
	"  create   makes a token and prints it once on stdout; only its hash is kept,\n"
	"           so copy it now (it cannot be shown again). NAME says who uses it.\n"
	"  list     name, id, when created, last used (to the minute) and revoked\n"
	"  revoke   the token stops working at once; it stays listed as revoked\n";

#define MAX_NAME 64

static bool name_ok(const char *name)
{
	size_t n = strlen(name), i;

	if (!n || n > MAX_NAME || name[0] == '-')
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)name[i] <= ' ' || name[i] == 0x7f)
			return false;
	return true;
}

static int token_create(struct cli *c, const char *name, bool json)
{
	struct ferry_err err = {0};
	char token[FERRY_TOKEN_LEN + 1], hash[FERRY_TOKEN_HASH_LEN + 1], id[32];

	if (!name_ok(name))
		return cli_usage_error("token", "a token NAME is 1 to %d characters without spaces, "
				       "not \"%s\"", MAX_NAME, name);
	ferry_token_new(token);
	ferry_token_hash(token, hash);
	if (cli_store(c, &err) || ferry_store_token_create(c->store, name, hash, id, &err)) {
		sodium_memzero(token, sizeof(token));
		return cli_fail(&err);
	}
	if (json)
		cli_print_json(json_pack("{s:s, s:s, s:s}", "id", id, "name", name, "token", token));
	else
		printf("%s\n", token);
	fflush(stdout);
	fprintf(stderr, "ferry: token \"%s\" (%s) created: copy it now, it cannot be shown again "
		"(only its hash is stored)\n", name, id);
	sodium_memzero(token, sizeof(token));
	return 0;
}

static const char *str_or(json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : dflt;
}

static int token_list(struct cli *c, bool json)
{
	struct ferry_err err = {0};
	json_t *list, *t;
	size_t i;

	if (cli_store(c, &err) || ferry_store_tokens(c->store, &list, &err))
		return cli_fail(&err);
	if (json) {
		cli_print_json(list);
		return 0;
	}
	if (!json_array_size(list))
		printf("no tokens yet (create one with `ferry token create NAME`)\n");
	else
		printf("%-18s %-24s %-20s %-20s %s\n", "ID", "NAME", "CREATED", "LAST USED", "REVOKED");
	json_array_foreach(list, i, t)
		printf("%-18s %-24s %-20.19s %-20.19s %.19s\n", str_or(t, "id", ""),
		       str_or(t, "name", ""), str_or(t, "created_at", ""),
		       str_or(t, "last_used_at", "never"), str_or(t, "revoked_at", "-"));
	json_decref(list);
	return 0;
}

static int token_revoke(struct cli *c, const char *name)
{
	struct ferry_err err = {0};
	char id[32];
	bool already = false;

	if (cli_store(c, &err) ||
	    ferry_store_token_revoke(c->store, name, id, &already, &err)) {
		if (err.code == FERRY_ENOTFOUND)
			err.code = FERRY_EUSAGE;
		return cli_fail(&err);
	}
	if (already)
		printf("token \"%s\" (%s) was already revoked\n", name, id);
	else
		printf("token \"%s\" (%s) revoked\n", name, id);
	return 0;
}

int cmd_token(struct cli *c, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	const char *name = NULL;
	bool json = false;
	int i;

	if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
		fputs(token_help, sub ? stdout : stderr);
		return sub ? 0 : 2;
	}
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(token_help, stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1] && strcmp(argv[i], "--"))
			return cli_usage_error("token", "unknown option %s", argv[i]);
		else if (!strcmp(argv[i], "--") && i + 1 < argc && !name)
			name = argv[++i];
		else if (name)
			return cli_usage_error("token", "unexpected argument \"%s\"", argv[i]);
		else
			name = argv[i];
	}
	if (!strcmp(sub, "list")) {
		if (name)
			return cli_usage_error("token", "list takes no NAME");
		return token_list(c, json);
	}
	if (strcmp(sub, "create") && strcmp(sub, "revoke"))
		return cli_usage_error("token", "unknown subcommand \"%s\" (create, list or revoke)",
				       sub);
	if (!name)
		return cli_usage_error("token", "%s needs a NAME%s", sub,
				       strcmp(sub, "create") ? " or ID" : " (who will use the token)");
	if (!strcmp(sub, "create"))
		return token_create(c, name, json);
	if (json)
		return cli_usage_error("token", "revoke takes no --json");
	return token_revoke(c, name);
}
