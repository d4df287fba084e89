/*
 * fault.h - built-in fault injection, for tests that prove nothing is lost.
 *
 * FERRY_FAULT holds comma-separated rules ACTION@POINT[#N][:MS]:
 *   kill@swap           raise SIGKILL when the destination reaches "swap"
 *   kill@write#3        ... at the 3rd time "write" is reached
 *   fail@read#2         make the 2nd "read" fail with an injected error
 *   sleep@write#2:3000  sleep 3000 ms at the 2nd "write" (lets a test act mid-sync)
 * Points used by the engine: plan, read, write, stream_end, before_commit,
 * after_commit; by destinations: swap (inside the swap transaction).
 * Unset (the normal case) costs one NULL check per point.
 */
#ifndef FERRY_FAULT_H
#define FERRY_FAULT_H

#include "ferry/err.h"

struct ferry_fault;

/* Parses FERRY_FAULT (NULL/empty: returns NULL, no faults). Bad syntax: NULL and err set. */
struct ferry_fault *ferry_fault_from_env(struct ferry_err *err);
/*
 * Counts one arrival at `point`; acts when a rule matches. Returns 0, or
 * FERRY_EINTERNAL with err set for a "fail" rule. f may be NULL.
 */
int ferry_fault_hit(struct ferry_fault *f, const char *point, struct ferry_err *err);
void ferry_fault_free(struct ferry_fault *f);

#endif
