/*
 * store_fixture.h - a throwaway state store for unit tests: one SQLite file
 * per test process under /tmp, opened (and migrated) on demand, removed with
 * its WAL files after each test. Included by the tests of src/store and of
 * the modules built on it; each test file includes it once.
 */
#ifndef FERRY_TEST_STORE_FIXTURE_H
#define FERRY_TEST_STORE_FIXTURE_H

#include <stdio.h>
#include <unistd.h>
#include <jansson.h>
#include "store/store.h"

static char path[256];

/* Names this process's store file after the test ("queue" → /tmp/ferry-test-queue-PID.db), fresh. */
static inline void store_fixture_path(const char *test)
{
	snprintf(path, sizeof(path), "/tmp/ferry-test-%s-%d.db", test, (int)getpid());
	unlink(path);
}

/* Removes the store file and its -wal and -shm files. */
static inline void store_fixture_remove(void)
{
	char p[300];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

static inline struct ferry_store *open_store(void)
{
	struct ferry_store *s;
	struct ferry_err e = {0};

	assert_int_equal(ferry_store_open(path, &s, &e), 0);
	return s;
}

/* A connection with settings given as JSON text (no secrets); its id in id. */
static inline void connection(struct ferry_store *s, const char *name, const char *settings,
			      char id[32])
{
	struct ferry_err e = {0};
	json_t *set = json_loads(settings, 0, NULL);

	assert_non_null(set);
	assert_int_equal(ferry_store_put(s, FERRY_CONNECTION, name, "sync", set, NULL, NULL, false,
					 id, NULL, &e), 0);
	json_decref(set);
}

#endif
