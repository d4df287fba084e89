/*
 * jtape.c - JSON to a flat tape with yajl's event parser (see jtape.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>
#include "util/jtape.h"

#define MAX_DEPTH 512

static uint32_t push_node(struct jtape *t, uint8_t type, uint32_t a, uint32_t b)
{
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 1024;
		struct jt_node *v = realloc(t->v, sizeof(*v) * cap);
		if (!v) {
			t->nomem = true;
			return UINT32_MAX;
		}
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n] = (struct jt_node){type, t->n + 1, a, b};
	return t->n++;
}

static int push_text(struct jtape *t, uint8_t type, const char *s, size_t len)
{
	uint32_t at;

	if (t->alen + len + 1 > t->acap) {
		size_t cap = t->acap ? t->acap : 4096;
		char *a;
		while (cap < t->alen + len + 1)
			cap *= 2;
		if (!(a = realloc(t->arena, cap))) {
			t->nomem = true;
			return 0;
		}
		t->arena = a;
		t->acap = cap;
	}
	at = (uint32_t)t->alen;
	memcpy(t->arena + t->alen, s, len);
	t->arena[t->alen + len] = '\0';
	t->alen += len + 1;
	return push_node(t, type, at, (uint32_t)len) != UINT32_MAX;
}

static int on_null(void *c)
{
	return push_node(c, JT_NULL, 0, 0) != UINT32_MAX;
}

static int on_bool(void *c, int b)
{
	return push_node(c, b ? JT_TRUE : JT_FALSE, 0, 0) != UINT32_MAX;
}

static int on_number(void *c, const char *s, size_t len)
{
	return push_text(c, memchr(s, '.', len) || memchr(s, 'e', len) || memchr(s, 'E', len)
				    ? JT_REAL : JT_INT, s, len);
}

static int on_string(void *c, const unsigned char *s, size_t len)
{
	return push_text(c, JT_STRING, (const char *)s, len);
}

static int on_key(void *c, const unsigned char *s, size_t len)
{
	return push_text(c, JT_KEY, (const char *)s, len);
}

struct ctx {
	struct jtape *t;
	yajl_handle h;
};

static int open_container(void *c, uint8_t type)
{
	struct ctx *x = c;
	struct jtape *t = x->t;
	uint32_t i;

	if (t->depth >= MAX_DEPTH) {
		t->too_deep = true;
		return 0;
	}
	if (t->depth == t->stack_cap) {
		uint32_t cap = t->stack_cap ? t->stack_cap * 2 : 32;
		uint32_t *s = realloc(t->stack, sizeof(*s) * cap);
		if (!s) {
			t->nomem = true;
			return 0;
		}
		t->stack = s;
		t->stack_cap = cap;
	}
	i = push_node(t, type, (uint32_t)yajl_get_bytes_consumed(x->h) - 1, 0);
	if (i == UINT32_MAX)
		return 0;
	t->stack[t->depth++] = i;
	return 1;
}

static int close_container(void *c)
{
	struct ctx *x = c;
	struct jtape *t = x->t;
	uint32_t i = t->stack[--t->depth];

	t->v[i].next = t->n;
	t->v[i].b = (uint32_t)yajl_get_bytes_consumed(x->h);
	return 1;
}

static int x_null(void *c) { return on_null(((struct ctx *)c)->t); }
static int x_bool(void *c, int b) { return on_bool(((struct ctx *)c)->t, b); }
static int x_number(void *c, const char *s, size_t l) { return on_number(((struct ctx *)c)->t, s, l); }
static int x_string(void *c, const unsigned char *s, size_t l) { return on_string(((struct ctx *)c)->t, s, l); }
static int x_key(void *c, const unsigned char *s, size_t l) { return on_key(((struct ctx *)c)->t, s, l); }
static int x_start_map(void *c) { return open_container(c, JT_OBJECT); }
static int x_start_array(void *c) { return open_container(c, JT_ARRAY); }

static const yajl_callbacks callbacks = {
	x_null, x_bool, NULL, NULL, x_number, x_string,
	x_start_map, x_key, close_container, x_start_array, close_container,
};

int jt_parse(struct jtape *t, const char *body, size_t len, char *msg, size_t msglen)
{
	struct ctx x = {t, NULL};
	yajl_status st;

	t->n = 0;
	t->alen = 0;
	t->depth = 0;
	t->nomem = false;
	t->too_deep = false;
	t->body = body;
	t->len = len;
	if (len > UINT32_MAX - 2) {
		snprintf(msg, msglen, "a JSON document over 4 GiB is not supported");
		return -1;
	}
	if (!(x.h = yajl_alloc(&callbacks, NULL, &x))) {
		snprintf(msg, msglen, "out of memory");
		return -1;
	}
	size_t i, at;
	bool ended = false;

	for (i = 0; i < len && strchr(" \t\r\n", body[i]); i++)
		;
	if (i == len) {
		yajl_free(x.h);
		snprintf(msg, msglen, "the body is empty");
		return -1;
	}
	st = yajl_parse(x.h, (const unsigned char *)body, len);
	at = yajl_get_bytes_consumed(x.h);
	if (st == yajl_status_ok) {
		st = yajl_complete_parse(x.h);
		ended = true;
	}
	if (st != yajl_status_ok || t->nomem || t->n == 0) {
		if (t->nomem) {
			snprintf(msg, msglen, "out of memory");
		} else if (t->too_deep) {
			snprintf(msg, msglen, "nested deeper than %d levels", MAX_DEPTH);
		} else {
			unsigned char *e = yajl_get_error(x.h, 0, (const unsigned char *)body, len);
			char text[160];
			snprintf(text, sizeof(text), "%s", e ? (char *)e : "parse error");
			text[strcspn(text, "\n")] = '\0';
			/* a body cut short fails only at its end */
			snprintf(msg, msglen, "%s at byte %zu", text, ended ? len : at);
			if (e)
				yajl_free_error(x.h, e);
		}
		yajl_free(x.h);
		t->n = 0;
		return -1;
	}
	yajl_free(x.h);
	return 0;
}

void jt_release(struct jtape *t)
{
	free(t->v);
	free(t->arena);
	free(t->stack);
	memset(t, 0, sizeof(*t));
}

int jt_first(const struct jtape *t, int node)
{
	if (node < 0 || (uint32_t)node >= t->n || (t->v[node].type != JT_OBJECT && t->v[node].type != JT_ARRAY))
		return -1;
	return (uint32_t)node + 1 < t->v[node].next ? node + 1 : -1;
}

int jt_sibling(const struct jtape *t, int parent, int i)
{
	uint32_t n = t->v[i].next;

	return n < t->v[parent].next ? (int)n : -1;
}

int jt_get(const struct jtape *t, int obj, const char *key)
{
	size_t klen = strlen(key);

	if (obj < 0 || (uint32_t)obj >= t->n || t->v[obj].type != JT_OBJECT)
		return -1;
	for (int k = jt_first(t, obj); k >= 0; k = jt_sibling(t, obj, k + 1)) {
		if (t->v[k].b == klen && !memcmp(t->arena + t->v[k].a, key, klen))
			return k + 1;
	}
	return -1;
}

int jt_path(const struct jtape *t, int node, const char *path)
{
	char seg[256];
	const char *p = path;

	if (!path || !*path || !strcmp(path, "."))
		return node;
	while (node >= 0 && *p) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof(seg))
			return -1;
		memcpy(seg, p, n);
		seg[n] = '\0';
		if (t->v[node].type == JT_ARRAY) {
			char *end;
			long want = strtol(seg, &end, 10);
			int i = jt_first(t, node);
			if (*end || !*seg || want < 0)
				return -1;
			for (; i >= 0 && want > 0; want--)
				i = jt_sibling(t, node, i);
			node = i;
		} else {
			node = jt_get(t, node, seg);
		}
		p += n;
		if (*p == '.')
			p++;
	}
	return node;
}

int jt_count(const struct jtape *t, int node)
{
	int n = 0;

	if (node < 0 || (uint32_t)node >= t->n)
		return 0;
	for (int i = jt_first(t, node); i >= 0; i = jt_sibling(t, node, i))
		n++;
	return t->v[node].type == JT_OBJECT ? n / 2 : n;
}

const char *jt_text(const struct jtape *t, int i, size_t *len)
{
	const struct jt_node *nd;

	if (i < 0 || (uint32_t)i >= t->n)
		return NULL;
	nd = &t->v[i];
	if (nd->type != JT_STRING && nd->type != JT_KEY && nd->type != JT_INT && nd->type != JT_REAL)
		return NULL;
	if (len)
		*len = nd->b;
	return t->arena + nd->a;
}

const char *jt_raw(const struct jtape *t, int i, size_t *len)
{
	const struct jt_node *nd;

	if (i < 0 || (uint32_t)i >= t->n)
		return NULL;
	nd = &t->v[i];
	if (nd->type == JT_OBJECT || nd->type == JT_ARRAY) {
		*len = nd->b - nd->a;
		return t->body + nd->a;
	}
	return jt_text(t, i, len);
}
