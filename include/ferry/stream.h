/*
 * stream.h - what a stream looks like to the engine: columns, keys, cursor.
 *
 * A source's discover() fills these; the engine picks destination names and
 * hands them to the destination. Column types are carried as PostgreSQL type
 * names (format_type() output: "numeric(12,2)", "integer[]", "timestamp with
 * time zone") plus a coarse kind, so PostgreSQL -> PostgreSQL keeps types
 * exactly and SQLite maps to and from them by declared type.
 *
 * Ownership: a stream owns every string and array it points to;
 * ferry_stream_release frees them. ferry_stream_list owns its streams.
 */
#ifndef FERRY_STREAM_H
#define FERRY_STREAM_H

#include <stdbool.h>

enum ferry_kind {
	FERRY_K_TEXT,        /* text, varchar, char, and anything without a closer kind */
	FERRY_K_INT,         /* smallint, integer, bigint */
	FERRY_K_FLOAT,       /* real, double precision */
	FERRY_K_NUMERIC,     /* numeric/decimal: kept as exact text where the target cannot hold it */
	FERRY_K_BOOL,
	FERRY_K_DATE,
	FERRY_K_TIME,
	FERRY_K_TIMESTAMP,
	FERRY_K_TIMESTAMPTZ,
	FERRY_K_JSON,
	FERRY_K_JSONB,
	FERRY_K_UUID,
	FERRY_K_BYTEA,
	FERRY_K_ARRAY,       /* any PostgreSQL array: PostgreSQL's literal as text elsewhere */
	FERRY_K_OTHER,       /* interval, inet, ...: PostgreSQL's text form */
};

struct ferry_column {
	char *name;
	char *pg_type;        /* PostgreSQL type, as format_type() prints it */
	enum ferry_kind kind;
	bool not_null;
};

/* A secondary index to rebuild after loading (simple column indexes only). */
struct ferry_index {
	char *name;
	int *cols;            /* column positions in the stream */
	int ncols;
	bool unique;
};

struct ferry_stream {
	char *name;           /* as the user names it: "users", or "sales.orders" outside public */
	char *source_table;   /* for the source's own queries (may be schema-qualified) */
	char *dest_table;     /* unqualified destination table name; the engine fills it */
	struct ferry_column *cols;
	int ncols;
	int *pk;              /* primary key column positions */
	int npk;
	int cursor;           /* cursor column position, -1 when none */
	/*
	 * Rows do not arrive in cursor order (Stripe lists newest first): the
	 * cursor is stored only once the whole stream has been read.
	 */
	bool cursor_unordered;
	long long estimate;   /* rows, -1 when unknown */
	struct ferry_index *indexes;
	int nindexes;
};

struct ferry_stream_list {
	struct ferry_stream *v;
	int n;
};

void ferry_stream_release(struct ferry_stream *s);
void ferry_stream_list_release(struct ferry_stream_list *l);
/* Appends a zeroed stream (cursor = -1, estimate = -1) and returns it; NULL when out of memory. */
struct ferry_stream *ferry_stream_list_push(struct ferry_stream_list *l);
/* Appends a column (copies name and pg_type, derives kind); 0 or FERRY_ENOMEM. */
int ferry_stream_add_column(struct ferry_stream *s, const char *name, const char *pg_type,
			    bool not_null);
/* Position of the column called name, or -1. */
int ferry_stream_column(const struct ferry_stream *s, const char *name);
/* Deep copy; 0 or FERRY_ENOMEM. */
int ferry_stream_copy(struct ferry_stream *dst, const struct ferry_stream *src);

/* The kind of a PostgreSQL type name ("integer", "character varying(20)", "text[]"). */
enum ferry_kind ferry_kind_of_pg_type(const char *pg_type);
/*
 * The SQLite declared type for a column, chosen so SQLite's type affinity keeps
 * the value exactly ("NUMERIC TEXT" keeps 12345678901234567890.5) and so
 * ferry_pg_type_of_sqlite_decl maps it back to the same PostgreSQL type.
 */
const char *ferry_sqlite_decl_of(const struct ferry_column *c);
/* The PostgreSQL type for a SQLite declared type ("VARCHAR(20)" -> "character varying(20)"). Static or malloc'd into out. */
void ferry_pg_type_of_sqlite_decl(const char *decl, char *out, int outlen);

/*
 * Type widening for API sources (DESIGN.md §3): the PostgreSQL type that holds
 * values of both a and b. Equal types: a. bigint and double precision: double
 * precision. jsonb with anything: jsonb. Any other pair of API types (bigint,
 * double precision, boolean, text, jsonb, timestamp with time zone, date):
 * text. NULL when either type lies outside that set, meaning "leave the column
 * alone" (a database source's numeric(12,2) or integer[] is never touched).
 * Returns a static string or a.
 */
const char *ferry_pg_type_widen(const char *a, const char *b);
/* Whether a is strictly wider than b: ferry_pg_type_widen(a, b) is a, and b is another type. */
bool ferry_pg_type_wider(const char *a, const char *b);
/*
 * How a table column of type `have` takes values of type `incoming` (a stream
 * read again, a batch with a wider field): *widen_to is the type the column
 * must widen to (NULL: keep it); *convert_to the type incoming values are
 * converted to on the way in (NULL: as they are). A column already wider is
 * kept (jsonb from an earlier run, text this run): narrowing it would lose
 * what it holds. boolean and bigint both widen to text. Types outside the API
 * set give NULL, NULL. The strings are have, incoming or static.
 */
void ferry_pg_type_fit(const char *have, const char *incoming, const char **widen_to,
		       const char **convert_to);

#endif
