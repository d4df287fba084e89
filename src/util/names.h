/*
 * names.h - a list of names (tables, columns), and the comma lists users
 * write them in.
 *
 * Sources read "tables: a, b" and "pk.TABLE=col1,col2" settings, and sources
 * and destinations compare what a catalogue holds with what they were asked
 * for; this is the one list type they do it with. Lists are short (a
 * database's tables at most), so lookups are linear and order is kept: a
 * message lists names in the order the user or the catalogue gave them.
 *
 * struct ferry_names is a public value type: the caller allocates it
 * (FERRY_NAMES_INIT or zeroed) and ferry_names_release frees the copies it
 * holds.
 */
#ifndef FERRY_NAMES_H
#define FERRY_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include "ferry/buf.h"

struct ferry_names {
	char **v; /* read-only: n strings, each owned by the list */
	int n;    /* read-only */
};

#define FERRY_NAMES_INIT { NULL, 0 }

/* Frees the strings and the array; l is empty again. */
void ferry_names_release(struct ferry_names *l);
/* Appends a copy of the n bytes at s. 0 or FERRY_ENOMEM (l unchanged). */
int ferry_names_push(struct ferry_names *l, const char *s, size_t n);
/* Whether l holds s (exact, case-sensitive). */
bool ferry_names_has(const struct ferry_names *l, const char *s);
/*
 * Appends the items of the comma list s to out, with the characters of blanks
 * trimmed around each item and empty items skipped: split(" a, ,b ", " ")
 * gives "a", "b". 0 or FERRY_ENOMEM (out keeps the items appended so far).
 */
int ferry_names_split(struct ferry_names *out, const char *s, const char *blanks);
/*
 * Replaces b's contents with "a, b, c" for a message, or with none when l is
 * empty. Past 300 bytes the rest is summed up: "a, b, ... (7 more)".
 */
void ferry_names_join(const struct ferry_names *l, struct ferry_buf *b, const char *none);

/*
 * The TABLE of a per-table source setting, "cursor.TABLE" or "pk.TABLE"; NULL
 * for any other key. Sources check these against the tables they have, so a
 * typo in TABLE is an error rather than a setting silently ignored.
 */
const char *ferry_names_setting_table(const char *key);

#endif
