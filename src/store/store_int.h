/*
 * store_int.h - what the state store's own modules share (store.c, queue.c,
 * deliveries.c, fastread.c, jobquery.c, metrics.c):
 * the store's handle and its query helpers. Not for use outside src/store/.
 */
#ifndef FERRY_STORE_INT_H
#define FERRY_STORE_INT_H

#include <sqlite3.h>
#include "store/store.h"

struct ferry_store {
	sqlite3 *db;
	char *path;
	char host[128];   /* this machine, to tell our own processes' jobs from others' */
};

/* Fills err with SQLite's message for what failed (retryable when busy); returns FERRY_ESTORE. */
int ferry__store_err(struct ferry_store *s, struct ferry_err *err, const char *what);
int ferry__store_exec(struct ferry_store *s, const char *sql, struct ferry_err *err);
int ferry__store_prepare(struct ferry_store *s, const char *sql, sqlite3_stmt **st,
			 struct ferry_err *err);
/* Ends a BEGIN IMMEDIATE: commits unless rc is an error (then rolls back); returns rc, or COMMIT's error. */
int ferry__store_end(struct ferry_store *s, int rc, struct ferry_err *err);
/* Column i as JSON: null, an integer, or text (new reference). */
json_t *ferry__col_json(sqlite3_stmt *st, int i);
/* Column i's text parsed as JSON; null when NULL or not JSON (new reference). */
json_t *ferry__col_parsed(sqlite3_stmt *st, int i);

/*
 * At open: jobs left "running" on this host by a process that no longer
 * exists. A job claimed from the queue (it has a lease) is released as an
 * expired lease is (queue.c); a job of a `ferry sync` process is marked
 * failed, "interrupted".
 */
int ferry__queue_recover(struct ferry_store *s, struct ferry_err *err);

#endif
