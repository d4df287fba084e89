/*
 * manifest.c - reads and checks connector manifests (see manifest.h and
 * docs/manifest.md).
 *
 * The YAML is loaded with libyaml's document API, which keeps the position of
 * every node, so each complaint names FILE:LINE. Each mapping of the format
 * (the top level, auth, retry, a stream, its pagination, ...) is described by
 * a table of its keys: the table says where a value goes and what it must
 * look like, and a key outside the table is refused with the closest known
 * key as a suggestion. A manifest that parses is one a connector can run: the
 * checks that need the whole file (references to settings, parents, the keys
 * a pagination type needs) run here too, before any request is sent.
 *
 * `defaults:` are applied by parsing the defaults mapping into each stream
 * first and the stream's own mapping on top of it: scalars are replaced, and
 * the maps (params, fields, parent_fields) and the pagination and incremental
 * sections are merged key by key, which is what users expect.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include <yaml.h>
#include "source/manifest.h"
#include "util/text.h"

#define MF_MAX_FILE (4 << 20)        /* a manifest is a few KB; refuse anything absurd */
#define MF_MAX_JSON_NODES 10000      /* variables: bounds alias fan-out ("billion laughs") */
#define MF_MAX_JSON_DEPTH 32

/* Which {references} a string may hold. */
enum { REF_SETTINGS = 1, REF_PARENT = 2 };

/* Settings every API connector accepts without the manifest declaring them. */
static const char *const common_settings[] = {
	"base_url", "manifest", "requests_per_second", "rate_limit_delay_ms", "sync_batch_size",
	"concurrency", "max_attempts", "timeout_ms", "max_response_bytes",
};
#define NCOMMON (int)(sizeof(common_settings) / sizeof(common_settings[0]))

static const char *const reserved_types[] = {"postgres", "sqlite", "rest", "graphql", NULL};

/* Accepted words of the enums, in enum order. */
static const char *const kind_words[] = {"rest", "graphql", NULL};
static const char *const auth_words[] = {"none", "bearer", "basic", "header", "query", NULL};
static const char *const page_words[] = {"none", "cursor", "offset", "page", "next_link",
					 "link_header", NULL};
static const char *const order_words[] = {"asc", "desc", "none", NULL};

_Static_assert(sizeof(enum mf_kind) == sizeof(int), "enums are stored through int *");
_Static_assert(sizeof(enum mf_auth) == sizeof(int), "enums are stored through int *");
_Static_assert(sizeof(enum mf_page) == sizeof(int), "enums are stored through int *");
_Static_assert(sizeof(enum mf_order) == sizeof(int), "enums are stored through int *");

/* Field type names; the first name of each type is the one mf_type_name gives. */
static const struct {
	const char *name;
	enum mf_type type;
} type_names[] = {
	{"auto", MF_T_AUTO},
	{"text", MF_T_TEXT},
	{"bigint", MF_T_BIGINT},
	{"integer", MF_T_BIGINT},
	{"double", MF_T_DOUBLE},
	{"number", MF_T_DOUBLE},
	{"boolean", MF_T_BOOLEAN},
	{"json", MF_T_JSON},
	{"jsonb", MF_T_JSON},
	{"unix_seconds", MF_T_UNIX_SECONDS},
	{"unix_ms", MF_T_UNIX_MS},
	{"rfc3339", MF_T_RFC3339},
	{"timestamp", MF_T_RFC3339},
	{"date", MF_T_DATE},
};
#define NTYPES (sizeof(type_names) / sizeof(type_names[0]))

static const char *const format_words[] = {"unix_seconds", "unix_ms", "rfc3339", "date", NULL};
static const enum mf_type format_types[] = {MF_T_UNIX_SECONDS, MF_T_UNIX_MS, MF_T_RFC3339,
					    MF_T_DATE};

struct parser {
	const char *file;
	yaml_document_t *doc;
	struct ferry_err *err;
	struct mf_manifest *m;
	yaml_node_t *root;
	yaml_node_t *defaults;   /* the defaults: mapping, or NULL */
	yaml_node_t *streams;    /* the streams: list, or NULL */
	yaml_node_t **snodes;    /* each stream's mapping, for lines after the merge */
	const char *where;       /* the mapping being read, for messages: "stream \"users\"" */
	bool in_defaults;
};

enum ktype { K_STR, K_INT, K_LL, K_BOOL, K_ENUM, K_CALL };

/* One key of a mapping: where its value goes and what it must look like. */
struct key {
	const char *name;
	enum ktype type;
	size_t off;                /* K_STR .. K_ENUM: offset of the field in the target */
	int refs;                  /* K_STR: the {references} the value may hold */
	long long min, max;        /* K_INT, K_LL */
	const char *const *words;  /* K_ENUM: accepted words in enum order */
	const char *label;         /* K_ENUM: its name in messages ("pagination type") */
	int (*call)(struct parser *p, void *obj, yaml_node_t *v);
};

#define KSTR(st, n, f, r) {n, K_STR, offsetof(st, f), r, 0, 0, NULL, NULL, NULL}
#define KINT(st, n, f, lo, hi) {n, K_INT, offsetof(st, f), 0, lo, hi, NULL, NULL, NULL}
#define KLL(st, n, f, lo, hi) {n, K_LL, offsetof(st, f), 0, lo, hi, NULL, NULL, NULL}
#define KBOOL(st, n, f) {n, K_BOOL, offsetof(st, f), 0, 0, 0, NULL, NULL, NULL}
#define KENUM(st, n, f, w, l) {n, K_ENUM, offsetof(st, f), 0, 0, 0, w, l, NULL}
#define KCALL(n, fn) {n, K_CALL, 0, 0, 0, 0, NULL, NULL, fn}
#define NKEYS(t) (sizeof(t) / sizeof(t[0]))

/* ---- messages and nodes ---------------------------------------------------- */

static int line_of(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.line + 1 : 1;
}

static int vfail(struct parser *p, int line, const char *fmt, va_list ap)
{
	char msg[sizeof(p->err->msg)];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return ferry_err_set(p->err, FERRY_ECONFIG, "%s:%d: %s", p->file, line, msg);
}

__attribute__((format(printf, 3, 4)))
static int fail(struct parser *p, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail(p, line_of(n), fmt, ap);
	va_end(ap);
	return rc;
}

__attribute__((format(printf, 3, 4)))
static int fail_line(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfail(p, line, fmt, ap);
	va_end(ap);
	return rc;
}

static int nomem(struct parser *p)
{
	return ferry_err_set(p->err, FERRY_ENOMEM, "%s: out of memory while reading the manifest",
			     p->file);
}

static yaml_node_t *node(struct parser *p, int id)
{
	return yaml_document_get_node(p->doc, id);
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* `key:` with nothing after it, `~` or `null` */
static bool is_null(const yaml_node_t *n)
{
	const char *s = scalar(n);

	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
		!strcmp(s, "NULL"));
}

static const char *node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE: return "a single value";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

/* The value of key in a mapping, or NULL. */
static yaml_node_t *lookup(struct parser *p, yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *pr;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = node(p, pr->key);
		if (k && k->type == YAML_SCALAR_NODE && !strcmp(scalar(k), key))
			return node(p, pr->value);
	}
	return NULL;
}

/*
 * The line to blame for a stream's key after the merge: the stream's own
 * value, else the one in defaults, else the stream itself.
 */
static int key_line(struct parser *p, yaml_node_t *sn, const char *key)
{
	yaml_node_t *v = lookup(p, sn, key);

	if (!v)
		v = lookup(p, p->defaults, key);
	return line_of(v ? v : sn);
}

static void join_words(char *out, size_t len, const char *const *w, int n)
{
	size_t o = 0;
	int i;

	out[0] = '\0';
	for (i = 0; (n < 0 ? w[i] != NULL : i < n) && o < len; i++)
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? ", " : "", w[i]);
}

/*
 * ferry_closest, held to a closer match: in a manifest a far-fetched
 * suggestion ("page_size" -> "base_url") misleads more than none.
 */
static const char *suggest(const char *name, const char *const *cands, int n)
{
	const char *best = ferry_closest(name, cands, n);

	if (best && !strcasestr(best, name) && !strcasestr(name, best) &&
	    ferry_edit_distance(name, best) > (int)strlen(name) / 3 + 1)
		return NULL;
	return best;
}

static bool has(const char *s)
{
	return s && *s;
}

/* Frees an optional string that was given empty, so "absent" is always NULL. */
static void drop_empty(char **s)
{
	if (*s && !**s) {
		free(*s);
		*s = NULL;
	}
}

/* ---- references ------------------------------------------------------------ */

enum piece { P_END, P_LIT, P_REF, P_BAD_OPEN, P_BAD_CLOSE };

/*
 * The next piece of a template string: one literal byte ({{ and }} give a
 * brace) or a {reference}. *sp moves past the piece.
 */
static enum piece next_piece(const char **sp, char *lit, const char **ref, size_t *reflen)
{
	const char *s = *sp, *close;

	if (!*s)
		return P_END;
	if ((s[0] == '{' && s[1] == '{') || (s[0] == '}' && s[1] == '}')) {
		*lit = s[0];
		*sp = s + 2;
		return P_LIT;
	}
	if (s[0] == '}')
		return P_BAD_CLOSE;
	if (s[0] != '{') {
		*lit = s[0];
		*sp = s + 1;
		return P_LIT;
	}
	close = strchr(s + 1, '}');
	if (!close)
		return P_BAD_OPEN;
	*ref = s + 1;
	*reflen = (size_t)(close - s - 1);
	*sp = close + 1;
	return P_REF;
}

static bool is_parent_ref(const char *r, size_t n)
{
	return n > 7 && !strncmp(r, "parent.", 7);
}

/* A setting name, or parent.FIELD. */
static bool ref_ok(const char *r, size_t n)
{
	size_t i;

	if (is_parent_ref(r, n))
		return !memchr(r, '{', n);
	if (!n)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)r[i]) && r[i] != '_')
			return false;
	return true;
}

static const struct mf_setting *find_setting(const struct mf_manifest *m, const char *name,
					     size_t n)
{
	int i;

	for (i = 0; i < m->nsettings; i++)
		if (strlen(m->settings[i].key) == n && !strncmp(m->settings[i].key, name, n))
			return &m->settings[i];
	return NULL;
}

static bool is_common_setting(const char *name, size_t n)
{
	int i;

	for (i = 0; i < NCOMMON; i++)
		if (strlen(common_settings[i]) == n && !strncmp(common_settings[i], name, n))
			return true;
	return false;
}

/* The closest declared or common setting to a misspelt reference. */
static const char *closest_setting(struct parser *p, const char *name)
{
	const char *cands[64];
	int n = 0, i;

	for (i = 0; i < p->m->nsettings && n < 64 - NCOMMON; i++)
		cands[n++] = p->m->settings[i].key;
	for (i = 0; i < NCOMMON; i++)
		cands[n++] = common_settings[i];
	return suggest(name, cands, n);
}

/* Checks every {reference} of s: well formed, and naming a setting. */
static int check_refs(struct parser *p, const yaml_node_t *v, const char *what, const char *s,
		      int refs)
{
	const char *ref = NULL;
	size_t n = 0;
	enum piece pc;
	char lit;

	while ((pc = next_piece(&s, &lit, &ref, &n)) != P_END) {
		char name[128];
		const char *best;

		if (pc == P_BAD_OPEN)
			return fail(p, v, "%s has a \"{\" that is never closed: write {{ for a literal brace",
				    what);
		if (pc == P_BAD_CLOSE)
			return fail(p, v, "%s has a \"}\" that closes nothing: write }} for a literal brace",
				    what);
		if (pc == P_LIT)
			continue;
		if (!ref_ok(ref, n))
			return fail(p, v, "%s uses {%.*s}, which is not a setting name: write {{ and }} for literal braces",
				    what, (int)n, ref);
		if (is_parent_ref(ref, n)) {
			if (!(refs & REF_PARENT))
				return fail(p, v, "%s cannot use {%.*s}: parent fields are only for path and params",
					    what, (int)n, ref);
			continue;
		}
		if (find_setting(p->m, ref, n) || is_common_setting(ref, n))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)n, ref);
		best = closest_setting(p, name);
		if (best)
			return fail(p, v, "%s uses {%s}, which is not a declared setting: did you mean \"%s\"?",
				    what, name, best);
		return fail(p, v, "%s uses {%s}, which is not a declared setting: declare it under settings:",
			    what, name);
	}
	return 0;
}

/* ---- values ---------------------------------------------------------------- */

/* A string value (any single YAML value); empty for `key:` with nothing after it. */
static int get_str(struct parser *p, const char *what, yaml_node_t *v, char **dst, int refs)
{
	const char *s;
	char *copy;
	int rc;

	if (v->type != YAML_SCALAR_NODE)
		return fail(p, v, "expected a string for %s, not %s", what, node_kind(v));
	s = is_null(v) ? "" : scalar(v);
	if (strlen(s) != v->data.scalar.length)
		return fail(p, v, "%s contains a NUL byte", what);
	if (refs && (rc = check_refs(p, v, what, s, refs)))
		return rc;
	if (!(copy = strdup(s)))
		return nomem(p);
	free(*dst);
	*dst = copy;
	return 0;
}

static int get_ll(struct parser *p, const char *what, yaml_node_t *v, long long min,
		  long long max, long long *out)
{
	const char *s, *d;
	char *end;
	long long x;

	if (v->type != YAML_SCALAR_NODE)
		return fail(p, v, "expected a number for %s, not %s", what, node_kind(v));
	if (is_null(v))
		return fail(p, v, "expected a number for %s, found nothing", what);
	s = scalar(v);
	d = s + (*s == '-' || *s == '+');
	if (!*d || strspn(d, "0123456789") != strlen(d))
		return fail(p, v, "expected a number for %s, got \"%s\"", what, s);
	if (*s == '-' && strspn(d, "0") != strlen(d))
		return fail(p, v, "%s must not be negative (got %s)", what, s);
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno == ERANGE || x > max)
		return fail(p, v, "%s is too large: %s (at most %lld)", what, s, max);
	if (x < min)
		return fail(p, v, "%s must be at least %lld (got %s)", what, min, s);
	*out = x;
	return 0;
}

static int get_bool(struct parser *p, const char *what, yaml_node_t *v, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
	size_t i;

	if (v->type == YAML_SCALAR_NODE) {
		for (i = 0; i < 3; i++) {
			if (!strcasecmp(scalar(v), yes[i]))
				return *out = true, 0;
			if (!strcasecmp(scalar(v), no[i]))
				return *out = false, 0;
		}
	}
	return fail(p, v, "expected true or false for %s", what);
}

static int get_enum(struct parser *p, const struct key *k, yaml_node_t *v, int *out)
{
	char list[200];
	int i;

	join_words(list, sizeof(list), k->words, -1);
	if (v->type != YAML_SCALAR_NODE)
		return fail(p, v, "expected one of %s for %s, not %s", list, k->label, node_kind(v));
	for (i = 0; k->words[i]; i++) {
		if (!strcmp(scalar(v), k->words[i])) {
			*out = i;
			return 0;
		}
	}
	return fail(p, v, "%s \"%s\" is not one of %s", k->label, scalar(v), list);
}

/* A list of names, or one name: primary_key, key_fields, drop. Replaces *v. */
static int get_names(struct parser *p, const char *what, yaml_node_t *v, char ***out, int *n)
{
	char **list;
	int cnt = 0, i, rc;

	if (v->type == YAML_MAPPING_NODE)
		return fail(p, v, "expected a list or a string for %s, not a mapping", what);
	if (v->type == YAML_SEQUENCE_NODE)
		cnt = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
	else
		cnt = is_null(v) ? 0 : 1;
	if (!(list = calloc((size_t)cnt + 1, sizeof(*list))))
		return nomem(p);
	for (i = 0; i < cnt; i++) {
		yaml_node_t *e = v->type == YAML_SEQUENCE_NODE ?
			node(p, v->data.sequence.items.start[i]) : v;
		if (e->type != YAML_SCALAR_NODE) {
			rc = fail(p, e, "expected a list of field names for %s, found %s in it", what,
				  node_kind(e));
			goto fail;
		}
		if ((rc = get_str(p, what, e, &list[i], 0)))
			goto fail;
		if (!*list[i]) {
			rc = fail(p, e, "%s has an empty field name", what);
			goto fail;
		}
	}
	for (i = 0; i < *n; i++)
		free((*out)[i]);
	free(*out);
	*out = list;
	*n = cnt;
	return 0;
fail:
	for (i = 0; i < cnt; i++)
		free(list[i]);
	free(list);
	return rc;
}

/* Refuses a key given twice in one mapping (libyaml keeps both silently). */
static int check_dup(struct parser *p, yaml_node_t *map, yaml_node_pair_t *pr, const char *where)
{
	yaml_node_t *k = node(p, pr->key), *o;
	yaml_node_pair_t *q;

	if (!k || k->type != YAML_SCALAR_NODE)
		return fail(p, k ? k : map, "expected a plain name as key in %s, not %s", where,
			    k ? node_kind(k) : "nothing");
	for (q = map->data.mapping.pairs.start; q < pr; q++) {
		o = node(p, q->key);
		if (o && o->type == YAML_SCALAR_NODE && !strcmp(scalar(o), scalar(k)))
			return fail(p, k, "key \"%s\" appears twice in %s (first at line %d)", scalar(k),
				    where, line_of(o));
	}
	return 0;
}

/* Sets key = value in a list of pairs, replacing an existing key (the merge of defaults). */
static int kv_set(struct parser *p, struct mf_kv **v, int *n, const char *key, char *value)
{
	struct mf_kv *nv;
	char *k;
	int i;

	for (i = 0; i < *n; i++) {
		if (!strcmp((*v)[i].key, key)) {
			free((*v)[i].value);
			(*v)[i].value = value;
			return 0;
		}
	}
	k = strdup(key);
	nv = realloc(*v, sizeof(*nv) * (size_t)(*n + 1));
	if (nv)
		*v = nv;
	if (!k || !nv) {
		free(k);
		free(value);
		return nomem(p);
	}
	nv[*n].key = k;
	nv[*n].value = value;
	(*n)++;
	return 0;
}

/*
 * A mapping of names to strings: headers, params, parent_fields. Merged into
 * *v key by key. what_one names one entry in messages ("param").
 */
static int get_kv(struct parser *p, const char *what, const char *what_one, yaml_node_t *v,
		  struct mf_kv **out, int *n, int refs)
{
	yaml_node_pair_t *pr;
	int rc;

	if (is_null(v))
		return 0;
	if (v->type != YAML_MAPPING_NODE)
		return fail(p, v, "expected a mapping for %s, not %s", what, node_kind(v));
	for (pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = node(p, pr->key), *val = node(p, pr->value);
		char label[160], *s = NULL;

		if ((rc = check_dup(p, v, pr, what)))
			return rc;
		snprintf(label, sizeof(label), "%s \"%s\"", what_one, scalar(k));
		if (!*scalar(k))
			return fail(p, k, "%s has an empty name", what);
		if ((rc = get_str(p, label, val, &s, refs)))
			return rc;
		if ((rc = kv_set(p, out, n, scalar(k), s)))
			return rc;
	}
	return 0;
}

/*
 * Reads a mapping through its key table into obj. where names the mapping in
 * messages ("stream \"users\"").
 */
static int parse_map(struct parser *p, yaml_node_t *map, const struct key *keys, size_t nkeys,
		     void *obj, const char *where)
{
	const char *saved = p->where, *names[32];
	yaml_node_pair_t *pr;
	int rc = 0;
	size_t i;

	p->where = where;
	for (pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top && !rc; pr++) {
		yaml_node_t *k = node(p, pr->key), *v = node(p, pr->value);
		const struct key *spec = NULL;
		char what[96];
		char *field;

		if ((rc = check_dup(p, map, pr, where)))
			break;
		for (i = 0; i < nkeys && !spec; i++)
			if (!strcmp(keys[i].name, scalar(k)))
				spec = &keys[i];
		if (!spec) {
			const char *best;
			for (i = 0; i < nkeys && i < 32; i++)
				names[i] = keys[i].name;
			best = suggest(scalar(k), names, (int)i);
			if (best) {
				rc = fail(p, k, "unknown key \"%s\" in %s: did you mean \"%s\"?", scalar(k),
					  where, best);
			} else {
				char list[400];
				join_words(list, sizeof(list), names, (int)i);
				rc = fail(p, k, "unknown key \"%s\" in %s (known keys: %s)", scalar(k), where,
					  list);
			}
			break;
		}
		snprintf(what, sizeof(what), "\"%s\"", spec->name);
		field = (char *)obj + spec->off;
		switch (spec->type) {
		case K_STR:
			rc = get_str(p, what, v, (char **)field, spec->refs);
			break;
		case K_INT: {
			long long x = 0;
			if (!(rc = get_ll(p, what, v, spec->min, spec->max, &x)))
				*(int *)field = (int)x;
			break;
		}
		case K_LL:
			rc = get_ll(p, what, v, spec->min, spec->max, (long long *)field);
			break;
		case K_BOOL:
			rc = get_bool(p, what, v, (bool *)field);
			break;
		case K_ENUM:
			rc = get_enum(p, spec, v, (int *)field);
			break;
		case K_CALL:
			rc = spec->call(p, obj, v);
			break;
		}
	}
	p->where = saved;
	return rc;
}

/* A nested section (pagination, retry, ...) that must be a mapping. */
static int parse_section(struct parser *p, yaml_node_t *v, const char *name,
			 const struct key *keys, size_t nkeys, void *obj)
{
	char where[160];

	if (is_null(v))
		return 0;
	if (v->type != YAML_MAPPING_NODE)
		return fail(p, v, "expected a mapping for \"%s\", not %s", name, node_kind(v));
	if (!strcmp(p->where, "the manifest"))
		snprintf(where, sizeof(where), "%s", name);
	else
		snprintf(where, sizeof(where), "the %s of %s", name, p->where);
	return parse_map(p, v, keys, nkeys, obj, where);
}

/* ---- the stream ------------------------------------------------------------ */

static const struct key page_keys[] = {
	KENUM(struct mf_pagination, "type", type, page_words, "pagination type"),
	KSTR(struct mf_pagination, "limit_param", limit_param, 0),
	KLL(struct mf_pagination, "limit", limit, 1, 1000000),
	KSTR(struct mf_pagination, "cursor_param", cursor_param, 0),
	KSTR(struct mf_pagination, "cursor_value", cursor_value, 0),
	KSTR(struct mf_pagination, "cursor_path", cursor_path, 0),
	KSTR(struct mf_pagination, "has_more", has_more, 0),
	KSTR(struct mf_pagination, "offset_param", offset_param, 0),
	KSTR(struct mf_pagination, "page_param", page_param, 0),
	KLL(struct mf_pagination, "page_start", page_start, 0, 1000000),
	KSTR(struct mf_pagination, "next_path", next_path, 0),
	KSTR(struct mf_pagination, "total_path", total_path, 0),
	KSTR(struct mf_pagination, "total_header", total_header, 0),
	KBOOL(struct mf_pagination, "stop_on_short_page", stop_on_short_page),
	KLL(struct mf_pagination, "max_pages", max_pages, 1, LLONG_MAX),
};

static int on_format(struct parser *p, void *obj, yaml_node_t *v)
{
	static const struct key k = KENUM(struct mf_incremental, "format", format, format_words,
					  "incremental format");
	int i;
	int rc = get_enum(p, &k, v, &i);

	if (!rc)
		((struct mf_incremental *)obj)->format = format_types[i];
	return rc;
}

static const struct key inc_keys[] = {
	KSTR(struct mf_incremental, "param", param, 0),
	KSTR(struct mf_incremental, "until_param", until_param, 0),
	KCALL("format", on_format),
};

static int on_stream_name(struct parser *p, void *obj, yaml_node_t *v)
{
	if (p->in_defaults)
		return fail(p, v, "defaults cannot set \"name\": each stream names itself");
	return get_str(p, "\"name\"", v, &((struct mf_stream *)obj)->name, 0);
}

static int on_method(struct parser *p, void *obj, yaml_node_t *v)
{
	struct mf_stream *s = obj;
	const char *m;

	if (v->type != YAML_SCALAR_NODE)
		return fail(p, v, "expected GET or POST for \"method\", not %s", node_kind(v));
	m = scalar(v);
	if (strcasecmp(m, "GET") && strcasecmp(m, "POST"))
		return fail(p, v, "method \"%s\" is not one of GET, POST", m);
	free(s->method);
	if (!(s->method = strdup(strcasecmp(m, "GET") ? "POST" : "GET")))
		return nomem(p);
	return 0;
}

static int on_params(struct parser *p, void *obj, yaml_node_t *v)
{
	struct mf_stream *s = obj;

	return get_kv(p, "\"params\"", "param", v, &s->params, &s->nparams, REF_SETTINGS | REF_PARENT);
}

static int on_parent_fields(struct parser *p, void *obj, yaml_node_t *v)
{
	struct mf_stream *s = obj;
	int rc, i;

	if ((rc = get_kv(p, "\"parent_fields\"", "parent field", v, &s->parent_fields,
			 &s->nparent_fields, 0)))
		return rc;
	for (i = 0; i < s->nparent_fields; i++)
		if (!*s->parent_fields[i].value)
			return fail(p, v, "parent field \"%s\" names no field of the parent record",
				    s->parent_fields[i].key);
	return 0;
}

static int on_primary_key(struct parser *p, void *obj, yaml_node_t *v)
{
	struct mf_stream *s = obj;

	return get_names(p, "\"primary_key\"", v, &s->primary_key, &s->npk);
}

static int on_key_fields(struct parser *p, void *obj, yaml_node_t *v)
{
	struct mf_stream *s = obj;

	return get_names(p, "\"key_fields\"", v, &s->key_fields, &s->nkey_fields);
}

static int on_drop(struct parser *p, void *obj, yaml_node_t *v)
{
	struct mf_stream *s = obj;

	return get_names(p, "\"drop\"", v, &s->drop, &s->ndrop);
}

static int on_fields(struct parser *p, void *obj, yaml_node_t *v)
{
	struct mf_stream *s = obj;
	yaml_node_pair_t *pr;
	int rc, i;

	if (is_null(v))
		return 0;
	if (v->type != YAML_MAPPING_NODE)
		return fail(p, v, "expected a mapping of field: type for \"fields\", not %s",
			    node_kind(v));
	for (pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = node(p, pr->key), *t = node(p, pr->value);
		struct mf_field *nf;
		int type;

		if ((rc = check_dup(p, v, pr, "\"fields\"")))
			return rc;
		if (t->type != YAML_SCALAR_NODE || (type = mf_type_of(scalar(t))) < 0) {
			const char *names[NTYPES];
			char list[300];
			for (i = 0; i < (int)NTYPES; i++)
				names[i] = type_names[i].name;
			join_words(list, sizeof(list), names, (int)NTYPES);
			if (t->type != YAML_SCALAR_NODE)
				return fail(p, t, "field \"%s\" has %s as type, not one of %s", scalar(k),
					    node_kind(t), list);
			return fail(p, t, "field \"%s\" has type \"%s\", which is not one of %s",
				    scalar(k), scalar(t), list);
		}
		for (i = 0; i < s->nfields; i++)
			if (!strcmp(s->fields[i].name, scalar(k)))
				break;
		if (i < s->nfields) {
			s->fields[i].type = (enum mf_type)type;
			continue;
		}
		if (!(nf = realloc(s->fields, sizeof(*nf) * (size_t)(s->nfields + 1))))
			return nomem(p);
		s->fields = nf;
		if (!(nf[s->nfields].name = strdup(scalar(k))))
			return nomem(p);
		nf[s->nfields++].type = (enum mf_type)type;
	}
	return 0;
}

static int on_pagination(struct parser *p, void *obj, yaml_node_t *v)
{
	struct mf_stream *s = obj;

	return parse_section(p, v, "pagination", page_keys, NKEYS(page_keys), &s->page);
}

static int on_incremental(struct parser *p, void *obj, yaml_node_t *v)
{
	struct mf_stream *s = obj;

	return parse_section(p, v, "incremental", inc_keys, NKEYS(inc_keys), &s->inc);
}

/* graphql variables: YAML to JSON, plain scalars typed the way YAML reads them. */
static json_t *to_json(struct parser *p, yaml_node_t *n, const char *name, int depth, int *budget)
{
	json_t *out = NULL;

	if (--*budget < 0 || depth > MF_MAX_JSON_DEPTH) {
		fail(p, n, "\"variables\" are nested too deeply or too large");
		return NULL;
	}
	if (n->type == YAML_SCALAR_NODE) {
		const char *s = scalar(n);
		char *end, label[160];

		if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
			if (is_null(n))
				return json_null();
			if (!strcmp(s, "true") || !strcmp(s, "false"))
				return json_boolean(!strcmp(s, "true"));
			if (*s && strspn(s + (*s == '-'), "0123456789") == strlen(s + (*s == '-')) &&
			    s[*s == '-']) {
				long long x;
				errno = 0;
				x = strtoll(s, &end, 10);
				if (!errno)
					return json_integer(x);
			}
			if (*s && strpbrk(s, ".eE") && (isdigit((unsigned char)s[0]) || s[0] == '-')) {
				double d = strtod(s, &end);
				if (!*end && isfinite(d))
					return json_real(d);
			}
		}
		if (strlen(s) != n->data.scalar.length) {
			fail(p, n, "variable \"%s\" contains a NUL byte", name);
			return NULL;
		}
		snprintf(label, sizeof(label), "variable \"%s\"", name);
		if (check_refs(p, n, label, s, REF_SETTINGS))
			return NULL;
		if (!(out = json_string(s)))
			fail(p, n, "variable \"%s\" is not valid UTF-8", name);
		return out;
	}
	if (n->type == YAML_SEQUENCE_NODE) {
		yaml_node_item_t *it;
		out = json_array();
		for (it = n->data.sequence.items.start; out && it < n->data.sequence.items.top; it++) {
			json_t *e = to_json(p, node(p, *it), name, depth + 1, budget);
			if (!e || json_array_append_new(out, e)) {
				json_decref(out);
				return NULL;
			}
		}
		return out;
	}
	if (n->type == YAML_MAPPING_NODE) {
		yaml_node_pair_t *pr;
		out = json_object();
		for (pr = n->data.mapping.pairs.start; out && pr < n->data.mapping.pairs.top; pr++) {
			json_t *e;
			if (check_dup(p, n, pr, "\"variables\"")) {
				json_decref(out);
				return NULL;
			}
			e = to_json(p, node(p, pr->value), depth ? name : scalar(node(p, pr->key)),
				    depth + 1, budget);
			if (!e || json_object_set_new(out, scalar(node(p, pr->key)), e)) {
				json_decref(out);
				return NULL;
			}
		}
		return out;
	}
	fail(p, n, "variable \"%s\" has no value", name);
	return NULL;
}

static int on_variables(struct parser *p, void *obj, yaml_node_t *v)
{
	struct mf_stream *s = obj;
	int budget = MF_MAX_JSON_NODES;
	json_t *j;
	char *text;

	if (is_null(v))
		return 0;
	if (v->type != YAML_MAPPING_NODE)
		return fail(p, v, "expected a mapping for \"variables\", not %s", node_kind(v));
	if (!(j = to_json(p, v, "", 0, &budget)))
		return p->err->code ? p->err->code : nomem(p);
	text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!text)
		return nomem(p);
	free(s->variables);
	s->variables = text;
	return 0;
}

static const struct key stream_keys[] = {
	KCALL("name", on_stream_name),
	KSTR(struct mf_stream, "path", path, REF_SETTINGS | REF_PARENT),
	KCALL("method", on_method),
	KCALL("params", on_params),
	KSTR(struct mf_stream, "records", records, 0),
	KSTR(struct mf_stream, "record_field", record_field, 0),
	KCALL("primary_key", on_primary_key),
	KCALL("key_fields", on_key_fields),
	KSTR(struct mf_stream, "cursor", cursor_field, 0),
	KENUM(struct mf_stream, "cursor_order", cursor_order, order_words, "cursor_order"),
	KCALL("fields", on_fields),
	KCALL("drop", on_drop),
	KSTR(struct mf_stream, "parent", parent, 0),
	KCALL("parent_fields", on_parent_fields),
	KCALL("pagination", on_pagination),
	KCALL("incremental", on_incremental),
	KSTR(struct mf_stream, "query", query, 0),
	KCALL("variables", on_variables),
};

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 63 && s[0] >= 'a' && s[0] <= 'z' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* Whether s holds a {parent.FIELD} reference ({{parent.x}} is literal text). */
static bool mentions_parent(const char *s)
{
	const char *ref = NULL;
	size_t n = 0;
	enum piece pc;
	char lit;

	while (s && (pc = next_piece(&s, &lit, &ref, &n)) != P_END) {
		if (pc == P_BAD_OPEN || pc == P_BAD_CLOSE)
			return false;
		if (pc == P_REF && is_parent_ref(ref, n))
			return true;
	}
	return false;
}

/* What the pagination type needs; checked after the merge with defaults. */
static int check_pagination(struct parser *p, struct mf_stream *s, yaml_node_t *sn)
{
	struct mf_pagination *pg = &s->page;
	int line = key_line(p, sn, "pagination");
	const char *t = page_words[pg->type];

	if (pg->type == MF_PAGE_CURSOR && !has(pg->cursor_param))
		return fail_line(p, line, "pagination type \"%s\" of stream \"%s\" needs cursor_param (the request parameter that carries the cursor)",
				 t, s->name);
	if (pg->type == MF_PAGE_CURSOR && !has(pg->cursor_value) && !has(pg->cursor_path))
		return fail_line(p, line, "pagination type \"%s\" of stream \"%s\" needs cursor_value (a field of the last record) or cursor_path (where the body holds the next cursor)",
				 t, s->name);
	if (pg->type == MF_PAGE_OFFSET && !has(pg->offset_param))
		return fail_line(p, line, "pagination type \"%s\" of stream \"%s\" needs offset_param (the request parameter of the offset)",
				 t, s->name);
	if (pg->type == MF_PAGE_PAGE && !has(pg->page_param))
		return fail_line(p, line, "pagination type \"%s\" of stream \"%s\" needs page_param (the request parameter of the page number)",
				 t, s->name);
	if (pg->type == MF_PAGE_NEXT_LINK && !has(pg->next_path))
		return fail_line(p, line, "pagination type \"%s\" of stream \"%s\" needs next_path (where the body holds the next URL)",
				 t, s->name);
	drop_empty(&pg->limit_param);
	drop_empty(&pg->cursor_param);
	drop_empty(&pg->cursor_value);
	drop_empty(&pg->cursor_path);
	drop_empty(&pg->has_more);
	drop_empty(&pg->offset_param);
	drop_empty(&pg->page_param);
	drop_empty(&pg->next_path);
	drop_empty(&pg->total_path);
	drop_empty(&pg->total_header);
	if (pg->limit_param && !pg->limit)
		pg->limit = 100;
	return 0;
}

/* The checks and defaults of one stream once defaults and its own keys are in. */
static int finish_stream(struct parser *p, struct mf_stream *s, yaml_node_t *sn)
{
	bool gql = p->m->kind == MF_GRAPHQL;
	int i, rc;

	if (!s->path && !(s->path = strdup("")))
		return nomem(p);
	if (!gql && !*s->path)
		return fail(p, sn, "stream \"%s\" has no path (e.g. path: /%s)", s->name, s->name);
	if (*s->path && s->path[0] != '/')
		return fail_line(p, key_line(p, sn, "path"),
				 "path \"%s\" of stream \"%s\" must start with \"/\" (it is appended to base_url)",
				 s->path, s->name);
	if (gql && !has(s->query))
		return fail(p, sn, "stream \"%s\" has no query (kind: graphql streams send one)", s->name);
	if (!gql && s->query)
		return fail_line(p, key_line(p, sn, "query"),
				 "stream \"%s\" has a query, which only kind: graphql manifests send", s->name);
	if (!gql && s->variables)
		return fail_line(p, key_line(p, sn, "variables"),
				 "stream \"%s\" has variables, which only kind: graphql manifests send", s->name);
	if (gql && s->method && strcmp(s->method, "POST"))
		return fail_line(p, key_line(p, sn, "method"),
				 "stream \"%s\" has method %s, but graphql requests are always POST", s->name,
				 s->method);
	if (!s->method && !(s->method = strdup(gql ? "POST" : "GET")))
		return nomem(p);
	if (!s->records && !(s->records = strdup("")))
		return nomem(p);
	if (!strcmp(s->records, "."))
		s->records[0] = '\0';
	drop_empty(&s->record_field);
	drop_empty(&s->cursor_field);
	drop_empty(&s->parent);

	if (s->nkey_fields && lookup(p, sn, "primary_key") && lookup(p, sn, "key_fields"))
		return fail_line(p, key_line(p, sn, "key_fields"),
				 "stream \"%s\" has both primary_key and key_fields: keep primary_key when records have an id, key_fields when they do not",
				 s->name);
	if (s->nkey_fields) {       /* key_fields replace a primary_key from defaults */
		for (i = 0; i < s->npk; i++)
			free(s->primary_key[i]);
		s->npk = 0;
	}

	if ((rc = check_pagination(p, s, sn)))
		return rc;

	drop_empty(&s->inc.param);
	drop_empty(&s->inc.until_param);
	if ((s->inc.param || s->inc.until_param) && !s->cursor_field)
		return fail_line(p, key_line(p, sn, "incremental"),
				 "incremental param \"%s\" of stream \"%s\" needs a cursor field (cursor: FIELD, the record field it filters on)",
				 s->inc.param ? s->inc.param : s->inc.until_param, s->name);
	if (s->inc.format == MF_T_AUTO) {
		s->inc.format = MF_T_RFC3339;
		for (i = 0; s->cursor_field && i < s->nfields; i++) {
			enum mf_type t = s->fields[i].type;
			if (!strcmp(s->fields[i].name, s->cursor_field) &&
			    (t == MF_T_UNIX_SECONDS || t == MF_T_UNIX_MS || t == MF_T_DATE))
				s->inc.format = t;
		}
	}

	if (s->nparent_fields && !s->parent)
		return fail_line(p, key_line(p, sn, "parent_fields"),
				 "stream \"%s\" has parent_fields but no parent (parent: STREAM)", s->name);
	if (!s->parent && mentions_parent(s->path))
		return fail_line(p, key_line(p, sn, "path"),
				 "path of stream \"%s\" uses {parent.…} but the stream has no parent (parent: STREAM)",
				 s->name);
	for (i = 0; !s->parent && i < s->nparams; i++)
		if (mentions_parent(s->params[i].value))
			return fail_line(p, key_line(p, sn, "params"),
					 "param \"%s\" of stream \"%s\" uses {parent.…} but the stream has no parent (parent: STREAM)",
					 s->params[i].key, s->name);
	return 0;
}

static int stream_index(const struct mf_manifest *m, const char *name)
{
	int i;

	for (i = 0; i < m->nstreams; i++)
		if (!strcmp(m->streams[i].name, name))
			return i;
	return -1;
}

/* Every parent names a stream, and following parents never comes back. */
static int check_parents(struct parser *p)
{
	struct mf_manifest *m = p->m;
	int i, j, steps;

	for (i = 0; i < m->nstreams; i++) {
		struct mf_stream *s = &m->streams[i];
		int line;

		if (!s->parent)
			continue;
		line = key_line(p, p->snodes[i], "parent");
		if (stream_index(m, s->parent) < 0) {
			const char *names[64], *best;
			int n;
			for (n = 0; n < m->nstreams && n < 64; n++)
				names[n] = m->streams[n].name;
			best = suggest(s->parent, names, n);
			return fail_line(p, line, "parent \"%s\" of stream \"%s\" is not a stream of this manifest%s%s%s",
					 s->parent, s->name, best ? ": did you mean \"" : "",
					 best ? best : "", best ? "\"?" : "");
		}
		for (j = i, steps = 0; m->streams[j].parent && steps <= m->nstreams; steps++) {
			j = stream_index(m, m->streams[j].parent);
			if (j < 0)
				break;
			if (j == i) {
				char chain[300];
				size_t o = (size_t)snprintf(chain, sizeof(chain), "%s", s->name);
				int k = i;
				do {
					k = stream_index(m, m->streams[k].parent);
					o += (size_t)snprintf(chain + o, o < sizeof(chain) ? sizeof(chain) - o : 0,
							      " -> %s", m->streams[k].name);
				} while (k != i && o < sizeof(chain));
				return fail_line(p, line, "parent \"%s\" of stream \"%s\" makes a cycle (%s)",
						 s->parent, s->name, chain);
			}
		}
	}
	return 0;
}

static void stream_init(struct mf_stream *s)
{
	memset(s, 0, sizeof(*s));
	s->cursor_order = MF_ORDER_NONE;
	s->page.type = MF_PAGE_NONE;
	s->page.page_start = 1;
	s->page.stop_on_short_page = true;
	s->page.max_pages = 1000000;
	s->inc.format = MF_T_AUTO;  /* unset: decided in finish_stream */
}

static int parse_streams(struct parser *p)
{
	struct mf_manifest *m = p->m;
	yaml_node_t *list = p->streams;
	int n, i, rc;

	if (!list || is_null(list))
		return fail(p, list ? list : p->root,
			    "no streams: add a streams: list with at least one stream (name:, path:)");
	if (list->type != YAML_SEQUENCE_NODE)
		return fail(p, list, "expected a list for \"streams\", not %s", node_kind(list));
	n = (int)(list->data.sequence.items.top - list->data.sequence.items.start);
	if (!n)
		return fail(p, list, "no streams: add a streams: list with at least one stream (name:, path:)");
	if (p->defaults && !is_null(p->defaults) && p->defaults->type != YAML_MAPPING_NODE)
		return fail(p, p->defaults, "expected a mapping for \"defaults\", not %s",
			    node_kind(p->defaults));
	if (!(m->streams = calloc((size_t)n, sizeof(*m->streams))) ||
	    !(p->snodes = calloc((size_t)n, sizeof(*p->snodes))))
		return nomem(p);
	for (i = 0; i < n; i++) {
		yaml_node_t *sn = node(p, list->data.sequence.items.start[i]), *name;
		struct mf_stream *s = &m->streams[i];
		char where[128];
		int j;

		stream_init(s);
		m->nstreams++;
		s->line = line_of(sn);
		p->snodes[i] = sn;
		if (sn->type != YAML_MAPPING_NODE)
			return fail(p, sn, "expected a mapping for stream %d (name:, path:, ...), not %s",
				    i + 1, node_kind(sn));
		if (!(name = lookup(p, sn, "name")))
			return fail(p, sn, "stream %d has no name (name: users)", i + 1);
		if ((rc = get_str(p, "\"name\"", name, &s->name, 0)))
			return rc;
		if (!valid_name(s->name))
			return fail(p, name, "stream name \"%s\" must be lower-case letters, digits and _, starting with a letter (it becomes part of a table name)",
				    s->name);
		for (j = 0; j < i; j++)
			if (!strcmp(m->streams[j].name, s->name))
				return fail(p, name, "stream \"%s\" is declared twice (first at line %d)",
					    s->name, m->streams[j].line);
		if (p->defaults && p->defaults->type == YAML_MAPPING_NODE) {
			p->in_defaults = true;
			rc = parse_map(p, p->defaults, stream_keys, NKEYS(stream_keys), s, "defaults");
			p->in_defaults = false;
			if (rc)
				return rc;
		}
		snprintf(where, sizeof(where), "stream \"%s\"", s->name);
		if ((rc = parse_map(p, sn, stream_keys, NKEYS(stream_keys), s, where)) ||
		    (rc = finish_stream(p, s, sn)))
			return rc;
	}
	return check_parents(p);
}

/* ---- the top level --------------------------------------------------------- */

static const struct key setting_keys[] = {
	KBOOL(struct mf_setting, "required", required),
	KBOOL(struct mf_setting, "secret", secret),
	KSTR(struct mf_setting, "help", help, 0),
	KSTR(struct mf_setting, "default", def, 0),
};

static int parse_settings(struct parser *p, yaml_node_t *v)
{
	struct mf_manifest *m = p->m;
	yaml_node_pair_t *pr;
	int n, rc;

	if (!v || is_null(v))
		return 0;
	if (v->type != YAML_MAPPING_NODE)
		return fail(p, v, "expected a mapping of setting names for \"settings\", not %s",
			    node_kind(v));
	n = (int)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
	if (!(m->settings = calloc((size_t)n + 1, sizeof(*m->settings))))
		return nomem(p);
	for (pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = node(p, pr->key), *sv = node(p, pr->value);
		struct mf_setting *st = &m->settings[m->nsettings];
		const char *name;
		char where[160];

		if ((rc = check_dup(p, v, pr, "settings")))
			return rc;
		name = scalar(k);
		if (!*name || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
		    strlen(name))
			return fail(p, k, "setting name \"%s\" must be letters, digits and _", name);
		if (!(st->key = strdup(name)))
			return nomem(p);
		m->nsettings++;
		if (is_null(sv))
			continue;
		if (sv->type != YAML_MAPPING_NODE)
			return fail(p, sv, "expected a mapping for setting \"%s\" ({required: true, secret: true, help: ...}), not %s",
				    name, node_kind(sv));
		snprintf(where, sizeof(where), "setting \"%s\"", name);
		if ((rc = parse_map(p, sv, setting_keys, NKEYS(setting_keys), st, where)))
			return rc;
		if (st->required && st->def)
			return fail(p, sv, "setting \"%s\" is required and has a default: keep one of the two",
				    name);
	}
	return 0;
}

static int on_settings(struct parser *p, void *obj, yaml_node_t *v)
{
	return 0;  /* read first, by mf_parse, so every other key can refer to settings */
}

static int on_type(struct parser *p, void *obj, yaml_node_t *v)
{
	struct mf_manifest *m = obj;
	int rc, i;

	if ((rc = get_str(p, "\"type\"", v, &m->type, 0)))
		return rc;
	if (!valid_name(m->type))
		return fail(p, v, "type \"%s\" must be lower-case letters, digits and _, starting with a letter",
			    m->type);
	for (i = 0; reserved_types[i]; i++)
		if (!strcmp(m->type, reserved_types[i]))
			return fail(p, v, "type \"%s\" is taken by a connector of ferry: choose another name",
				    m->type);
	return 0;
}

static const struct key auth_keys[] = {
	KENUM(struct mf_manifest, "type", auth, auth_words, "auth type"),
	KSTR(struct mf_manifest, "token", auth_token, REF_SETTINGS),
	KSTR(struct mf_manifest, "name", auth_name, REF_SETTINGS),
	KSTR(struct mf_manifest, "username", auth_user, REF_SETTINGS),
	KSTR(struct mf_manifest, "password", auth_password, REF_SETTINGS),
};

static int on_auth(struct parser *p, void *obj, yaml_node_t *v)
{
	struct mf_manifest *m = obj;
	const char *t;
	int rc;

	if (is_null(v))
		return 0;
	if (v->type != YAML_MAPPING_NODE)
		return fail(p, v, "expected a mapping for \"auth\" (type: bearer, token: ...), not %s",
			    node_kind(v));
	if (!lookup(p, v, "type"))
		return fail(p, v, "auth has no type: one of none, bearer, basic, header, query");
	if ((rc = parse_map(p, v, auth_keys, NKEYS(auth_keys), m, "auth")))
		return rc;
	t = auth_words[m->auth];
	if ((m->auth == MF_AUTH_BEARER || m->auth == MF_AUTH_HEADER || m->auth == MF_AUTH_QUERY) &&
	    !has(m->auth_token))
		return fail(p, v, "auth type \"%s\" needs token (e.g. token: \"{api_key}\")", t);
	if ((m->auth == MF_AUTH_HEADER || m->auth == MF_AUTH_QUERY) && !has(m->auth_name))
		return fail(p, v, "auth type \"%s\" needs name (the %s that carries the token)", t,
			    m->auth == MF_AUTH_HEADER ? "header" : "query parameter");
	if (m->auth == MF_AUTH_HEADER && strpbrk(m->auth_name, ": \t\r\n"))
		return fail(p, v, "auth name \"%s\" is not a valid header name", m->auth_name);
	if (m->auth == MF_AUTH_BASIC && !m->auth_user)
		return fail(p, v, "auth type \"basic\" needs username (e.g. username: \"{api_key}\")");
	if (m->auth == MF_AUTH_BASIC && !m->auth_password && !(m->auth_password = strdup("")))
		return nomem(p);
	return 0;
}

static int on_headers(struct parser *p, void *obj, yaml_node_t *v)
{
	struct mf_manifest *m = obj;
	int rc, i;

	if ((rc = get_kv(p, "\"headers\"", "header", v, &m->headers, &m->nheaders, REF_SETTINGS)))
		return rc;
	for (i = 0; i < m->nheaders; i++) {
		if (strpbrk(m->headers[i].key, ": \t\r\n"))
			return fail(p, v, "header name \"%s\" is not valid (no spaces or colons)",
				    m->headers[i].key);
		if (strpbrk(m->headers[i].value, "\r\n"))
			return fail(p, v, "header \"%s\" has a line break in its value",
				    m->headers[i].key);
	}
	return 0;
}

static int on_rps(struct parser *p, void *obj, yaml_node_t *v)
{
	struct mf_manifest *m = obj;
	char *end;
	double d;

	if (v->type != YAML_SCALAR_NODE || is_null(v))
		return fail(p, v, "expected a number for \"requests_per_second\"");
	errno = 0;
	d = strtod(scalar(v), &end);
	if (*end || end == scalar(v) || errno || !isfinite(d))
		return fail(p, v, "expected a number for \"requests_per_second\", got \"%s\"", scalar(v));
	if (d < 0)
		return fail(p, v, "\"requests_per_second\" must not be negative (got %s)", scalar(v));
	if (d > 100000)
		return fail(p, v, "\"requests_per_second\" is too large: %s (at most 100000)", scalar(v));
	m->rps = d;
	return 0;
}

static const struct key rate_keys[] = {
	KCALL("requests_per_second", on_rps),
	KINT(struct mf_manifest, "burst", burst, 1, 1000000),
};

static const struct key retry_keys[] = {
	KINT(struct mf_manifest, "max_attempts", max_attempts, 1, 100),
	KLL(struct mf_manifest, "backoff_ms", backoff_ms, 0, 3600000),
	KLL(struct mf_manifest, "max_backoff_ms", max_backoff_ms, 0, 86400000),
	KLL(struct mf_manifest, "retry_after_cap_ms", retry_after_cap_ms, 0, 86400000),
};

static int on_rate_limit(struct parser *p, void *obj, yaml_node_t *v)
{
	return parse_section(p, v, "rate_limit", rate_keys, NKEYS(rate_keys), obj);
}

static int on_retry(struct parser *p, void *obj, yaml_node_t *v)
{
	struct mf_manifest *m = obj;
	int rc = parse_section(p, v, "retry", retry_keys, NKEYS(retry_keys), obj);

	if (!rc && m->backoff_ms > m->max_backoff_ms)
		return fail(p, v, "retry backoff_ms (%lld) is larger than max_backoff_ms (%lld)",
			    m->backoff_ms, m->max_backoff_ms);
	return rc;
}

/* max_response_bytes: 1048576, 64MB, 512 KB, 1GB (binary multiples). */
static int on_max_bytes(struct parser *p, void *obj, yaml_node_t *v)
{
	static const struct {
		const char *suffix;
		long long mult;
	} units[] = {{"", 1}, {"B", 1}, {"KB", 1LL << 10}, {"MB", 1LL << 20}, {"GB", 1LL << 30}};
	const long long max = 1LL << 34;  /* the max_response_bytes setting's limit too */
	struct mf_manifest *m = obj;
	const char *s, *u;
	long long x = 0;
	size_t i;

	if (v->type != YAML_SCALAR_NODE || is_null(v))
		return fail(p, v, "expected a size for \"max_response_bytes\" (bytes, or with KB, MB or GB: 64MB)");
	s = scalar(v);
	if (*s == '-')
		return fail(p, v, "\"max_response_bytes\" must not be negative (got %s)", s);
	for (u = s; isdigit((unsigned char)*u); u++) {
		if (x > max)
			break;
		x = x * 10 + (*u - '0');
	}
	if (u == s)
		return fail(p, v, "expected a size for \"max_response_bytes\" (bytes, or with KB, MB or GB: 64MB), got \"%s\"", s);
	if (isdigit((unsigned char)*u))
		return fail(p, v, "\"max_response_bytes\" is too large: %s (at most 16GB)", s);
	while (*u == ' ')
		u++;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcasecmp(u, units[i].suffix))
			break;
	if (i == sizeof(units) / sizeof(units[0]))
		return fail(p, v, "expected a size for \"max_response_bytes\" (bytes, or with KB, MB or GB: 64MB), got \"%s\"", s);
	if (x > max / units[i].mult)
		return fail(p, v, "\"max_response_bytes\" is too large: %s (at most 16GB)", s);
	if (x * units[i].mult < 1024)
		return fail(p, v, "\"max_response_bytes\" must be at least 1KB (got %s)", s);
	m->max_response_bytes = x * units[i].mult;
	return 0;
}

static int on_defaults(struct parser *p, void *obj, yaml_node_t *v)
{
	p->defaults = v;
	return 0;
}

static int on_streams(struct parser *p, void *obj, yaml_node_t *v)
{
	p->streams = v;
	return 0;
}

static const struct key top_keys[] = {
	KENUM(struct mf_manifest, "kind", kind, kind_words, "kind"),
	KCALL("type", on_type),
	KSTR(struct mf_manifest, "summary", summary, 0),
	KSTR(struct mf_manifest, "docs", docs_url, 0),
	KSTR(struct mf_manifest, "base_url", base_url, REF_SETTINGS),
	KCALL("settings", on_settings),
	KCALL("auth", on_auth),
	KCALL("headers", on_headers),
	KCALL("rate_limit", on_rate_limit),
	KCALL("retry", on_retry),
	KLL(struct mf_manifest, "timeout_ms", timeout_ms, 1, 3600000),
	KCALL("max_response_bytes", on_max_bytes),
	KINT(struct mf_manifest, "concurrency", concurrency, 1, 16),
	KLL(struct mf_manifest, "sync_interval", sync_interval_s, 60, 31536000),
	KCALL("defaults", on_defaults),
	KCALL("streams", on_streams),
};

static int parse_top(struct parser *p)
{
	struct mf_manifest *m = p->m;
	yaml_node_t *root = p->root;
	int rc;

	if (root->type != YAML_MAPPING_NODE)
		return fail(p, root, "expected a mapping at the top level (type:, base_url:, streams:, ...), not %s",
			    node_kind(root));
	if ((rc = parse_settings(p, lookup(p, root, "settings"))))
		return rc;
	if ((rc = parse_map(p, root, top_keys, NKEYS(top_keys), m, "the manifest")))
		return rc;
	if (!has(m->type))
		return fail(p, root, "missing \"type\": the connector type name (type: acme)");
	if (!has(m->base_url))
		return fail(p, root, "missing \"base_url\" (base_url: https://api.example.com/v1; the base_url setting overrides it)");
	if (strncmp(m->base_url, "http://", 7) && strncmp(m->base_url, "https://", 8) &&
	    m->base_url[0] != '{')
		return fail(p, lookup(p, root, "base_url"),
			    "base_url \"%s\" must start with http:// or https://", m->base_url);
	if ((rc = parse_streams(p)))
		return rc;
	if (m->rps > 0 && !m->burst)
		m->burst = m->rps < 1 ? 1 : (int)m->rps;
	return 0;
}

/* ---- entry points ---------------------------------------------------------- */

static int yaml_error(const char *file, const char *text, yaml_parser_t *yp,
		      struct ferry_err *err)
{
	size_t line = yp->problem_mark.line + 1, i;

	if (yp->error == YAML_MEMORY_ERROR)
		return ferry_err_set(err, FERRY_ENOMEM, "%s: out of memory while reading YAML", file);
	if (yp->error == YAML_READER_ERROR) {  /* bad bytes: only an offset is known */
		for (line = 1, i = 0; i < yp->problem_offset && text[i]; i++)
			line += text[i] == '\n';
	}
	if (yp->context)
		return ferry_err_set(err, FERRY_ECONFIG, "%s:%zu: YAML syntax error: %s (%s at line %zu)",
				     file, line, yp->problem ? yp->problem : "invalid YAML",
				     yp->context, yp->context_mark.line + 1);
	return ferry_err_set(err, FERRY_ECONFIG, "%s:%zu: YAML syntax error: %s", file, line,
			     yp->problem ? yp->problem : "invalid YAML");
}

int mf_parse(const char *file, const char *text, size_t len, struct mf_manifest **out,
	     struct ferry_err *err)
{
	struct parser p = {.file = file, .err = err};
	struct mf_manifest *m = NULL;
	yaml_parser_t yp;
	yaml_document_t doc, next;
	int rc = 0;

	*out = NULL;
	if (!yaml_parser_initialize(&yp))
		return ferry_err_set(err, FERRY_ENOMEM, "%s: out of memory while reading YAML", file);
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	if (!yaml_parser_load(&yp, &doc)) {
		rc = yaml_error(file, text, &yp, err);
		goto out_parser;
	}
	p.doc = &doc;
	p.root = yaml_document_get_root_node(&doc);
	if (!p.root) {
		rc = ferry_err_set(err, FERRY_ECONFIG, "%s:1: the manifest is empty: it needs type:, base_url: and streams: (see docs/manifest.md)",
				   file);
		goto out_doc;
	}
	if (!yaml_parser_load(&yp, &next)) {
		rc = yaml_error(file, text, &yp, err);
		goto out_doc;
	}
	if (yaml_document_get_root_node(&next)) {
		rc = ferry_err_set(err, FERRY_ECONFIG, "%s:%d: a second YAML document: a manifest is one document (remove the ---)",
				   file, (int)next.start_mark.line + 1);
		yaml_document_delete(&next);
		goto out_doc;
	}
	yaml_document_delete(&next);

	if (!(m = calloc(1, sizeof(*m))) || !(m->file = strdup(file))) {
		rc = nomem(&p);
		goto out_doc;
	}
	m->kind = MF_REST;
	m->auth = MF_AUTH_NONE;
	m->max_attempts = 5;
	m->backoff_ms = 500;
	m->max_backoff_ms = 30000;
	m->retry_after_cap_ms = 60000;
	m->timeout_ms = 60000;
	m->max_response_bytes = 64LL << 20;
	m->concurrency = 2;
	p.m = m;
	rc = parse_top(&p);
out_doc:
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&yp);
	free(p.snodes);
	if (rc)
		mf_free(m);
	else
		*out = m;
	return rc;
}

int mf_load_file(const char *path, struct mf_manifest **out, struct ferry_err *err)
{
	struct ferry_buf b;
	char chunk[8192];
	FILE *f;
	size_t n;
	int rc = 0;

	*out = NULL;
	if (!(f = fopen(path, "rb"))) {
		if (errno == ENOENT || errno == ENOTDIR)
			return ferry_err_set(err, FERRY_ENOTFOUND, "manifest file \"%s\" not found", path);
		return ferry_err_set(err, FERRY_ECONFIG, "cannot read manifest file \"%s\": %s", path,
				     strerror(errno));
	}
	ferry_buf_init(&b, MF_MAX_FILE);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if ((rc = ferry_buf_add(&b, chunk, n))) {
			rc = ferry_err_set(err, rc == FERRY_ETOOBIG ? FERRY_ECONFIG : rc,
					   "manifest file \"%s\" is larger than %d MB: is it really a manifest?",
					   path, MF_MAX_FILE >> 20);
			goto out;
		}
	}
	if (ferror(f)) {
		rc = ferry_err_set(err, FERRY_ECONFIG, "cannot read manifest file \"%s\": %s", path,
				   strerror(errno));
		goto out;
	}
	rc = mf_parse(path, b.data, b.len, out, err);
out:
	fclose(f);
	ferry_buf_release(&b);
	return rc;
}

/* The manifest found for a type must declare that type. */
static int check_type(const char *type, struct mf_manifest **out, struct ferry_err *err)
{
	if (strcmp((*out)->type, type)) {
		int rc = ferry_err_set(err, FERRY_ECONFIG, "%s declares type \"%s\": a manifest found as %s.yaml must declare type: %s",
				       (*out)->file, (*out)->type, type, type);
		mf_free(*out);
		*out = NULL;
		return rc;
	}
	return 0;
}

int mf_find(const char *type, struct mf_manifest **out, struct ferry_err *err)
{
	static const char *const exts[] = {".yaml", ".yml"};
	const char *dirs = getenv("FERRY_MANIFEST_PATH"), *d, *end;
	const struct mf_builtin *b;
	int rc;

	*out = NULL;
	if (!type || !valid_name(type))  /* also keeps "../x" out of the paths below */
		return FERRY_ENOTFOUND;
	for (d = dirs; d && *d; d = *end ? end + 1 : end) {
		size_t i;

		end = strchr(d, ':');
		if (!end)
			end = d + strlen(d);
		for (i = 0; end > d && i < 2; i++) {
			char path[4096];
			struct stat st;
			int n = snprintf(path, sizeof(path), "%.*s/%s%s", (int)(end - d), d, type, exts[i]);

			if (n < 0 || (size_t)n >= sizeof(path) || stat(path, &st) || !S_ISREG(st.st_mode))
				continue;
			if ((rc = mf_load_file(path, out, err)))
				return rc == FERRY_ENOTFOUND ? FERRY_ECONFIG : rc;
			return check_type(type, out, err);
		}
	}
	for (b = mf_builtins; b->type; b++) {
		if (strcmp(b->type, type))
			continue;
		if ((rc = mf_parse(b->file, b->text, b->len, out, err)))
			return rc;
		return check_type(type, out, err);
	}
	return FERRY_ENOTFOUND;
}

const char *const *mf_builtin_types(void)
{
	return mf_builtin_names;
}

static void free_names(char **v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void free_kv(struct mf_kv *v, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].value);
	}
	free(v);
}

static void stream_release(struct mf_stream *s)
{
	struct mf_pagination *pg = &s->page;
	int i;

	free(s->name);
	free(s->path);
	free(s->method);
	free_kv(s->params, s->nparams);
	free(s->records);
	free(s->record_field);
	free_names(s->primary_key, s->npk);
	free_names(s->key_fields, s->nkey_fields);
	free(s->cursor_field);
	for (i = 0; i < s->nfields; i++)
		free(s->fields[i].name);
	free(s->fields);
	free_names(s->drop, s->ndrop);
	free(pg->limit_param);
	free(pg->offset_param);
	free(pg->page_param);
	free(pg->cursor_param);
	free(pg->cursor_value);
	free(pg->cursor_path);
	free(pg->has_more);
	free(pg->next_path);
	free(pg->total_path);
	free(pg->total_header);
	free(s->inc.param);
	free(s->inc.until_param);
	free(s->parent);
	free_kv(s->parent_fields, s->nparent_fields);
	free(s->query);
	free(s->variables);
}

void mf_free(struct mf_manifest *m)
{
	int i;

	if (!m)
		return;
	free(m->file);
	free(m->type);
	free(m->summary);
	free(m->docs_url);
	free(m->base_url);
	free_kv(m->headers, m->nheaders);
	free(m->auth_token);
	free(m->auth_name);
	free(m->auth_user);
	free(m->auth_password);
	for (i = 0; i < m->nsettings; i++) {
		free(m->settings[i].key);
		free(m->settings[i].help);
		free(m->settings[i].def);
	}
	free(m->settings);
	for (i = 0; i < m->nstreams; i++)
		stream_release(&m->streams[i]);
	free(m->streams);
	free(m);
}

int mf_expand(const struct mf_manifest *m, const struct ferry_config *c, const char *s,
	      struct ferry_buf *out, struct ferry_err *err)
{
	const char *ref = NULL, *start = s;
	size_t n = 0;
	enum piece pc;
	char lit;
	int rc = 0;

	while (!rc && (pc = next_piece(&s, &lit, &ref, &n)) != P_END) {
		const struct mf_setting *st;
		const char *val;
		char name[128];

		if (pc == P_BAD_OPEN || pc == P_BAD_CLOSE)
			return ferry_err_set(err, FERRY_ECONFIG, "%s: unbalanced brace in \"%s\": write {{ and }} for literal braces",
					     m->file, start);
		if (pc == P_LIT) {
			rc = ferry_buf_addc(out, lit);
			continue;
		}
		if (is_parent_ref(ref, n)) {  /* the connector fills these per parent record */
			rc = ferry_buf_add(out, ref - 1, n + 2);
			continue;
		}
		if (n >= sizeof(name) || !ref_ok(ref, n))
			return ferry_err_set(err, FERRY_ECONFIG, "%s: \"{%.*s}\" is not a setting reference",
					     m->file, (int)n, ref);
		memcpy(name, ref, n);
		name[n] = '\0';
		st = find_setting(m, name, n);
		val = c ? ferry_config_get(c, name) : NULL;
		if (!val && st)
			val = st->def;
		if (!val) {
			if (st && has(st->help))
				return ferry_err_set(err, FERRY_ECONFIG, "setting \"%s\" is needed by connector \"%s\": add --set %s=... (%s)",
						     name, m->type, name, st->help);
			return ferry_err_set(err, FERRY_ECONFIG, "setting \"%s\" is needed by connector \"%s\": add --set %s=...",
					     name, m->type, name);
		}
		rc = ferry_buf_adds(out, val);
	}
	if (rc)
		return ferry_err_set(err, rc, "expanding a string of connector \"%s\": %s", m->type,
				     rc == FERRY_ETOOBIG ? "the result is too long" : "out of memory");
	return 0;
}

int mf_type_of(const char *name)
{
	size_t i;

	for (i = 0; name && i < NTYPES; i++)
		if (!strcmp(type_names[i].name, name))
			return (int)type_names[i].type;
	return -1;
}

const char *mf_type_name(enum mf_type t)
{
	size_t i;

	for (i = 0; i < NTYPES; i++)
		if (type_names[i].type == t)
			return type_names[i].name;
	return "auto";
}
