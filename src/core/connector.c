/*
 * connector.c - the thin layer between the engine and the ops tables.
 *
 * Every call into a source or destination that is not on the per-batch hot
 * path goes through here: arguments are checked, settings validated against
 * the type's declared spec, and a failing open is given the connector's name.
 */
#include <string.h>
#include "ferry/engine.h"
#include "util/text.h"

static bool key_matches(const struct ferry_setting_spec *sp, const char *key)
{
	size_t n = strlen(sp->key);

	if (n && sp->key[n - 1] == '.')
		return !strncmp(key, sp->key, n) && key[n];
	return !strcmp(key, sp->key);
}

/* The settings spec of a type for this config (API types read their manifest). */
static int spec_of(const struct ferry_source_ops *ops, const struct ferry_config *c,
		   const struct ferry_setting_spec **out, struct ferry_err *err)
{
	*out = ops->settings;
	if (ops->settings_for)
		return ops->settings_for(ops, c, out, err);
	return 0;
}

bool ferry_source_setting_is_secret(const char *type, const struct ferry_config *c, const char *key)
{
	const struct ferry_source_ops *ops = ferry_source_type(type);
	const struct ferry_setting_spec *sp;
	struct ferry_config none = {0};
	struct ferry_err err = {0};

	if (!ops || spec_of(ops, c ? c : &none, &sp, &err))
		return false;
	for (; sp && sp->key; sp++)
		if (key_matches(sp, key))
			return sp->secret;
	return false;
}

int ferry_source_check_settings(const struct ferry_source_ops *ops, const struct ferry_config *c,
				struct ferry_err *err)
{
	const struct ferry_setting_spec *spec, *sp;
	const char *names[64];
	int i, n = 0, rc;

	if ((rc = spec_of(ops, c, &spec, err)))
		return rc;
	for (sp = spec; sp && sp->key && n < 64; sp++)
		names[n++] = sp->key;
	for (i = 0; i < c->n; i++) {
		bool known = false;
		for (sp = spec; sp && sp->key; sp++)
			known = known || key_matches(sp, c->v[i].key);
		if (!known) {
			const char *best = ferry_closest(c->v[i].key, names, n);
			return ferry_err_set(err, FERRY_EUSAGE,
					     "unknown setting \"%s\" for a %s source%s%s%s (see `ferry source add --help`)",
					     c->v[i].key, ops->type, best ? ": did you mean \"" : "",
					     best ? best : "", best ? "\"?" : "");
		}
	}
	for (sp = spec; sp && sp->key; sp++)
		if (sp->required && !ferry_config_get(c, sp->key))
			return ferry_err_set(err, FERRY_EUSAGE,
					     "a %s source needs the setting \"%s\" (%s): add --set %s=...",
					     ops->type, sp->key, sp->help, sp->key);
	return 0;
}

int ferry_source_open(struct ferry_source *src, const struct ferry_source_ops *ops, const char *name,
		      const struct ferry_config *config, struct ferry_fault *fault,
		      struct ferry_err *err)
{
	int rc;

	memset(src, 0, sizeof(*src));
	if (!ops || !name || !config)
		return ferry_err_set(err, FERRY_EINTERNAL, "ferry_source_open: missing argument");
	src->ops = ops;
	src->name = name;
	src->type = ops->type;
	src->config = config;
	src->fault = fault;
	if ((rc = ferry_source_check_settings(ops, config, err)))
		return ferry_err_prefix(err, "source \"%s\": ", name);
	rc = ops->open(src, err);
	if (rc) {
		src->ops = NULL;
		return rc;
	}
	return 0;
}

void ferry_source_close(struct ferry_source *src)
{
	if (src->ops)
		src->ops->close(src);
	src->ops = NULL;
}

int ferry_dest_open(struct ferry_dest *d, const char *name, const char *url,
		    struct ferry_fault *fault, struct ferry_err *err)
{
	const struct ferry_dest_ops *ops;
	int rc;

	memset(d, 0, sizeof(*d));
	if (!name || !url)
		return ferry_err_set(err, FERRY_EINTERNAL, "ferry_dest_open: missing argument");
	ops = ferry_dest_type_for_url(url);
	if (!ops)
		return ferry_err_set(err, FERRY_EUSAGE,
				     "destination \"%s\": unsupported URL scheme (expected postgres://... "
				     "or sqlite:///path/to/file.db)", name);
	d->ops = ops;
	d->name = name;
	d->url = url;
	d->fault = fault;
	rc = ops->open(d, err);
	if (rc)
		d->ops = NULL;
	return rc;
}

void ferry_dest_close(struct ferry_dest *d)
{
	if (d->ops)
		d->ops->close(d);
	d->ops = NULL;
}
