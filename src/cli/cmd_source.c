/*
 * cmd_source.c - `ferry source ...` and `ferry dest ...`: the stored
 * sources and destinations, and opening them for a sync.
 *
 * Sources and destinations are both store entities; the commands differ only
 * in how settings are given (`--set k=v` against a connector's declared spec,
 * or one `--url`) and in what "test" does. What is valid is decided by
 * core/entity_spec.c, as for `ferry apply` and the HTTP API. list, show and rm
 * serve connections too (with their schedule state).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli/cli.h"
#include "core/entity_spec.h"
#include "ferry/engine.h"
#include "util/text.h"

bool cli_dest_is_secret(const char *type, json_t *settings, const char *key)
{
	return ferry_spec_dest_is_secret(type, settings, key);
}

bool cli_source_is_secret(const char *type, json_t *settings, const char *key)
{
	return ferry_spec_source_is_secret(type, settings, key);
}

/* ---- opening stored entities ---- */

int cli_source_load(struct cli *c, const char *name_or_id, struct cli_source *out,
		    struct ferry_err *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = cli_lookup(c, FERRY_SOURCE, name_or_id, &out->e, err)))
		return rc;
	if (ferry_entity_has_secrets(&out->e) && !c->have_key) {
		*err = c->key_err;
		return ferry_err_prefix(err, "source \"%s\" has secrets: ", out->e.name);
	}
	return ferry_entity_config(&out->e, FERRY_SOURCE, cli_key(c), &out->config, err);
}

int cli_source_connect(struct cli_source *s, struct ferry_fault *fault, struct ferry_err *err)
{
	const struct ferry_source_ops *ops = ferry_source_type(s->e.type);

	if (!ops)
		return ferry_err_set(err, FERRY_ECONFIG, "source \"%s\" has unknown type \"%s\"",
				     s->e.name, s->e.type);
	return ferry_source_open(&s->src, ops, s->e.name, &s->config, fault, err);
}

void cli_source_release(struct cli_source *s)
{
	ferry_source_close(&s->src);
	ferry_config_release(&s->config);
	ferry_entity_release(&s->e);
}

int cli_dest_load(struct cli *c, const char *name_or_id, struct cli_dest *out,
		  struct ferry_err *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = cli_lookup(c, FERRY_DESTINATION, name_or_id, &out->e, err)))
		return rc;
	if (ferry_entity_has_secrets(&out->e) && !c->have_key) {
		*err = c->key_err;
		return ferry_err_prefix(err, "destination \"%s\" has a secret URL: ", out->e.name);
	}
	return ferry_entity_config(&out->e, FERRY_DESTINATION, cli_key(c), &out->config, err);
}

int cli_dest_connect(struct cli_dest *d, struct ferry_fault *fault, struct ferry_err *err)
{
	const char *url = ferry_config_get(&d->config, "url");

	if (!url)
		return ferry_err_set(err, FERRY_ECONFIG, "destination \"%s\" has no URL", d->e.name);
	return ferry_dest_open(&d->dst, d->e.name, url, fault, err);
}

void cli_dest_release(struct cli_dest *d)
{
	ferry_dest_close(&d->dst);
	ferry_config_release(&d->config);
	ferry_entity_release(&d->e);
}

/* ---- shared list/show/rm ---- */

static const char *group_word(enum ferry_kind_entity k)
{
	return k == FERRY_SOURCE ? "source" : k == FERRY_DESTINATION ? "dest" : "connection";
}

/* A unix time as "2026-11-23 10:00:00Z", or "-" for null. */
/* A stored time ("2026-11-23T10:00:00.000Z") as "2026-11-23 10:00:00Z", or "-". */
static void time_text(json_t *v, char *out, size_t n)
{
	const char *s = json_string_value(v);

	if (!s || strlen(s) < 19)
		snprintf(out, n, "-");
	else
		snprintf(out, n, "%.10s %.8sZ", s, s + 11);
}

static const char *str_or(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : dflt;
}

static void connection_row(json_t *j)
{
	json_t *set = json_object_get(j, "settings"), *st = json_object_get(j, "state");
	char next[32], sched[80];

	time_text(json_object_get(st, "next_run_at"), next, sizeof(next));
	snprintf(sched, sizeof(sched), "%s%s", str_or(set, "schedule", "-"),
		 !strcmp(str_or(set, "auto_sync", "off"), "off") && json_object_get(set, "schedule") ?
		 " (auto-sync off)" : "");
	printf("%-18s %-24s %-8s %-22s %-21s %s\n", str_or(j, "id", ""), str_or(j, "name", ""),
	       str_or(set, "status", "active"), sched, next,
	       str_or(st, "last_sync_status", "-"));
}

static int cli_entity_list(struct cli *c, enum ferry_kind_entity k, bool json)
{
	struct ferry_err err = {0};
	struct ferry_entity *v;
	int n, i, rc;

	if ((rc = cli_store(c, &err)) || (rc = ferry_store_list(c->store, k, &v, &n, &err)))
		return cli_fail(&err);
	if (json) {
		json_t *arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(arr, ferry_spec_entity_json(c->store, k, &v[i]));
		cli_print_json(arr);
	} else if (!n) {
		printf("no %ss yet (add one with `ferry %s add`)\n", ferry_entity_word(k), group_word(k));
	} else if (k == FERRY_CONNECTION) {
		printf("%-18s %-24s %-8s %-22s %-21s %s\n", "ID", "NAME", "STATUS", "SCHEDULE",
		       "NEXT RUN (UTC)", "LAST SYNC");
		for (i = 0; i < n; i++) {
			json_t *j = ferry_spec_entity_json(c->store, k, &v[i]);
			connection_row(j);
			json_decref(j);
		}
	} else {
		printf("%-18s %-24s %s\n", "ID", "NAME", "TYPE");
		for (i = 0; i < n; i++)
			printf("%-18s %-24s %s\n", v[i].id, v[i].name, v[i].type);
	}
	ferry_entities_free(v, n);
	return 0;
}

static void print_value(const char *label, json_t *v)
{
	char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

	printf("%s%s\n", label, s ? s : json_string_value(v));
	free(s);
}

static void connection_state_text(json_t *j)
{
	json_t *st = json_object_get(j, "state");
	char t[32];

	printf("source:   %s\ndest:     %s\n",
	       str_or(json_object_get(j, "source"), "name", str_or(json_object_get(j, "source"), "id", "?")),
	       str_or(json_object_get(j, "destination"), "name",
		      str_or(json_object_get(j, "destination"), "id", "?")));
	printf("state:\n");
	time_text(json_object_get(st, "next_run_at"), t, sizeof(t));
	printf("  next_run_at = %s\n", t);
	printf("  last_sync_at = %s\n", str_or(st, "last_sync_at", "-"));
	printf("  last_sync_status = %s\n", str_or(st, "last_sync_status", "-"));
	printf("  last_sync_error = %s\n", str_or(st, "last_sync_error", "-"));
	if (json_is_integer(json_object_get(st, "running_job_id")))
		printf("  running_job_id = %lld\n",
		       (long long)json_integer_value(json_object_get(st, "running_job_id")));
}

static int cli_entity_show(struct cli *c, enum ferry_kind_entity k, const char *name, bool json)
{
	struct ferry_err err = {0};
	struct ferry_entity e;
	json_t *j, *v;
	const char *key;

	if (cli_lookup(c, k, name, &e, &err))
		return cli_fail(&err);
	j = ferry_spec_entity_json(c->store, k, &e);
	if (json) {
		cli_print_json(j);
	} else {
		printf("id:       %s\nname:     %s\ntype:     %s\ncreated:  %s\n", e.id, e.name, e.type,
		       e.created_at);
		if (k == FERRY_CONNECTION)
			connection_state_text(j);
		printf("settings:\n");
		json_object_foreach(json_object_get(j, "settings"), key, v) {
			char label[160];
			snprintf(label, sizeof(label), "  %s = ", key);
			print_value(label, v);
		}
		json_decref(j);
	}
	ferry_entity_release(&e);
	return 0;
}

static int cli_entity_rm(struct cli *c, enum ferry_kind_entity k, const char *name)
{
	struct ferry_err err = {0};

	if (cli_store(c, &err) || ferry_store_rm(c->store, k, name, &err)) {
		if (err.code == FERRY_ENOTFOUND)
			err.code = FERRY_EUSAGE;
		return cli_fail(&err);
	}
	printf("%s \"%s\" removed\n", ferry_entity_word(k), name);
	return 0;
}

/* ---- ferry source ---- */

static const char source_help[] =
	"usage: ferry source add NAME --type TYPE --set KEY=VALUE ...\n"
	"       ferry source set NAME|ID --set KEY=VALUE ... [--unset KEY ...]\n"
	"       ferry source list [--json]\n"
	"       ferry source show NAME|ID [--json]\n"
	"       ferry source test NAME|ID\n"
	"       ferry source rm NAME|ID\n\n"
	"Settings of a postgres source:\n"
	"  url=postgres://user:password@host:5432/db   (secret: stored encrypted)\n"
	"  tables=a,b,schema.c                         default: every table of schema public\n"
	"  cursor.TABLE=COLUMN                         read only newer rows in incremental syncs\n"
	"  pk.TABLE=COL1,COL2                          primary key where the table has none\n"
	"Settings of a sqlite source:\n"
	"  path=/path/to/file.db, and tables, cursor.TABLE, pk.TABLE as above\n"
	"API sources (types stripe, close, smartlead, lemlist; rest and graphql with\n"
	"--set manifest=FILE; any NAME.yaml on FERRY_MANIFEST_PATH):\n"
	"  api_key=...                 the vendor's key (secret), as the manifest declares\n"
	"  base_url=URL                regional endpoint or a test server\n"
	"  requests_per_second=N, rate_limit_delay_ms=MS, sync_batch_size=N (page size),\n"
	"  concurrency=N (streams read at once, default 2), max_attempts=N, timeout_ms=MS,\n"
	"  max_response_bytes=N\n"
	"  Tables are named slug(source name)_stream; see docs/builtin-connectors.md and\n"
	"  docs/manifest.md.\n";

/* Applies --set/--unset to a JSON settings object and checks it against the type. */
static int source_settings(const char *cmd, const char *type, json_t *settings, int nset,
			   char **sets, int nunset, char **unsets, const char *name)
{
	struct ferry_err err = {0};
	int i;

	for (i = 0; i < nset; i++) {
		char *buf;
		const char *key, *val;
		if (!cli_split_kv(sets[i], &buf, &key, &val))
			return cli_usage_error(cmd, "--set needs KEY=VALUE, not \"%s\"", sets[i]);
		json_object_set_new(settings, key, json_string(val));
		free(buf);
	}
	for (i = 0; i < nunset; i++)
		json_object_del(settings, unsets[i]);
	if (ferry_spec_source(name, type, settings, &err))
		return cli_fail(&err);
	return 0;
}

static int source_add(struct cli *c, int argc, char **argv, bool update)
{
	static const struct option opts[] = {
		{"type", required_argument, 0, 't'}, {"set", required_argument, 0, 's'},
		{"unset", required_argument, 0, 'u'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const char *cmd = update ? "source set" : "source add";
	const char *name = NULL, *type = NULL;
	char *sets[128], *unsets[64];
	int nset = 0, nunset = 0, ch, rc;
	struct ferry_err err = {0};
	struct ferry_entity old = {0};
	json_t *settings = NULL;
	char id[32];

	optind = 1;
	while ((ch = cli_getopt(cmd, argc, argv, opts)) != -1) {
		switch (ch) {
		case 1:
			if (name)
				return cli_usage_error(cmd, "unexpected argument \"%s\"", optarg);
			name = optarg;
			break;
		case 't': type = optarg; break;
		case 's':
			if (nset == 128)
				return cli_usage_error(cmd, "too many --set options");
			sets[nset++] = optarg;
			break;
		case 'u':
			if (nunset == 64)
				return cli_usage_error(cmd, "too many --unset options");
			unsets[nunset++] = optarg;
			break;
		case 'h': fputs(source_help, stdout); return 0;
		default: return 2;
		}
	}
	if (!name || !*name)
		return cli_usage_error(cmd, "needs a NAME");
	if (update) {
		if (type)
			return cli_usage_error(cmd, "the type of a source cannot change: add a new source");
		if ((rc = cli_lookup(c, FERRY_SOURCE, name, &old, &err)))
			return cli_fail(&err);
		type = old.type;
		name = old.name;
		settings = json_deep_copy(old.settings);
	} else {
		if (!type)
			return cli_usage_error(cmd, "needs --type (postgres or sqlite)");
		if (ferry_spec_name(FERRY_SOURCE, name, &err))
			return cli_fail(&err);
		settings = json_object();
	}
	if ((rc = source_settings(cmd, type, settings, nset, sets, nunset, unsets, name)))
		goto out;
	if ((rc = cli_store(c, &err)) ||
	    (rc = ferry_store_put(c->store, FERRY_SOURCE, name, type, settings, cli_source_is_secret,
				  cli_key(c), update, id, NULL, &err))) {
		rc = cli_fail(&err);
		goto out;
	}
	printf("source \"%s\" %s (id %s)\n", name, update ? "updated" : "added", id);
out:
	json_decref(settings);
	ferry_entity_release(&old);
	return rc;
}

static int source_test(struct cli *c, const char *name)
{
	struct ferry_err err = {0};
	struct cli_source s;
	struct ferry_stream_list l = {0};
	int rc, i;

	rc = cli_source_load(c, name, &s, &err);
	if (!rc)
		rc = cli_source_connect(&s, NULL, &err);
	if (!rc)
		rc = s.src.ops->discover(&s.src, &l, &err);
	if (rc) {
		cli_source_release(&s);
		return cli_fail(&err);
	}
	/* an API answers only when asked: fetch the first page of the first stream */
	if (s.src.ops->name_by_source && l.n) {
		struct ferry_read_req req = {.stream = &l.v[0], .batch_rows = 1};
		struct ferry_batch b;
		char *hi = NULL;
		void *h = NULL;
		ferry_batch_init(&b, 64 << 20);
		rc = s.src.ops->begin(&s.src, &req, &h, &hi, &err);
		if (!rc && (rc = s.src.ops->read(&s.src, h, &b, &err)) == FERRY_DONE)
			rc = 0;
		long long got = b.nrows;
		if (h)
			s.src.ops->end(&s.src, h);
		free(hi);
		ferry_batch_release(&b);
		if (rc) {
			ferry_stream_list_release(&l);
			cli_source_release(&s);
			return cli_fail(&err);
		}
		printf("source \"%s\" answered: stream \"%s\" gave %lld record%s on its first page\n",
		       s.e.name, l.v[0].name, got, got == 1 ? "" : "s");
	}
	printf("source \"%s\" is reachable: %d stream%s\n", s.e.name, l.n, l.n == 1 ? "" : "s");
	for (i = 0; i < l.n; i++) {
		const struct ferry_stream *st = &l.v[i];
		char est[32] = "?";
		if (st->estimate >= 0)
			snprintf(est, sizeof(est), "%lld", st->estimate);
		printf("  %-30s %3d columns  pk: %s  cursor: %s  ~%s rows\n", st->name, st->ncols,
		       st->npk ? st->cols[st->pk[0]].name : "(none)",
		       st->cursor >= 0 ? st->cols[st->cursor].name : "(none)", est);
	}
	ferry_stream_list_release(&l);
	cli_source_release(&s);
	return 0;
}

static int group_cmd(struct cli *c, enum ferry_kind_entity k, int argc, char **argv,
		     const char *help, int (*add)(struct cli *, int, char **, bool),
		     int (*test)(struct cli *, const char *))
{
	const char *sub = argc > 1 ? argv[1] : NULL;
	const char *grp = group_word(k);
	bool json = false;
	const char *name = NULL;
	int i;

	if (!sub || !strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
		fputs(help, sub ? stdout : stderr);
		return sub ? 0 : 2;
	}
	if (!strcmp(sub, "add") && add)
		return add(c, argc - 1, argv + 1, false);
	if (!strcmp(sub, "set") && add && k == FERRY_SOURCE)
		return add(c, argc - 1, argv + 1, true);
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(help, stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1])
			return cli_usage_error(grp, "unknown option %s", argv[i]);
		else if (name)
			return cli_usage_error(grp, "unexpected argument \"%s\"", argv[i]);
		else
			name = argv[i];
	}
	if (!strcmp(sub, "list")) {
		if (name)
			return cli_usage_error(grp, "list takes no NAME");
		return cli_entity_list(c, k, json);
	}
	if (strcmp(sub, "show") && strcmp(sub, "rm") && strcmp(sub, "test"))
		return cli_usage_error(grp, "unknown subcommand \"%s\"", sub);
	if (!name)
		return cli_usage_error(grp, "%s needs a NAME or ID", sub);
	if (!strcmp(sub, "show"))
		return cli_entity_show(c, k, name, json);
	if (!strcmp(sub, "rm"))
		return cli_entity_rm(c, k, name);
	if (!test)
		return cli_usage_error(grp, "unknown subcommand \"%s\"", sub);
	return test(c, name);
}

int cmd_source(struct cli *c, int argc, char **argv)
{
	return group_cmd(c, FERRY_SOURCE, argc, argv, source_help, source_add, source_test);
}

/* ---- ferry dest ---- */

static const char dest_help[] =
	"usage: ferry dest add NAME --url postgres://user:password@host:5432/db|sqlite:///path/file.db\n"
	"       ferry dest list [--json]\n"
	"       ferry dest show NAME|ID [--json]\n"
	"       ferry dest test NAME|ID\n"
	"       ferry dest rm NAME|ID\n\n"
	"The URL is a secret: it is stored encrypted with FERRY_ENCRYPTION_KEY and shown as ********.\n";

static int dest_add(struct cli *c, int argc, char **argv, bool update)
{
	static const struct option opts[] = {
		{"url", required_argument, 0, 'u'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const char *name = NULL, *url = NULL, *type = NULL;
	struct ferry_err err = {0};
	json_t *settings;
	char id[32];
	int ch, rc;

	optind = 1;
	while ((ch = cli_getopt("dest add", argc, argv, opts)) != -1) {
		switch (ch) {
		case 1:
			if (name)
				return cli_usage_error("dest add", "unexpected argument \"%s\"", optarg);
			name = optarg;
			break;
		case 'u': url = optarg; break;
		case 'h': fputs(dest_help, stdout); return 0;
		default: return 2;
		}
	}
	if (!name || !*name)
		return cli_usage_error("dest add", "needs a NAME");
	if (!url)
		return cli_usage_error("dest add", "needs --url (postgres://... or sqlite:///path)");
	if (ferry_spec_name(FERRY_DESTINATION, name, &err) ||
	    ferry_spec_dest(name, url, &type, &err))
		return cli_fail(&err);
	settings = json_pack("{s:s}", "url", url);
	rc = cli_store(c, &err);
	if (!rc)
		rc = ferry_store_put(c->store, FERRY_DESTINATION, name, type, settings,
				     cli_dest_is_secret, cli_key(c), false, id, NULL, &err);
	json_decref(settings);
	if (rc)
		return cli_fail(&err);
	printf("destination \"%s\" added (id %s)\n", name, id);
	return 0;
}

static int dest_test(struct cli *c, const char *name)
{
	struct ferry_err err = {0};
	struct cli_dest d;
	int rc;

	rc = cli_dest_load(c, name, &d, &err);
	if (!rc)
		rc = cli_dest_connect(&d, NULL, &err);
	if (!rc)
		printf("destination \"%s\" is reachable (%s)\n", d.e.name, d.e.type);
	cli_dest_release(&d);
	return rc ? cli_fail(&err) : 0;
}

int cmd_dest(struct cli *c, int argc, char **argv)
{
	return group_cmd(c, FERRY_DESTINATION, argc, argv, dest_help, dest_add, dest_test);
}

static const char connection_help[] =
	"usage: ferry connection add NAME --source S --dest D [--streams a,b] [--namespace NS]\n"
	"           [--mode incremental|full] [--cron EXPR | --every 15m] [--auto-sync on|off]\n"
	"           [--max-attempts N] [--timeout 30m] [--webhook URL] [--signed-triggers on|off]\n"
	"           (add --help for more)\n"
	"       ferry connection pause|resume NAME|ID\n"
	"       ferry connection trigger NAME|ID\n"
	"       ferry connection rotate-secret NAME|ID\n"
	"       ferry connection list [--json]\n"
	"       ferry connection show NAME|ID [--json]\n"
	"       ferry connection rm NAME|ID\n\n"
	"Connections are created here, with `ferry apply FILE.yaml` or over HTTP, run on\n"
	"their schedule by `ferry serve` or `ferry run-due`, or now with `ferry sync\n"
	"--connection NAME`. list and show give the schedule state: next run, last sync,\n"
	"its status and error. rm refuses while the connection has a job queued or running.\n"
	"rotate-secret replaces the signing secret of its webhooks and signed triggers and\n"
	"prints the new one once.\n";

int cmd_connection(struct cli *c, int argc, char **argv)
{
	bool handled;
	int rc = cli_connection_cmd(c, argc, argv, &handled);

	if (handled)
		return rc;
	return group_cmd(c, FERRY_CONNECTION, argc, argv, connection_help, NULL, NULL);
}
