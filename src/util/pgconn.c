/*
 * pgconn.c - connecting to PostgreSQL with classified errors (see pgconn.h).
 *
 * libpq reports every connection failure as one English string; users need
 * to know which of three things to fix (the URL, the password, the server),
 * and the job runner needs to know whether a retry can help. We parse the URL
 * ourselves through PQconninfoParse so host, port and user are known for
 * messages even when the connection never got that far, and we scrub libpq's
 * parse errors, which quote the URL (password included) back at us.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/pgconn.h"

/* Session settings that make COPY text portable between two connections. */
static const char session_sql[] =
	"SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET TimeZone = 'UTC';"
	" SET extra_float_digits = 1; SET standard_conforming_strings = on;"
	" SET bytea_output = 'hex'";

static bool has_scheme(const char *url)
{
	return !strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13);
}

/* Replaces every occurrence of needle in s (in place, s has room for size bytes). */
static void scrub(char *s, size_t size, const char *needle, const char *with)
{
	size_t nl = strlen(needle), wl = strlen(with);
	char *p;

	if (!nl)
		return;
	while ((p = strstr(s, needle))) {
		size_t tail = strlen(p + nl);
		if ((size_t)(p - s) + wl + tail + 1 > size)
			tail = size - (size_t)(p - s) - wl - 1;
		memmove(p + wl, p + nl, tail);
		p[wl + tail] = '\0';
		memcpy(p, with, wl);
	}
}

/* The raw password of a URL (between "user:" and "@"), malloc'd, or NULL. */
static char *url_password(const char *url)
{
	const char *p = strstr(url, "://"), *end, *at = NULL, *colon;

	if (!p)
		return NULL;
	p += 3;
	end = p + strcspn(p, "/?");
	for (const char *q = p; q < end; q++)
		if (*q == '@')
			at = q;
	if (!at)
		return NULL;
	colon = memchr(p, ':', (size_t)(at - p));
	if (!colon || colon + 1 >= at)
		return NULL;
	return strndup(colon + 1, (size_t)(at - colon - 1));
}

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '.'))
		s[--n] = '\0';
}

static const char *opt(PQconninfoOption *opts, const char *key)
{
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (!strcmp(o->keyword, key))
			return o->val && *o->val ? o->val : NULL;
	return NULL;
}

/* A one-line reason from libpq's connection error ("Connection refused"). */
static void conn_reason(const char *msg, char *out, size_t outlen)
{
	const char *p = strstr(msg, "failed: ");
	size_t n;

	p = p ? p + 8 : msg;
	if (!strncmp(p, "FATAL:  ", 8))
		p += 8;
	n = strcspn(p, "\n");
	snprintf(out, outlen, "%.*s", (int)n, p);
	chomp(out);
	if (out[0] >= 'A' && out[0] <= 'Z' && out[1] >= 'a' && out[1] <= 'z')
		out[0] = (char)(out[0] - 'A' + 'a');
}

static int classify(PGconn *conn, PQconninfoOption *opts, const char *url,
		    const struct ferry_pg_who *who, struct ferry_err *err)
{
	const char *msg = conn ? PQerrorMessage(conn) : "out of memory";
	const char *host = opt(opts, "host"), *port = opt(opts, "port"), *user = opt(opts, "user");
	const char *db = opt(opts, "dbname");
	char where[300], reason[200];

	if (!host)
		host = opt(opts, "hostaddr");
	if (!host && conn)
		host = PQhost(conn);
	if (!port && conn)
		port = PQport(conn);
	if (!user && conn)
		user = PQuser(conn);
	snprintf(where, sizeof(where), "%s:%s", host && *host ? host : "localhost",
		 port && *port ? port : "5432");
	conn_reason(msg, reason, sizeof(reason));
	{
		/* Whatever libpq says, it must not carry the password back out. */
		char *pw = url_password(url);
		if (pw)
			scrub(reason, sizeof(reason), pw, "********");
		free(pw);
		if (url && *url)
			scrub(reason, sizeof(reason), url, "<url>");
	}

	if (!strstr(msg, "connection to server") && strstr(msg, "invalid ") &&
	    (strstr(msg, "value") || strstr(msg, "option") || strstr(msg, "port")))
		/* libpq checks option values (port=abc, sslmode=x) only when connecting. */
		return ferry_err_set(err, FERRY_EUSAGE, "%s \"%s\": malformed URL: %s (expected "
				     "postgres://user:password@host:port/dbname)",
				     who->role, who->name, reason);
	if (strstr(msg, "password authentication failed") || strstr(msg, "no password supplied") ||
	    strstr(msg, "SCRAM") || strstr(msg, "authentication failed for user"))
		return ferry_err_set(err, FERRY_EAUTH,
				     "password rejected for user %s on %s: check the %s URL of \"%s\"",
				     user ? user : "?", where, who->role, who->name);
	if (strstr(msg, "role \"") && strstr(msg, "does not exist"))
		return ferry_err_set(err, FERRY_EAUTH,
				     "user %s does not exist on %s: check the %s URL of \"%s\"",
				     user ? user : "?", where, who->role, who->name);
	if (strstr(msg, "pg_hba.conf"))
		return ferry_err_set(err, FERRY_EAUTH,
				     "%s %s refused user %s (no pg_hba.conf entry): allow this "
				     "client on the server or check the URL of \"%s\"",
				     who->role, where, user ? user : "?", who->name);
	if (strstr(msg, "database \"") && strstr(msg, "does not exist"))
		return ferry_err_set(err, FERRY_ENOTFOUND,
				     "database \"%s\" does not exist on %s (%s \"%s\"): create it "
				     "or fix the database name in the URL",
				     db ? db : (user ? user : "?"), where, who->role, who->name);
	if (strstr(msg, "Connection refused"))
		return ferry_err_set(err, FERRY_ECONNECT,
				     "cannot connect to %s \"%s\" at %s: connection refused "
				     "(is PostgreSQL running there?)", who->role, who->name, where);
	if (strstr(msg, "timeout expired"))
		return ferry_err_set(err, FERRY_ECONNECT,
				     "cannot connect to %s \"%s\" at %s: timed out (is the host "
				     "reachable, and the port open?)", who->role, who->name, where);
	if (strstr(msg, "could not translate host name"))
		return ferry_err_set(err, FERRY_ECONNECT,
				     "cannot connect to %s \"%s\" at %s: unknown host name "
				     "(check the host in the URL)", who->role, who->name, where);
	if (strstr(msg, "No such file or directory") && strstr(msg, "socket"))
		return ferry_err_set(err, FERRY_ECONNECT,
				     "cannot connect to %s \"%s\" at %s: no server on that socket "
				     "(is PostgreSQL running there?)", who->role, who->name, where);
	return ferry_err_set(err, FERRY_ECONNECT, "cannot connect to %s \"%s\" at %s: %s",
			     who->role, who->name, where, reason);
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int ferry_pg_connect(const char *url, const struct ferry_pg_who *who, PGconn **out,
		     struct ferry_err *err)
{
	const char *keys[] = {"connect_timeout", "application_name", "client_encoding", "dbname",
			      NULL};
	const char *vals[] = {"10", "ferry", "UTF8", url, NULL};
	PQconninfoOption *opts = NULL;
	PGconn *conn = NULL;
	PGresult *res;
	char *perr = NULL;
	int rc = 0;

	*out = NULL;
	if (!url || !*url)
		return ferry_err_set(err, FERRY_EUSAGE, "%s \"%s\" has no URL (expected "
				     "postgres://user:password@host:port/dbname)", who->role,
				     who->name);
	if (!has_scheme(url))
		return ferry_err_set(err, FERRY_EUSAGE, "%s \"%s\": malformed URL: it must start "
				     "with postgres:// (expected postgres://user:password@host:port/dbname)",
				     who->role, who->name);
	opts = PQconninfoParse(url, &perr);
	if (!opts) {
		char msg[400], *pw = url_password(url);

		snprintf(msg, sizeof(msg), "%s", perr ? perr : "out of memory");
		scrub(msg, sizeof(msg), url, "<url>");
		if (pw)
			scrub(msg, sizeof(msg), pw, "********");
		free(pw);
		chomp(msg);
		PQfreemem(perr);
		return ferry_err_set(err, FERRY_EUSAGE, "%s \"%s\": malformed URL: %s (expected "
				     "postgres://user:password@host:port/dbname)",
				     who->role, who->name, msg);
	}
	conn = PQconnectdbParams(keys, vals, 1);
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		rc = classify(conn, opts, url, who, err);
		goto out;
	}
	PQsetNoticeProcessor(conn, quiet, NULL); /* "table does not exist, skipping" */
	res = PQexec(conn, session_sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		rc = ferry_pg_fail(conn, res, who, "setting up the session", NULL, err);
		PQclear(res);
		goto out;
	}
	PQclear(res);
	*out = conn;
	conn = NULL;
out:
	if (conn)
		PQfinish(conn);
	PQconninfoFree(opts);
	return rc;
}

const char *ferry_pg_sqlstate(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return s ? s : "";
}

bool ferry_pg_gone(PGconn *conn, const PGresult *res)
{
	const char *st = ferry_pg_sqlstate(res);

	if (!conn || PQstatus(conn) == CONNECTION_BAD)
		return true;
	return !strncmp(st, "08", 2) || !strcmp(st, "57P01") || !strcmp(st, "57P02") ||
	       !strcmp(st, "57P03");
}

void ferry_pg_reason(PGconn *conn, const PGresult *res, char *out, size_t outlen)
{
	const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	size_t n;

	if (!m || !*m) {
		m = res ? PQresultErrorMessage(res) : "";
		if (!*m && conn)
			m = PQerrorMessage(conn);
		if (!*m)
			m = "unknown error";
		if (!strncmp(m, "ERROR:  ", 8) || !strncmp(m, "FATAL:  ", 8))
			m += 8;
	}
	n = strcspn(m, "\n");
	snprintf(out, outlen, "%.*s", (int)n, m);
	chomp(out);
}

int ferry_pg_fail(PGconn *conn, const PGresult *res, const struct ferry_pg_who *who,
		  const char *doing, const char *what, struct ferry_err *err)
{
	char reason[300], tail[320];

	ferry_pg_reason(conn, res, reason, sizeof(reason));
	if (what)
		snprintf(tail, sizeof(tail), " \"%s\"", what);
	else
		tail[0] = '\0';
	if (ferry_pg_gone(conn, res)) {
		const char *all = conn ? PQerrorMessage(conn) : "";
		if (strstr(all, "server closed the connection unexpectedly") &&
		    !strstr(reason, "server closed the connection unexpectedly")) {
			char r2[sizeof(reason)];
			if (strstr(all, "terminating connection"))
				snprintf(r2, sizeof(r2), "server closed the connection unexpectedly (%.200s)",
					 reason);
			else
				snprintf(r2, sizeof(r2), "server closed the connection unexpectedly");
			memcpy(reason, r2, sizeof(reason));
		}
		return ferry_err_set(err, who->fail_code, "%s \"%s\" went away while %s%s: %s",
				     who->role, who->name, doing, tail, reason);
	}
	return ferry_err_set(err, who->fail_code, "%s \"%s\" failed while %s%s: %s", who->role,
			     who->name, doing, tail, reason);
}

int ferry_pg_exec(PGconn *conn, const struct ferry_pg_who *who, const char *sql,
		  const char *doing, const char *what, PGresult **res, struct ferry_err *err)
{
	PGresult *r;
	ExecStatusType st;
	int rc;

	if (res)
		*res = NULL;
	if (!conn)
		return ferry_err_set(err, who->fail_code, "%s \"%s\" is not connected (while %s)",
				     who->role, who->name, doing);
	r = PQexec(conn, sql);
	st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (res)
			*res = r;
		else
			PQclear(r);
		return 0;
	}
	rc = ferry_pg_fail(conn, r, who, doing, what, err);
	PQclear(r);
	return rc;
}

bool ferry_pg_ok(const PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

PGresult *ferry_pg_run(PGconn *conn, const char *sql)
{
	PGresult *keep = NULL, *r;

	if (!PQsendQuery(conn, sql))
		return PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
	while ((r = PQgetResult(conn))) {
		ExecStatusType st = PQresultStatus(r);
		if ((keep && !ferry_pg_ok(keep)) || (st == PGRES_COMMAND_OK && keep)) {
			PQclear(r);
			continue;
		}
		PQclear(keep);
		keep = r;
		if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH)
			break; /* the caller runs the COPY */
	}
	return keep ? keep : PQmakeEmptyPGresult(conn, PGRES_COMMAND_OK);
}

int ferry_pg_qname(struct ferry_buf *b, const char *schema, const char *name)
{
	int rc = ferry_sql_ident(b, schema);

	if (!rc)
		rc = ferry_buf_addc(b, '.');
	return rc ? rc : ferry_sql_ident(b, name);
}

int ferry_pg_literal(struct ferry_buf *b, const char *s)
{
	int rc = ferry_buf_add(b, "E'", 2);

	for (const char *p = s; !rc && *p; p++) {
		if (*p == '\'' || *p == '\\')
			rc = ferry_buf_addc(b, *p);
		if (!rc)
			rc = ferry_buf_addc(b, *p);
	}
	return rc ? rc : ferry_buf_addc(b, '\'');
}
