/*
 * cmd_webhook.c - `ferry webhook-secret [--rotate]`: the store-wide secret
 * that signs the completion webhooks of jobs without a connection (POST
 * /api/v1/syncs with a webhook_url), and of connections without a signing
 * secret of their own (store/deliveries.h). It is made on first need - here
 * or by the first such webhook - and kept sealed with FERRY_ENCRYPTION_KEY.
 */
#include <stdio.h>
#include <string.h>
#include <sodium.h>
#include "cli/cli.h"
#include "server/webhook_sig.h"
#include "store/deliveries.h"

static const char webhook_help[] =
	"usage: ferry webhook-secret [--rotate]\n\n"
	"Prints the secret (whsec_...) that signs the completion webhooks of ad-hoc jobs\n"
	"(POST /api/v1/syncs with a webhook_url) and of connections without a signing\n"
	"secret of their own; give it to the receiver to verify the webhook-signature\n"
	"header (docs/api.md, \"Completion webhooks\"). It is made the first time it is\n"
	"needed and stored sealed with FERRY_ENCRYPTION_KEY, which must be set.\n\n"
	"  --rotate   replace it with a new one (receivers must take the new one: webhooks\n"
	"             sent from now on, retries included, are signed with it)\n";

int cmd_webhook_secret(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"rotate", no_argument, 0, 'r'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	struct ferry_err err = {0};
	char fresh[FERRY_WHSEC_SIZE], secret[128];
	bool rotate = false, created = false;
	int ch, rc;

	optind = 1;
	while ((ch = cli_getopt("webhook-secret", argc, argv, opts)) != -1) {
		switch (ch) {
		case 'r': rotate = true; break;
		case 'h': fputs(webhook_help, stdout); return 0;
		case 1: return cli_usage_error("webhook-secret", "unexpected argument \"%s\"", optarg);
		default: return 2;
		}
	}
	if (!cli_key(c))
		return cli_fail(&c->key_err);
	if ((rc = cli_store(c, &err)))
		return cli_fail(&err);
	ferry_whsec_new(fresh, sizeof(fresh));
	rc = ferry_store_webhook_secret(c->store, cli_key(c), fresh, rotate, secret, sizeof(secret),
					&created, &err);
	sodium_memzero(fresh, sizeof(fresh));
	if (rc)
		return cli_fail(&err);
	printf("%s\n", secret);
	sodium_memzero(secret, sizeof(secret));
	if (rotate)
		fprintf(stderr, "ferry: the webhook secret was replaced: give the new one to your "
			"receivers\n");
	else if (created)
		fprintf(stderr, "ferry: a new webhook secret was made and stored (sealed)\n");
	return 0;
}
