/*
 * copytext.h - rows in PostgreSQL's COPY text format, the one row encoding.
 *
 * A batch is a buffer of lines: fields separated by tabs, "\N" for NULL,
 * backslash escapes for \\ \t \n \r (PostgreSQL "COPY ... (FORMAT text)").
 * PostgreSQL sources and destinations pass these bytes through without looking
 * at a single value, which is how PostgreSQL -> PostgreSQL reaches the raw COPY
 * pipe's speed; SQLite encodes and decodes them.
 */
#ifndef FERRY_COPYTEXT_H
#define FERRY_COPYTEXT_H

#include <stddef.h>
#include <stdbool.h>
#include "ferry/buf.h"

struct ferry_stream;

struct ferry_batch {
	struct ferry_buf data;   /* whole lines, each ending in '\n' */
	long long nrows;
	long long src_bytes;     /* bytes the source read for these rows (progress) */
	/*
	 * Sources whose columns grow while they read (API sources) say which
	 * columns these rows carry: a stream owned by the source, unchanged until
	 * end(). NULL: the columns discover() gave.
	 */
	const struct ferry_stream *shape;
	/*
	 * With FERRY_DONE: the highest cursor value read (malloc'd; the engine
	 * takes it), for sources that learn it only by reading. NULL: none.
	 */
	char *cursor_hi;
	long long pages;         /* API pages fetched for these rows */
	long long total;         /* the API's total for the stream when it gives one, else -1 */
	long long duplicates;    /* records skipped as exact duplicates (see ferry_counts) */
	long long collisions;    /* records skipped: same hashed key, different content */
};

void ferry_batch_init(struct ferry_batch *b, size_t max_bytes);
void ferry_batch_reset(struct ferry_batch *b);
void ferry_batch_release(struct ferry_batch *b);

/* Appends s[0..n) escaped for a COPY text field (no separator). */
int ferry_copy_escape(struct ferry_buf *out, const char *s, size_t n);
/* Appends "\N". */
int ferry_copy_null(struct ferry_buf *out);

/* Walks the fields of one line. */
struct ferry_copy_fields {
	const char *p, *end;  /* private */
};
/* line points at the start of a row, end at its '\n' (or end of data). */
void ferry_copy_fields_init(struct ferry_copy_fields *it, const char *line, const char *end);
/*
 * Next field, unescaped into out (reset first). *is_null set for "\N".
 * Returns 1 when a field was produced, 0 at the end of the line, FERRY_E* on error.
 */
int ferry_copy_next(struct ferry_copy_fields *it, struct ferry_buf *out, bool *is_null);

/* Start of the last line in a batch (data must end in '\n'), or NULL when empty. */
const char *ferry_copy_last_line(const struct ferry_buf *data, const char **line_end);
/* Field `idx` of one line, unescaped into out. 0, FERRY_DONE when the line has fewer fields, or FERRY_E*. */
int ferry_copy_field_at(const char *line, const char *end, int idx, struct ferry_buf *out,
			bool *is_null);

#endif
