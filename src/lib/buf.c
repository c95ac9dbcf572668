/* SPDX-License-Identifier: MIT */
#include "lib/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/mem.h"

void
buf_init(struct buf *b, size_t max_len)
{
	memset(b, 0, sizeof(*b));
	b->max_len = max_len;
}

void
buf_clear(struct buf *b)
{
	if (b->p != NULL) {
		um_memzero(b->p, b->alloc);
		free(b->p);
	}
	b->p = NULL;
	b->off = b->len = b->alloc = 0;
}

int
buf_reserve(struct buf *b, size_t n, uint8_t **tail)
{
	size_t need;

	*tail = NULL;
	if (n > b->max_len - b->len)
		return UM_ERR_TOO_LARGE;
	need = b->len + n;
	if (b->off + need > b->alloc) {
		if (b->off > 0) {
			/* Compact before growing: the head has been consumed. */
			memmove(b->p, b->p + b->off, b->len);
			b->off = 0;
		}
		if (need > b->alloc) {
			size_t alloc = b->alloc ? b->alloc : 256;

			while (alloc < need)
				alloc = alloc > SIZE_MAX / 2 ? need : alloc * 2;
			if (alloc > b->max_len)
				alloc = b->max_len;
			b->p = um_xrealloc(b->p, alloc);
			b->alloc = alloc;
		}
	}
	/* Reserving 0 bytes in an unallocated buffer: no storage, and NULL + 0 is undefined. */
	*tail = b->p != NULL ? b->p + b->off + b->len : NULL;
	return UM_OK;
}

void
buf_commit(struct buf *b, size_t n)
{
	b->len += n;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	uint8_t *tail;
	int ret;

	if ((ret = buf_reserve(b, n, &tail)) != UM_OK)
		return ret;
	if (n > 0)
		memcpy(tail, p, n);
	buf_commit(b, n);
	return UM_OK;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->off = 0;
		b->len = 0;
		return;
	}
	b->off += n;
	b->len -= n;
}
