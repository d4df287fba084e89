/*
 * names.c - lists of names and comma lists (see names.h).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "ferry/err.h"
#include "util/names.h"

void ferry_names_release(struct ferry_names *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int ferry_names_push(struct ferry_names *l, const char *s, size_t n)
{
	char **v = realloc(l->v, sizeof(*v) * (size_t)(l->n + 1));

	if (!v)
		return FERRY_ENOMEM;
	l->v = v;
	if (!(v[l->n] = strndup(s, n)))
		return FERRY_ENOMEM;
	l->n++;
	return 0;
}

bool ferry_names_has(const struct ferry_names *l, const char *s)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return true;
	return false;
}

int ferry_names_split(struct ferry_names *out, const char *s, const char *blanks)
{
	while (*s) {
		const char *e = strchr(s, ','), *a = s, *b;
		if (!e)
			e = s + strlen(s);
		b = e;
		/* a < b first: strchr() matches a NUL too, and *b may be the end */
		while (a < b && strchr(blanks, *a))
			a++;
		while (b > a && strchr(blanks, b[-1]))
			b--;
		if (b > a && ferry_names_push(out, a, (size_t)(b - a)))
			return FERRY_ENOMEM;
		s = *e ? e + 1 : e;
	}
	return 0;
}

void ferry_names_join(const struct ferry_names *l, struct ferry_buf *b, const char *none)
{
	ferry_buf_reset(b);
	for (int i = 0; i < l->n; i++) {
		if (b->len > 300) {
			ferry_buf_addf(b, ", ... (%d more)", l->n - i);
			return;
		}
		ferry_buf_addf(b, "%s%s", i ? ", " : "", l->v[i]);
	}
	if (!l->n)
		ferry_buf_adds(b, none);
}

const char *ferry_names_setting_table(const char *key)
{
	if (!strncmp(key, "cursor.", 7))
		return key + 7;
	if (!strncmp(key, "pk.", 3))
		return key + 3;
	return NULL;
}
