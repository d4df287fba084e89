/*
 * cmd_sync.c - `ferry sync SOURCE DEST [STREAM...]`: one job, start to end.
 *
 * Checks every argument before touching anything, records the job in the
 * state store, runs the engine with a progress display (redrawn on a
 * terminal, plain lines otherwise), and reports per-stream counts as a table
 * or, with --json, one JSON object.
 */
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "ferry/engine.h"
#include "util/text.h"

static const char sync_help[] =
	"usage: ferry sync SOURCE DEST [STREAM...] [options]\n"
	"       ferry sync --connection NAME [options]\n\n"
	"Copies the source's tables (streams) into the destination.\n\n"
	"Modes:\n"
	"  (default)              incremental: upsert by primary key; with a cursor column, read\n"
	"                         only rows at or after the stored cursor\n"
	"  --full                 read everything into staging tables, then swap all of them in\n"
	"                         at once; counts deleted rows\n"
	"  --since T --until T    backfill rows whose cursor is in [T, T'); the stored cursor stays\n"
	"  --reset                drop this source's tables and state in the namespace, then --full\n"
	"  --dry-run              print the plan (tables, columns, estimated rows); write nothing\n\n"
	"Options:\n"
	"  --namespace NS         PostgreSQL schema / SQLite table prefix NS__\n"
	"  --prefix P             prefix for destination table names\n"
	"  --batch-size N         rows per batch (default 10000)\n"
	"  --deletes hard|soft    full syncs: drop vanished rows (hard) or keep them with\n"
	"                         _ferry_deleted_at set (soft); default hard\n"
	"  --backup-retention S   seconds to keep the replaced tables of a full sync (default 60)\n"
	"  --json                 print the result as one JSON object\n";

struct progress_ui {
	struct cli *c;
	long long job_id;
	bool tty, quiet;
	long long last_draw, last_store, last_plain;
	int last_done;           /* streams already printed as finished */
	int cur;                 /* stream whose rate is being measured */
	long long cur_start;     /* when it started */
};

static volatile sig_atomic_t cancelled;

static void on_signal(int sig)
{
	(void)sig;
	cancelled = 1;
}

static void fmt_count(long long v, char *out, size_t n)
{
	char raw[32];
	int len, i, o = 0;

	len = snprintf(raw, sizeof(raw), "%lld", v);
	for (i = 0; i < len && (size_t)o + 2 < n; i++) {
		if (i && (len - i) % 3 == 0 && raw[0] != '-')
			out[o++] = ',';
		out[o++] = raw[i];
	}
	out[o] = '\0';
}

static void store_progress(struct progress_ui *ui, const struct ferry_progress *p)
{
	struct ferry_job_stream v[p->n > 0 ? p->n : 1];
	struct ferry_err err = {0};
	int i;

	for (i = 0; i < p->n; i++) {
		const struct ferry_stream_run *r = &p->streams[i];
		v[i].name = r->stream->name;
		v[i].table = r->stream->dest_table;
		v[i].status = r->status;
		v[i].read = r->c.read;
		v[i].inserted = r->c.inserted;
		v[i].updated = r->c.updated;
		v[i].unchanged = r->c.unchanged;
		v[i].deleted = r->c.deleted;
		v[i].estimate = r->estimate;
		v[i].bytes = r->bytes;
		v[i].pages = r->c.pages;
		v[i].duplicates = r->c.duplicates;
		v[i].collisions = r->c.collisions;
	}
	if (p->n)
		ferry_store_job_streams(ui->c->store, ui->job_id, v, p->n, &err);
}

static void progress_line(const struct progress_ui *ui, const struct ferry_stream_run *r,
			  char *out, size_t n)
{
	char rows[32], est[32];
	double secs = (ferry_mono_ms() - ui->cur_start) / 1000.0;
	double rate = secs > 0 ? r->c.read / secs : 0;

	char pages[32] = "";

	fmt_count(r->c.read, rows, sizeof(rows));
	if (r->c.pages)
		snprintf(pages, sizeof(pages), "  %lld page%s", r->c.pages, r->c.pages == 1 ? "" : "s");
	if (r->estimate > 0) {
		double pct = 100.0 * (double)r->c.read / (double)r->estimate;
		double eta = rate > 0 && r->estimate > r->c.read ? (r->estimate - r->c.read) / rate : 0;
		fmt_count(r->estimate, est, sizeof(est));
		snprintf(out, n, "%-24s %12s / ~%s rows  %5.1f%%  %9.0f rows/s  ETA %.0fs%s",
			 r->stream->name, rows, est, pct > 100 ? 100.0 : pct, rate, eta, pages);
	} else {
		snprintf(out, n, "%-24s %12s rows  %9.0f rows/s%s", r->stream->name, rows, rate, pages);
	}
}

static void on_progress(void *ctx, const struct ferry_progress *p)
{
	struct progress_ui *ui = ctx;
	long long now = ferry_mono_ms();
	char line[256];
	int i;

	if (p->current >= 0 && p->current != ui->cur) {
		ui->cur = p->current;
		ui->cur_start = now;
	}
	if (now - ui->last_store >= 1000 || !strcmp(p->stage, "done")) {
		ui->last_store = now;
		store_progress(ui, p);
	}
	if (ui->quiet)
		return;
	/* Streams that finished since the last call get a final line of their own. */
	for (i = ui->last_done; i < p->n; i++) {
		const struct ferry_stream_run *r = &p->streams[i];
		if (strcmp(r->status, "loaded") && strcmp(r->status, "done"))
			break;
		progress_line(ui, r, line, sizeof(line));
		fprintf(stderr, "%s%s  %s\n", ui->tty ? "\r\033[K" : "", line,
			!strcmp(r->status, "loaded") ? "loaded (staged)" : "done");
		ui->last_done = i + 1;
	}
	if (p->current >= 0 && p->current >= ui->last_done) {
		const struct ferry_stream_run *r = &p->streams[p->current];
		if (ui->tty && now - ui->last_draw >= 100) {
			ui->last_draw = now;
			progress_line(ui, r, line, sizeof(line));
			fprintf(stderr, "\r\033[K%s", line);
		} else if (!ui->tty && now - ui->last_plain >= 10000) {
			ui->last_plain = now;
			progress_line(ui, r, line, sizeof(line));
			fprintf(stderr, "%s\n", line);
		}
	}
	if (!strcmp(p->stage, "commit"))
		fprintf(stderr, "%sswapping %d table%s in one transaction\n", ui->tty ? "\r\033[K" : "",
			p->n, p->n == 1 ? "" : "s");
}

static bool valid_ident(const char *s)
{
	if (!s || !*s || strlen(s) > 40 || !(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

static json_t *result_json(long long job_id, const char *status, const struct ferry_sync_result *res,
			   const struct ferry_sync_opts *o, const struct ferry_err *err)
{
	json_t *streams = json_array();
	int i;

	for (i = 0; i < res->n; i++) {
		const struct ferry_stream_run *r = &res->runs[i];
		json_array_append_new(
			streams, json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
					   "name", r->stream->name, "table", r->stream->dest_table,
					   "status", r->status, "read", (json_int_t)r->c.read, "inserted",
					   (json_int_t)r->c.inserted, "updated", (json_int_t)r->c.updated,
					   "unchanged", (json_int_t)r->c.unchanged, "deleted",
					   (json_int_t)r->c.deleted, "bytes", (json_int_t)r->bytes,
					   "pages", (json_int_t)r->c.pages, "duplicates",
					   (json_int_t)r->c.duplicates, "collisions",
					   (json_int_t)r->c.collisions));
	}
	return json_pack("{s:o, s:s, s:s, s:s?, s:I, s:o, s:o}", "job_id",
			 job_id ? json_integer(job_id) : json_null(), "status", status, "mode",
			 (res->run_unix ? res->mode == FERRY_MODE_FULL
					: o->reset || o->mode == FERRY_MODE_FULL) ? "full" : "incremental",
			 "namespace", o->namespace,
			 "duration_ms", (json_int_t)res->duration_ms, "error",
			 err && err->code ? json_string(err->msg) : json_null(), "streams", streams);
}

static void print_plan(const struct ferry_sync_result *res, const struct ferry_sync_opts *o,
		       const char *dest_name)
{
	int i, j;

	printf("dry run: nothing will be written. %s sync into \"%s\"%s%s:\n",
	       res->mode == FERRY_MODE_FULL ? "A full" : "An incremental", dest_name,
	       o->namespace ? ", namespace " : "", o->namespace ? o->namespace : "");
	for (i = 0; i < res->n; i++) {
		const struct ferry_stream_run *run = &res->runs[i];
		const struct ferry_stream *s = run->stream;
		char est[32];
		fmt_count(run->estimate, est, sizeof(est));
		printf("\n  %s -> table %s (%s), ~%s rows", s->name, s->dest_table,
		       run->table_exists ? "exists" : "would be created",
		       run->estimate >= 0 ? est : "?");
		if (run->c.pages)
			printf(" (columns from a sample of %lld record%s)", run->c.read,
			       run->c.read == 1 ? "" : "s");
		printf("\n");
		for (j = 0; j < s->ncols; j++) {
			bool pk = false;
			int k;
			for (k = 0; k < s->npk; k++)
				pk = pk || s->pk[k] == j;
			printf("      %-28s %s%s%s%s\n", s->cols[j].name, s->cols[j].pg_type,
			       s->cols[j].not_null ? " not null" : "", pk ? "  [primary key]" : "",
			       s->cursor == j ? "  [cursor]" : "");
		}
	}
}

static json_t *plan_json(const struct ferry_sync_result *res)
{
	json_t *arr = json_array();
	int i, j;

	for (i = 0; i < res->n; i++) {
		const struct ferry_stream *s = res->runs[i].stream;
		json_t *cols = json_array(), *pk = json_array();
		for (j = 0; j < s->ncols; j++)
			json_array_append_new(cols, json_pack("{s:s, s:s, s:b}", "name", s->cols[j].name,
							      "type", s->cols[j].pg_type, "not_null",
							      s->cols[j].not_null));
		for (j = 0; j < s->npk; j++)
			json_array_append_new(pk, json_string(s->cols[s->pk[j]].name));
		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:b, s:I, s:o, s:o, s:s?}", "name", s->name, "table",
				       s->dest_table, "exists", res->runs[i].table_exists, "estimated_rows",
				       (json_int_t)s->estimate, "columns", cols, "primary_key", pk,
				       "cursor", s->cursor >= 0 ? s->cols[s->cursor].name : NULL));
	}
	return json_pack("{s:b, s:s, s:o}", "dry_run", 1, "mode",
			 res->mode == FERRY_MODE_FULL ? "full" : "incremental", "streams", arr);
}

static void print_result(const struct ferry_sync_result *res, long long job_id, bool ok)
{
	int i;

	printf("job %lld %s in %.1fs (%s)\n", job_id, ok ? "succeeded" : "failed",
	       res->duration_ms / 1000.0, res->mode == FERRY_MODE_FULL ? "full" : "incremental");
	if (!res->n)
		return;
	int ws = 6, wt = 5;
	bool hashed = false;

	for (i = 0; i < res->n; i++) {
		const struct ferry_stream_run *r = &res->runs[i];
		ws = (int)strlen(r->stream->name) > ws ? (int)strlen(r->stream->name) : ws;
		wt = (int)strlen(r->stream->dest_table) > wt ? (int)strlen(r->stream->dest_table) : wt;
		hashed = hashed || r->c.duplicates || r->c.collisions;
	}
	printf("  %-*s  %-*s %10s %10s %10s %10s %10s%s\n", ws, "STREAM", wt, "TABLE", "READ",
	       "INSERTED", "UPDATED", "UNCHANGED", "DELETED", hashed ? " DUPLICATES COLLISIONS" : "");
	for (i = 0; i < res->n; i++) {
		const struct ferry_stream_run *r = &res->runs[i];
		printf("  %-*s  %-*s %10lld %10lld %10lld %10lld %10lld", ws, r->stream->name, wt,
		       r->stream->dest_table, r->c.read, r->c.inserted, r->c.updated, r->c.unchanged,
		       r->c.deleted);
		if (hashed)
			printf(" %10lld %10lld", r->c.duplicates, r->c.collisions);
		printf("\n");
	}
}

/* Reads a connection's settings into the options, under what the command line says. */
static int load_connection(struct cli *c, const char *name, const char **src, const char **dst,
			   struct ferry_entity *con, struct ferry_sync_opts *o, char ***streams,
			   struct ferry_err *err)
{
	json_t *s;
	int rc;
	size_t i;
	json_t *v;

	if ((rc = cli_lookup(c, FERRY_CONNECTION, name, con, err)))
		return rc;
	s = con->settings;
	*src = json_string_value(json_object_get(s, "source_id"));
	*dst = json_string_value(json_object_get(s, "destination_id"));
	if (!o->namespace)
		o->namespace = json_string_value(json_object_get(s, "namespace"));
	if (!o->prefix)
		o->prefix = json_string_value(json_object_get(s, "prefix"));
	if (json_is_string(json_object_get(s, "mode")) &&
	    !strcmp(json_string_value(json_object_get(s, "mode")), "full"))
		o->mode = FERRY_MODE_FULL;
	if (json_is_string(json_object_get(s, "deletes")) &&
	    !strcmp(json_string_value(json_object_get(s, "deletes")), "soft"))
		o->soft_deletes = true;
	if (json_is_integer(json_object_get(s, "backup_retention")) && o->backup_retention < 0)
		o->backup_retention = json_integer_value(json_object_get(s, "backup_retention"));
	if (!o->nstreams && json_array_size(json_object_get(s, "streams"))) {
		*streams = calloc(json_array_size(json_object_get(s, "streams")), sizeof(char *));
		json_array_foreach(json_object_get(s, "streams"), i, v)
			(*streams)[o->nstreams++] = (char *)json_string_value(v);
		o->streams = *streams;
	}
	if (!*src || !*dst)
		return ferry_err_set(err, FERRY_ECONFIG, "connection \"%s\" is damaged: no source or destination", name);
	return 0;
}

int cmd_sync(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"full", no_argument, 0, 'F'},           {"since", required_argument, 0, 'S'},
		{"until", required_argument, 0, 'U'},    {"reset", no_argument, 0, 'R'},
		{"namespace", required_argument, 0, 'n'}, {"dry-run", no_argument, 0, 'D'},
		{"batch-size", required_argument, 0, 'b'}, {"json", no_argument, 0, 'j'},
		{"deletes", required_argument, 0, 'd'},   {"backup-retention", required_argument, 0, 'r'},
		{"prefix", required_argument, 0, 'p'},    {"connection", required_argument, 0, 'c'},
		{"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
	struct ferry_sync_opts o = {0};
	struct ferry_sync_result res = {0};
	struct ferry_err err = {0}, serr = {0};
	struct cli_source src = {0};
	struct cli_dest dst = {0};
	struct ferry_entity con = {0};
	struct ferry_fault *fault = NULL;
	struct progress_ui ui = {0};
	char *pos[256], **con_streams = NULL;
	const char *src_name = NULL, *dst_name = NULL, *con_name = NULL;
	bool json = false, ok;
	int npos = 0, ch, rc, i;
	long long job_id = 0;
	json_t *options;

	o.backup_retention = -1;
	optind = 1;
	while ((ch = cli_getopt("sync", argc, argv, opts)) != -1) {
		switch (ch) {
		case 1:
			if (npos == 256)
				return cli_usage_error("sync", "too many arguments");
			pos[npos++] = optarg;
			break;
		case 'F': o.mode = FERRY_MODE_FULL; break;
		case 'S': o.since = optarg; break;
		case 'U': o.until = optarg; break;
		case 'R': o.reset = true; break;
		case 'D': o.dry_run = true; break;
		case 'j': json = true; break;
		case 'n': o.namespace = optarg; break;
		case 'p': o.prefix = optarg; break;
		case 'c': con_name = optarg; break;
		case 'b':
			if (!cli_int_opt("sync", "--batch-size", optarg, 1, 10000000, &o.batch_rows))
				return 2;
			break;
		case 'r':
			if (!cli_int_opt("sync", "--backup-retention", optarg, 0, 315360000,
					 &o.backup_retention))
				return 2;
			break;
		case 'd':
			if (strcmp(optarg, "hard") && strcmp(optarg, "soft"))
				return cli_usage_error("sync", "--deletes is hard or soft, not \"%s\"", optarg);
			o.soft_deletes = !strcmp(optarg, "soft");
			break;
		case 'h': fputs(sync_help, stdout); return 0;
		default: return 2;
		}
	}
	if (con_name) {
		o.streams = npos ? pos : NULL;
		o.nstreams = npos;
	} else {
		if (npos < 2)
			return cli_usage_error("sync", "needs a SOURCE and a DEST");
		src_name = pos[0];
		dst_name = pos[1];
		o.streams = npos > 2 ? pos + 2 : NULL;
		o.nstreams = npos - 2;
	}
	if (o.since && !ferry_is_timestamp(o.since))
		return cli_usage_error("sync", "--since \"%s\" is not a timestamp (use 2024-01-31 or 2024-01-31T10:00:00Z)", o.since);
	if (o.until && !ferry_is_timestamp(o.until))
		return cli_usage_error("sync", "--until \"%s\" is not a timestamp (use 2024-01-31 or 2024-01-31T10:00:00Z)", o.until);
	if ((o.since || o.until) && (o.mode == FERRY_MODE_FULL || o.reset))
		return cli_usage_error("sync", "--since/--until backfill a date range into the live tables "
					       "and cannot be combined with --full or --reset");
	if (o.since && o.until && strcmp(o.since, o.until) >= 0)
		return cli_usage_error("sync", "--since must be before --until");
	if (o.namespace && !valid_ident(o.namespace))
		return cli_usage_error("sync", "--namespace \"%s\" must be letters, digits and _ (at most 40), starting with a letter", o.namespace);
	if (o.prefix && !valid_ident(o.prefix))
		return cli_usage_error("sync", "--prefix \"%s\" must be letters, digits and _ (at most 40), starting with a letter", o.prefix);
	fault = ferry_fault_from_env(&err);
	if (err.code)
		return cli_fail(&err);

	/* Everything the user named must exist before a job is recorded. */
	if (con_name && (rc = load_connection(c, con_name, &src_name, &dst_name, &con, &o, &con_streams, &err)))
		goto fail;
	if ((rc = cli_source_load(c, src_name, &src, &err)) || (rc = cli_dest_load(c, dst_name, &dst, &err)))
		goto fail;
	o.state_key = src.e.id;
	o.cancel = &cancelled;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	if (!o.dry_run) {
		options = json_pack("{s:b, s:b, s:s?, s:s?, s:s?, s:s?, s:b}", "reset", o.reset, "dry_run",
				    o.dry_run, "since", o.since, "until", o.until, "namespace", o.namespace,
				    "prefix", o.prefix, "soft_deletes", o.soft_deletes);
		if (o.nstreams) {
			json_t *a = json_array();
			for (i = 0; i < o.nstreams; i++)
				json_array_append_new(a, json_string(o.streams[i]));
			json_object_set_new(options, "streams", a);
		}
		rc = ferry_store_job_begin(c->store, con.id[0] ? con.id : NULL, src.e.id, src.e.name,
					   dst.e.id, dst.e.name,
					   o.mode == FERRY_MODE_FULL || o.reset ? "full" : "incremental",
					   options, &job_id, &err);
		json_decref(options);
		if (rc)
			goto fail;
	}
	ui.c = c;
	ui.job_id = job_id;
	ui.tty = isatty(2);
	ui.quiet = json || o.dry_run;
	ui.cur = -1;
	ui.last_plain = ferry_mono_ms();
	if (!ui.quiet)
		fprintf(stderr, "%s sync of \"%s\" into \"%s\" (job %lld)\n",
			o.mode == FERRY_MODE_FULL || o.reset ? "full" : "incremental", src.e.name,
			dst.e.name, job_id);

	rc = cli_source_connect(&src, fault, &err);
	if (!rc)
		rc = cli_dest_connect(&dst, fault, &err);
	if (!rc)
		rc = ferry_sync(&src.src, &dst.dst, &o, job_id ? on_progress : NULL, &ui, &res, &err);
	ok = rc == 0;
	if (job_id) {
		struct ferry_progress p = {res.runs, res.n, -1, "done", res.duration_ms};
		store_progress(&ui, &p);
		ferry_store_job_end(c->store, job_id,
				    ok ? "succeeded" : rc == FERRY_ECANCEL ? "cancelled" : "failed",
				    ok ? NULL : ferry_code_name(rc), ok ? NULL : err.msg, &serr);
		if (ok)
			for (i = 0; i < res.n; i++)
				if (res.plan.v[i].cursor >= 0 && !o.since && !o.until) {
					char *cur = NULL;
					struct ferry_write_opts w = {.namespace = o.namespace, .state_key = o.state_key};
					if (!dst.dst.ops->get_cursor(&dst.dst, &w, &res.plan.v[i], &cur, &serr))
						ferry_store_state_set(c->store, src.e.id, dst.e.id, o.namespace,
								      res.plan.v[i].name, cur, &serr);
					free(cur);
				}
	}
	if (ui.tty && !ui.quiet)
		fprintf(stderr, "\r\033[K");
	if (o.dry_run && ok) {
		if (json)
			cli_print_json(plan_json(&res));
		else
			print_plan(&res, &o, dst.e.name);
	} else if (json) {
		cli_print_json(result_json(job_id, ok ? "succeeded" : rc == FERRY_ECANCEL ? "cancelled" : "failed",
					   &res, &o, ok ? NULL : &err));
	} else if (ok || res.n) {
		print_result(&res, job_id, ok);
	}
	if (!ok)
		rc = cli_fail(&err);
	goto out;
fail:
	rc = cli_fail(&err);
out:
	ferry_sync_result_release(&res);
	cli_source_release(&src);
	cli_dest_release(&dst);
	ferry_entity_release(&con);
	ferry_fault_free(fault);
	free(con_streams);
	return rc;
}
