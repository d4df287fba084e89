/*
 * registry.c - the static table of connector types.
 *
 * Adding a source or destination type means writing its ops table and adding
 * one line here (docs/connectors.md).
 */
#include <string.h>
#include "ferry/connector.h"
#include "source/rest.h"

static const struct ferry_source_ops *const source_types[] = {
	&ferry_source_postgres,
	&ferry_source_sqlite,
	NULL,
};

static const struct ferry_dest_ops *const dest_types[] = {
	&ferry_dest_postgres,
	&ferry_dest_sqlite,
	NULL,
};

const struct ferry_source_ops *ferry_source_type(const char *type)
{
	int i;

	for (i = 0; source_types[i]; i++)
		if (!strcmp(source_types[i]->type, type))
			return source_types[i];
	return ferry_api_source_type(type);
}

const struct ferry_source_ops *const *ferry_source_types(void)
{
	return source_types;
}

const struct ferry_dest_ops *ferry_dest_type_for_url(const char *url)
{
	int i;

	if (!strncmp(url, "postgresql://", 13))
		return &ferry_dest_postgres;
	for (i = 0; dest_types[i]; i++)
		if (!strncmp(url, dest_types[i]->scheme, strlen(dest_types[i]->scheme)))
			return dest_types[i];
	return NULL;
}
