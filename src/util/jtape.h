/*
 * jtape.h - a parsed JSON document as one flat array ("tape"), for API pages.
 *
 * API sources read tens of megabytes of JSON per second; a tree of malloc'd
 * nodes per value (jansson) costs more than everything else together. The
 * tape is filled by yajl's event parser in one pass: one node per value (and
 * per object key) in document order, every string unescaped into one shared
 * arena, containers remembering where their subtree ends and which bytes of
 * the input they span, so a nested object can be written out as the very
 * JSON text it came as. Parsing the next page reuses the same memory.
 *
 * Node 0 is the root. The children of a container are the nodes from its
 * index + 1 up to (not including) its `next`; an object's children alternate
 * key, value. The body passed to jt_parse must outlive the tape's use.
 */
#ifndef FERRY_UTIL_JTAPE_H
#define FERRY_UTIL_JTAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jt_type {
	JT_NULL,
	JT_FALSE,
	JT_TRUE,
	JT_INT,      /* a number without fraction or exponent */
	JT_REAL,
	JT_STRING,
	JT_KEY,      /* an object member's name */
	JT_OBJECT,
	JT_ARRAY,
};

struct jt_node {
	uint8_t type;
	uint32_t next;   /* index of the first node after this value's subtree */
	uint32_t a;      /* strings, keys, numbers: arena offset; containers: body offset of '{' / '[' */
	uint32_t b;      /* strings, keys, numbers: length; containers: body offset after '}' / ']' */
};

struct jtape {
	struct jt_node *v;
	uint32_t n, cap;
	char *arena;            /* NUL-terminated strings and number texts */
	size_t alen, acap;
	const char *body;
	size_t len;
	/* parse state (private) */
	uint32_t *stack;
	uint32_t depth, stack_cap;
	bool nomem, too_deep;
};

/*
 * Parses body[0..len). 0, or -1 with a message ("parse error: invalid
 * string in json text at byte 1042" / "the JSON ends too early at byte N")
 * in msg. The tape keeps its memory for the next parse.
 */
int jt_parse(struct jtape *t, const char *body, size_t len, char *msg, size_t msglen);
void jt_release(struct jtape *t);

/* The type of node i (JT_NULL for -1 or past the end). */
static inline enum jt_type jt_type(const struct jtape *t, int i)
{
	return i >= 0 && (uint32_t)i < t->n ? (enum jt_type)t->v[i].type : JT_NULL;
}

/* The value of member key of object obj, or -1. */
int jt_get(const struct jtape *t, int obj, const char *key);
/* The value at a dot path from node ("data.items", "pageInfo.hasNextPage", "0.id"); -1 when absent. */
int jt_path(const struct jtape *t, int node, const char *path);
/* First child of a container (for objects: the first key), or -1 when empty. */
int jt_first(const struct jtape *t, int node);
/* The node after i among its siblings, or -1 after the last child of parent. */
int jt_sibling(const struct jtape *t, int parent, int i);
/* Number of elements of an array (members of an object). */
int jt_count(const struct jtape *t, int node);
/* Text of a string, key or number node (NUL-terminated, in the arena). */
const char *jt_text(const struct jtape *t, int i, size_t *len);
/* The JSON text a node came as (containers, numbers; strings without their quotes' escapes undone: use jt_text). */
const char *jt_raw(const struct jtape *t, int i, size_t *len);

#endif
