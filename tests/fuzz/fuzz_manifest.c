/*
 * fuzz_manifest.c - libFuzzer target for the manifest parser.
 *
 * Manifests come from users (--set manifest=FILE, FERRY_MANIFEST_PATH), so
 * whatever the bytes the parser must answer with a manifest or a FILE:LINE
 * message, never crash, leak or loop (anchors and aliases included). A
 * manifest that parses is expanded once per stream path, which must not fail
 * on syntax the parser accepted. Build: cmake -DFERRY_FUZZ=ON with clang;
 * run: build-fuzz/tests/fuzz_manifest -max_total_time=60 src/source/manifests
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ferry/buf.h"
#include "ferry/config.h"
#include "ferry/err.h"
#include "source/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ferry_config c = {0};
	struct ferry_err err = {0};
	struct mf_manifest *m = NULL;
	int rc = mf_parse("fuzz.yaml", (const char *)data, size, &m, &err);

	if (rc) {
		if (m || strncmp(err.msg, "fuzz.yaml:", 10))
			abort();
		return 0;
	}
	for (int i = 0; i < m->nsettings; i++)
		ferry_config_set(&c, m->settings[i].key, "v");
	for (int i = 0; i < m->nstreams; i++) {
		struct ferry_buf b = FERRY_BUF_INIT;
		if (mf_expand(m, &c, m->streams[i].path, &b, &err) == FERRY_ECONFIG &&
		    !strstr(err.msg, "is needed by"))
			abort();
		ferry_buf_release(&b);
	}
	ferry_config_release(&c);
	mf_free(m);
	return 0;
}
