/*
 * sqltext.h - SQL text that every connector writes the same way.
 *
 * SQLite and PostgreSQL quote identifiers alike (the SQL standard's double
 * quotes, an embedded quote doubled), so the SQLite and PostgreSQL sources and
 * destinations share one quoting function: a name from a user or a remote
 * catalogue never becomes SQL syntax. Literals stay per dialect (PostgreSQL's
 * E'...' form is in pgconn.h; SQLite binds its values).
 */
#ifndef FERRY_SQLTEXT_H
#define FERRY_SQLTEXT_H

#include "ferry/buf.h"

/* Appends name as a quoted identifier: a"b -> "a""b". 0, or the buffer's error. */
int ferry_sql_ident(struct ferry_buf *b, const char *name);

#endif
