/*
 * fault.c - FERRY_FAULT rules: kill, fail or pause at a named point.
 *
 * Tests use this to stop ferry at exact places (mid-read, mid-swap) and prove
 * that nothing is lost; see ferry/fault.h for the syntax.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ferry/fault.h"

enum action { A_KILL, A_FAIL, A_SLEEP };

struct rule {
	enum action action;
	char point[32];
	long nth;     /* 0: every arrival */
	long ms;
	long seen;
};

struct ferry_fault {
	struct rule r[16];
	int n;
};

struct ferry_fault *ferry_fault_from_env(struct ferry_err *err)
{
	const char *env = getenv("FERRY_FAULT");
	struct ferry_fault *f;
	char *copy, *tok, *save = NULL;

	if (!env || !*env)
		return NULL;
	f = calloc(1, sizeof(*f));
	copy = strdup(env);
	if (!f || !copy)
		goto bad;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct rule *r;
		char *at = strchr(tok, '@'), *p;
		size_t plen;

		if (!at || f->n == 16)
			goto bad;
		r = &f->r[f->n++];
		*at = '\0';
		if (!strcmp(tok, "kill"))
			r->action = A_KILL;
		else if (!strcmp(tok, "fail"))
			r->action = A_FAIL;
		else if (!strcmp(tok, "sleep"))
			r->action = A_SLEEP;
		else
			goto bad;
		p = at + 1;
		plen = strcspn(p, "#:");
		if (plen == 0 || plen >= sizeof(r->point))
			goto bad;
		memcpy(r->point, p, plen);
		p += plen;
		if (*p == '#') {
			r->nth = strtol(p + 1, &p, 10);
			if (r->nth <= 0)
				goto bad;
		}
		if (*p == ':')
			r->ms = strtol(p + 1, &p, 10);
		if (*p)
			goto bad;
	}
	free(copy);
	return f;
bad:
	ferry_err_set(err, FERRY_EUSAGE,
		      "FERRY_FAULT=\"%s\" is not valid (expected ACTION@POINT[#N][:MS], "
		      "ACTION kill|fail|sleep)", env);
	free(copy);
	free(f);
	return NULL;
}

int ferry_fault_hit(struct ferry_fault *f, const char *point, struct ferry_err *err)
{
	int i;

	if (!f)
		return 0;
	for (i = 0; i < f->n; i++) {
		struct rule *r = &f->r[i];
		if (strcmp(r->point, point))
			continue;
		r->seen++;
		if (r->nth && r->seen != r->nth)
			continue;
		switch (r->action) {
		case A_KILL:
			fprintf(stderr, "ferry: fault injection: SIGKILL at %s\n", point);
			raise(SIGKILL);
			break;
		case A_FAIL:
			return ferry_err_set(err, FERRY_EINTERNAL, "injected fault at %s", point);
		case A_SLEEP: {
			struct timespec ts = {r->ms / 1000, (r->ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
			break;
		}
		}
	}
	return 0;
}

void ferry_fault_free(struct ferry_fault *f)
{
	free(f);
}
