/*
 * text.c - string helpers (see text.h).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include "util/text.h"

int ferry_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	int row[256], prev, tmp;

	if (la > 254 || lb > 254)
		return 255;
	for (j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = (int)i;
		for (j = 1; j <= lb; j++) {
			int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
			tmp = row[j];
			row[j] = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
			if (prev + cost < row[j])
				row[j] = prev + cost;
			prev = tmp;
		}
	}
	return row[lb];
}

const char *ferry_closest(const char *name, const char *const *cands, int n)
{
	const char *best = NULL;
	int i, bestd = 1 << 30, limit = (int)strlen(name) / 2 + 2;

	for (i = 0; i < n; i++) {
		int d = ferry_edit_distance(name, cands[i]);
		if (strcasestr(cands[i], name) || strcasestr(name, cands[i]))
			d = d < 2 ? d : 2;
		if (d < bestd) {
			bestd = d;
			best = cands[i];
		}
	}
	return bestd <= limit ? best : NULL;
}

void ferry_slug(const char *in, char *out, size_t outlen)
{
	size_t o = 0;
	bool gap = false;

	for (; *in && o + 2 < outlen; in++) {
		unsigned char c = (unsigned char)*in;
		if (isalnum(c)) {
			if (gap && o > 0)
				out[o++] = '_';
			out[o++] = (char)tolower(c);
			gap = false;
		} else {
			gap = true;
		}
	}
	out[o] = '\0';
}

void ferry_now_iso(char out[32])
{
	struct timeval tv;
	struct tm tm;

	size_t n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03dZ", (int)((tv.tv_usec / 1000) % 1000));
}

void ferry_unix_iso(long long t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

long long ferry_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool digits(const char **p, int n, int lo, int hi)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return v >= lo && v <= hi;
}

bool ferry_is_timestamp(const char *s)
{
	const char *p = s;

	if (!digits(&p, 4, 1, 9999) || *p++ != '-' || !digits(&p, 2, 1, 12) || *p++ != '-' ||
	    !digits(&p, 2, 1, 31))
		return false;
	if (!*p)
		return true;
	if (*p != 'T' && *p != ' ')
		return false;
	p++;
	if (!digits(&p, 2, 0, 23) || *p++ != ':' || !digits(&p, 2, 0, 59))
		return false;
	if (*p == ':') {
		p++;
		if (!digits(&p, 2, 0, 60))
			return false;
		if (*p == '.') {
			p++;
			if (!isdigit((unsigned char)*p))
				return false;
			while (isdigit((unsigned char)*p))
				p++;
		}
	}
	if (*p == 'Z')
		p++;
	else if (*p == '+' || *p == '-') {
		p++;
		if (!digits(&p, 2, 0, 14))
			return false;
		if (*p == ':')
			p++;
		if (*p && !digits(&p, 2, 0, 59))
			return false;
	}
	return *p == '\0';
}

bool ferry_parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

int ferry_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
