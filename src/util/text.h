/*
 * text.h - small string helpers with no engine knowledge: closest-name
 * suggestions, slugs, timestamps.
 */
#ifndef FERRY_TEXT_H
#define FERRY_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Edit distance (bytes), capped at 255 for long strings. */
int ferry_edit_distance(const char *a, const char *b);
/* The candidate closest to name, or NULL when none is plausibly meant. */
const char *ferry_closest(const char *name, const char *const *cands, int n);
/* slug("Italy Stripe Payments") = "italy_stripe_payments" (DESIGN.md §3). */
void ferry_slug(const char *in, char *out, size_t outlen);
/* Current UTC time as "2026-11-23T10:00:00.123Z". */
void ferry_now_iso(char out[32]);
/* Unix seconds t in the same form, "2026-11-23T10:00:00.000Z". */
void ferry_unix_iso(long long t, char out[32]);
/* Milliseconds from a monotonic clock. */
long long ferry_mono_ms(void);
/*
 * Whether s is an ISO-8601 date or timestamp: 2024-01-31, 2024-01-31T10:00,
 * 2024-01-31 10:00:00.5, with optional Z or +hh:mm.
 */
bool ferry_is_timestamp(const char *s);
/* The value of a hex digit, or -1. */
int ferry_hexval(int c);
/* Parses a positive integer with range check; false when not a number or out of [min, max]. */
bool ferry_parse_ll(const char *s, long long min, long long max, long long *out);

#endif
