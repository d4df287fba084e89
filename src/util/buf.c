/*
 * buf.c - the capped growable buffer (see ferry/buf.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include "ferry/buf.h"
#include "ferry/err.h"

char ferry__buf_empty[1];

void ferry_buf_init(struct ferry_buf *b, size_t max)
{
	b->data = ferry__buf_empty;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

int ferry_buf_grow(struct ferry_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > SIZE_MAX - b->len - 1)
		return FERRY_ETOOBIG;
	need = b->len + extra + 1;
	if (b->max && need > b->max + 1)
		return FERRY_ETOOBIG;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (b->max && cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->cap ? b->data : NULL, cap);
	if (!p)
		return FERRY_ENOMEM;
	if (!b->cap)
		p[0] = '\0';
	b->data = p;
	b->cap = cap;
	return 0;
}

int ferry_buf_add(struct ferry_buf *b, const void *p, size_t n)
{
	int rc = ferry_buf_grow(b, n);

	if (rc)
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int ferry_buf_adds(struct ferry_buf *b, const char *s)
{
	return ferry_buf_add(b, s, strlen(s));
}

int ferry_buf_addc(struct ferry_buf *b, char c)
{
	if (b->len + 1 >= b->cap) {
		int rc = ferry_buf_grow(b, 1);
		if (rc)
			return rc;
	}
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
	return 0;
}

int ferry_buf_vaddf(struct ferry_buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n, rc;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return FERRY_EINTERNAL;
	rc = ferry_buf_grow(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int ferry_buf_addf(struct ferry_buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = ferry_buf_vaddf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void ferry_buf_reset(struct ferry_buf *b)
{
	ferry_buf_setlen(b, 0);
}

void ferry_buf_setlen(struct ferry_buf *b, size_t len)
{
	if (!b->cap)
		return;
	b->len = len < b->len ? len : b->len;
	b->data[b->len] = '\0';
}

char *ferry_buf_detach(struct ferry_buf *b, size_t *len)
{
	char *p = b->cap ? b->data : calloc(1, 1);

	if (len)
		*len = b->len;
	ferry_buf_init(b, b->max);
	return p;
}

void ferry_buf_release(struct ferry_buf *b)
{
	if (b->cap)
		free(b->data);
	ferry_buf_init(b, b->max);
}
