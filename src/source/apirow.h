/*
 * apirow.h - API records (JSON objects) to COPY text rows, with the columns
 * learned from the records themselves.
 *
 * An API stream's columns are its records' top-level fields (DESIGN.md §3):
 * bigint, double precision, boolean, text, jsonb for objects and arrays, and
 * timestamptz/date where the manifest declares a time field. The first value
 * of a field decides its type; a later value that does not fit widens it
 * (bigint -> double precision -> text; anything -> jsonb), and a new field
 * adds a column at the end. Every change publishes a new shape (a struct
 * ferry_stream) that the engine hands to the destination before the rows that
 * need it; published shapes stay valid until apirow_release.
 *
 * Usage, per record: apirow_scan() says whether the columns must change;
 * if so apirow_publish(); then apirow_encode() appends the row. A batch holds
 * rows of one shape only, so a caller that must publish with rows already in
 * its batch hands that batch over first.
 */
#ifndef FERRY_SOURCE_APIROW_H
#define FERRY_SOURCE_APIROW_H

#include <stdbool.h>
#include <stddef.h>
#include "ferry/buf.h"
#include "ferry/err.h"
#include "ferry/stream.h"
#include "source/manifest.h"

enum ar_type {
	AR_UNKNOWN,   /* declared by key or cursor but no value seen yet */
	AR_BIGINT,
	AR_DOUBLE,
	AR_BOOL,
	AR_TEXT,
	AR_JSONB,
	AR_TSTZ,      /* from unix_seconds, unix_ms or rfc3339 */
	AR_DATE,
};

/*
 * One JSON value, as text: a string's unescaped characters, a number's
 * digits, an object's or array's JSON text. type is an enum jt_type.
 */
struct ar_val {
	int type;
	const char *s;
	size_t len;
};

/* A record field: name and value (a record is an array of these). */
struct ar_field {
	const char *name;
	size_t nlen;
	struct ar_val v;
};

struct ar_col {
	char *name;
	enum mf_type decl;   /* what the manifest says, MF_T_AUTO when nothing */
	enum ar_type type;   /* what the column holds now */
};

struct apirow {
	struct ar_col *cols;
	int ncols, cap;
	int *pk, npk;                    /* key columns */
	int cursor;                      /* cursor column, -1 */
	bool cursor_unordered;
	const struct ar_val **vals;      /* scratch: the record's value per column */
	int hint;                        /* where the next field is likely to be */
	struct ferry_stream **shapes;    /* every published shape, newest last */
	int nshapes;
	bool changed;                    /* columns differ from the newest shape */
	char *stream;                    /* stream name, for messages */
};

/*
 * Starts from a discovered stream (its columns are the declared ones) and the
 * manifest's field types. Columns whose type is not declared start
 * AR_UNKNOWN and take the type of their first non-null value.
 */
int apirow_init(struct apirow *a, const struct ferry_stream *s, const struct mf_stream *ms,
		struct ferry_err *err);
void apirow_release(struct apirow *a);

/* Looks at a record's fields; *must_publish: the columns must change before it is encoded. */
int apirow_scan(struct apirow *a, const struct ar_field *f, int n, bool *must_publish,
		struct ferry_err *err);
/* The current columns as a new shape (owned by a). */
int apirow_publish(struct apirow *a, const struct ferry_stream **shape, struct ferry_err *err);
/* The newest published shape, NULL before the first publish. */
const struct ferry_stream *apirow_shape(const struct apirow *a);
/* Appends the record last scanned (fitting the newest shape) as one COPY text line. */
int apirow_encode(struct apirow *a, struct ferry_buf *out, struct ferry_err *err);
/* The value of a field of the record last scanned, or NULL. */
const struct ar_val *apirow_value(const struct apirow *a, int col);

/*
 * The text a value is written as in a column of type t (decl for time
 * conversions); false when it does not fit t. NULL JSON -> false.
 */
bool apirow_cell(enum ar_type t, enum mf_type decl, const struct ar_val *v, struct ferry_buf *out);
/* A unix_seconds / unix_ms value as microseconds; false when it is not one ferry can write. */
bool apirow_unix_us(enum mf_type decl, const struct ar_val *v, long long *us);
/* Appends v as JSON text (strings quoted and escaped). */
void apirow_json(const struct ar_val *v, struct ferry_buf *out);

/*
 * Time helpers (UTC). Parse "2024-05-01", "2024-05-01T10:00:00Z",
 * "2024-05-01 10:00:00.123+02:00" into microseconds since 1970.
 */
bool ar_parse_time(const char *s, long long *us);
/* The times ferry writes: years 0001 to 9999 (PostgreSQL and RFC 3339 both hold them). */
#define AR_TIME_MIN_US (-62135596800LL * 1000000)
#define AR_TIME_MAX_US (253402300799LL * 1000000 + 999999)
/* "2024-05-01T10:00:00Z" (".123456" when there is a fraction) into out[40]. */
void ar_format_time(long long us, char out[40]);

const char *ar_pg_type(enum ar_type t);

#endif
