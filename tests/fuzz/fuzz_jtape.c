/*
 * fuzz_jtape.c - libFuzzer target for the JSON tape (src/util/jtape.c).
 *
 * API pages are bytes from servers ferry does not control, and the tape is
 * what every connector walks, so no input may make a parse or an accessor
 * read outside the body or the tape. Each input is parsed twice into the same
 * tape (reuse must give the same nodes); when it parses, every node is
 * visited with the accessors and checked: subtrees end after their node and
 * inside their parent, containers' raw text lies in the body and starts with
 * '{' or '[' and ends with '}' or ']', children counted by iteration match
 * jt_count, every key finds a value with jt_get, texts are NUL-terminated.
 * Build: cmake -DFERRY_FUZZ=ON with clang; run:
 * build-fuzz/tests/fuzz_jtape -max_total_time=60
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "util/jtape.h"

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void walk(const struct jtape *t)
{
	const char *body = t->body, *end = t->body + t->len;

	check(t->n > 0 && t->v[0].next == t->n);
	for (uint32_t i = 0; i < t->n; i++) {
		const struct jt_node *nd = &t->v[i];
		enum jt_type ty = jt_type(t, (int)i);
		const char *s;
		size_t len = 0;

		check(nd->next > i && nd->next <= t->n);
		switch (ty) {
		case JT_OBJECT:
		case JT_ARRAY: {
			int n = 0, last = -1;
			s = jt_raw(t, (int)i, &len);
			check(s >= body && len >= 2 && s + len <= end);
			check(*s == (ty == JT_OBJECT ? '{' : '['));
			check(s[len - 1] == (ty == JT_OBJECT ? '}' : ']'));
			for (int c = jt_first(t, (int)i); c >= 0;
			     c = jt_sibling(t, (int)i, ty == JT_OBJECT ? c + 1 : c)) {
				check((uint32_t)c > i && (uint32_t)c < nd->next && c > last);
				if (ty == JT_OBJECT) {
					const char *k;
					check(jt_type(t, c) == JT_KEY);
					check((uint32_t)c + 1 < nd->next);
					k = jt_text(t, c, &len);
					/* the first member of that name (duplicates allowed) */
					if (strlen(k) == len) {
						int v = jt_get(t, (int)i, k);
						check(v > (int)i && v <= c + 1 && jt_type(t, v - 1) == JT_KEY);
					}
				}
				last = c;
				n++;
			}
			check(jt_count(t, (int)i) == n);
			check(n > 0 || jt_first(t, (int)i) == -1);
			break;
		}
		case JT_STRING:
		case JT_KEY:
		case JT_INT:
		case JT_REAL:
			s = jt_text(t, (int)i, &len);
			check(s && s[len] == '\0');
			check(s >= t->arena && s + len < t->arena + t->alen);
			check(nd->next == i + 1);
			if (ty == JT_INT || ty == JT_REAL)
				check(len > 0 && (strchr(s, '.') || strchr(s, 'e') || strchr(s, 'E')) ==
						     (ty == JT_REAL));
			break;
		case JT_NULL:
		case JT_TRUE:
		case JT_FALSE:
			check(nd->next == i + 1 && !jt_text(t, (int)i, NULL));
			check(jt_first(t, (int)i) == -1);
			break;
		default:
			check(false);
		}
	}
	/* containers nest: a child container's raw slice lies inside its parent's */
	for (uint32_t i = 0; i < t->n; i++) {
		if (jt_type(t, (int)i) != JT_OBJECT && jt_type(t, (int)i) != JT_ARRAY)
			continue;
		for (uint32_t c = i + 1; c < t->v[i].next; c++)
			if (jt_type(t, (int)c) == JT_OBJECT || jt_type(t, (int)c) == JT_ARRAY)
				check(t->v[c].a > t->v[i].a && t->v[c].b < t->v[i].b &&
				      t->v[c].next <= t->v[i].next);
	}
	/* paths of every shape resolve to a node or -1 */
	{
		static const char *const paths[] = {"0", "0.0", "data", "data.0.id", "a.b.c", ".", ""};
		for (size_t p = 0; p < sizeof(paths) / sizeof(*paths); p++) {
			int v = jt_path(t, 0, paths[p]);
			check(v >= -1 && v < (int)t->n);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jtape t; /* kept between inputs: reuse is what the connectors do */
	char msg[256], msg2[256];
	char *body = malloc(size ? size : 1);
	int rc, rc2;
	uint32_t n;

	/* a copy of exactly size bytes, so ASan sees any read past the end */
	memcpy(body, data, size);
	rc = jt_parse(&t, body, size, msg, sizeof(msg));
	if (rc == 0)
		walk(&t);
	else
		check(msg[0] && !strchr(msg, '\n') && t.n == 0);
	n = t.n;
	rc2 = jt_parse(&t, body, size, msg2, sizeof(msg2));
	check(rc == rc2 && n == t.n);
	if (rc)
		check(!strcmp(msg, msg2));
	free(body);
	return 0;
}
