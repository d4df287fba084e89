/*
 * copytext.c - encoding and decoding rows in PostgreSQL's COPY text format.
 *
 * This is the row encoding every batch uses (see ferry/copytext.h). Encoding
 * copies runs of ordinary bytes with one memcpy; decoding follows PostgreSQL's
 * CopyReadAttributesText: "\N" alone is NULL, backslash escapes \b \f \n \r \t
 * \v, octal \NNN and hex \xHH, any other escaped byte stands for itself.
 */
#include <stdlib.h>
#include <string.h>
#include "ferry/copytext.h"
#include "ferry/err.h"
#include "util/text.h"

/* Everything but the data buffer back to "no rows, nothing known". */
static void clear_meta(struct ferry_batch *b)
{
	b->nrows = 0;
	b->src_bytes = 0;
	b->shape = NULL;
	free(b->cursor_hi);
	b->cursor_hi = NULL;
	b->pages = 0;
	b->total = -1;
	b->duplicates = 0;
	b->collisions = 0;
}

void ferry_batch_init(struct ferry_batch *b, size_t max_bytes)
{
	ferry_buf_init(&b->data, max_bytes);
	b->cursor_hi = NULL;
	clear_meta(b);
}

void ferry_batch_reset(struct ferry_batch *b)
{
	ferry_buf_reset(&b->data);
	clear_meta(b);
}

void ferry_batch_release(struct ferry_batch *b)
{
	ferry_buf_release(&b->data);
	clear_meta(b);
}

int ferry_copy_escape(struct ferry_buf *out, const char *s, size_t n)
{
	size_t i, run = 0;
	int rc;

	if ((rc = ferry_buf_grow(out, n + 8)))
		return rc;
	for (i = 0; i < n; i++) {
		const char *esc;
		switch (s[i]) {
		case '\\': esc = "\\\\"; break;
		case '\t': esc = "\\t"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		default: continue;
		}
		if ((rc = ferry_buf_add(out, s + run, i - run)) || (rc = ferry_buf_add(out, esc, 2)))
			return rc;
		run = i + 1;
	}
	return ferry_buf_add(out, s + run, n - run);
}

int ferry_copy_null(struct ferry_buf *out)
{
	return ferry_buf_add(out, "\\N", 2);
}

void ferry_copy_fields_init(struct ferry_copy_fields *it, const char *line, const char *end)
{
	it->p = line;
	it->end = end;
}

int ferry_copy_next(struct ferry_copy_fields *it, struct ferry_buf *out, bool *is_null)
{
	const char *p = it->p, *end = it->end, *start;
	int rc;

	ferry_buf_reset(out);
	*is_null = false;
	if (!p)
		return 0;
	start = p;
	while (p < end && *p != '\t') {
		const char *run = p;
		while (p < end && *p != '\t' && *p != '\\')
			p++;
		if ((rc = ferry_buf_add(out, run, (size_t)(p - run))))
			return rc;
		if (p < end && *p == '\\') {
			char c;
			p++;
			if (p >= end)
				break;
			c = *p++;
			if (c == 'N' && p - start == 2 && (p == end || *p == '\t')) {
				*is_null = true;
				continue;
			}
			switch (c) {
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'v': c = '\v'; break;
			case 'x':
				if (p < end && ferry_hexval(*p) >= 0) {
					int v = ferry_hexval(*p++);
					if (p < end && ferry_hexval(*p) >= 0)
						v = v * 16 + ferry_hexval(*p++);
					c = (char)v;
				}
				break;
			default:
				if (c >= '0' && c <= '7') {
					int v = c - '0';
					if (p < end && *p >= '0' && *p <= '7')
						v = v * 8 + (*p++ - '0');
					if (p < end && *p >= '0' && *p <= '7')
						v = v * 8 + (*p++ - '0');
					c = (char)v;
				}
			}
			if ((rc = ferry_buf_addc(out, c)))
				return rc;
		}
	}
	it->p = p < end ? p + 1 : NULL;
	return 1;
}

const char *ferry_copy_last_line(const struct ferry_buf *data, const char **line_end)
{
	const char *end, *p;

	if (data->len == 0)
		return NULL;
	end = data->data + data->len;
	if (end[-1] == '\n')
		end--;
	p = end;
	while (p > data->data && p[-1] != '\n')
		p--;
	*line_end = end;
	return p;
}

int ferry_copy_field_at(const char *line, const char *end, int idx, struct ferry_buf *out,
			bool *is_null)
{
	struct ferry_copy_fields it;
	const char *p = line;
	int i, rc;

	for (i = 0; i < idx; i++) {
		p = memchr(p, '\t', (size_t)(end - p));
		if (!p)
			return FERRY_DONE;
		p++;
	}
	ferry_copy_fields_init(&it, p, end);
	rc = ferry_copy_next(&it, out, is_null);
	return rc == 1 ? 0 : (rc == 0 ? FERRY_DONE : rc);
}
