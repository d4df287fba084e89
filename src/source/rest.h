/*
 * rest.h - how the registry finds API connector types.
 *
 * Database sources are fixed entries of the registry; API connector types
 * are manifests, found by name among the built-in ones and on
 * FERRY_MANIFEST_PATH, plus the generic "rest" and "graphql" types that take
 * a manifest file setting. Their ops tables are made on first use and live
 * as long as the process.
 */
#ifndef FERRY_SOURCE_REST_H
#define FERRY_SOURCE_REST_H

#include "ferry/connector.h"

/* The ops of an API connector type, or NULL when no manifest has that name. */
const struct ferry_source_ops *ferry_api_source_type(const char *type);
/* The built-in API connector types, NULL-terminated. */
const char *const *ferry_api_builtin_types(void);

#endif
