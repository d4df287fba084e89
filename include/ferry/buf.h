/*
 * buf.h - the one growable byte buffer, with a size cap.
 *
 * data is never NULL and always NUL-terminated (Git's strbuf), so it can be
 * handed to C string functions at any time. Growth past `max` fails with
 * FERRY_ETOOBIG instead of exhausting memory (curl's dynbuf): a hostile
 * response hits the cap, not the machine. The struct is a public value type:
 * the caller allocates it, ferry_buf_release frees what it holds.
 */
#ifndef FERRY_BUF_H
#define FERRY_BUF_H

#include <stddef.h>
#include <stdarg.h>

struct ferry_buf {
	char *data;   /* read-only for callers; NUL-terminated */
	size_t len;   /* read-only */
	size_t cap;   /* private */
	size_t max;   /* private: size cap, 0 = no cap */
};

extern char ferry__buf_empty[];
#define FERRY_BUF_INIT { ferry__buf_empty, 0, 0, 0 }

void ferry_buf_init(struct ferry_buf *b, size_t max);
/* Makes room for `extra` more bytes. 0, FERRY_ETOOBIG or FERRY_ENOMEM. */
int ferry_buf_grow(struct ferry_buf *b, size_t extra);
int ferry_buf_add(struct ferry_buf *b, const void *p, size_t n);
int ferry_buf_adds(struct ferry_buf *b, const char *s);
int ferry_buf_addc(struct ferry_buf *b, char c);
int ferry_buf_addf(struct ferry_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int ferry_buf_vaddf(struct ferry_buf *b, const char *fmt, va_list ap);
/* Sets len to 0, keeps the memory. */
void ferry_buf_reset(struct ferry_buf *b);
void ferry_buf_setlen(struct ferry_buf *b, size_t len);
/* Hands the bytes to the caller (who frees them) and re-initialises b. */
char *ferry_buf_detach(struct ferry_buf *b, size_t *len);
void ferry_buf_release(struct ferry_buf *b);

#endif
