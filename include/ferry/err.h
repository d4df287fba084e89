/*
 * err.h - how every ferry function reports failure.
 *
 * Functions return int: 0 on success (FERRY_DONE where a reader ran out of data)
 * or a negative FERRY_E* code, and fill a caller-owned struct ferry_err whose
 * message says what failed, where, and what to do (Git's error guideline). The
 * code decides the CLI's exit status (usage errors exit 2) and whether a job
 * may be retried.
 */
#ifndef FERRY_ERR_H
#define FERRY_ERR_H

#include <stdbool.h>

enum ferry_code {
	FERRY_OK = 0,
	FERRY_DONE = 1,          /* a reader has no more data: not an error */
	FERRY_EUSAGE = -1,       /* the user's input is wrong: bad flag, bad value; exit 2 */
	FERRY_ENOTFOUND = -2,    /* unknown source, destination, job, table or stream */
	FERRY_ECONNECT = -3,     /* a server cannot be reached */
	FERRY_EAUTH = -4,        /* credentials rejected */
	FERRY_ECONFIG = -5,      /* configuration cannot work (no primary key, ...) */
	FERRY_EKEY = -6,         /* FERRY_ENCRYPTION_KEY missing or wrong */
	FERRY_ESOURCE = -7,      /* the source failed while reading */
	FERRY_EDEST = -8,        /* the destination failed while writing */
	FERRY_ESTORE = -9,       /* the state store failed */
	FERRY_ETOOBIG = -10,     /* a buffer hit its size cap */
	FERRY_ENOMEM = -11,      /* allocation failed */
	FERRY_ECANCEL = -12,     /* the job was cancelled */
	FERRY_EINTERNAL = -13,   /* a bug, or an injected fault */
	FERRY_ECONFLICT = -14,   /* busy: the connection already has a job, a lease was lost (HTTP 409) */
};

struct ferry_err {
	int code;        /* a FERRY_E* code, 0 when clear */
	bool retryable;  /* a later attempt may succeed (network, server restart) */
	char msg[512];
};

/* Sets code and message; returns code so callers can `return ferry_err_set(...)`. */
int ferry_err_set(struct ferry_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prepends context: "reading stream \"users\": " + the existing message. Returns err->code. */
int ferry_err_prefix(struct ferry_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ferry_err_clear(struct ferry_err *err);
/* A short name for a code: "usage", "not_found", ... (stable: stored in jobs). */
const char *ferry_code_name(int code);
/* The CLI exit status for a code: 0, 2 for usage, 1 otherwise. */
int ferry_exit_status(int code);

#endif
