/*
 * config.h - a connector's settings: an ordered list of key=value strings.
 *
 * Sources are configured with `--set key=value` (or a YAML file); the store
 * keeps secret values encrypted and hands connectors the plaintext here. The
 * list owns its strings.
 */
#ifndef FERRY_CONFIG_H
#define FERRY_CONFIG_H

struct ferry_kv {
	char *key;
	char *value;
};

struct ferry_config {
	struct ferry_kv *v;
	int n;
};

/* Sets key (replacing an existing value); copies both; 0 or FERRY_ENOMEM. */
int ferry_config_set(struct ferry_config *c, const char *key, const char *value);
/* The value of key, or NULL. */
const char *ferry_config_get(const struct ferry_config *c, const char *key);
/* Removes key if present. */
void ferry_config_unset(struct ferry_config *c, const char *key);
void ferry_config_release(struct ferry_config *c);
int ferry_config_copy(struct ferry_config *dst, const struct ferry_config *src);

#endif
