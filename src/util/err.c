/*
 * err.c - filling struct ferry_err, and what each code means to the CLI.
 */
#include <stdio.h>
#include <string.h>
#include <stdarg.h>
#include "ferry/err.h"

int ferry_err_set(struct ferry_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	err->retryable = code == FERRY_ECONNECT || code == FERRY_ESOURCE || code == FERRY_EDEST;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int ferry_err_prefix(struct ferry_err *err, const char *fmt, ...)
{
	char head[256], old[sizeof(err->msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	size_t hl = strlen(head);

	memcpy(old, err->msg, sizeof(old));
	if (hl >= sizeof(err->msg))
		hl = sizeof(err->msg) - 1;
	memcpy(err->msg, head, hl);
	memcpy(err->msg + hl, old, sizeof(err->msg) - hl - 1);
	err->msg[sizeof(err->msg) - 1] = '\0';
	return err->code;
}

void ferry_err_clear(struct ferry_err *err)
{
	err->code = 0;
	err->retryable = false;
	err->msg[0] = '\0';
}

const char *ferry_code_name(int code)
{
	switch (code) {
	case FERRY_OK: return "ok";
	case FERRY_DONE: return "done";
	case FERRY_EUSAGE: return "usage";
	case FERRY_ENOTFOUND: return "not_found";
	case FERRY_ECONNECT: return "connect";
	case FERRY_EAUTH: return "auth";
	case FERRY_ECONFIG: return "config";
	case FERRY_EKEY: return "encryption_key";
	case FERRY_ESOURCE: return "source";
	case FERRY_EDEST: return "destination";
	case FERRY_ESTORE: return "store";
	case FERRY_ETOOBIG: return "too_big";
	case FERRY_ENOMEM: return "out_of_memory";
	case FERRY_ECANCEL: return "cancelled";
	case FERRY_ECONFLICT: return "conflict";
	default: return "internal";
	}
}

int ferry_exit_status(int code)
{
	if (code >= 0)
		return 0;
	return code == FERRY_EUSAGE ? 2 : 1;
}
