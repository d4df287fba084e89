/*
 * pgconn.h - what the PostgreSQL source and destination share: connecting with
 * classified errors, quoting, and turning a failed statement into a message.
 *
 * Connecting validates the URL with libpq's own parser first, so a malformed
 * URL is a usage error and never reaches the network; a failed connection is
 * sorted into "wrong password" (FERRY_EAUTH), "database missing"
 * (FERRY_ENOTFOUND) and "cannot reach host:port" (FERRY_ECONNECT, retryable).
 * The URL and its password never appear in a message. Every session is set up
 * the same way (UTF8, ISO dates, UTC, standard strings) so COPY text produced
 * by one connection is read back identically by another.
 *
 * Ownership: ferry_pg_connect hands back a PGconn the caller PQfinish()es;
 * results returned through ferry_pg_exec are the caller's to PQclear().
 */
#ifndef FERRY_PGCONN_H
#define FERRY_PGCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>
#include "ferry/err.h"
#include "ferry/buf.h"
#include "util/sqltext.h"

/* Who is talking, for messages: role "source"/"destination", the user's name. */
struct ferry_pg_who {
	const char *role;
	const char *name;
	int fail_code;        /* FERRY_ESOURCE or FERRY_EDEST */
};

/*
 * Connects to a postgres:// or postgresql:// URL (connect_timeout=10 unless
 * given, application_name=ferry) and sets the session up. *out is NULL on
 * failure. FERRY_EUSAGE, FERRY_EAUTH, FERRY_ENOTFOUND or FERRY_ECONNECT.
 */
int ferry_pg_connect(const char *url, const struct ferry_pg_who *who, PGconn **out,
		     struct ferry_err *err);

/* Whether the server went away (connection lost, backend terminated). */
bool ferry_pg_gone(PGconn *conn, const PGresult *res);
/* The SQLSTATE of a failed result, "" when none. */
const char *ferry_pg_sqlstate(const PGresult *res);
/* One line saying why: the server's primary message, or libpq's. */
void ferry_pg_reason(PGconn *conn, const PGresult *res, char *out, size_t outlen);
/*
 * Fills err for a failed statement and returns its code:
 *   gone:   ROLE "NAME" went away while DOING "WHAT": server closed the connection unexpectedly
 *   else:   ROLE "NAME" failed while DOING "WHAT": <reason>
 * with who->fail_code. what may be NULL.
 */
int ferry_pg_fail(PGconn *conn, const PGresult *res, const struct ferry_pg_who *who,
		  const char *doing, const char *what, struct ferry_err *err);
/*
 * Runs sql (one or more statements) and checks that the last result is
 * COMMAND_OK or TUPLES_OK. The result goes to *res when res is not NULL
 * (caller PQclears), else it is freed. On failure: ferry_pg_fail, *res NULL.
 */
int ferry_pg_exec(PGconn *conn, const struct ferry_pg_who *who, const char *sql,
		  const char *doing, const char *what, PGresult **res, struct ferry_err *err);

/*
 * Sends a string of several statements and returns the first failed result,
 * else the last TUPLES_OK one, else an empty COMMAND_OK one (caller PQclears;
 * NULL only when out of memory). PQexec would keep only the last result.
 */
PGresult *ferry_pg_run(PGconn *conn, const char *sql);
/* Whether a result is COMMAND_OK or TUPLES_OK. */
bool ferry_pg_ok(const PGresult *res);

/* Appends "schema"."name". */
int ferry_pg_qname(struct ferry_buf *b, const char *schema, const char *name);
/* Appends s as a string literal (E'...' form, safe whatever the server settings). */
int ferry_pg_literal(struct ferry_buf *b, const char *s);

#endif
