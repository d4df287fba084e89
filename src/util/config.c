/*
 * config.c - key=value settings of a connector (see ferry/config.h).
 */
#include <stdlib.h>
#include <string.h>
#include "ferry/config.h"
#include "ferry/err.h"

int ferry_config_set(struct ferry_config *c, const char *key, const char *value)
{
	char *v = strdup(value), *k;
	struct ferry_kv *nv;
	int i;

	if (!v)
		return FERRY_ENOMEM;
	for (i = 0; i < c->n; i++) {
		if (!strcmp(c->v[i].key, key)) {
			free(c->v[i].value);
			c->v[i].value = v;
			return 0;
		}
	}
	k = strdup(key);
	nv = realloc(c->v, sizeof(*nv) * (size_t)(c->n + 1));
	if (!k || !nv) {
		free(k);
		free(v);
		if (nv)
			c->v = nv;
		return FERRY_ENOMEM;
	}
	c->v = nv;
	c->v[c->n].key = k;
	c->v[c->n].value = v;
	c->n++;
	return 0;
}

const char *ferry_config_get(const struct ferry_config *c, const char *key)
{
	int i;

	for (i = 0; c && i < c->n; i++)
		if (!strcmp(c->v[i].key, key))
			return c->v[i].value;
	return NULL;
}

void ferry_config_unset(struct ferry_config *c, const char *key)
{
	int i;

	for (i = 0; i < c->n; i++) {
		if (!strcmp(c->v[i].key, key)) {
			free(c->v[i].key);
			free(c->v[i].value);
			memmove(&c->v[i], &c->v[i + 1], sizeof(c->v[0]) * (size_t)(c->n - i - 1));
			c->n--;
			return;
		}
	}
}

void ferry_config_release(struct ferry_config *c)
{
	int i;

	for (i = 0; i < c->n; i++) {
		free(c->v[i].key);
		free(c->v[i].value);
	}
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

int ferry_config_copy(struct ferry_config *dst, const struct ferry_config *src)
{
	int i;

	memset(dst, 0, sizeof(*dst));
	for (i = 0; i < src->n; i++) {
		if (ferry_config_set(dst, src->v[i].key, src->v[i].value)) {
			ferry_config_release(dst);
			return FERRY_ENOMEM;
		}
	}
	return 0;
}
