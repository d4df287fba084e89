/*
 * fuzz_copytext.c - libFuzzer target for the COPY text decoder.
 *
 * Batches come from sources ferry does not control (a SQLite file, and later
 * API responses turned into rows), so the decoder must never read out of
 * bounds whatever the bytes. Each input is split into lines; every field of
 * every line is decoded, re-escaped and decoded again, which must give back
 * the same bytes. Build: cmake -DFERRY_FUZZ=ON with clang; run:
 * build-fuzz/tests/fuzz_copytext -max_total_time=60
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "ferry/copytext.h"
#include "ferry/err.h"
#include "util/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ferry_buf field = FERRY_BUF_INIT, enc = FERRY_BUF_INIT, back = FERRY_BUF_INIT;
	const char *p = (const char *)data, *end = p + size;
	char *z;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		struct ferry_copy_fields it;
		bool null;

		ferry_copy_fields_init(&it, p, le);
		while (ferry_copy_next(&it, &field, &null) == 1) {
			struct ferry_copy_fields it2;
			bool null2;
			if (null)
				continue;
			ferry_buf_reset(&enc);
			ferry_copy_escape(&enc, field.data, field.len);
			ferry_copy_fields_init(&it2, enc.data, enc.data + enc.len);
			if (ferry_copy_next(&it2, &back, &null2) != 1 || null2 || back.len != field.len ||
			    memcmp(back.data, field.data, field.len))
				abort();
		}
		p = le + 1;
	}
	/* the last-line and field-at helpers on the same bytes */
	ferry_buf_reset(&enc);
	ferry_buf_add(&enc, data, size);
	if (size && data[size - 1] == '\n') {
		const char *line_end, *line = ferry_copy_last_line(&enc, &line_end);
		bool null;
		if (line)
			ferry_copy_field_at(line, line_end, (int)(size % 7), &field, &null);
	}
	/* the --since/--until timestamp check: any bytes, NUL-terminated */
	z = malloc(size + 1);
	memcpy(z, data, size);
	z[size] = '\0';
	(void)ferry_is_timestamp(z);
	free(z);
	ferry_buf_release(&field);
	ferry_buf_release(&enc);
	ferry_buf_release(&back);
	return 0;
}
