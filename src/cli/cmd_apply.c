/*
 * cmd_apply.c - `ferry apply FILE.yaml` and `ferry export`: configuration as code.
 *
 * apply reads sources, destinations and connections from YAML (libyaml),
 * replaces ${ENV} references with the environment's values, checks every
 * item, and only then creates or updates them all in one store transaction:
 * a file with one mistake changes nothing. export writes the same shape back,
 * with secrets as ${...} references so the file can be committed.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include <sodium.h>
#include "cli/cli.h"
#include "core/entity_spec.h"
#include "server/webhook_sig.h"
#include "ferry/engine.h"
#include "util/text.h"

#define LINE_KEY "\x01line"

static const char apply_help[] =
	"usage: ferry apply FILE.yaml\n"
	"       ferry export\n\n"
	"apply creates or updates what FILE.yaml describes; ${VAR} is replaced by the\n"
	"environment variable VAR. export prints the current configuration in the same\n"
	"shape, secrets as ${FERRY_...} references.\n\n"
	"sources:\n"
	"  - name: shop\n"
	"    type: postgres\n"
	"    settings: {url: \"${SHOP_URL}\", tables: \"users,orders\", cursor.orders: updated_at}\n"
	"destinations:\n"
	"  - name: warehouse\n"
	"    url: \"${WAREHOUSE_URL}\"\n"
	"connections:\n"
	"  - name: shop-to-warehouse\n"
	"    source: shop\n"
	"    destination: warehouse\n"
	"    streams: [users, orders]\n"
	"    namespace: prod\n"
	"    mode: incremental        # or full\n"
	"    deletes: hard            # or soft (full syncs)\n"
	"    backup_retention: 60\n"
	"    schedule: \"0 2 * * *\"     # cron (UTC) or an interval: 15m, 6h\n"
	"    auto_sync: on            # default on with a schedule\n"
	"    max_attempts: 3\n"
	"    timeout: 30m\n"
	"    webhook_url: https://example.com/ferry-hook\n"
	"    signed_triggers: off     # on: accept triggers signed with the connection's secret\n\n"
	"A connection with a webhook_url or signed triggers gets a signing secret, printed\n"
	"once when it is made (FERRY_ENCRYPTION_KEY must be set); re-applying keeps it.\n";

struct conv {
	const char *file;
	yaml_document_t *doc;
	struct ferry_err *err;
};

static json_t *interpolate(struct conv *cv, const char *s, int line)
{
	struct ferry_buf b = FERRY_BUF_INIT;
	json_t *out;

	while (*s) {
		const char *open = strstr(s, "${"), *close;
		char name[128];
		const char *val;
		if (!open) {
			ferry_buf_adds(&b, s);
			break;
		}
		close = strchr(open, '}');
		if (!close || close - open - 2 <= 0 || close - open - 2 >= (long)sizeof(name)) {
			ferry_err_set(cv->err, FERRY_EUSAGE, "%s:%d: unterminated or empty ${...}", cv->file, line);
			ferry_buf_release(&b);
			return NULL;
		}
		ferry_buf_add(&b, s, (size_t)(open - s));
		snprintf(name, sizeof(name), "%.*s", (int)(close - open - 2), open + 2);
		val = getenv(name);
		if (!val) {
			ferry_err_set(cv->err, FERRY_EUSAGE, "%s:%d: environment variable %s is not set",
				      cv->file, line, name);
			ferry_buf_release(&b);
			return NULL;
		}
		ferry_buf_adds(&b, val);
		s = close + 1;
	}
	out = json_string(b.data);
	ferry_buf_release(&b);
	return out;
}

static json_t *node_json(struct conv *cv, yaml_node_t *n)
{
	int line = (int)n->start_mark.line + 1;
	json_t *out = NULL;

	switch (n->type) {
	case YAML_SCALAR_NODE:
		return interpolate(cv, (const char *)n->data.scalar.value, line);
	case YAML_SEQUENCE_NODE: {
		yaml_node_item_t *it;
		out = json_array();
		for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
			json_t *v = node_json(cv, yaml_document_get_node(cv->doc, *it));
			if (!v) {
				json_decref(out);
				return NULL;
			}
			json_array_append_new(out, v);
		}
		return out;
	}
	case YAML_MAPPING_NODE: {
		yaml_node_pair_t *p;
		out = json_object();
		json_object_set_new(out, LINE_KEY, json_integer(line));
		for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(cv->doc, p->key);
			json_t *v;
			if (!k || k->type != YAML_SCALAR_NODE) {
				ferry_err_set(cv->err, FERRY_EUSAGE, "%s:%d: keys must be plain names", cv->file, line);
				json_decref(out);
				return NULL;
			}
			v = node_json(cv, yaml_document_get_node(cv->doc, p->value));
			if (!v) {
				json_decref(out);
				return NULL;
			}
			json_object_set_new(out, (const char *)k->data.scalar.value, v);
		}
		return out;
	}
	default:
		return json_null();
	}
}

static int load_yaml(const char *file, json_t **out, struct ferry_err *err)
{
	yaml_parser_t p;
	yaml_document_t doc;
	yaml_node_t *root;
	FILE *f = fopen(file, "rb");
	struct conv cv = {file, &doc, err};
	int rc = 0;

	if (!f)
		return ferry_err_set(err, FERRY_EUSAGE, "cannot read %s: %m", file);
	yaml_parser_initialize(&p);
	yaml_parser_set_input_file(&p, f);
	if (!yaml_parser_load(&p, &doc)) {
		rc = ferry_err_set(err, FERRY_EUSAGE, "%s:%zu:%zu: %s %s", file, p.problem_mark.line + 1,
				   p.problem_mark.column + 1, p.problem ? p.problem : "invalid YAML",
				   p.context ? p.context : "");
		goto out_parser;
	}
	root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE)
		rc = ferry_err_set(err, FERRY_EUSAGE,
				   "%s: expected a mapping with sources, destinations and connections", file);
	else if (!(*out = node_json(&cv, root)))
		rc = err->code ? err->code : FERRY_EUSAGE;
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&p);
	fclose(f);
	return rc;
}

static int line_of(json_t *o)
{
	return (int)json_integer_value(json_object_get(o, LINE_KEY));
}

/* Refuses keys outside `allowed` (NULL-terminated), suggesting the closest. */
static int check_keys(const char *file, json_t *o, const char *const *allowed, const char *what,
		      struct ferry_err *err)
{
	const char *k;
	json_t *v;
	int n = 0;

	while (allowed[n])
		n++;
	json_object_foreach(o, k, v) {
		int i;
		bool ok = !strcmp(k, LINE_KEY);
		for (i = 0; i < n && !ok; i++)
			ok = !strcmp(k, allowed[i]);
		if (!ok) {
			const char *best = ferry_closest(k, allowed, n);
			return ferry_err_set(err, FERRY_EUSAGE, "%s:%d: unknown key \"%s\" in %s%s%s%s", file,
					     line_of(o), k, what, best ? ": did you mean \"" : "",
					     best ? best : "", best ? "\"?" : "");
		}
	}
	return 0;
}

static const char *req_str(const char *file, json_t *o, const char *key, const char *what,
			   struct ferry_err *err)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s || !*s)
		ferry_err_set(err, FERRY_EUSAGE, "%s:%d: %s needs \"%s\"", file, line_of(o), what, key);
	return s;
}

static json_t *settings_of(json_t *o)
{
	json_t *s = json_object(), *v;
	const char *k;

	json_object_foreach(json_object_get(o, "settings"), k, v)
		if (strcmp(k, LINE_KEY))
			json_object_set(s, k, v);
	return s;
}

static bool in_file(json_t *list, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
		if (!strcmp(json_string_value(json_object_get(v, "name")) ?: "", name))
			return true;
	return false;
}


/* Prefixes "FILE:LINE: KIND "NAME": ", leaving out the entity when the message names it already. */
static int item_error(struct ferry_err *err, const char *file, json_t *o, const char *kind,
		      const char *name)
{
	char named[200];

	snprintf(named, sizeof(named), "%s \"%s\"", kind, name);
	if (strstr(err->msg, named))
		return ferry_err_prefix(err, "%s:%d: ", file, line_of(o));
	return ferry_err_prefix(err, "%s:%d: %s: ", file, line_of(o), named);
}

/* A connection's fields as core/entity_spec.h takes them: the item without name and line. */
static json_t *connection_fields(json_t *o)
{
	json_t *f = json_object(), *v;
	const char *k;

	json_object_foreach(o, k, v)
		if (strcmp(k, LINE_KEY) && strcmp(k, "name"))
			json_object_set(f, k, v);
	return f;
}

/*
 * Checks everything; when put is true, writes it. Signing secrets made for
 * new connections go into secrets (name -> secret), to be shown after the
 * commit.
 */
static int walk(struct cli *c, const char *file, json_t *root, bool put, int *counts,
		json_t *secrets, struct ferry_err *err)
{
	static const char *const top[] = {"sources", "destinations", "connections", NULL};
	static const char *const src_keys[] = {"name", "type", "settings", NULL};
	static const char *const dst_keys[] = {"name", "url", NULL};
	static const char *const con_keys[] = {"name", "source", "destination", "streams", "namespace",
					       "prefix", "mode", "deletes", "backup_retention",
					       "schedule", "auto_sync", "max_attempts", "webhook_url",
					       "timeout", "signed_triggers", NULL};
	json_t *sources = json_object_get(root, "sources");
	json_t *dests = json_object_get(root, "destinations");
	json_t *cons = json_object_get(root, "connections");
	json_t *o;
	size_t i;
	char id[32];
	bool created;
	int rc;

	if ((rc = check_keys(file, root, top, "the file", err)))
		return rc;
	json_array_foreach(sources, i, o) {
		const char *name, *type;
		json_t *set, *v;
		const char *k;

		if ((rc = check_keys(file, o, src_keys, "a source", err)))
			return rc;
		if (!(name = req_str(file, o, "name", "a source", err)) ||
		    !(type = req_str(file, o, "type", "a source", err)))
			return FERRY_EUSAGE;
		set = settings_of(o);
		if ((rc = ferry_spec_name(FERRY_SOURCE, name, err)) ||
		    (rc = ferry_spec_source(name, type, set, err))) {
			json_decref(set);
			return item_error(err, file, o, "source", name);
		}
		if (put) {
			rc = ferry_store_put(c->store, FERRY_SOURCE, name, type, set,
					     ferry_spec_source_is_secret, cli_key(c), true, id, &created,
					     err);
			counts[created ? 0 : 1]++;
		} else if (!cli_key(c)) {
			json_object_foreach(set, k, v)
				if (ferry_spec_source_is_secret(type, set, k)) {
					*err = c->key_err;
					rc = ferry_err_prefix(err, "source \"%s\" has secret settings: ", name);
					break;
				}
		}
		json_decref(set);
		if (rc)
			return rc;
	}
	json_array_foreach(dests, i, o) {
		const char *name, *url, *type;
		json_t *set;

		if ((rc = check_keys(file, o, dst_keys, "a destination", err)))
			return rc;
		if (!(name = req_str(file, o, "name", "a destination", err)) ||
		    !(url = req_str(file, o, "url", "a destination", err)))
			return FERRY_EUSAGE;
		if ((rc = ferry_spec_name(FERRY_DESTINATION, name, err)) ||
		    (rc = ferry_spec_dest(name, url, &type, err)))
			return item_error(err, file, o, "destination", name);
		if (!put) {
			if (!cli_key(c)) {
				*err = c->key_err;
				return ferry_err_prefix(err, "destination \"%s\" has a secret URL: ", name);
			}
			continue;
		}
		set = json_pack("{s:s}", "url", url);
		rc = ferry_store_put(c->store, FERRY_DESTINATION, name, type, set,
				     ferry_spec_dest_is_secret, cli_key(c), true, id, &created, err);
		json_decref(set);
		if (rc)
			return rc;
		counts[created ? 0 : 1]++;
	}
	json_array_foreach(cons, i, o) {
		struct ferry_spec_opts so = {.key = cli_key(c)};
		struct ferry_entity se = {0}, de = {0}, old = {0};
		struct ferry_err ignore = {0};
		const char *name, *sname, *dname;
		char secret[FERRY_WHSEC_SIZE];
		json_t *fields, *set = NULL;

		if ((rc = check_keys(file, o, con_keys, "a connection", err)))
			return rc;
		if (!(name = req_str(file, o, "name", "a connection", err)) ||
		    !(sname = req_str(file, o, "source", "a connection", err)) ||
		    !(dname = req_str(file, o, "destination", "a connection", err)))
			return FERRY_EUSAGE;
		/* A re-apply keeps what is the operator's: a pause, the signing secret. */
		if (!ferry_store_get(c->store, FERRY_CONNECTION, name, &old, &ignore))
			so.old = old.settings;
		if (put)
			so.store = c->store;
		fields = connection_fields(o);
		rc = ferry_spec_connection(name, fields, &so, &set, secret, err);
		json_decref(fields);
		if (rc) {
			ferry_entity_release(&old);
			return item_error(err, file, o, "connection", name);
		}
		if (!put) {
			if (!in_file(sources, sname) &&
			    (rc = ferry_store_get(c->store, FERRY_SOURCE, sname, &se, err)))
				item_error(err, file, o, "connection", name);
			else if (!in_file(dests, dname) &&
				 (rc = ferry_store_get(c->store, FERRY_DESTINATION, dname, &de, err)))
				item_error(err, file, o, "connection", name);
			if (rc == FERRY_ENOTFOUND)
				rc = err->code = FERRY_EUSAGE;
			ferry_entity_release(&se);
			ferry_entity_release(&de);
		} else {
			rc = ferry_store_put(c->store, FERRY_CONNECTION, name, "sync", set,
					     ferry_spec_connection_is_secret, so.key, true, id, &created,
					     err);
			if (!rc) {
				counts[created ? 0 : 1]++;
				if (secret[0])
					json_object_set_new(secrets, name, json_string(secret));
			}
		}
		sodium_memzero(secret, sizeof(secret));
		json_decref(set);
		ferry_entity_release(&old);
		if (rc)
			return rc;
	}
	return 0;
}

int cmd_apply(struct cli *c, int argc, char **argv)
{
	struct ferry_err err = {0};
	json_t *root = NULL, *secrets = json_object(), *v;
	int counts[2] = {0, 0}, rc;
	const char *name;

	if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		json_decref(secrets);
		fputs(apply_help, argc == 2 ? stdout : stderr);
		return argc == 2 ? 0 : cli_usage_error("apply", "needs exactly one FILE.yaml");
	}
	if ((rc = load_yaml(argv[1], &root, &err)) || (rc = cli_store(c, &err)) ||
	    (rc = walk(c, argv[1], root, false, counts, secrets, &err)))
		goto out;
	if ((rc = ferry_store_tx(c->store, "BEGIN IMMEDIATE", &err)))
		goto out;
	if ((rc = walk(c, argv[1], root, true, counts, secrets, &err))) {
		struct ferry_err e2;
		ferry_store_tx(c->store, "ROLLBACK", &e2);
		goto out;
	}
	rc = ferry_store_tx(c->store, "COMMIT", &err);
	if (!rc) {
		printf("applied %s: %d created, %d updated\n", argv[1], counts[0], counts[1]);
		json_object_foreach(secrets, name, v)
			printf("connection \"%s\": signing secret (shown once): %s\n", name,
			       json_string_value(v));
	}
out:
	json_decref(root);
	json_decref(secrets);
	return rc ? cli_fail(&err) : 0;
}

/* ---- export ---- */

static void yq(const char *s)
{
	json_t *j = json_string(s);
	char *d = json_dumps(j, JSON_ENCODE_ANY);

	fputs(d, stdout);
	free(d);
	json_decref(j);
}

static void env_ref(const char *kind, const char *name, const char *key, char *out, size_t n)
{
	char slug[128], kslug[64];
	size_t i;

	ferry_slug(name, slug, sizeof(slug));
	ferry_slug(key, kslug, sizeof(kslug));
	snprintf(out, n, "${FERRY_%s_%s_%s}", kind, slug, kslug);
	for (i = 0; out[i]; i++)
		out[i] = (char)toupper((unsigned char)out[i]);
}

static const char *name_of(struct ferry_entity *v, int n, const char *id)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(v[i].id, id))
			return v[i].name;
	return id;
}

int cmd_export(struct cli *c, int argc, char **argv)
{
	struct ferry_err err = {0};
	struct ferry_entity *src = NULL, *dst = NULL, *con = NULL;
	int ns = 0, nd = 0, nc = 0, i;
	char ref[256];

	if (argc > 1) {
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
			fputs(apply_help, stdout);
			return 0;
		}
		return cli_usage_error("export", "unexpected argument \"%s\"", argv[1]);
	}
	if (cli_store(c, &err) || ferry_store_list(c->store, FERRY_SOURCE, &src, &ns, &err) ||
	    ferry_store_list(c->store, FERRY_DESTINATION, &dst, &nd, &err) ||
	    ferry_store_list(c->store, FERRY_CONNECTION, &con, &nc, &err))
		return cli_fail(&err);
	printf("# ferry configuration (ferry export). Secrets are ${...} references:\n"
	       "# set those environment variables before `ferry apply`.\n");
	printf("sources:%s\n", ns ? "" : " []");
	for (i = 0; i < ns; i++) {
		const char *k;
		json_t *v;
		printf("  - name: ");
		yq(src[i].name);
		printf("\n    type: ");
		yq(src[i].type);
		printf("\n    settings:\n");
		json_object_foreach(src[i].settings, k, v) {
			printf("      ");
			yq(k);
			printf(": ");
			if (json_is_object(v)) {
				env_ref("SOURCE", src[i].name, k, ref, sizeof(ref));
				yq(ref);
			} else {
				yq(json_string_value(v) ? json_string_value(v) : "");
			}
			printf("\n");
		}
	}
	printf("destinations:%s\n", nd ? "" : " []");
	for (i = 0; i < nd; i++) {
		printf("  - name: ");
		yq(dst[i].name);
		env_ref("DEST", dst[i].name, "url", ref, sizeof(ref));
		printf("\n    url: ");
		yq(ref);
		printf("\n");
	}
	printf("connections:%s\n", nc ? "" : " []");
	for (i = 0; i < nc; i++) {
		json_t *s = con[i].settings, *v;
		size_t j;
		printf("  - name: ");
		yq(con[i].name);
		printf("\n    source: ");
		yq(name_of(src, ns, json_string_value(json_object_get(s, "source_id")) ?: ""));
		printf("\n    destination: ");
		yq(name_of(dst, nd, json_string_value(json_object_get(s, "destination_id")) ?: ""));
		printf("\n    mode: ");
		yq(json_string_value(json_object_get(s, "mode")) ?: "incremental");
		printf("\n");
		if (json_array_size(json_object_get(s, "streams"))) {
			printf("    streams: [");
			json_array_foreach(json_object_get(s, "streams"), j, v) {
				printf(j ? ", " : "");
				yq(json_string_value(v) ?: "");
			}
			printf("]\n");
		}
		if (json_object_get(s, "namespace")) {
			printf("    namespace: ");
			yq(json_string_value(json_object_get(s, "namespace")));
			printf("\n");
		}
		if (json_object_get(s, "prefix")) {
			printf("    prefix: ");
			yq(json_string_value(json_object_get(s, "prefix")));
			printf("\n");
		}
		if (json_object_get(s, "deletes")) {
			printf("    deletes: ");
			yq(json_string_value(json_object_get(s, "deletes")));
			printf("\n");
		}
		if (json_object_get(s, "backup_retention"))
			printf("    backup_retention: %lld\n",
			       (long long)json_integer_value(json_object_get(s, "backup_retention")));
		for (j = 0; j < 3; j++) {
			static const char *const keys[] = {"schedule", "auto_sync", "webhook_url"};
			if (!json_is_string(json_object_get(s, keys[j])))
				continue;
			printf("    %s: ", keys[j]);
			yq(json_string_value(json_object_get(s, keys[j])));
			printf("\n");
		}
		if (!strcmp(json_string_value(json_object_get(s, "signed_triggers")) ?: "off", "on"))
			printf("    signed_triggers: \"on\"\n");
		if (json_is_integer(json_object_get(s, "timeout_s")))
			printf("    timeout: \"%llds\"\n",
			       (long long)json_integer_value(json_object_get(s, "timeout_s")));
		if (json_is_integer(json_object_get(s, "max_attempts")))
			printf("    max_attempts: %lld\n",
			       (long long)json_integer_value(json_object_get(s, "max_attempts")));
	}
	ferry_entities_free(src, ns);
	ferry_entities_free(dst, nd);
	ferry_entities_free(con, nc);
	return 0;
}
