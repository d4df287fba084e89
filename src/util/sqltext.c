/*
 * sqltext.c - SQL text shared by the connectors (see sqltext.h).
 */
#include "util/sqltext.h"

int ferry_sql_ident(struct ferry_buf *b, const char *name)
{
	int rc = ferry_buf_addc(b, '"');

	for (const char *p = name; !rc && *p; p++)
		rc = *p == '"' ? ferry_buf_add(b, "\"\"", 2) : ferry_buf_addc(b, *p);
	return rc ? rc : ferry_buf_addc(b, '"');
}
